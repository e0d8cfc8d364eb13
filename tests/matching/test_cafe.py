import pytest
import torch

import fairdd
from fairdd.matching.cafe import block_features, layerwise_mse
from fairdd.models import ConvNet, reset_parameters
from fairdd.targets import get_strategy

from conftest import SMOKE


def test_block_features_are_the_pooled_block_outputs():
    net = reset_parameters(ConvNet(width=4, depth=3, image_size=16), torch.Generator().manual_seed(0))
    x = torch.randn(2, 3, 16, 16)
    feats = block_features(net, x)
    assert [f.shape[1] for f in feats] == [4 * 8 * 8, 4 * 4 * 4, 4 * 2 * 2]
    assert torch.allclose(feats[-1], net.embed(x))


def test_layerwise_mse_by_hand():
    refs = torch.tensor([[[1.0, 3.0, 0.0]]])  # C=1, K=1, F=3 (layers of widths 2 and 1)
    syn = torch.tensor([[0.0, 1.0, 2.0]])
    # layer 1: mean((1-0)², (3-1)²) = 2.5 ; layer 2: (0-2)² = 4
    assert float(layerwise_mse(refs, torch.ones(1, 1), syn, [2, 1])) == pytest.approx(6.5)


def test_cobra_reference_is_the_group_averaged_feature_mean_per_layer():
    g = torch.Generator().manual_seed(1)
    stats = torch.randn(30, 5, generator=g)
    labels, groups = torch.zeros(30, dtype=torch.long), torch.tensor([0] * 25 + [1] * 5)
    t = get_strategy("cobra")(stats, labels, groups, 1, 2)
    assert torch.allclose(t.refs[0, 0], (stats[:25].mean(0) + stats[25:].mean(0)) / 2, atol=1e-6)


@pytest.mark.parametrize("target", ["vanilla", "uniform", "fairdd", "cobra"])
def test_cafe_runs_with_every_target(digits_train, target):
    r = fairdd.distill(digits_train, method="cafe", target=target, ipc=2, iterations=1, **SMOKE)
    assert torch.isfinite(r.images).all() and r.history[0]["loss"] > 0 and r.config["method"] == "cafe"
