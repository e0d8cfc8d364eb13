"""CelebA, UTKFace and bFFHQ from fixtures in their real layouts: counts, test balance, pixels, errors, cache."""
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

import fairdd

from file_fixtures import CELEBA_ATTRS, bffhq_dir, celeba_dir, utk_dir  # noqa: F401  (fixtures)


def _uint8(ds):
    return (ds.display() * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()  # (N, H, W, 3)


def _celeba_table(root):
    lines = (root / "list_attr_celeba.txt").read_text().splitlines()
    attr = (np.array([ln.split()[1:] for ln in lines[2:]], dtype=int) + 1) // 2
    part = np.array([int(ln.split()[1]) for ln in (root / "list_eval_partition.txt").read_text().splitlines()])
    return attr, part


def test_celeba_train_is_partition0_and_test_is_balanced(celeba_dir, tmp_path):
    attr, part = _celeba_table(celeba_dir)
    tr = fairdd.datasets.load("celeba", split="train", root=celeba_dir, cache_dir=tmp_path)
    y, g = attr[part == 0, CELEBA_ATTRS.index("Attractive")], attr[part == 0, CELEBA_ATTRS.index("Male")]
    by_hand = [[int(((y == c) & (g == a)).sum()) for a in (0, 1)] for c in (0, 1)]
    assert tr.cell_counts().tolist() == by_hand and tr.image_shape == (3, 64, 64)
    assert tr.class_names == ("not Attractive", "Attractive") and tr.group_names == ("not Male", "Male")
    te = fairdd.datasets.load("celeba", split="test", root=celeba_dir, cache_dir=tmp_path)
    y2, g2 = attr[part == 2, 2], attr[part == 2, 20]
    smallest = min(int(((y2 == c) & (g2 == a)).sum()) for c in (0, 1) for a in (0, 1))
    assert (te.cell_counts() == smallest).all()


def test_celeba_attributes_are_selectable_and_checked(celeba_dir, tmp_path):
    attr, part = _celeba_table(celeba_dir)
    ds = fairdd.datasets.load("celeba", split="train", root=celeba_dir, cache_dir=tmp_path, target="Smiling",
                              group="Young")
    want = attr[part == 0][:, [CELEBA_ATTRS.index("Smiling"), CELEBA_ATTRS.index("Young")]]
    assert ds.labels.tolist() == want[:, 0].tolist() and ds.groups.tolist() == want[:, 1].tolist()
    with pytest.raises(ValueError, match=r"unknown CelebA target attribute 'Handsome'; allowed: \['5_o_Clock"):
        fairdd.datasets.load("celeba", root=celeba_dir, cache_dir=tmp_path, target="Handsome")


def test_celeba_pixels_are_centre_crop_178_then_bilinear_64(celeba_dir, tmp_path):
    ds = fairdd.datasets.load("celeba", split="train", root=celeba_dir, cache_dir=tmp_path)
    with Image.open(celeba_dir / "img_align_celeba" / "000001.jpg") as im:
        assert im.size == (178, 218)
        want = np.asarray(im.convert("RGB").crop((0, 20, 178, 198)).resize((64, 64), Image.BILINEAR))
    assert np.array_equal(_uint8(ds)[0], want)


def test_utkface_bins_races_and_official_test_split(utk_dir, tmp_path):
    tr = fairdd.datasets.load("utkface", split="train", root=utk_dir, cache_dir=tmp_path)
    te = fairdd.datasets.load("utkface", split="test", root=utk_dir, cache_dir=tmp_path)
    assert te.class_names == ("0-19", "20-39", "40+") and te.group_names == ("White", "Black", "Asian", "Indian")
    # cell (a, r) holds 4 + 2a + r files; Others and the name without race are dropped;
    # the test takes min(100, smallest cell) = 4 per cell, training keeps the rest
    assert (te.cell_counts() == 4).all() and te.info["test_per_cell"] == 4
    assert tr.cell_counts().tolist() == [[2 * a + r for r in range(4)] for a in range(3)]
    assert tr.image_shape == (3, 64, 64)
    by_gender = fairdd.datasets.load("utkface", split="train", root=utk_dir, cache_dir=tmp_path, group="gender")
    assert by_gender.group_names == ("male", "female") and len(by_gender) == len(tr)


def test_bffhq_official_split_and_names(bffhq_dir, tmp_path):
    tr = fairdd.datasets.load("bffhq", split="train", root=bffhq_dir, cache_dir=tmp_path)
    te = fairdd.datasets.load("bffhq", split="test", root=bffhq_dir, cache_dir=tmp_path)
    assert tr.cell_counts().tolist() == [[12, 2], [2, 12]]  # align: bias = label, conflict: the other
    assert te.cell_counts().tolist() == [[3, 3], [3, 3]]
    first = sorted((bffhq_dir / "bffhq" / "0.5pct" / "align" / "0").iterdir())[0]
    with Image.open(first) as im:
        want = np.asarray(im.convert("RGB").resize((64, 64), Image.BICUBIC))
    assert np.array_equal(_uint8(tr)[0], want)


@pytest.mark.parametrize("name, parts", [
    ("celeba", ["list_attr_celeba.txt", "list_eval_partition.txt", "img_align_celeba", "non-commercial"]),
    ("utkface", ["age_gender_race_date.jpg.chip.jpg", "UTKFace"]),
    ("bffhq", ["0.5pct/align", "0.5pct/conflict", "test/", "FFHQ"]),
])
def test_missing_files_name_what_where_and_how(tmp_path, monkeypatch, name, parts):
    monkeypatch.delenv("FAIRDD_DATA", raising=False)
    with pytest.raises(FileNotFoundError) as err:
        fairdd.datasets.load(name, root=tmp_path)
    msg = str(err.value)
    for part in parts + [str(tmp_path), "root=", "$FAIRDD_DATA"]:
        assert part in msg


def test_celeba_missing_images_are_listed(celeba_dir, tmp_path):
    root = tmp_path / "c"
    shutil.copytree(celeba_dir, root)
    (root / "img_align_celeba" / "000002.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"1 image\(s\) of the train partition, e.g. \['000002.jpg'\]"):
        fairdd.datasets.load("celeba", root=root, use_cache=False)


def test_face_cache_is_reused_and_invalidated(bffhq_dir, tmp_path):
    root = tmp_path / "b"
    shutil.copytree(bffhq_dir, root)
    kw = dict(split="test", root=root, cache_dir=tmp_path / "cache")
    a = fairdd.datasets.load("bffhq", **kw)
    b = fairdd.datasets.load("bffhq", **kw)
    assert not a.info["cache_hit"] and b.info["cache_hit"] and torch.equal(a.images, b.images)
    target = sorted((root / "bffhq" / "test").iterdir())[0]
    Image.fromarray(np.zeros((128, 128, 3), dtype=np.uint8)).save(target)
    c = fairdd.datasets.load("bffhq", **kw)
    assert not c.info["cache_hit"] and (_uint8(c)[0] == 0).all() and torch.equal(c.images[1:], a.images[1:])


def test_registry_lists_every_dataset_and_reports_missing_files(tmp_path, monkeypatch):
    monkeypatch.delenv("FAIRDD_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    assert set(fairdd.datasets.DATASETS) == {"colored-mnist", "colored-mnist-5k", "colored-fashion-mnist",
                                             "colored-digits", "cifar10-s", "celeba", "utkface", "bffhq"}
    assert fairdd.datasets.options("cifar10-s")[:3] == ("skew", "severity", "seed")
    missing = fairdd.datasets.availability("utkface", root=tmp_path)
    assert not missing.available and "UTKFace" in missing.reason
    assert fairdd.datasets.availability("colored-digits").available
    with pytest.raises(ValueError, match=r"dataset 'celeba' does not take \['bias'\]; it takes: \['target'"):
        fairdd.datasets.load("celeba", bias=0.9)
