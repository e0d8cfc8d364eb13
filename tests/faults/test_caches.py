"""Fault class 2, verified caches and archives: nothing damaged is ever read as valid.

The decoded-array cache checks every array against the shape, dtype and SHA-256 its index recorded; a
damaged entry is rebuilt with a ``CacheWarning`` naming the file. A truncated or damaged source file
(gzip, IDX, pickle, JPEG, CelebA's attribute and partition lists) is an error naming the file and what
is wrong. Each test is one case, with the damaged file built here.
"""
from __future__ import annotations

import gzip
import shutil
import struct
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import fairdd
from fairdd.data.cache import CacheWarning, cached_arrays

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))  # the shared on-disk fixtures
from file_fixtures import bffhq_dir, celeba_dir, cifar_dir, utk_dir  # noqa: F401  (fixtures)
from file_fixtures import write_celeba

ARR = np.arange(4 * 8 * 8 * 3, dtype=np.uint8).reshape(4, 8, 8, 3)


def _cache(tmp_path, build=lambda: {"images": ARR.copy()}):
    return cached_arrays("toy", {"size": 8}, "f" * 64, build, cache_dir=tmp_path / "cache")


def _entry(tmp_path) -> Path:
    (npy,) = (tmp_path / "cache").glob("toy-*-images.npy")
    return npy


def _reread(tmp_path, match: str):
    with pytest.warns(CacheWarning, match=match):
        arrays, hit = _cache(tmp_path)
    assert not hit and np.array_equal(arrays["images"], ARR)
    again, hit = _cache(tmp_path)  # the rebuilt entry is good
    assert hit and np.array_equal(again["images"], ARR)


def test_cache_payload_with_flipped_bytes_is_not_a_hit(tmp_path):
    _cache(tmp_path)
    npy = _entry(tmp_path)
    raw = bytearray(npy.read_bytes())
    raw[-10:] = bytes(10)  # same size, same header: only the pixels changed
    npy.write_bytes(bytes(raw))
    _reread(tmp_path, f"{npy}.*checksum")


def test_cache_payload_replaced_by_flat_images_of_the_same_shape_is_not_a_hit(tmp_path):
    _cache(tmp_path)
    np.save(_entry(tmp_path), np.zeros_like(ARR))  # a valid .npy: the old cache read it as the data
    _reread(tmp_path, "checksum")


def test_cache_payload_cut_short_is_rebuilt_with_its_path(tmp_path):
    _cache(tmp_path)
    npy = _entry(tmp_path)
    npy.write_bytes(npy.read_bytes()[:200])
    _reread(tmp_path, f"{npy}.*cannot be read")


def test_cache_payload_of_another_shape_is_rebuilt(tmp_path):
    _cache(tmp_path)
    np.save(_entry(tmp_path), ARR[:2])
    _reread(tmp_path, r"index says \|u1 \[4, 8, 8, 3\]")


def test_cache_payload_deleted_is_rebuilt_with_its_path(tmp_path):
    _cache(tmp_path)
    npy = _entry(tmp_path)
    npy.unlink()
    _reread(tmp_path, f"{npy}")


def test_cache_index_damaged_is_rebuilt_with_its_path(tmp_path):
    _cache(tmp_path)
    (index,) = (tmp_path / "cache").glob("toy-*.json")
    index.write_text('{"fingerprint": "fff')
    _reread(tmp_path, f"{index}.*unreadable index")


