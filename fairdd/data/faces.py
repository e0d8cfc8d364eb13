"""Face benchmarks from the user's files: CelebA, UTKFace and BFFHQ, 64×64, built as the COBRA authors build them.

| name | class × group | official source |
|---|---|---|
| ``celeba`` | Attractive × Male (selectable); train = partition 0, test = partition 2 balanced to its smallest (class, group) cell; centre crop 178 → 64 | ``data_handler/celeba.py`` |
| ``utkface`` | age 0–19 / 20–39 / 40+ × race (White, Black, Asian, Indian; "Others" dropped) or gender; test = min(100, smallest cell) per (age, race) cell, train = the rest; resize to 64 | ``data_handler/utkface.py`` |
| ``bffhq`` | first × second attribute in the file name (age × gender); train = ``0.5pct/align`` + ``0.5pct/conflict``, test = ``test``; resize to 64 | ``data_handler/bffhq.py`` |

Decoded images are cached (``fairdd.data.cache``); images go through Pillow only.
"""
from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import torch
from PIL import Image

from ._images import normalised
from .cache import cached_arrays, source_fingerprint
from .dataset import GroupedDataset
from ..validate import check_seed, numpy_seed

__all__ = ["load_celeba", "load_utkface", "load_bffhq", "CELEBA_MEAN", "CELEBA_STD", "UTKFACE_MEAN", "UTKFACE_STD",
           "BFFHQ_MEAN", "BFFHQ_STD", "UTK_RACES", "UTK_AGES"]

# normalisation constants of the authors' loaders
CELEBA_MEAN, CELEBA_STD = (0.5063, 0.4258, 0.3832), (0.2676, 0.2453, 0.2410)
UTKFACE_MEAN = (0.6135867892520825, 0.4722519020075052, 0.4070309090621279)
UTKFACE_STD = (0.25492949231398077, 0.23054187352850616, 0.22834804939251105)
BFFHQ_MEAN, BFFHQ_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)
UTK_RACES = ("White", "Black", "Asian", "Indian")  # race 4 ("Others") is dropped
UTK_AGES = ("0-19", "20-39", "40+")
UTK_GENDERS = ("male", "female")
SIZE = 64


# ----------------------------------------------------------------------------- shared helpers
def _data_roots(root, subdirs: tuple[str, ...]) -> list[Path]:
    bases = [Path(root)] if root is not None else []
    if os.environ.get("FAIRDD_DATA"):
        bases.append(Path(os.environ["FAIRDD_DATA"]))
    return [b / s if s else b for b in bases for s in subdirs]


def _not_found(title: str, wanted: str, dirs: list[Path], how: str) -> FileNotFoundError:
    tried = ", ".join(str(d) for d in dirs) or "nowhere (no root= given and $FAIRDD_DATA unset)"
    return FileNotFoundError(f"{title} files not found: looked for {wanted} in: {tried}. To get them: {how}; "
                             "then pass root= (or set $FAIRDD_DATA) to that folder.")


def _decode(paths: list[Path], transform: Callable[[Image.Image], Image.Image], workers: int | None) -> np.ndarray:
    """Decode ``paths`` with Pillow, convert to RGB, apply ``transform`` → (N, 64, 64, 3) uint8."""
    def one(p: Path) -> np.ndarray:
        try:
            with Image.open(p) as im:
                out = np.asarray(transform(im.convert("RGB")), dtype=np.uint8)
        except (OSError, ValueError, SyntaxError) as exc:  # Pillow: truncated, corrupt or not an image
            raise ValueError(f"{p} cannot be decoded: the image is truncated or damaged "
                             f"({type(exc).__name__}: {str(exc)[:120]})") from exc
        if out.shape != (SIZE, SIZE, 3):
            raise ValueError(f"{p}: decoded to shape {out.shape}, expected ({SIZE}, {SIZE}, 3)")
        return out

    if not paths:
        return np.zeros((0, SIZE, SIZE, 3), dtype=np.uint8)
    workers = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:  # Pillow decodes without holding the GIL
        return np.stack(list(pool.map(one, paths, chunksize=64)))


def _dataset(images: np.ndarray, labels: np.ndarray, groups: np.ndarray, *, class_names, group_names,
             mean, std, info) -> GroupedDataset:
    return GroupedDataset(images=normalised(images, mean, std), labels=torch.from_numpy(labels.astype(np.int64)),
                          groups=torch.from_numpy(groups.astype(np.int64)), class_names=tuple(class_names),
                          group_names=tuple(group_names), mean=tuple(mean), std=tuple(std), info=info)


