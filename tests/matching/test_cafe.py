import pytest
import torch

import fairdd
from fairdd.config import distill_config
from fairdd.matching.cafe import CAFEMatcher, cafe_features, layer_weights
from fairdd.matching import RealBatch as as_batch
from fairdd.models import ConvNet, reset_parameters
from fairdd.targets import get_strategy

from conftest import SMOKE
from reference import cafe_cobra_loss, cafe_forward, cafe_vanilla_loss


def test_features_are_the_pre_pool_block_outputs_and_the_final_features():
    net = reset_parameters(ConvNet(width=4, depth=3, image_size=16), torch.Generator().manual_seed(0))
    x = torch.randn(2, 3, 16, 16)
    feats = cafe_features(net, x)
    _, ref = cafe_forward(net, x)  # [f5, f4, f3, f2, f1] of COBRA cafe/networks.py
    assert [f.shape[1] for f in feats] == [4 * 16 * 16, 4 * 8 * 8, 4 * 4 * 4, 4 * 2 * 2]
    for ours, theirs in zip(feats, [ref[-1], ref[-2], ref[-3], ref[0]]):
        assert torch.equal(ours, theirs.flatten(1))
    assert torch.equal(feats[-1], net.embed(x))


def test_layer_weights_of_both_recipes():
    assert layer_weights(3, "cobra") == [1.0, 1.0, 0.1, 1.1]  # f1, f2: 1; f3, f4: 0.1; f5: 1 (f4 = f5 as values)
    assert layer_weights(3, "cafe") == [1.0, 1.0, 1.0, 2.0]


def _batch(n_classes=3, per_class=12, ipc=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n_classes * per_class, 3, 16, 16, generator=g)
    labels = torch.arange(n_classes).repeat_interleave(per_class)
    groups = torch.randint(0, 3, (len(labels),), generator=g)
    groups[::per_class] = 2  # every class has several groups, unequal in size
    syn = torch.randn(n_classes * ipc, 3, 16, 16, generator=g, requires_grad=True)
    syn_labels = torch.arange(n_classes).repeat_interleave(ipc)
    return x, labels, groups, syn, syn_labels


def _matcher(recipe):
    cfg = distill_config(method="cafe", preset="smoke", width=4, depth=3, cafe_loss=recipe)
    m = CAFEMatcher(cfg, in_channels=3, n_classes=3, n_groups=3, image_size=16, device=torch.device("cpu"))
    reset_parameters(m.net, torch.Generator().manual_seed(3))
    return m


@pytest.mark.parametrize("recipe, target", [("cobra", "cobra"), ("cafe", "vanilla")])
def test_loss_and_pixel_gradient_equal_the_reference(recipe, target):
    x, labels, groups, syn, syn_labels = _batch()
    m = _matcher(recipe)
    ours = m.loss(x, as_batch(x, labels, groups), syn, syn_labels, get_strategy(target))
    by_class = [x[labels == c] for c in range(3)]
    syn_by_class = [syn[syn_labels == c] for c in range(3)]
    if recipe == "cobra":
        ref = cafe_cobra_loss(m.net, by_class, [groups[labels == c] for c in range(3)], syn_by_class)
    else:
        ref = cafe_vanilla_loss(m.net, by_class, syn_by_class)
    assert float(ours.detach()) == pytest.approx(float(ref.detach()), rel=1e-5)
    g_ours, = torch.autograd.grad(ours, syn)
    g_ref, = torch.autograd.grad(ref, syn)
    assert torch.allclose(g_ours, g_ref, rtol=1e-4, atol=1e-7 * float(g_ref.abs().max()))


def test_paper_cafe_halves_lr_img_at_1200_1600_1800_and_matches_without_dsa():
    cfg = distill_config(method="cafe", target="cobra", ipc=10)
    assert (cfg.iterations, cfg.lr_img, cfg.dsa, cfg.outer_loop, cfg.inner_loop, cfg.cafe_loss) == \
        (2000, 0.1, False, 10, 50, "cobra")
    assert [cfg.lr_at(i) for i in (0, 1199, 1200, 1599, 1600, 1800, 1999)] == \
        [0.1, 0.1, 0.05, 0.05, 0.025, 0.0125, 0.0125]
    assert distill_config(method="cafe", target="vanilla").cafe_loss == "cafe"


def test_lr_schedule_reaches_the_optimizer(digits_train):
    from fairdd.distill import Distiller

    run = Distiller(digits_train, distill_config(method="cafe", ipc=1, preset="smoke", depth=2, iterations=3,
                                                 lr_img_halvings=(1, 2)), device="cpu")
    lrs = []
    for _ in range(3):
        run.step()
        lrs.append(run.optimizer.param_groups[0]["lr"])
    assert lrs == [0.1, 0.05, 0.025]


@pytest.mark.parametrize("target", ["vanilla", "uniform", "fairdd", "cobra"])
def test_cafe_runs_with_every_target(digits_train, target):
    r = fairdd.distill(digits_train, method="cafe", target=target, ipc=2, iterations=1, **SMOKE)
    assert torch.isfinite(r.images).all() and r.history[0]["loss"] > 0 and r.config["method"] == "cafe"
