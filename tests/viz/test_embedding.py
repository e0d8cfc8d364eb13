import numpy as np
import pytest

from fairdd.viz.embedding import AlignedProjector, procrustes


def test_procrustes_recovers_rotation_scale_and_shift():
    rng = np.random.RandomState(0)
    a = rng.randn(30, 2)
    theta = 0.7
    r = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    b = 2.5 * a @ r + np.array([3.0, -1.0])
    rot, s, t = procrustes(a, b)
    mapped = (a - a.mean(0)) @ rot * s + t
    assert np.allclose(mapped, b, atol=1e-8) and s == pytest.approx(2.5)


def test_projector_keeps_a_static_cloud_in_place(umap_warm):
    rng = np.random.RandomState(1)
    x = np.concatenate([rng.randn(40, 6), rng.randn(40, 6) + 6])
    proj = AlignedProjector(n_epochs=30)
    first, _ = proj.project(x)
    second, extra = proj.project(x + 0.01 * rng.randn(*x.shape), x[:3])
    assert extra.shape == (3, 2)
    assert np.abs(second - first).mean() < 0.2 * first.std()
