import numpy as np
import pytest
import torch

import fairdd
from fairdd.barycenter import w2_barycenter
from fairdd.matching.distances import sliced_w2
from fairdd.targets import CobraW2

from conftest import SMOKE


def _two_groups(shift=(4.0, 0.0), n=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, 2, generator=g)
    stats = torch.cat([a, a + torch.tensor(shift)])
    return a, stats, torch.zeros(2 * n, dtype=torch.long), torch.tensor([0] * n + [1] * n)


def test_barycenter_of_shifted_copies_is_the_copy_shifted_halfway():
    a, stats, labels, groups = _two_groups()
    t = CobraW2(n_support=20, iters=10, eps=0.01)(stats, labels, groups, 1, 2)
    assert t.kind == "cloud" and t.refs.shape == (1, 20, 2)
    assert torch.allclose(t.refs[0].mean(0), a.mean(0) + torch.tensor([2.0, 0.0]), atol=0.05)
    # the support keeps the cloud's spread (a mean barycenter would collapse it to one point)
    assert t.refs[0, :, 1].std() == pytest.approx(float(a[:, 1].std()), rel=0.2)


def test_identical_clouds_give_that_cloud_and_weights_move_it():
    a, stats, labels, groups = _two_groups(shift=(0.0, 0.0))
    same = CobraW2(n_support=20, iters=10, eps=0.01)(stats, labels, groups, 1, 2).refs[0]
    ours = np.sort(same[:, 0].numpy())
    assert np.allclose(ours, np.sort(a[:, 0].numpy()), atol=0.15)
    a, stats, labels, groups = _two_groups()
    skew = CobraW2(n_support=20, iters=10, eps=0.01, group_weights=[0.9, 0.1])(stats, labels, groups, 1, 2).refs[0]
    assert float(skew[:, 0].mean() - a[:, 0].mean()) == pytest.approx(0.4, abs=0.05)
    exact = w2_barycenter([a, a + torch.tensor([4.0, 0.0])], [0.9, 0.1], n_support=20)  # POT, exact
    assert float(skew[:, 0].mean()) == pytest.approx(float(exact[:, 0].mean()), abs=0.05)


def test_uniform_vs_proportional_with_imbalanced_groups():
    g = torch.Generator().manual_seed(1)
    big, small = torch.randn(90, 2, generator=g), torch.randn(10, 2, generator=g) + torch.tensor([6.0, 0.0])
    stats, labels = torch.cat([big, small]), torch.zeros(100, dtype=torch.long)
    groups = torch.tensor([0] * 90 + [1] * 10)
    uni = CobraW2(n_support=10, eps=0.01)(stats, labels, groups, 1, 2).refs[0, :, 0].mean()
    prop = CobraW2(n_support=10, eps=0.01, group_weights="proportional")(stats, labels, groups, 1, 2).refs[0, :, 0].mean()
    assert float(uni) == pytest.approx(float(big[:, 0].mean() + small[:, 0].mean()) / 2, abs=0.2)
    assert float(prop) == pytest.approx(float(stats[:, 0].mean()), abs=0.2)


def test_absent_groups_and_classes_stay_finite():
    stats = torch.randn(12, 3)
    labels = torch.tensor([0] * 6 + [1] * 6)
    groups = torch.tensor([0] * 6 + [1] * 6)  # class 0 lacks group 1, class 1 lacks group 0; class 2 absent
    t = CobraW2(n_support=4)(stats, labels, groups, 3, 2)
    assert torch.isfinite(t.refs[:2]).all() and t.weights.flatten().tolist() == [1.0, 1.0, 0.0]


def test_sliced_w2_truths():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 50, 8, generator=g)
    assert float(sliced_w2(x, x).abs().max()) < 1e-10
    t = torch.full((8,), 0.5)
    got = sliced_w2(x, x + t, n_proj=2000, generator=g)
    assert torch.allclose(got, torch.full((3,), float(t.pow(2).sum()) / 8), rtol=0.1)  # E(θ·t)² = ‖t‖²/d
    assert sliced_w2(x[:, :10], x, generator=g).shape == (3,)  # different sizes: quantile matching


