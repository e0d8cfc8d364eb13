"""Fixtures written in each dataset's real on-disk format (tiny, made here, never downloaded).

A plain module, not a conftest: a second ``conftest`` module would shadow ``tests/conftest.py`` for the
tests that ``from conftest import SMOKE``. Test modules import the writers and fixtures they use.
"""
from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CELEBA_ATTRS = ("5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
                "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair "
                "Heavy_Makeup High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face "
                "Pale_Skin Pointy_Nose Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair "
                "Wearing_Earrings Wearing_Hat Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young").split()


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def cifar_arrays(n_train_per_class: int = 20, n_test_per_class: int = 4, seed: int = 0):
    """Random CIFAR-like images, class-sorted then shuffled: ({split: (data (N, 3072) uint8, labels)})."""
    rng = np.random.RandomState(seed)
    out = {}
    for split, per in (("train", n_train_per_class), ("test", n_test_per_class)):
        labels = np.repeat(np.arange(10), per)
        rng.shuffle(labels)
        out[split] = (rng.randint(0, 256, (len(labels), 3072)).astype(np.uint8), labels)
    return out


def write_cifar_python(folder: Path, arrays, protocol: int = 2) -> Path:
    """cifar-10-batches-py/: data_batch_1..5 and test_batch as pickled dicts, batches.meta."""
    d = folder / "cifar-10-batches-py"
    d.mkdir(parents=True)
    data, labels = arrays["train"]
    for i, part in enumerate(np.array_split(np.arange(len(labels)), 5), start=1):
        entry = {"batch_label": f"training batch {i} of 5", "labels": labels[part].tolist(), "data": data[part],
                 "filenames": [f"img_{j}.png" for j in part]}
        (d / f"data_batch_{i}").write_bytes(pickle.dumps(entry, protocol=protocol))
    data, labels = arrays["test"]
    entry = {"batch_label": "testing batch 1 of 1", "labels": labels.tolist(), "data": data,
             "filenames": [f"t_{j}.png" for j in range(len(labels))]}
    (d / "test_batch").write_bytes(pickle.dumps(entry, protocol=protocol))
    meta = {"num_cases_per_batch": 10000, "label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog",
                                                          "frog", "horse", "ship", "truck"], "num_vis": 3072}
    (d / "batches.meta").write_bytes(pickle.dumps(meta, protocol=protocol))
    return d


def write_cifar_binary(folder: Path, arrays) -> Path:
    """cifar-10-batches-bin/: records of 1 label byte + 3072 pixel bytes."""
    d = folder / "cifar-10-batches-bin"
    d.mkdir(parents=True)
    data, labels = arrays["train"]
    for i, part in enumerate(np.array_split(np.arange(len(labels)), 5), start=1):
        rec = np.concatenate([labels[part, None].astype(np.uint8), data[part]], axis=1)
        (d / f"data_batch_{i}.bin").write_bytes(rec.tobytes())
    data, labels = arrays["test"]
    (d / "test_batch.bin").write_bytes(np.concatenate([labels[:, None].astype(np.uint8), data], axis=1).tobytes())
    (d / "batches.meta.txt").write_text("airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n")
    return d


def _face(rng, w, h) -> Image.Image:
    return Image.fromarray(rng.randint(0, 256, (h, w, 3)).astype(np.uint8))


def write_celeba(folder: Path, n: int = 120, seed: int = 0) -> Path:
    """CelebA layout: img_align_celeba/000001.jpg… (178×218), list_attr_celeba.txt, list_eval_partition.txt."""
    rng = np.random.RandomState(seed)
    (folder / "img_align_celeba").mkdir(parents=True)
    names = [f"{i:06d}.jpg" for i in range(1, n + 1)]
    attrs = np.where(rng.rand(n, 40) < 0.5, -1, 1)
    part = np.array([0] * (n // 2) + [1] * (n // 6) + [2] * (n - n // 2 - n // 6))
    for name in names:
        _face(rng, 178, 218).save(folder / "img_align_celeba" / name, quality=90)
    lines = [str(n), " ".join(CELEBA_ATTRS)]
    lines += [f"{name} " + " ".join(f"{v:2d}" for v in row) for name, row in zip(names, attrs)]
    (folder / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    (folder / "list_eval_partition.txt").write_text("\n".join(f"{a} {p}" for a, p in zip(names, part)) + "\n")
    return folder


def write_utkface(folder: Path, per_cell: int = 4, seed: int = 0) -> Path:
    """UTKFace/ with files age_gender_race_date.jpg.chip.jpg (200×200), some Others and a malformed name.

    Cell (age bin a, race r) holds ``per_cell + 2a + r`` images: the smallest, (0–19, White), goes wholly
    to the test split, as the authors' rule does with any cell under 100.
    """
    rng = np.random.RandomState(seed)
    d = folder / "UTKFace"
    d.mkdir(parents=True)
    k = 0
    for age_bin, ages in enumerate(((5, 19), (20, 39), (40, 80))):
        for race in range(5):  # race 4 (Others) must be dropped
            for _ in range(per_cell + 2 * age_bin + race):  # unequal cells
                age = rng.randint(ages[0], ages[1] + 1)
                _face(rng, 200, 200).save(d / f"{age}_{k % 2}_{race}_2017010917{k:07d}.jpg.chip.jpg")
                k += 1
    _face(rng, 200, 200).save(d / "39_1_20170116174525125.jpg.chip.jpg")  # no race: skipped as the authors do
    return d


def write_bffhq(folder: Path, seed: int = 0) -> Path:
    """bffhq/0.5pct/{align,conflict}/<label>/<idx>_<label>_<bias>.png, test/<idx>_<label>_<bias>.png (128 px)."""
    rng = np.random.RandomState(seed)
    root = folder / "bffhq"
    k = 0
    for label in (0, 1):
        for kind, n, bias in (("align", 12, label), ("conflict", 2, 1 - label)):
            d = root / "0.5pct" / kind / str(label)
            d.mkdir(parents=True, exist_ok=True)
            for _ in range(n):
                _face(rng, 128, 128).save(d / f"{k:05d}_{label}_{bias}.png")
                k += 1
    (root / "valid").mkdir(parents=True)
    (root / "test").mkdir(parents=True)
    for label in (0, 1):
        for bias in (0, 1):
            for _ in range(3):
                _face(rng, 128, 128).save(root / "test" / f"{k:05d}_{label}_{bias}.png")
                k += 1
    return root


@pytest.fixture(scope="session")
def cifar_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("cifar")
    arrays = cifar_arrays()
    write_cifar_python(base / "py", arrays)
    write_cifar_binary(base / "bin", arrays)
    return base, arrays


@pytest.fixture(scope="session")
def celeba_dir(tmp_path_factory):
    return write_celeba(tmp_path_factory.mktemp("celeba"))


@pytest.fixture(scope="session")
def utk_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("utk")
    write_utkface(base)
    return base


@pytest.fixture(scope="session")
def bffhq_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("bffhq")
    write_bffhq(base)
    return base
