"""DM: the torch.compile lever computes what the eager network computes; the loss equals the reference."""
import pytest
import torch

import fairdd
from fairdd.matching.dm import embed, embed_real
from fairdd.levers import compiled
from fairdd.models import ConvNet, reset_parameters


def test_compiled_embedding_follows_redrawn_parameters_and_gradients():
    torch.manual_seed(0)
    net = ConvNet(width=8, image_size=16).requires_grad_(False)
    x = torch.randn(6, 3, 16, 16)
    assert torch.allclose(embed_real(net, x, None, None, compile=True), net.embed(x), atol=1e-5)
    g = torch.Generator().manual_seed(1)
    reset_parameters(net, g)  # in place, as DM does every iteration: no stale weights in the compiled graph
    assert torch.allclose(embed_real(net, x, None, None, compile=True), net.embed(x), atol=1e-5)
    assert compiled(net, "embed") is compiled(net, "embed")  # compiled once per network
    syn = torch.randn(4, 3, 16, 16, requires_grad=True)
    g_eager = torch.autograd.grad(embed(net, syn).square().sum(), syn)[0]
    g_comp = torch.autograd.grad(embed(net, syn, compile=True).square().sum(), syn)[0]
    assert torch.allclose(g_comp, g_eager, rtol=1e-4, atol=1e-5)


def test_compile_accepts_a_torch_compile_mode_and_names_the_allowed_ones(digits_train):
    """compile="reduce-overhead" (CUDA graphs on a GPU; plain Inductor on a CPU) distils what eager does."""
    from fairdd.config import distill_config
    from fairdd.distill import Distiller

    runs = {}
    for lever in (False, "reduce-overhead"):
        cfg = distill_config(target="cobra", ipc=2, preset="smoke", depth=2, compile=lever)
        runs[lever] = Distiller(digits_train, cfg, device="cpu").run().images
    assert torch.allclose(runs[False], runs["reduce-overhead"], atol=1e-4)
    with pytest.raises(ValueError, match=r"compile must be one of \['auto', False, True, 'default', 'reduce-overhead'"):
        distill_config(target="cobra", compile="fast")
    with pytest.raises(ValueError, match="compile must be one of"):
        fairdd.eval_config(compile=1)


@pytest.mark.parametrize("target, reduction", [("vanilla", "sum"), ("fairdd", "sum"), ("fairdd", "mean"),
                                               ("cobra", "sum")])
def test_dm_loss_equals_the_reference(target, reduction):
    """COBRA train_dm.py (cobra: L1 to the group-mean barycenter) and FairDD main_DM.py (summed)."""
    from fairdd.matching.dm import dm_loss
    from fairdd.models import ConvNet, reset_parameters
    from fairdd.targets import get_strategy
    from reference import dm_loss as reference_dm_loss

    g = torch.Generator().manual_seed(0)
    net = reset_parameters(ConvNet(width=4, depth=2, n_classes=3, image_size=8), g)
    x, labels = torch.randn(36, 3, 8, 8, generator=g), torch.arange(3).repeat_interleave(12)
    groups = torch.randint(0, 3, (36,), generator=g)
    syn, syn_labels = torch.randn(6, 3, 8, 8, generator=g, requires_grad=True), torch.arange(3).repeat_interleave(2)
    strategy = get_strategy(target, **({"reduction": reduction} if target == "fairdd" else {}))
    ours = dm_loss(net.embed(x).detach(), labels, groups, net.embed(syn), strategy=strategy, n_classes=3, n_groups=3,
                   distance="l1" if target == "cobra" else "l2")
    ref = reference_dm_loss(net.embed, [x[labels == c] for c in range(3)], [groups[labels == c] for c in range(3)],
                            [syn[syn_labels == c] for c in range(3)], mode=target, reduction=reduction)
    assert float(ours.detach()) == pytest.approx(float(ref.detach()), rel=1e-5)


@pytest.mark.parametrize("batch", [256, 4])
def test_the_warm_start_trains_with_its_configured_batch(digits_train, monkeypatch, batch):
    import fairdd.matching.dm as dm

    seen = []
    real_train = dm.train_classifier

    def spy(*args, **kw):
        seen.append((kw["batch_size"], kw["lr_decay"], kw["lr"]))
        return real_train(*args, **kw)

    monkeypatch.setattr(dm, "train_classifier", spy)
    fairdd.distill(digits_train, target="cobra", ipc=2, preset="smoke", device="cpu", depth=2, iterations=2,
                   warm_start_epochs=1, warm_start_batch=batch)
    assert seen and set(seen) == {(batch, False, 0.01)}  # COBRA train_dm.py: batch_train 256, constant lr_net