def test_a_good_cache_is_read_without_a_warning(tmp_path):
    _cache(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        arrays, hit = _cache(tmp_path)
    assert hit and np.array_equal(arrays["images"], ARR)


def test_cifar10s_cache_damaged_gives_the_real_images_again(cifar_dir, tmp_path):
    base, _ = cifar_dir
    kw = dict(split="train", root=base / "py", cache_dir=tmp_path / "cache")
    first = fairdd.datasets.load("cifar10-s", **kw)
    for npy in (tmp_path / "cache").glob("*-images.npy"):
        np.save(npy, np.zeros_like(np.load(npy)))
    with pytest.warns(CacheWarning, match="images.npy"):
        again = fairdd.datasets.load("cifar10-s", **kw)
    assert not again.info["cache_hit"] and torch.equal(again.images, first.images)


def test_face_cache_damaged_gives_the_real_images_again(bffhq_dir, tmp_path):
    kw = dict(split="test", root=bffhq_dir, cache_dir=tmp_path / "cache")
    first = fairdd.datasets.load("bffhq", **kw)
    for npy in (tmp_path / "cache").glob("*.npy"):
        npy.write_bytes(npy.read_bytes()[:-64] + bytes(64))
    with pytest.warns(CacheWarning, match="checksum"):
        again = fairdd.datasets.load("bffhq", **kw)
    assert not again.info["cache_hit"] and torch.equal(again.images, first.images)


def _idx_folder(tmp_path: Path, n: int = 20) -> Path:
    raw = tmp_path / "fm"
    raw.mkdir()
    for split in ("train", "t10k"):
        img = np.random.RandomState(0).randint(0, 255, (n, 28, 28)).astype(np.uint8)
        for kind, arr, dims in (("images-idx3", img, img.shape), ("labels-idx1", np.arange(n) % 10, (n,))):
            head = bytes([0, 0, 0x08, len(dims)]) + struct.pack(">" + "I" * len(dims), *dims)
            with gzip.open(raw / f"{split}-{kind}-ubyte.gz", "wb") as f:
                f.write(head + np.asarray(arr, dtype=np.uint8).tobytes())
    return raw


def _load_fm(root):
    return fairdd.datasets.load("colored-fashion-mnist", split="test", root=root, n_groups=2)


def test_truncated_gzip_names_the_file(tmp_path):
    raw = _idx_folder(tmp_path)
    gz = raw / "t10k-images-idx3-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:-200])
    with pytest.raises(ValueError, match=f"{gz} is damaged or truncated"):
        _load_fm(raw)


def test_a_gz_file_that_is_not_gzip_names_the_file(tmp_path):
    raw = _idx_folder(tmp_path)
    gz = raw / "t10k-labels-idx1-ubyte.gz"
    gz.write_bytes(b"<html>404 Not Found</html>")  # what a proxy may hand back
    with pytest.raises(ValueError, match=f"{gz} is damaged or truncated"):
        _load_fm(raw)


def test_idx_payload_shorter_than_its_header_names_the_file(tmp_path):
    raw = _idx_folder(tmp_path)
    gz = raw / "t10k-images-idx3-ubyte.gz"
    data = gzip.decompress(gz.read_bytes())
    gz.write_bytes(gzip.compress(data[:-28 * 28]))  # a valid gzip of a cut IDX file
    with pytest.raises(ValueError, match=f"{gz} is truncated or damaged.*header says shape"):
        _load_fm(raw)


def test_idx_header_cut_inside_its_dimensions_names_the_file(tmp_path):
    raw = _idx_folder(tmp_path)
    gz = raw / "t10k-images-idx3-ubyte.gz"
    gz.write_bytes(gzip.compress(bytes([0, 0, 8, 3, 0, 0])))
    with pytest.raises(ValueError, match=f"{gz} is truncated"):
        _load_fm(raw)


def test_truncated_cifar_pickle_batch_names_the_file(cifar_dir, tmp_path):
    base, _ = cifar_dir
    shutil.copytree(base / "py", tmp_path / "py")
    batch = tmp_path / "py" / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:5000])
    with pytest.raises(ValueError, match=f"{batch} is truncated or damaged"):
        fairdd.datasets.load("cifar10-s", split="train", root=tmp_path / "py", use_cache=False)


def test_truncated_celeba_jpeg_names_the_image(celeba_dir, tmp_path):
    shutil.copytree(celeba_dir, tmp_path / "c")
    jpg = tmp_path / "c" / "img_align_celeba" / "000002.jpg"
    jpg.write_bytes(jpg.read_bytes()[:300])
    with pytest.raises(ValueError, match=f"{jpg} cannot be decoded"):
        fairdd.datasets.load("celeba", split="train", root=tmp_path / "c", use_cache=False)


