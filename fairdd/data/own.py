"""Your own data: a ``GroupedDataset`` from any labelled, grouped image set.

Every entry point (``from_folder``, ``from_image_folder``, ``from_arrays``, ``from_torchvision``,
``from_huggingface``) reduces its source to one table — a uint8 image per row, its class value, its
group value (may be missing) and, where the source has them, its split value — and ``_build`` turns
that table into the dataset, the same way for every source:

1. the classes and groups are the distinct values of the whole table (every split), in natural order
   (numbers by value, else text), so a training and a test set of one source share their ids; a row
   whose group is missing is kept with ``known = False`` (the partial-label path:
   ``fairdd.data.infer_groups`` fills it in before distillation, or ``missing_groups="infer"`` at load);
   a test split drops such rows;
2. the split: the rows whose split value equals ``split``, or ``split_values[split]`` (a name for a
   raw value: ``{"train": 0, "val": 1, "test": 2}`` as in Waterbirds' ``metadata.csv`` unless given);
   a source without splits gets a test set balanced over (class, group) cells drawn with ``seed``:
   ``test_per_cell`` samples of every cell (default a fifth of the smallest cell, at least one), the
   training split is the rest; ``split=None`` keeps every row;
3. normalisation: the per-channel mean and standard deviation of every image of the table, recorded
   in ``mean`` / ``std`` and in ``info`` (the same for every split);
4. checks in the source's own words (file, column, value): a class or group with no sample in the
   split, an empty (class, group) cell in a test split, more groups than ``max_groups`` (the colours
   ``fairdd.palette.CYCLE`` can tell apart), unreadable or missing image files, missing columns, an
   unknown split value.

Images are converted to RGB (``channels=3``) or grey (``channels=1``), centre-cropped to a square
(``crop="center"``; ``"none"`` stretches) and resized to ``size`` × ``size`` with Pillow's bilinear
filter. Decoded image files are cached like the benchmarks' (``fairdd.data.cache``), keyed by the files'
sizes and modification times and by the decoding options.
"""
from __future__ import annotations

import hashlib
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from ..palette import CYCLE
from ._images import normalised
from .cache import cached_arrays, source_fingerprint
from .dataset import GroupedDataset

__all__ = ["SPLIT_VALUES", "IMAGE_SUFFIXES", "MAX_GROUPS", "Table", "build", "decode_files", "read_image",
           "natural_order"]

SPLIT_VALUES = {"train": 0, "val": 1, "test": 2}  # Waterbirds' (and WILDS') split codes in metadata.csv
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
MAX_GROUPS = len(CYCLE)  # groups the palette draws in distinct colours
CROPS = ("center", "none")
MISSING_GROUPS = ("keep", "infer")  # rows without a group: marked unknown, or given pseudo-groups


@dataclass(frozen=True)
class Table:
    """A source reduced to rows: what ``build`` turns into a ``GroupedDataset``.

    images : (N, S, S, C) uint8. labels : (N,) object, the class values. groups : (N,) object, the group
    values, None where missing. splits : (N,) object or None, the split values. words : how the source
    names its parts in messages: ``source`` (e.g. "metadata.csv"), ``label``, ``group``, ``split``
    (e.g. "column 'y'").
    """

    images: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    splits: np.ndarray | None = None
    words: dict = field(default_factory=dict)

    def word(self, key: str) -> str:
        """How the source names ``key`` ("source", "label", "group", "split") in messages."""
        default = {"source": "the data", "label": "the labels", "group": "the groups", "split": "the splits"}
        return self.words.get(key, default[key])


def is_missing(value: Any) -> bool:
    """None, NaN or an empty / blank string: a value the source does not give."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def natural_order(values: Sequence) -> list[str]:
    """Give the distinct values as text, numbers by value (``"2" < "10"``), else in text order."""
    distinct = sorted({_text(v) for v in values})
    try:
        return sorted(distinct, key=float)
    except ValueError:
        return distinct


def _text(value: Any) -> str:
    """Give a value's name: ``3``, ``3.0`` and ``"3"`` are all class ``"3"``."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (np.integer, np.bool_)):
        return str(value.item())
    return str(value).strip()


