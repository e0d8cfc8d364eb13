import pytest
import torch

import fairdd
from fairdd.matching.idc import decode, encode

from conftest import SMOKE


def test_decode_inverts_encode_on_smooth_images():
    x = torch.linspace(0, 1, 16).view(1, 1, 1, 16).expand(8, 3, 16, 16).contiguous()  # horizontal ramps
    x = x * torch.arange(1, 9).view(8, 1, 1, 1) / 8
    mosaic = encode(x, 2)
    assert mosaic.shape == (2, 3, 16, 16)
    back, labels = decode(mosaic, torch.tensor([0, 1]), 2)
    assert back.shape == (8, 3, 16, 16) and labels.tolist() == [0] * 4 + [1] * 4
    assert (back - x).abs().mean() < 0.05  # bilinear down/up-sampling of ramps is nearly lossless


def test_decode_is_differentiable_and_tiles_in_order():
    x = torch.zeros(1, 1, 4, 4, requires_grad=True)
    with torch.no_grad():
        x[0, 0, :2, 2:] = 1.0  # top-right tile
    out, _ = decode(x, torch.tensor([0]), 2)
    assert [float(t.mean()) for t in out] == [0.0, 1.0, 0.0, 0.0]
    out.sum().backward()
    assert torch.allclose(x.grad, torch.full_like(x, 4.0))  # each stored pixel feeds 2×2 decoded pixels


@pytest.mark.parametrize("target", ["vanilla", "uniform", "fairdd", "cobra"])
def test_idc_distils_and_evaluates_on_decoded_images(digits_train, digits_test, target):
    r = fairdd.distill(digits_train, method="idc", target=target, ipc=1, iterations=1, **SMOKE)
    assert r.images.shape == (10, 3, 16, 16) and r.config["factor"] == 2
    x, y = r.training_set()
    assert x.shape == (40, 3, 16, 16) and torch.bincount(y).tolist() == [4] * 10
    rep = fairdd.evaluate(r, digits_test, n_models=1, epochs=1, **SMOKE)
    assert 0 <= rep.accuracy <= 100
