import numpy as np
import pytest
import torch

from fairdd import barycenter, toy


def test_toy_targets_without_separation_coincide():
    data = toy.make_toy(majority=0.9, separation=0.0, seed=1)
    t = toy.toy_targets(data)
    assert torch.allclose(t["vanilla"], t["cobra"], atol=0.1)


def test_vanilla_residual_meets_the_bound_and_grows_with_imbalance():
    lo = toy.make_toy(majority=0.6, separation=3.0, n_groups=2)
    hi = toy.make_toy(majority=0.95, separation=3.0, n_groups=2)
    for data in (lo, hi):
        res = toy.toy_residuals(data, toy.toy_targets(data)["vanilla"])
        assert torch.allclose(res, toy.bias_bound(data), atol=1e-4)  # two groups: the bound is tight
    minority = lambda d: float(toy.toy_residuals(d, toy.toy_targets(d)["vanilla"])[0, 1])  # noqa: E731
    assert minority(hi) > minority(lo)
    cobra = toy.toy_residuals(hi, toy.toy_targets(hi)["cobra"])
    assert torch.allclose(cobra[:, 0], cobra[:, 1], atol=1e-4)  # the barycenter is equidistant


def test_group_weights_interpolate():
    sizes = torch.tensor([90, 10, 0])
    assert barycenter.group_weights(sizes, mix=1.0).tolist() == [0.5, 0.5, 0.0]
    assert barycenter.group_weights(sizes, mix=0.0).tolist() == pytest.approx([0.9, 0.1, 0.0])
    with pytest.raises(ValueError, match=r"mix must be in \[0, 1\]; got 2"):
        barycenter.group_weights(sizes, mix=2)


def test_w2_barycenter_of_shifted_copies_is_halfway_and_of_identical_clouds_is_the_cloud():
    rng = np.random.RandomState(0)
    a = rng.randn(20, 2)
    half = barycenter.w2_barycenter([a, a + [4.0, 0.0]], [0.5, 0.5], n_support=20)
    assert np.allclose(np.sort(half[:, 0]), np.sort(a[:, 0] + 2.0), atol=1e-6)
    same = barycenter.w2_barycenter([a, a], [0.3, 0.7], n_support=20)
    assert np.allclose(np.sort(same[:, 1]), np.sort(a[:, 1]), atol=1e-6)
    skew = barycenter.w2_barycenter([a, a + [4.0, 0.0]], [0.9, 0.1], n_support=20)
    assert skew[:, 0].mean() == pytest.approx(a[:, 0].mean() + 0.4, abs=1e-6)
    with pytest.raises(ValueError, match="weights must be 2 non-negative"):
        barycenter.w2_barycenter([a, a], [1.0])
