import pytest
import torch

from fairdd.matching import dm_loss
from fairdd.targets import STRATEGIES, Cobra, FairDD, Uniform, Vanilla, get_strategy


def _batch(seed=0, n=60, d=5, n_classes=3, n_groups=4):
    g = torch.Generator().manual_seed(seed)
    stats = torch.randn(n, d, generator=g)
    labels = torch.randint(0, n_classes, (n,), generator=g)
    groups = torch.randint(0, n_groups, (n,), generator=g)
    return stats, labels, groups


def test_cobra_is_uniform_mean_of_present_group_means():
    stats, labels, groups = _batch()
    groups[(labels == 1) & (groups == 2)] = 3  # group 2 absent from class 1
    t = Cobra()(stats, labels, groups, 3, 4)
    for c in range(3):  # hand computation
        means = [stats[(labels == c) & (groups == a)].mean(0) for a in range(4)
                 if ((labels == c) & (groups == a)).any()]
        assert torch.allclose(t.refs[c, 0], torch.stack(means).mean(0), atol=1e-6)
    assert t.weights.tolist() == [[1.0], [1.0], [1.0]]


def test_vanilla_is_pooled_mean_and_uniform_samples_by_group():
    stats, labels, groups = _batch()
    t = Vanilla()(stats, labels, groups, 3, 4)
    assert torch.allclose(t.refs[2, 0], stats[labels == 2].mean(0), atol=1e-6)
    assert Uniform.sampling == "groups" and Vanilla.sampling == "pooled"


def test_fairdd_keeps_one_reference_per_present_group():
    stats, labels, groups = _batch()
    groups[(labels == 0) & (groups == 1)] = 0
    t = FairDD()(stats, labels, groups, 3, 4)
    assert t.refs.shape == (3, 4, 5)
    assert t.weights[0].tolist() == [1.0, 0.0, 1.0, 1.0]
    assert torch.allclose(t.refs[1, 3], stats[(labels == 1) & (groups == 3)].mean(0), atol=1e-6)


def test_all_targets_coincide_with_one_group():
    stats, labels, _ = _batch()
    groups = torch.zeros_like(labels)
    emb_syn = torch.randn(3 * 2, 5)
    losses = [float(dm_loss(stats, labels, groups, emb_syn, strategy=get_strategy(name), n_classes=3,
                            n_groups=1)) for name in ("vanilla", "uniform", "fairdd", "cobra")]
    assert max(losses) - min(losses) < 1e-5 * abs(losses[0])


@pytest.mark.parametrize("n_groups", [2, 4])
def test_fairdd_gradient_is_groups_times_l2_cobra_gradient(n_groups):
    """Σ_a ‖μ_a − s‖² = |𝒜| ‖μ̄ − s‖² + const, so the gradients differ by the factor |𝒜|."""
    g = torch.Generator().manual_seed(3)
    n_classes, ipc, d = 3, 4, 6
    labels = torch.arange(n_classes).repeat_interleave(40)
    groups = torch.arange(n_groups).repeat(120 // n_groups)  # every group present in every class
    stats = torch.randn(120, d, generator=g)
    grads = {}
    for name in ("fairdd", "cobra"):
        syn = torch.randn(n_classes * ipc, d, generator=torch.Generator().manual_seed(9), requires_grad=True)
        dm_loss(stats, labels, groups, syn, strategy=get_strategy(name), n_classes=n_classes,
                n_groups=n_groups, distance="l2").backward()
        grads[name] = syn.grad
    assert torch.allclose(grads["fairdd"], n_groups * grads["cobra"], rtol=1e-4, atol=1e-6)
    assert not torch.allclose(grads["fairdd"], grads["cobra"])


def test_proportional_weights_reproduce_vanilla_and_custom_weights():
    stats, labels, groups = _batch()
    prop = Cobra(group_weights="proportional")(stats, labels, groups, 3, 4)
    van = Vanilla()(stats, labels, groups, 3, 4)
    assert torch.allclose(prop.refs, van.refs, atol=1e-6)
    only0 = Cobra(group_weights=[1.0, 0.0, 0.0, 0.0])(stats, labels, groups, 3, 4)
    assert torch.allclose(only0.refs[1, 0], stats[(labels == 1) & (groups == 0)].mean(0), atol=1e-6)


def test_bad_target_and_weights():
    assert set(STRATEGIES) == {"vanilla", "uniform", "fairdd", "cobra", "cobra-w2", "cobra-gauss", "cobra-mix"}
    with pytest.raises(ValueError, match="unknown target 'fair'; allowed: .*cobra"):
        get_strategy("fair")
    with pytest.raises(ValueError, match="group_weights must be"):
        Cobra(group_weights="size")
    with pytest.raises(ValueError, match=r"group_weights\[0\] must be a finite number in \[0, inf\)"):
        Cobra(group_weights=[-1.0, 2.0])
    stats, labels, groups = _batch()
    with pytest.raises(ValueError, match="has 2 entries; the data has 4 groups"):
        Cobra(group_weights=[1.0, 1.0])(stats, labels, groups, 3, 4)