def test_utkface_image_that_is_not_an_image_names_it(utk_dir, tmp_path):
    shutil.copytree(utk_dir, tmp_path / "u")
    jpg = sorted((tmp_path / "u" / "UTKFace").iterdir())[3]
    jpg.write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match=f"{jpg} cannot be decoded"):
        fairdd.datasets.load("utkface", split="train", root=tmp_path / "u", use_cache=False)


def _celeba(tmp_path) -> Path:
    return write_celeba(tmp_path / "c", n=12)


def test_celeba_attribute_file_cut_mid_line_names_file_and_line(tmp_path):
    root = _celeba(tmp_path)
    f = root / "list_attr_celeba.txt"
    f.write_text(f.read_text()[:-40])
    with pytest.raises(ValueError, match=f"{f} line 14: expected a file name and 40 values"):
        fairdd.datasets.load("celeba", root=root, use_cache=False)


def test_celeba_attribute_file_cut_at_a_line_end_names_the_count(tmp_path):
    root = _celeba(tmp_path)
    f = root / "list_attr_celeba.txt"
    f.write_text("\n".join(f.read_text().splitlines()[:-3]) + "\n")
    with pytest.raises(ValueError, match=f"{f} is truncated.*says 12 images but it lists 9"):
        fairdd.datasets.load("celeba", root=root, use_cache=False)


def test_celeba_attribute_value_other_than_plus_minus_one_names_the_line(tmp_path):
    root = _celeba(tmp_path)
    f = root / "list_attr_celeba.txt"
    lines = f.read_text().splitlines()
    lines[5] = lines[5].rsplit(" ", 1)[0] + " 5"
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=f"{f} line 6: .*1 or -1"):
        fairdd.datasets.load("celeba", root=root, use_cache=False)


def test_celeba_partition_file_truncated_names_the_file(tmp_path):
    root = _celeba(tmp_path)
    f = root / "list_eval_partition.txt"
    f.write_text("\n".join(f.read_text().splitlines()[:8]) + "\n")
    with pytest.raises(ValueError, match=f"{f} has no entry for 4 image"):
        fairdd.datasets.load("celeba", split="test", root=root, use_cache=False)


def test_celeba_partition_line_cut_in_half_names_the_line(tmp_path):
    root = _celeba(tmp_path)
    f = root / "list_eval_partition.txt"
    f.write_text(f.read_text().rstrip("\n")[:-2] + "\n")
    with pytest.raises(ValueError, match=f"{f} line 12"):
        fairdd.datasets.load("celeba", split="test", root=root, use_cache=False)


def test_truncated_checkpoint_names_the_file(tmp_path, digits_train):
    ck = tmp_path / "ck.pt"
    fairdd.distill(digits_train, ipc=1, preset="smoke", device="cpu", iterations=1, depth=2, checkpoint=ck)
    ck.write_bytes(ck.read_bytes()[:1000])
    with pytest.raises(ValueError, match=f"{ck} is not a readable fairdd checkpoint"):
        fairdd.distill(digits_train, ipc=1, preset="smoke", device="cpu", iterations=2, depth=2, resume=ck)


def test_cli_on_a_damaged_cache_prints_one_warning_line_and_works(bffhq_dir, tmp_path, capsys):
    from fairdd.cli import main

    argv = ["distill", "--dataset", "bffhq", "--root", str(bffhq_dir), "--cache-dir", str(tmp_path / "cc"),
            "--preset", "smoke", "--ipc", "1", "--device", "cpu", "--set", "iterations=1", "--set", "depth=2"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    for npy in (tmp_path / "cc").glob("*.npy"):
        np.save(npy, np.zeros_like(np.load(npy)))
    capsys.readouterr()
    assert main([*argv, "--out", str(tmp_path / "b")]) == 0
    warned = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("warning:")]
    assert len(warned) == 1 and "is damaged" in warned[0] and str(tmp_path / "cc") in warned[0], warned
    a, b = fairdd.load_result(tmp_path / "a"), fairdd.load_result(tmp_path / "b")
    assert torch.equal(a.images, b.images)  # the same data, so the same run