def test_cobra_w2_distils_with_dm_only(digits_train):
    r = fairdd.distill(digits_train, target="cobra-w2", ipc=2, iterations=2, **SMOKE)
    assert all(np.isfinite(h["loss"]) and h["loss"] > 0 for h in r.history)
    with pytest.raises(ValueError, match="compares embedding clouds: use method='dm'"):
        fairdd.distill(digits_train, method="dc", target="cobra-w2", ipc=1, **SMOKE)


def test_bures_barycenter_equal_covariances_has_mean_of_means():
    from fairdd.targets import bures_barycenters

    g = torch.Generator().manual_seed(3)
    a = torch.randn(4, 4, generator=g, dtype=torch.float64)
    cov = a @ a.T + torch.eye(4, dtype=torch.float64)
    means = torch.randn(1, 3, 4, generator=g, dtype=torch.float64)
    m, s = bures_barycenters(means, cov.expand(1, 3, 4, 4), torch.ones(1, 3, dtype=torch.float64))
    assert torch.allclose(m[0], means[0].mean(0)) and torch.allclose(s[0], cov, atol=1e-8)


def test_bures_barycenter_of_commuting_covariances_averages_their_roots():
    from fairdd.targets import bures_barycenters

    covs = torch.stack([torch.diag(torch.tensor([1.0, 4.0])), torch.diag(torch.tensor([9.0, 16.0]))]).double()
    w = torch.tensor([[0.25, 0.75]], dtype=torch.float64)
    _, s = bures_barycenters(torch.zeros(1, 2, 2, dtype=torch.float64), covs[None], w, iters=30)
    root = 0.25 * torch.tensor([1.0, 2.0]) + 0.75 * torch.tensor([3.0, 4.0])  # closed form: (Σ w √S)²
    assert torch.allclose(s[0], torch.diag(root.pow(2)).double(), atol=1e-6)


def test_cobra_gauss_distils_and_its_target_is_uniform_over_groups(digits_train):
    from fairdd.targets import CobraGauss

    g = torch.Generator().manual_seed(4)
    big, small = torch.randn(90, 6, generator=g), torch.randn(10, 6, generator=g) + 5
    stats, labels = torch.cat([big, small]), torch.zeros(100, dtype=torch.long)
    groups = torch.tensor([0] * 90 + [1] * 10)
    strat = CobraGauss(dim=3)
    t = strat(stats, labels, groups, 1, 2)
    proj = t.extra["proj"]
    assert t.kind == "gaussian" and torch.allclose(proj.T @ proj, torch.eye(3), atol=1e-5)
    assert torch.allclose(t.refs[0, 0], ((big @ proj).mean(0) + (small @ proj).mean(0)) / 2, atol=1e-4)
    r = fairdd.distill(digits_train, target="cobra-gauss", ipc=3, iterations=2, **SMOKE)
    assert all(np.isfinite(h["loss"]) for h in r.history)


def test_exact_and_sinkhorn_solvers_agree_on_shifted_clouds():
    a, stats, labels, groups = _two_groups()
    exact = CobraW2(n_support=20, solver="exact")(stats, labels, groups, 1, 2).refs[0]
    fast = CobraW2(n_support=20, iters=10, eps=0.01)(stats, labels, groups, 1, 2).refs[0]
    assert torch.allclose(exact.mean(0), fast.mean(0), atol=0.05)
    assert torch.allclose(exact.mean(0), a.mean(0) + torch.tensor([2.0, 0.0]), atol=1e-4)
    with pytest.raises(ValueError, match="solver must be 'sinkhorn' or 'exact'; got 'lp'"):
        CobraW2(solver="lp")
