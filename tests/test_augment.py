import pytest
import torch

from fairdd.augment import OPS, apply, sample_params


def test_flip_is_exact_mirror():
    x = torch.randn(8, 3, 16, 16)
    p = sample_params(8, generator=torch.Generator().manual_seed(0), ops=("flip",))
    y = apply(x, p)
    flipped = p.theta[:, 0, 0] < 0
    assert flipped.any() and (~flipped).any()
    assert torch.allclose(y[flipped], x[flipped].flip(-1), atol=1e-5)
    assert torch.allclose(y[~flipped], x[~flipped], atol=1e-5)


def test_siamese_rows_share_parameters():
    x = torch.randn(4, 3, 16, 16)
    p = sample_params(3, generator=torch.Generator().manual_seed(1))
    row = torch.tensor([2, 2, 0, 0])
    y = apply(torch.cat([x[:1], x[:1], x[2:3], x[2:3]]), p, row)
    assert torch.allclose(y[0], y[1]) and torch.allclose(y[2], y[3])


def test_every_op_changes_images_and_is_differentiable():
    for op in OPS:
        x = torch.rand(6, 3, 16, 16, requires_grad=True)
        p = sample_params(6, generator=torch.Generator().manual_seed(2), ops=(op,))
        y = apply(x, p)
        assert not torch.allclose(y, x), op
        y.sum().backward()
        assert torch.isfinite(x.grad).all()


def test_cutout_zeroes_a_quarter_of_the_image():
    x = torch.ones(5, 1, 32, 32)
    y = apply(x, sample_params(5, generator=torch.Generator().manual_seed(3), ops=("cutout",)))
    zero = (y == 0).float().mean(dim=(1, 2, 3))
    assert (zero > 0.05).all() and (zero <= 0.25 + 1e-6).all()


def test_unknown_op():
    with pytest.raises(ValueError, match="unknown augmentation op"):
        sample_params(2, ops=("mixup",))