def _balanced_pick(cell: np.ndarray, n_cells: int, per_cell: int, rng: np.random.RandomState) -> np.ndarray:
    """Draw ``per_cell`` sample indices without replacement from every cell, sorted."""
    keys = rng.random_sample(len(cell))
    order = np.lexsort((keys, cell))  # by cell, random inside
    start = np.searchsorted(cell[order], np.arange(n_cells))
    rank = np.arange(len(cell)) - start[cell[order]]
    return np.sort(order[rank < per_cell])


def _check_split(split: str) -> None:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}")


# ----------------------------------------------------------------------------- CelebA
_CELEBA_HOW = ("download 'Align&Cropped Images' (img_align_celeba.zip), list_attr_celeba.txt and "
               "list_eval_partition.txt from the CelebA page (https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html; "
               "non-commercial research use only) and unzip the images")


def _celeba_tables(folder: Path) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    """(attribute names, attribute matrix (N, 40) in {0, 1}, file names, partition (N,)) from the text files.

    Both files are checked whole: the row count against the attribute file's first line, every value
    in {-1, 1}, every image in the partition file with a partition in {0, 1, 2}; an error names the
    file and the first bad line.
    """
    attr_file, part_file = folder / "list_attr_celeba.txt", folder / "list_eval_partition.txt"
    lines = attr_file.read_text().splitlines()
    if len(lines) < 2 or not lines[0].strip().isdigit():
        raise ValueError(f"{attr_file}: expected a count line and a header line")
    names = lines[1].split()
    rows = [ln.split() for ln in lines[2:] if ln.strip()]
    bad = next((i for i, r in enumerate(rows) if len(r) != len(names) + 1
                or any(v not in ("1", "-1") for v in r[1:])), None)
    if bad is not None:
        raise ValueError(f"{attr_file} line {bad + 3}: expected a file name and {len(names)} values of 1 or -1 "
                         f"(truncated or damaged?); got {' '.join(rows[bad])[:80]!r}")
    if len(rows) != int(lines[0]):
        raise ValueError(f"{attr_file} is truncated or damaged: its first line says {int(lines[0])} images "
                         f"but it lists {len(rows)}")
    files = [r[0] for r in rows]
    attr = (np.array([r[1:] for r in rows], dtype=np.int64) + 1) // 2  # {-1, 1} → {0, 1}
    return names, attr, files, _celeba_partition(part_file, files)


def _celeba_partition(part_file: Path, files: list[str]) -> np.ndarray:
    part = {}
    for i, ln in enumerate(part_file.read_text().splitlines()):
        fields = ln.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
            raise ValueError(f"{part_file} line {i + 1}: expected '<image> <0, 1 or 2>' (truncated or damaged?); "
                             f"got {ln[:80]!r}")
        part[fields[0]] = int(fields[1])
    missing = [f for f in files if f not in part]
    if missing:
        raise ValueError(f"{part_file} has no entry for {len(missing)} image(s) of list_attr_celeba.txt, e.g. "
                         f"{missing[:3]} (truncated?)")
    return np.array([part[f] for f in files], dtype=np.int64)


