"""The papers' coloured MNIST / Fashion-MNIST (style="official"): palette, padding, binarising, wrap-around, bias rule."""
import numpy as np
import pytest
import torch

import fairdd
from fairdd.data import REBIAS_NAMES, REBIAS_PALETTE
from fairdd.data import sources
from fairdd.data.colored import colorize_official

from file_fixtures import write_idx


def _digit() -> np.ndarray:
    """A 28×28 grey image with known values: a bar of 255, a pixel at 128, one at 127, one at 100."""
    g = np.zeros((28, 28), dtype=np.uint8)
    g[10:18, 13:15] = 255
    g[5, 5], g[5, 6], g[6, 6] = 128, 127, 100
    return g


def _write_mnist(folder, *, train_per_class=60, test_per_class=20):
    """IDX files where every image is ``_digit()``: (train labels, test labels)."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = {}
    for stem, per in (("train", train_per_class), ("t10k", test_per_class)):
        y = np.repeat(np.arange(10), per).astype(np.uint8)
        write_idx(folder / f"{stem}-images-idx3-ubyte.gz", np.repeat(_digit()[None], len(y), axis=0))
        write_idx(folder / f"{stem}-labels-idx1-ubyte.gz", y)
        labels[stem] = y
    return labels


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("mnist")
    _write_mnist(root / "MNIST" / "raw")  # torchvision layout, as the authors' root + "/MNIST"
    return root


def _rgb8(ds):
    """Images back to the uint8 the construction made (mean = std = 0.5)."""
    return (ds.display() * 255).round().to(torch.uint8)


def test_rebias_palette_order_and_near_duplicates():
    assert REBIAS_PALETTE[0] == (255, 0, 0) and REBIAS_PALETTE[9] == (255, 255, 255)
    assert REBIAS_PALETTE[2] == (255, 255, 0) and REBIAS_PALETTE[3] == (255, 255, 128)  # yellow, light yellow
    assert REBIAS_NAMES[:4] == ("red", "orange", "yellow", "light-yellow")


@pytest.mark.parametrize("mode", ["foreground", "background"])
def test_mnist_pixels_are_the_official_ones(mnist_root, mode):
    ds = fairdd.datasets.load("colored-mnist", split="train", root=mnist_root, mode=mode)
    assert ds.info["style"] == "official" and ds.image_shape == (3, 32, 32) and len(ds) == 600
    img, col = _rgb8(ds), torch.tensor(REBIAS_PALETTE, dtype=torch.uint8)[ds.groups]  # (N, 3, 32, 32), (N, 3)
    black = torch.zeros_like(col)
    on, off = (col, black) if mode == "foreground" else (black, col)
    # the 28 px image sits at rows/columns 4..31: 4 zero rows on top and 4 zero columns on the left, none after
    assert torch.equal(img[:, :, 14, 17], on) and torch.equal(img[:, :, 14, 19], off)  # bar rows 10–17, columns 13–14, + 4
    assert torch.equal(img[:, :, 9, 9], on)  # grey 128: ≥ 128 is object
    assert torch.equal(img[:, :, 9, 10], off) and torch.equal(img[:, :, 10, 10], off)  # 127 and 100: background
    assert torch.equal(img[:, :, 0, 0], off) and torch.equal(img[:, :, 31, 31], off)
    assert set(img.flatten().tolist()) <= {0, 128, 255}  # binarised: only palette values


def test_fashion_background_wraps_around_as_the_official_uint8_cast():
    grey = torch.tensor([[[0, 100, 255, 128]]], dtype=torch.uint8).expand(3, 1, 4)  # (3, 1, 4)
    colors = torch.tensor([(255, 0, 0), (0, 0, 255), (255, 255, 128)], dtype=torch.uint8)
    out = colorize_official(grey, colors, mode="background", binarise=False)  # (3, 3, 1, 4)
    px = out[:, :, 0].permute(0, 2, 1).tolist()  # per image, per pixel (r, g, b)
    assert px[0] == [[255, 0, 0], [54, 156, 156], [1, 1, 1], [255, 128, 128]]  # red background, grey 100 → (54,156,156)
    assert px[1][1] == [156, 156, 54]
    assert px[2][:3] == [[255, 255, 128], [54, 54, 233], [1, 1, 1]]
    # by hand, in float32 as the original: trunc(255·(255 + d·(c/255 − 255))) mod 256, d = (255 − g)/255
    g, c = np.float32(100), np.float32(128)
    d = (np.float32(255) - g) / np.float32(255)
    want = int(np.float32(np.float32(255) + d * (c / np.float32(255) - np.float32(255))) * np.float32(255)) % 256
    assert px[2][1][2] == want


def test_fashion_foreground_is_the_official_gradient(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for stem, per in (("train", 20), ("t10k", 10)):
        write_idx(raw / f"{stem}-images-idx3-ubyte.gz", np.repeat(_digit()[None], 10 * per, axis=0))
        write_idx(raw / f"{stem}-labels-idx1-ubyte.gz", np.repeat(np.arange(10), per).astype(np.uint8))
    fg = fairdd.datasets.load("colored-fashion-mnist", split="test", root=tmp_path)
    bg = fairdd.datasets.load("colored-fashion-mnist", split="test", root=tmp_path, mode="background")
    img_fg, img_bg = _rgb8(fg), _rgb8(bg)
    col = np.array(REBIAS_PALETTE, dtype=np.float32)[fg.groups.numpy()]  # (N, 3)
    hand = (np.float32(100) / np.float32(255) * (col / np.float32(255)) * np.float32(255)).astype(np.int64)
    assert np.array_equal(img_fg[:, :, 10, 10].numpy(), hand)  # grey 100 at (6, 6) + 4, not binarised
    assert torch.equal(img_fg[:, :, 14, 17], torch.tensor(REBIAS_PALETTE, dtype=torch.uint8)[fg.groups])
    assert (img_bg[:, :, 14, 17] == 1).all()  # grey 255 on any colour wraps to 1: the object is not black
    red = bg.groups == 0
    assert img_bg[red][:, :, 10, 10].tolist()[0] == [54, 156, 156]


def test_official_bias_rule_counts(mnist_root):
    tr = fairdd.datasets.load("colored-mnist", split="train", root=mnist_root, seed=3)
    counts = tr.cell_counts()  # (10, 10), 60 per class
    own = counts[torch.arange(10), torch.arange(10)]
    assert (own == 54).all()  # int(60 · 0.9)
    off = counts.clone()
    off[torch.arange(10), torch.arange(10)] = -1
    # the other 6 are cut in chunks of ceil(6 / 9) = 1: six colours get one, three get none
    assert ((off == 1).sum(1) == 6).all() and ((off == 0).sum(1) == 3).all()
    te = fairdd.datasets.load("colored-mnist", split="test", root=mnist_root)
    assert (te.cell_counts() == 2).all()  # rho = 0.1: int(2.0) own + 9 chunks of ceil(18 / 9) = 2


def test_full_mnist_missing_files_is_a_clear_error_not_a_fallback(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FAIRDD_DATA", raising=False)
    with pytest.raises(FileNotFoundError) as err:
        fairdd.datasets.load("colored-mnist", split="train", root=tmp_path / "none")
    msg = str(err.value)
    for part in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", str(tmp_path / "none" / "MNIST" / "raw"),
                 "FAIRDD_DATA", "download=True", "colored-mnist-5k"):
        assert part in msg


def test_fairdd_data_env_is_searched(tmp_path, monkeypatch):
    _write_mnist(tmp_path / "mnist", train_per_class=10, test_per_class=10)
    monkeypatch.setenv("FAIRDD_DATA", str(tmp_path))
    ds = fairdd.datasets.load("colored-mnist", split="test", n_groups=2)
    assert len(ds) == 100 and ds.group_names == ("red", "orange")


def test_mnist5k_keeps_the_offline_demo_under_its_own_name():
    ds = fairdd.datasets.load("colored-mnist-5k", split="test")
    assert len(ds) == 1000 and (ds.cell_counts() == 10).all()
    assert ds.info["style"] == "official" and ds.group_names == REBIAS_NAMES
    clean = fairdd.datasets.load("colored-mnist-5k", split="test", style="clean")
    assert clean.group_names[1] == "green" and (clean.cell_counts() == 10).all()


def test_clean_and_official_differ_only_in_construction():
    a = fairdd.datasets.load("colored-digits", split="test", n_groups=3)
    b = fairdd.datasets.load("colored-digits", split="test", n_groups=3, style="official")
    assert a.info["style"] == "clean" and b.info["style"] == "official"
    assert len(b) == 355  # official keeps every image of the fixed digits test split (colours nearly balanced, rho = 1/3)...
    assert (a.cell_counts() == a.cell_counts()[:, :1]).all() and len(a) < 355  # ...clean drops leftovers
    assert (b.cell_counts().amax(1) - b.cell_counts().amin(1)).max() <= 1
    with pytest.raises(ValueError, match=r"style must be one of \['official', 'clean'\]; got 'paper'"):
        fairdd.datasets.load("colored-digits", style="paper")


def test_read_mnist_idx_shapes(tmp_path):
    labels = _write_mnist(tmp_path, train_per_class=3, test_per_class=2)
    x, y = sources.load_mnist("test", root=tmp_path)
    assert x.shape == (20, 28, 28) and y.tolist() == labels["t10k"].tolist()
