"""CIFAR10-S from pickled and binary batches: skew rule, test in both versions, grayscale, App. F, safety, cache."""
import os
import pickle
import shutil

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

import fairdd
from fairdd.data.cifar10s import grayscale, hierarchical_corruption
from fairdd.data.safe_pickle import restricted_load

from file_fixtures import cifar_dir  # noqa: F401  (fixture)


def _load(cifar_dir, tmp_path, fmt="py", **kw):
    base, _ = cifar_dir
    return fairdd.datasets.load("cifar10-s", root=base / fmt, cache_dir=tmp_path / "cache", **kw)


def _uint8(ds):
    return (ds.display() * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()  # (N, 32, 32, 3)


def _official_order(arrays, split, seed=0):
    data, labels = arrays[split]
    rng = np.random.RandomState(seed)
    idx = np.arange(len(labels), dtype=np.int64)
    rng.shuffle(idx)
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)[idx], labels[idx], rng


@pytest.mark.parametrize("skew, grey_major", [(0.9, 18), (0.8, 16), (0.5, 10)])
def test_skew_rule_counts(cifar_dir, tmp_path, skew, grey_major):
    ds = _load(cifar_dir, tmp_path, split="train", skew=skew)
    counts = ds.cell_counts()  # (10, 2), 20 images per class
    assert counts[:5, 0].eq(grey_major).all() and counts[:5, 1].eq(20 - grey_major).all()
    assert counts[5:, 0].eq(20 - grey_major).all() and counts[5:, 1].eq(grey_major).all()
    assert ds.group_names == ("grayscale", "color") and ds.image_shape == (3, 32, 32)


def test_skew_takes_the_first_images_of_each_class_in_the_official_order(cifar_dir, tmp_path):
    ds = _load(cifar_dir, tmp_path, split="train")
    images, labels, _ = _official_order(cifar_dir[1], "train")
    assert torch.equal(ds.labels, torch.from_numpy(labels))
    want = np.zeros(len(labels), dtype=np.int64)
    for c in range(10):  # by hand: walk the order, the first quota of each class is grey
        quota = 18 if c < 5 else 2
        want[np.flatnonzero(labels == c)[quota:]] = 1
    assert ds.groups.tolist() == want.tolist()
    got = _uint8(ds)
    assert np.array_equal(got[want == 1], images[want == 1])  # colour images untouched


def test_test_split_holds_every_image_in_both_versions(cifar_dir, tmp_path):
    ds = _load(cifar_dir, tmp_path, split="test")
    images, labels, _ = _official_order(cifar_dir[1], "test")
    n = len(labels)
    assert len(ds) == 2 * n and (ds.cell_counts() == 4).all()
    assert ds.groups[:n].eq(0).all() and ds.groups[n:].eq(1).all()
    got = _uint8(ds)
    assert np.array_equal(got[n:], images)
    assert np.array_equal(got[:n], grayscale(images))