def _center_crop(im: Image.Image, size: int) -> Image.Image:
    """Apply torchvision's ``CenterCrop(size)`` to a Pillow image (zero padding where the image is smaller)."""
    w, h = im.size
    left = int(round((w - size) / 2.0)) if w >= size else -((size - w) // 2)
    top = int(round((h - size) / 2.0)) if h >= size else -((size - h) // 2)
    return im.crop((left, top, left + size, top + size))


def _celeba_transform(im: Image.Image) -> Image.Image:
    # CenterCrop(178) then Resize(64): torchvision resizes Pillow images with Pillow's bilinear filter
    return _center_crop(im, 178).resize((SIZE, SIZE), Image.BILINEAR)


def load_celeba(*, split: Literal["train", "test"] = "train", target: str = "Attractive", group: str = "Male",
                seed: int = 0, root=None, cache_dir=None, use_cache: bool = True,
                workers: int | None = None) -> GroupedDataset:
    """CelebA, class = ``target`` attribute, group = ``group`` attribute (names from the attribute file's header).

    Train is partition 0 of ``list_eval_partition.txt`` (all of it); test is partition 2 with
    ``min cell`` samples drawn from each (class, group) cell (``seed``), as ``CelebA_test`` does.
    """
    _check_split(split)
    seed = check_seed(seed)
    dirs = _data_roots(root, ("", "celeba", "CelebA"))
    folder = next((d for d in dirs if (d / "list_attr_celeba.txt").is_file()
                   and (d / "list_eval_partition.txt").is_file()), None)
    if folder is None:
        raise _not_found("CelebA", "list_attr_celeba.txt and list_eval_partition.txt (and img_align_celeba/*.jpg)",
                         dirs, _CELEBA_HOW)
    image_dir = folder / "img_align_celeba" if (folder / "img_align_celeba").is_dir() else folder
    names, attr, files, part = _celeba_tables(folder)
    for what, attr_name in (("target", target), ("group", group)):
        if attr_name not in names:
            raise ValueError(f"unknown CelebA {what} attribute {attr_name!r}; allowed: {names}")
    if target == group:
        raise ValueError(f"target and group must differ; both are {target!r}")
    wanted = np.flatnonzero(part == (0 if split == "train" else 2))
    rel = [files[i] for i in wanted]
    absent = [f for f in rel if not (image_dir / f).is_file()]
    if absent:
        raise _not_found("CelebA", f"{len(absent)} image(s) of the {split} partition, e.g. {absent[:3]}",
                         [image_dir], _CELEBA_HOW)
    sources = [Path("list_attr_celeba.txt"), Path("list_eval_partition.txt")]
    fingerprint = source_fingerprint(folder, sources) + source_fingerprint(image_dir, rel)
    arrays, hit = cached_arrays(
        "celeba", dict(split=split, size=SIZE, crop=178, version=1), fingerprint,
        lambda: dict(images=_decode([image_dir / f for f in rel], _celeba_transform, workers)),
        cache_dir=cache_dir, use_cache=use_cache)
    images = arrays["images"]
    y = attr[wanted, names.index(target)]
    g = attr[wanted, names.index(group)]
    if split == "test":
        cell = y * 2 + g
        smallest = int(np.bincount(cell, minlength=4).min())
        keep = _balanced_pick(cell, 4, smallest, np.random.RandomState(numpy_seed(seed)))
        images, y, g = images[keep], y[keep], g[keep]
    ds = _dataset(images, y, g, class_names=(f"not {target}", target), group_names=(f"not {group}", group),
                  mean=CELEBA_MEAN, std=CELEBA_STD,
                  info=dict(name="celeba", split=split, target=target, group=group, seed=int(seed),
                            root=str(folder), cache_hit=hit))
    if split == "test":
        ds.check_complete("celeba test split")
    return ds


# ----------------------------------------------------------------------------- UTKFace
_UTK_HOW = ("download the 'Aligned&Cropped Faces' archive (UTKFace.tar.gz) from the UTKFace page "
            "(https://susanqq.github.io/UTKFace/; non-commercial research use only) and extract it")
_UTK_NAME = re.compile(r"^(\d+)_(\d+)_(\d+)_[^_]+$")  # age_gender_race_date&time.jpg[.chip.jpg]


def _utk_files(folder: Path) -> list[tuple[str, int, int, int]]:
    """(file, age, gender, race) for every file named as the authors parse it (4 parts split by "_")."""
    out = []
    for name in sorted(os.listdir(folder)):
        m = _UTK_NAME.match(name)
        if m and (folder / name).is_file():
            out.append((name, int(m.group(1)), int(m.group(2)), int(m.group(3))))
    return out


def load_utkface(*, split: Literal["train", "test"] = "train", group: Literal["race", "gender"] = "race",
                 seed: int = 0, root=None, cache_dir=None, use_cache: bool = True,
                 workers: int | None = None) -> GroupedDataset:
    """UTKFace: class = age bin (0–19, 20–39, 40+), group = race (4, "Others" dropped) or gender.

    As ``data_handler/utkface.py``: files whose name does not split into 4 parts are skipped, race 4 is
    dropped; the test split takes ``min(100, smallest cell)`` samples from every (age, race) cell
    (``seed``) and the training split is everything else.
    """
    _check_split(split)
    seed = check_seed(seed)
    if group not in ("race", "gender"):
        raise ValueError(f"group must be 'race' or 'gender'; got {group!r}")
    dirs = _data_roots(root, ("UTKFace", "utkface", ""))
    folder = next((d for d in dirs if d.is_dir() and any(_UTK_NAME.match(n) for n in os.listdir(d))), None)
    if folder is None:
        raise _not_found("UTKFace", "images named age_gender_race_date.jpg.chip.jpg (folder UTKFace/)", dirs, _UTK_HOW)
    table = [t for t in _utk_files(folder) if t[3] != 4]  # race 4 = Others, dropped
    files = [t[0] for t in table]
    age = np.array([t[1] for t in table])
    gender = np.array([t[2] for t in table])
    race = np.array([t[3] for t in table])
    if gender.size and (gender.max() > 1 or race.max() > 4):
        raise ValueError(f"{folder}: gender must be 0/1 and race 0–4 in the file names")
    y = np.digitize(age, [20, 40])  # 0: <20, 1: 20–39, 2: ≥40
    arrays, hit = cached_arrays(
        "utkface", dict(size=SIZE, version=1), source_fingerprint(folder, files),
        lambda: dict(images=_decode([folder / f for f in files], lambda im: im.resize((SIZE, SIZE), Image.BILINEAR),
                                    workers)),
        cache_dir=cache_dir, use_cache=use_cache)
    cell = y * 4 + race  # the authors balance the test split over (age, race) whatever the group
    per_cell = int(min(100, np.bincount(cell, minlength=12).min()))
    test = np.zeros(len(y), dtype=bool)
    test[_balanced_pick(cell, 12, per_cell, np.random.RandomState(numpy_seed(seed)))] = True
    pick = test if split == "test" else ~test
    g, group_names = (race, UTK_RACES) if group == "race" else (gender, UTK_GENDERS)
    ds = _dataset(arrays["images"][pick], y[pick], g[pick], class_names=UTK_AGES, group_names=group_names,
                  mean=UTKFACE_MEAN, std=UTKFACE_STD,
                  info=dict(name="utkface", split=split, group=group, seed=int(seed), test_per_cell=per_cell,
                            root=str(folder), cache_hit=hit))
    if split == "test":
        ds.check_complete("utkface test split")
    return ds


# ----------------------------------------------------------------------------- BFFHQ
_BFFHQ_HOW = ("download bFFHQ as released with 'Learning Debiased Representation via Disentangled Feature "
              "Augmentation' (Lee et al., 2021; derived from FFHQ, non-commercial use under the FFHQ terms) and "
              "extract it so that 0.5pct/align, 0.5pct/conflict and test sit in one folder")
_BFFHQ_NAME = re.compile(r"_(\d+)_(\d+)\.[A-Za-z]+$")  # …_<first attr>_<second attr>.png


def _bffhq_files(folder: Path, split: str) -> list[Path]:
    if split == "train":
        pats = [folder / "0.5pct" / "align", folder / "0.5pct" / "conflict"]
        return sorted(p for base in pats if base.is_dir() for sub in base.iterdir() if sub.is_dir()
                      for p in sub.iterdir() if p.is_file())
    base = folder / "test"
    return sorted(p for p in base.iterdir() if p.is_file()) if base.is_dir() else []


def load_bffhq(*, split: Literal["train", "test"] = "train", root=None, cache_dir=None, use_cache: bool = True,
               workers: int | None = None) -> GroupedDataset:
    """bFFHQ: class = first attribute of the file name (age), group = second (gender); the released split.

    As ``data_handler/bffhq.py``: train = ``0.5pct/align/*/*`` + ``0.5pct/conflict/*/*``, test = ``test/*``;
    each image converted to RGB and resized to 64×64 with Pillow's default filter (bicubic).
    """
    _check_split(split)
    dirs = _data_roots(root, ("bffhq", ""))
    folder = next((d for d in dirs if (d / "0.5pct").is_dir() and (d / "test").is_dir()), None)
    if folder is None:
        raise _not_found("bFFHQ", "the folders 0.5pct/align/<label>/, 0.5pct/conflict/<label>/ and test/", dirs,
                         _BFFHQ_HOW)
    paths = _bffhq_files(folder, split)
    parsed = [_BFFHQ_NAME.search(p.name) for p in paths]
    bad = [p.name for p, m in zip(paths, parsed) if m is None]
    if bad:
        raise ValueError(f"bFFHQ file names must end in _<label>_<bias>.<ext>; got {bad[:3]} in {folder}")
    if not paths:
        raise _not_found("bFFHQ", f"images of the {split} split", [folder], _BFFHQ_HOW)
    y = np.array([int(m.group(1)) for m in parsed])
    g = np.array([int(m.group(2)) for m in parsed])
    if y.max() > 1 or g.max() > 1:
        raise ValueError(f"bFFHQ labels and biases must be 0 or 1; got labels {sorted(set(y))}, biases {sorted(set(g))}")
    rel = [p.relative_to(folder) for p in paths]
    arrays, hit = cached_arrays(
        "bffhq", dict(split=split, size=SIZE, version=1), source_fingerprint(folder, rel),
        lambda: dict(images=_decode(paths, lambda im: im.resize((SIZE, SIZE), Image.BICUBIC), workers)),
        cache_dir=cache_dir, use_cache=use_cache)
    ds = _dataset(arrays["images"], y, g, class_names=("age 0", "age 1"), group_names=("gender 0", "gender 1"),
                  mean=BFFHQ_MEAN, std=BFFHQ_STD,
                  info=dict(name="bffhq", split=split, root=str(folder), cache_hit=hit))
    if split == "test":
        ds.check_complete("bffhq test split")
    return ds