# ----------------------------------------------------------------------------- images
def read_image(source, *, size: int, crop: str, channels: int) -> np.ndarray:
    """One image (a path or a Pillow image) as (size, size, channels) uint8 (see the module docstring)."""
    from PIL import Image

    if isinstance(source, (str, os.PathLike)):
        with Image.open(source) as im:
            return read_image(im.copy(), size=size, crop=crop, channels=channels)
    im = source.convert("RGB" if channels == 3 else "L")
    if crop == "center":
        w, h = im.size
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        im = im.crop((left, top, left + side, top + side))
    out = np.asarray(im.resize((size, size), Image.BILINEAR), dtype=np.uint8)
    return out.reshape(size, size, channels)


def decode_files(root: Path, files: Sequence[str], *, size: int, crop: str, channels: int,
                 workers: int | None = None, named_in: str = "") -> np.ndarray:
    """Decode ``root / f`` for every file → (N, size, size, channels) uint8; names every unreadable file."""
    def one(rel: str):
        try:
            return read_image(root / rel, size=size, crop=crop, channels=channels)
        except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds; each is reported by name below
            return exc

    if not files:
        return np.zeros((0, size, size, channels), dtype=np.uint8)
    with ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1)) as pool:  # Pillow frees the GIL
        out = list(pool.map(one, files, chunksize=64))
    bad = [(f, r) for f, r in zip(files, out) if isinstance(r, Exception)]
    if bad:
        shown = "; ".join(f"{f} ({type(e).__name__}: {str(e)[:80]})" for f, e in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise ValueError(f"{len(bad)} image file(s){named_in} under {root} could not be read: {shown}{more}; "
                         "fix or remove them (or their rows)")
    return np.stack(out)


def cached_files(root: Path, files: Sequence[str], *, size: int, crop: str, channels: int, workers=None,
                 cache_dir=None, use_cache: bool = True, named_in: str = "") -> tuple[np.ndarray, list[str], bool]:
    """Decode the distinct ``files`` (sorted) through the cache → (images, the sorted files, cache hit)."""
    distinct = sorted(set(files))
    absent = [f for f in distinct if not (root / f).is_file()]
    if absent:
        raise FileNotFoundError(f"{len(absent)} image file(s){named_in} are not under {root}: {absent[:5]}"
                                + (f" and {len(absent) - 5} more" if len(absent) > 5 else ""))
    listing = hashlib.sha256("\n".join(distinct).encode()).hexdigest()
    knobs = dict(kind="own", root=str(root.resolve()), size=size, crop=crop, channels=channels, version=1)
    arrays, hit = cached_arrays(
        "own-" + "".join(c if c.isalnum() else "_" for c in root.resolve().name)[:40], knobs,
        source_fingerprint(root, distinct) + listing,
        lambda: dict(images=decode_files(root, distinct, size=size, crop=crop, channels=channels, workers=workers,
                                         named_in=named_in)),
        cache_dir=cache_dir, use_cache=use_cache)
    return arrays["images"], distinct, hit


# ----------------------------------------------------------------------------- table → dataset
def build(table: Table, *, split, split_values: Mapping | None = None, test_per_cell: int | None = None,
          seed: int = 0, max_groups: int = MAX_GROUPS, classes: Sequence | None = None,
          missing_groups: str = "keep", info: dict | None = None) -> GroupedDataset:
    """Turn ``table`` into the ``split`` of a ``GroupedDataset`` (steps 1–4 of the module docstring).

    ``missing_groups``: "keep" leaves rows without a group marked unknown (``known``); "infer" fills them
    with pseudo-groups (``fairdd.data.infer_groups``, seeded by ``seed``) so the set can be distilled as is.
    """
    if missing_groups not in MISSING_GROUPS:
        raise ValueError(f"missing_groups must be one of {list(MISSING_GROUPS)}; got {missing_groups!r}")
    known = np.array([not is_missing(g) for g in table.groups], dtype=bool)  # (N,)
    class_names = _classes(table, classes)
    group_names = natural_order([g for g, k in zip(table.groups, known) if k])
    _check_group_count(table, group_names, max_groups)
    y = _ids(table.labels, class_names)  # (N,)
    g = np.zeros(len(y), dtype=np.int64)  # (N,) 0 where unknown (masked by ``known``)
    g[known] = _ids(table.groups[known], group_names)
    cell = y * len(group_names) + g  # (N,)
    pick, how = _split_rows(table, cell, known, len(class_names) * len(group_names), split=split,
                            split_values=split_values, test_per_cell=test_per_cell, seed=seed)
    if how.get("test"):
        how["test_unlabelled_dropped"] = int((pick & ~known).sum())
        pick = pick & known  # a test set measures groups: rows without one cannot count
    mean, std = channel_stats(table.images)
    _check_present(table, y[pick], g[pick & known], class_names, group_names, how["split"])
    idx = np.flatnonzero(pick)
    ds = GroupedDataset(
        images=normalised(table.images[idx], mean, std), labels=torch.from_numpy(y[idx]),
        groups=torch.from_numpy(g[idx]), class_names=tuple(class_names), group_names=tuple(group_names),
        mean=mean, std=std, known=None if known[idx].all() else torch.from_numpy(known[idx]),
        info={**(info or {}), **{k: v for k, v in how.items() if k != "test"}, "seed": int(seed),
              "mean": list(mean), "std": list(std)})
    if how.get("test"):
        _check_test_cells(table, ds, how["split"])
    if missing_groups == "infer" and not ds.fully_labelled:
        from .group_labels import infer_groups

        filled = infer_groups(ds, seed=seed)  # its "pseudo_groups" mark is our "missing_groups": "infer", in every split
        ds = filled._replace(info={k: v for k, v in filled.info.items() if k != "pseudo_groups"})
    return ds


def _classes(table: Table, classes: Sequence | None) -> list[str]:
    missing = [i for i, v in enumerate(table.labels) if is_missing(v)]
    if missing:
        raise ValueError(f"{table.word('label')} of {table.word('source')} is empty on {len(missing)} row(s) "
                         f"(rows {missing[:5]}); every image needs a class")
    found = natural_order(table.labels)
    if classes is None:
        return found
    named = [_text(c) for c in classes]
    extra = [c for c in found if c not in named]
    if extra:
        raise ValueError(f"{table.word('label')} of {table.word('source')} holds values {extra[:5]} that are not "
                         f"among the classes given {named}")
    return named


def _ids(values: np.ndarray, names: Sequence[str]) -> np.ndarray:
    lookup = {n: i for i, n in enumerate(names)}
    return np.array([lookup[_text(v)] for v in values], dtype=np.int64)


def _check_group_count(table: Table, group_names: list[str], max_groups: int) -> None:
    if not group_names:
        raise ValueError(f"{table.word('group')} of {table.word('source')} has no value on any row; "
                         "fairness needs a group per image (at least on some)")
    if len(group_names) > max_groups:
        raise ValueError(
            f"{table.word('group')} of {table.word('source')} has {len(group_names)} distinct values "
            f"({group_names[:12]}{' ...' if len(group_names) > 12 else ''}), more than the {MAX_GROUPS} colours "
            f"fairdd's palette tells apart; merge groups (a coarser column) or pass max_groups={len(group_names)} "
            "to accept repeated colours")


def _split_rows(table: Table, cell: np.ndarray, known: np.ndarray, n_cells: int, *, split, split_values,
                test_per_cell, seed) -> tuple[np.ndarray, dict]:
    """Which rows form ``split`` (a bool mask) and how they were chosen (recorded in ``info``)."""
    if split is None:
        return np.ones(len(cell), dtype=bool), {"split": "all"}
    if table.splits is not None:
        raw = _split_value(table, split, split_values)
        texts = np.array([_text(s) for s in table.splits], dtype=object)
        is_test = str(split) == "test" or _text(raw) == _text((split_values or SPLIT_VALUES).get("test", "test"))
        return texts == _text(raw), {"split": str(split), "split_value": _text(raw), "test": is_test}
    if split not in ("train", "test"):
        raise ValueError(f"{table.word('source')} has no split {table.word('split')}: split must be 'train' or "
                         f"'test' (a test set balanced over (class, group) cells is drawn with seed), or None for "
                         f"every row; got {split!r}")
    counts = np.bincount(cell[known], minlength=n_cells)  # (C·G,)
    per_cell = int(test_per_cell) if test_per_cell is not None else max(1, int(counts.min()) // 5)
    if isinstance(test_per_cell, bool) or per_cell < 1:
        raise ValueError(f"test_per_cell must be an integer ≥ 1 or None; got {test_per_cell!r}")
    from .faces import _balanced_pick

    rows = np.flatnonzero(known)
    test = np.zeros(len(cell), dtype=bool)
    test[rows[_balanced_pick(cell[rows], n_cells, per_cell, np.random.RandomState(seed))]] = True
    return (test if split == "test" else ~test), {"split": split, "test_per_cell": per_cell,
                                                  "test": split == "test"}


def _split_value(table: Table, split, split_values: Mapping | None):
    values = natural_order(table.splits)
    names = dict(SPLIT_VALUES if split_values is None else split_values)
    for candidate in (split, names.get(split) if isinstance(split, str) else None):
        if candidate is not None and _text(candidate) in values:
            return candidate
    via = f" (nor its code {names[split]!r} in split_values {names})" if isinstance(split, str) and split in names \
        else ""
    raise ValueError(f"split {split!r}{via} is not a value of {table.word('split')} of {table.word('source')}; "
                     f"its values are {values[:20]}; pick one, or name them with split_values="
                     "{'train': ..., 'test': ...}")


def channel_stats(images: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of (N, H, W, C) uint8 images, in [0, 1] units."""
    c = images.shape[-1]
    s1, s2, n = np.zeros(c), np.zeros(c), 0
    for start in range(0, len(images), 4096):  # chunks: no float copy of the whole set
        x = images[start:start + 4096].reshape(-1, c).astype(np.float64) / 255.0  # (n, C)
        s1, s2, n = s1 + x.sum(0), s2 + (x * x).sum(0), n + len(x)
    if n == 0:
        return (0.5,) * c, (0.5,) * c
    mean = s1 / n
    std = np.sqrt(np.maximum(s2 / n - mean * mean, 0.0))
    return tuple(round(float(m), 6) for m in mean), tuple(round(float(s), 6) if s > 1e-6 else 1.0 for s in std)


def _check_present(table: Table, y: np.ndarray, g: np.ndarray, class_names, group_names, split) -> None:
    where = f"{table.word('source')} split {split!r}"
    for what, ids, names in (("class", y, class_names), ("group", g, group_names)):
        absent = [names[i] for i in np.flatnonzero(np.bincount(ids, minlength=len(names)) == 0)]
        if absent:
            raise ValueError(f"{what} value(s) {absent[:8]} of {table.word('label' if what == 'class' else 'group')} "
                             f"have no samples in {where}; every {what} needs samples (drop its rows or pick "
                             "another split)")


def _check_test_cells(table: Table, ds: GroupedDataset, split) -> None:
    empty = (ds.cell_counts() == 0).nonzero().tolist()
    if empty:
        cells = ", ".join(f"({ds.class_names[c]!r}, {ds.group_names[g]!r})" for c, g in empty[:8])
        raise ValueError(f"test split {split!r} of {table.word('source')} has no samples in {len(empty)} "
                         f"(class, group) cell(s) of {table.word('label')} × {table.word('group')}: {cells}; the "
                         "fairness metrics compare every group of a class (add samples, merge groups or drop "
                         "the class)")