def test_grayscale_pixels_are_pillows_luma():
    rgb = np.array([[[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 200, 30]]]], dtype=np.uint8)  # (1, 1, 4, 3)
    grey = grayscale(rgb)
    by_hand = [(r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16 for r, g, b in rgb[0, 0].tolist()]
    assert by_hand == [76, 150, 29, 124]  # 0.299 R + 0.587 G + 0.114 B, rounded
    assert grey[0, 0, :, 0].tolist() == by_hand and (grey == grey[..., :1]).all()
    assert np.array_equal(grey[0, :, :, 0], np.asarray(Image.fromarray(rgb[0]).convert("L")))


def test_python_and_binary_batches_give_the_same_set(cifar_dir, tmp_path):
    a = _load(cifar_dir, tmp_path, "py", split="train")
    b = _load(cifar_dir, tmp_path, "bin", split="train")
    assert a.info["format"] == "python" and b.info["format"] == "binary"
    assert torch.equal(a.images, b.images) and torch.equal(a.groups, b.groups)


def _official_corruption(img: Image.Image, severity: int) -> np.ndarray:
    """The authors' ``hierarchical_corruption`` for one image, re-written here from their file, step by step."""
    cur = img.copy()
    if severity >= 1:
        cur = Image.fromarray(np.array(cur)[:, :, [1, 2, 0]])
    if severity >= 2:
        w, h = cur.size
        ImageDraw.Draw(cur).line((0, 0, w, h), fill=(255, 0, 0), width=2)
    if severity >= 3:
        a = np.array(cur)
        a[2:7, 2:7, 0] = 255
        a[2:7, 2:7, 1:] = 0
        cur = Image.fromarray(a)
    if severity >= 4:
        a = np.array(cur)
        gauss = np.random.normal(2.5, 50, a.shape)
        cur = Image.fromarray(np.clip(a.astype(np.int16) + gauss.astype(np.int16), 0, 255).astype(np.uint8))
        w, h = cur.size
        ImageDraw.Draw(cur).line((0, h, w, 0), fill=(0, 255, 0), width=3)
    if severity >= 5:
        cur = cur.transpose(Image.Transpose.ROTATE_270)
        a = 255 - np.array(cur)
        gauss = np.random.normal(2, 20, a.shape)
        cur = Image.fromarray(np.clip(a.astype(np.int16) + gauss.astype(np.int16), 0, 255).astype(np.uint8))
    return np.array(cur)


@pytest.mark.parametrize("severity", [0, 1, 2, 3, 4, 5])
def test_corruptions_equal_the_official_operators(severity):
    rng = np.random.RandomState(7)
    images = rng.randint(0, 256, (6, 32, 32, 3)).astype(np.uint8)
    np.random.seed(11)  # the authors draw from NumPy's global generator, image after image
    want = np.stack([_official_corruption(Image.fromarray(x), severity) for x in images])
    got = hierarchical_corruption(images, severity, np.random.RandomState(11))
    assert np.array_equal(got, want)


def test_severity_replaces_group0_in_every_class_and_severity0_coincides(cifar_dir, tmp_path):
    images, labels, _ = _official_order(cifar_dir[1], "train")
    s0 = _load(cifar_dir, tmp_path, split="train", skew=0.8, severity=0)
    assert np.array_equal(_uint8(s0), images)  # group 0 is the colour image itself: the groups coincide
    s3 = _load(cifar_dir, tmp_path, split="train", skew=0.8, severity=3)
    g0 = (s3.groups == 0).numpy()
    assert set(s3.labels[s3.groups == 0].tolist()) == set(range(10))  # every class has a corrupted group
    got = _uint8(s3)
    assert (got[g0][:, 2:7, 2:7] == np.array([255, 0, 0], dtype=np.uint8)).all()  # the red patch
    assert np.array_equal(got[~g0], images[~g0])
    te = _load(cifar_dir, tmp_path, split="test", severity=5)
    assert te.group_names == ("corrupted", "color") and (te.cell_counts() == 4).all()


def test_restricted_unpickler_refuses_code(tmp_path, cifar_dir):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    bad = tmp_path / "evil"
    bad.write_bytes(pickle.dumps({"data": Evil(), "labels": [0]}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load global (posix|os|nt)\.system"):
        restricted_load(bad)
    assert not (tmp_path / "pwned").exists()
    # a batch replaced by it: the loader refuses too
    root = tmp_path / "copy"
    shutil.copytree(cifar_dir[0] / "py", root)
    shutil.copy(bad, root / "cifar-10-batches-py" / "data_batch_3")
    with pytest.raises(pickle.UnpicklingError, match="refusing to load global"):
        fairdd.datasets.load("cifar10-s", split="train", root=root, use_cache=False)
    assert not (tmp_path / "pwned").exists()
    for protocol in (2, 4, 5):  # numpy arrays in every protocol load
        ok = tmp_path / f"ok{protocol}"
        ok.write_bytes(pickle.dumps({"data": np.arange(6, dtype=np.uint8).reshape(2, 3), "labels": [1, 2]},
                                    protocol=protocol))
        assert restricted_load(ok)["data"].tolist() == [[0, 1, 2], [3, 4, 5]]


def test_cache_is_reused_and_invalidated_when_a_file_changes(cifar_dir, tmp_path):
    root = tmp_path / "c"
    shutil.copytree(cifar_dir[0] / "bin", root)
    kw = dict(split="train", root=root, cache_dir=tmp_path / "cache")
    first = fairdd.datasets.load("cifar10-s", **kw)
    again = fairdd.datasets.load("cifar10-s", **kw)
    assert not first.info["cache_hit"] and again.info["cache_hit"]
    assert torch.equal(first.images, again.images)
    assert len(list((tmp_path / "cache").glob("cifar10-s-*.json"))) == 1
    other = fairdd.datasets.load("cifar10-s", skew=0.8, **kw)  # another knob: another entry
    assert not other.info["cache_hit"]
    batch = root / "cifar-10-batches-bin" / "data_batch_2.bin"
    raw = bytearray(batch.read_bytes())
    raw[5] = (raw[5] + 1) % 256  # one pixel changes
    batch.write_bytes(bytes(raw))
    changed = fairdd.datasets.load("cifar10-s", **kw)
    assert not changed.info["cache_hit"] and not torch.equal(changed.images, first.images)
    assert fairdd.datasets.load("cifar10-s", **kw).info["cache_hit"]
    assert not list((tmp_path / "cache").glob("*.tmp"))  # atomic writes leave nothing behind
    # two entries (skew 0.9 and 0.8), each an index and its 4 arrays: the replaced arrays are gone
    assert len(list((tmp_path / "cache").glob("*.json"))) == 2 and len(list((tmp_path / "cache").glob("*.npy"))) == 8


def test_missing_files_name_the_files_where_and_how(tmp_path, monkeypatch):
    monkeypatch.delenv("FAIRDD_DATA", raising=False)
    with pytest.raises(FileNotFoundError) as err:
        fairdd.datasets.load("cifar10-s", root=tmp_path)
    msg = str(err.value)
    for part in ("data_batch_1", "test_batch", "data_batch_5.bin", str(tmp_path / "cifar-10-batches-py"),
                 "cifar-10-python.tar.gz", "FAIRDD_DATA"):
        assert part in msg
    with pytest.raises(ValueError, match=r"severity must be None or an integer in \[0, 5\]; got 6"):
        fairdd.datasets.load("cifar10-s", root=tmp_path, severity=6)
    with pytest.raises(ValueError, match=r"skew must be in \[0, 1\]; got 1.5"):
        fairdd.datasets.load("cifar10-s", root=tmp_path, skew=1.5)
