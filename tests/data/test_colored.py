import gzip
import struct

import numpy as np
import pytest
import torch

import fairdd
from fairdd.data import COLOR_NAMES, read_idx
from fairdd.data import sources


def test_train_split_has_requested_bias_per_class(mnist_train):
    counts = mnist_train.cell_counts()  # (10, 10)
    assert counts.sum() == 4000 and (counts.sum(1) == 400).all()
    own = counts[torch.arange(10), torch.arange(10)]
    assert (own == 360).all()  # round(0.9 * 400)
    off = counts.clone()
    off[torch.arange(10), torch.arange(10)] = 0
    assert off.sum(1).eq(40).all()
    assert off[off > 0].min() >= 4 and off.max() <= 5  # 40 spread evenly over 9 colours


def test_test_split_is_balanced_over_class_and_group(mnist_test):
    counts = mnist_test.cell_counts()
    assert (counts == 10).all()


def test_train_and_test_are_disjoint_and_fixed():
    a = fairdd.datasets.load("colored-mnist-5k", split="train", seed=0, style="clean")
    b = fairdd.datasets.load("colored-mnist-5k", split="train", seed=3, style="clean")
    te = fairdd.datasets.load("colored-mnist-5k", split="test", seed=0, style="clean")
    # same grey images whatever the colour seed: the split is fixed
    grey = lambda d: d.display().amax(1) > 0  # noqa: E731  (object mask, colour-free)
    assert torch.equal(grey(a), grey(b))
    assert not torch.equal(a.groups, b.groups)
    train_set = {hash(x.numpy().tobytes()) for x in grey(a)}
    overlap = sum(hash(x.numpy().tobytes()) in train_set for x in grey(te))
    assert overlap == 0


def test_foreground_and_background_painting():
    fg = fairdd.datasets.load("colored-digits", split="test", n_groups=3, mode="foreground")
    bg = fairdd.datasets.load("colored-digits", split="test", n_groups=3, mode="background")
    img_fg, img_bg = fg.display(), bg.display()
    red = fg.groups == COLOR_NAMES.index("red")
    assert img_fg[red][:, 1:].max() == 0  # only the red channel is painted
    assert img_fg[red][:, :, 0, 0].max() == 0  # corner is background: black
    assert (img_bg[red][:, 0, 0, 0] == 1).all()  # background painted red
    assert img_bg[red][:, 1:].max() == 0


def test_groups_selection_by_name_and_id():
    ds = fairdd.datasets.load("colored-digits", split="train", groups=["red", 2], n_groups=4)
    assert ds.group_names == ("red", "blue")
    assert set(ds.groups.unique().tolist()) == {0, 1}


def test_severity_corrupts_minority_only():
    clean = fairdd.datasets.load("colored-digits", split="train", n_groups=4, seed=1)
    sev = fairdd.datasets.load("colored-digits", split="train", n_groups=4, seed=1, severity=3)
    minority = clean.groups != clean.labels % 4
    assert torch.equal(clean.images[~minority], sev.images[~minority])
    assert (clean.images[minority] != sev.images[minority]).flatten(1).any(1).all()
    # red 5x5 patch in the corner at severity 3
    corner = sev.display()[minority][:, :, :5, :5]
    assert torch.allclose(corner[:, 0], torch.ones_like(corner[:, 0]))
    assert corner[:, 1:].max() == 0


