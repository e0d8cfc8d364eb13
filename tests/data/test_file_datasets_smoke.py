"""One smoke distil + evaluate on each file-based fixture: 32 and 64 px, 10 / 3 / 2 classes, 2 and 4 groups."""
import pytest
import torch

import fairdd
from fairdd.models import ConvNet

from file_fixtures import bffhq_dir, celeba_dir, cifar_dir, utk_dir  # noqa: F401  (fixtures)

SMOKE = dict(preset="smoke", device="cpu")


def _sets(name, root, tmp_path):
    kw = dict(root=root, cache_dir=tmp_path / "cache")
    return fairdd.datasets.load(name, split="train", **kw), fairdd.datasets.load(name, split="test", **kw)


@pytest.mark.parametrize("name, fixture, shape", [
    ("cifar10-s", "cifar_dir", (10, 2, 32)),
    ("celeba", "celeba_dir", (2, 2, 64)),
    ("utkface", "utk_dir", (3, 4, 64)),
    ("bffhq", "bffhq_dir", (2, 2, 64)),
])
def test_distil_and_evaluate_on_each_fixture(request, tmp_path, name, fixture, shape):
    root = request.getfixturevalue(fixture)
    root = root[0] / "py" if name == "cifar10-s" else root
    train, test = _sets(name, root, tmp_path)
    n_classes, n_groups, size = shape
    assert (train.n_classes, train.n_groups, train.image_shape) == (n_classes, n_groups, (3, size, size))
    result = fairdd.distill(train, target="cobra", ipc=1, iterations=2, seed=0, depth=3, **SMOKE)
    assert result.images.shape == (n_classes, 3, size, size) and torch.isfinite(result.images).all()
    report = fairdd.evaluate(result, test, n_models=1, epochs=2, depth=3, seed=0, **SMOKE)
    assert report.tpr.shape == (1, n_classes, n_groups)
    assert len(report.by_group) == n_classes * n_groups
    gaps = report.tpr[0].amax(1) - report.tpr[0].amin(1)  # (C,) per-class TPR gap
    assert report.eod == pytest.approx(100 * float(gaps.max()), abs=1e-4)
    assert report.deo_a == pytest.approx(100 * float(gaps.mean()), abs=1e-4)


def test_convnet_takes_depth_3_and_the_size_from_64px_data():
    net = ConvNet(in_channels=3, n_classes=3, depth=3, image_size=64)
    assert net.feature_dim == 128 * 8 * 8  # 64 / 2³ = 8, as the authors' ConvNet at 64 px
    assert net(torch.zeros(2, 3, 64, 64)).shape == (2, 3)