@pytest.mark.parametrize("kw, match", [
    (dict(name="cifar-imaginary"), "unknown dataset name 'cifar-imaginary'"),
    (dict(bias=0.0), r"bias must be in \(0, 1\]; got 0.0"),
    (dict(bias=1.5), r"bias must be in \(0, 1\]; got 1.5"),
    (dict(severity=6), r"severity must be an integer in \[0, 5\]; got 6"),
    (dict(severity=-1), r"severity must be an integer in \[0, 5\]"),
    (dict(n_groups=11), r"n_groups must be an integer in \[2, 10\]; got 11"),
    (dict(mode="sideways"), "mode must be 'foreground' or 'background'; got 'sideways'"),
    (dict(split="val"), "split must be 'train' or 'test'; got 'val'"),
    (dict(groups=["mauve"]), "unknown group 'mauve'"),
    (dict(skew=0.5), r"dataset 'colored-digits' does not take \['skew'\]; it takes: \['mode', 'bias'"),
])
def test_bad_input_raises_clear_error(kw, match):
    args = dict(name="colored-digits", split="train")
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        fairdd.datasets.load(args.pop("name"), **args)


def test_test_split_needs_every_cell():
    # digits test has ~36 per class: with 10 groups there are 3 per cell, fine; 1 group kept is fine too;
    # a hand-made set with an empty cell must raise
    ds = fairdd.datasets.load("colored-digits", split="test", n_groups=2)
    broken = ds.subset(~((ds.labels == 3) & (ds.groups == 1)))
    with pytest.raises(ValueError, match=r"no samples for 1 \(class, group\) cell\(s\): \('3', 'green'\)"):
        broken.check_complete("test set")
    with pytest.raises(ValueError, match="no samples"):
        fairdd.evaluate(fairdd.random_subset(ds, ipc=1), broken, n_models=1, preset="smoke", device="cpu")


def _write_idx(path, array: np.ndarray, code: int) -> None:
    header = bytes([0, 0, code, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def test_fashion_mnist_from_user_folder_in_torchvision_layout(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.RandomState(0)
    for split, n in (("train", 40), ("t10k", 20)):
        _write_idx(raw / f"{split}-images-idx3-ubyte.gz", rng.randint(0, 255, (n, 28, 28)).astype(np.uint8), 0x08)
        _write_idx(raw / f"{split}-labels-idx1-ubyte.gz", (np.arange(n) % 10).astype(np.uint8), 0x08)
    ds = fairdd.datasets.load("colored-fashion-mnist", split="test", root=tmp_path, n_groups=2)
    assert ds.images.shape == (20, 3, 32, 32) and (ds.cell_counts() == 1).all()
    assert ds.class_names[0] == "T-shirt/top"


def test_fashion_mnist_missing_files_names_the_paths(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "DEBIAN_FASHION_DIR", tmp_path / "nowhere")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FAIRDD_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte.*tried: .*empty.*nowhere"):
        fairdd.datasets.load("colored-fashion-mnist", split="train", root=tmp_path / "empty")


def test_read_idx_rejects_corrupted_files(tmp_path):
    bad = tmp_path / "x-idx3-ubyte"
    bad.write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(bad)
    short = tmp_path / "y-idx1-ubyte"
    short.write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + b"\x00" * 3)
    with pytest.raises(ValueError, match="payload has 3 bytes"):
        read_idx(short)


@pytest.mark.skipif(not sources.DEBIAN_FASHION_DIR.is_dir(),
                    reason="Debian package dataset-fashion-mnist not installed (.ci/run installs it)")
def test_full_fashion_mnist_from_debian_package():
    te = fairdd.datasets.load("colored-fashion-mnist", split="test", seed=0)
    assert len(te) == 10000 and (te.cell_counts() == 100).all()  # official test rule, rho 0.1: 100 each
    tr = fairdd.datasets.load("colored-fashion-mnist", split="train", seed=0)
    counts = tr.cell_counts()
    assert (counts.diagonal() == 5400).all()  # int(6000 · 0.9)
    off = counts[~torch.eye(10, dtype=torch.bool)].view(10, 9).sort(1).values
    assert (off[:, 0] == 64).all() and (off[:, 1:] == 67).all()  # chunks of ceil(600 / 9) = 67, the last 64
    tr_images, tr_labels = sources.load_fashion_mnist("train")
    assert tr_images.shape == (60000, 28, 28) and np.bincount(tr_labels).tolist() == [6000] * 10
