"""CIFAR10-S: CIFAR-10 with a grayscale / colour group and a per-class skew, from the user's files.

Built as the COBRA authors' ``data_handler/cifar10.py`` (``CIFAR_10S._make_skewed``) builds it:

- the split's images are put in a random order (``np.random.seed(seed)``, then a shuffle of the
  indices, as their ``CIFAR10(shuffle=True, seed=seed)``);
- training, walking that order: in classes 0–4 the first ``int(N · skew // 10)`` images of the class
  become group 0, in classes 5–9 the first ``N // 10 − int(N · skew // 10)``; all others stay in
  colour (group 1). At the published skew 0.9: 4500 / 500 group-0 images per class;
- test: every image twice, its group-0 version (first) and its colour version;
- group 0 is the grayscale image (Pillow ``convert("L")``, copied to 3 channels) — or, for the
  separation study of COBRA App. F, the colour image under the cumulative corruptions of
  ``hierarchical_corruption`` at ``severity`` 0–5 (0 leaves it unchanged: the groups coincide).
  The authors' code switches between the two by ``skew_ratio != 0.9``; here ``severity=None`` is the
  grayscale set and an integer is the corruption study, at any skew.

Images are normalised with the authors' CIFAR10-S mean and std.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image, ImageDraw

from ._images import normalised
from .cache import cached_arrays, source_fingerprint
from .dataset import GroupedDataset
from .safe_pickle import restricted_load
from ..validate import check_int, check_real, check_seed, describe_value, numpy_seed

__all__ = ["load_cifar10s", "read_cifar10", "hierarchical_corruption", "grayscale", "CIFAR10_CLASSES",
           "CIFAR10S_MEAN", "CIFAR10S_STD"]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR10S_MEAN = (0.4890520609319886, 0.48451061542917323, 0.46714946730198426)  # data_handler/cifar10.py
CIFAR10S_STD = (0.24278049202200438, 0.24082296066838135, 0.25098309397306334)
_PY_FILES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
_BIN_FILES = {"train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)), "test": ("test_batch.bin",)}
_HOW = ("download the CIFAR-10 'python version' (cifar-10-python.tar.gz) or 'binary version' "
        "(cifar-10-binary.tar.gz) from https://www.cs.toronto.edu/~kriz/cifar.html, extract it, and pass "
        "root= (or set $FAIRDD_DATA) to the folder holding cifar-10-batches-py/ or cifar-10-batches-bin/")


# ----------------------------------------------------------------------------- reading the files
def _roots(root) -> list[Path]:
    bases = [Path(root)] if root is not None else []
    if os.environ.get("FAIRDD_DATA"):
        bases.append(Path(os.environ["FAIRDD_DATA"]))
    dirs = []
    for b in bases:
        dirs += [b, b / "cifar-10-batches-py", b / "cifar-10-batches-bin", b / "cifar10", b / "CIFAR10"]
    return dirs


def _locate(root, fmt: str) -> tuple[str, Path]:
    """(format, folder) holding every batch of both splits in the requested format."""
    dirs = _roots(root)
    formats = ("python", "binary") if fmt == "auto" else (fmt,)
    for f in formats:
        names = _PY_FILES if f == "python" else _BIN_FILES
        for d in dirs:
            if all((d / n).is_file() for split in names.values() for n in split):
                return f, d
    want = []
    for f in formats:
        names = _PY_FILES if f == "python" else _BIN_FILES
        want.append(f"{f}: " + ", ".join(names["train"] + names["test"]))
    tried = ", ".join(str(d) for d in dirs) or "nowhere (no root= given and $FAIRDD_DATA unset)"
    raise FileNotFoundError(f"CIFAR-10 batches not found; looked for ({'; or '.join(want)}) in: {tried}. "
                            f"To get them: {_HOW}.")


def _read_python_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    entry = restricted_load(path)
    if not isinstance(entry, dict) or "data" not in entry or not ({"labels", "fine_labels"} & set(entry)):
        raise ValueError(f"{path}: not a CIFAR batch (expected a dict with 'data' and 'labels')")
    data = entry["data"]
    labels = np.asarray(entry.get("labels", entry.get("fine_labels")), dtype=np.int64)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 \
            or labels.shape != (data.shape[0],):
        raise ValueError(f"{path}: expected data uint8 (N, 3072) and N labels; got "
                         f"{getattr(data, 'dtype', type(data))} {getattr(data, 'shape', '')} and {labels.shape}")
    return data, labels


def _read_binary_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size % 3073:
        raise ValueError(f"{path}: size {raw.size} bytes is not a multiple of 3073 (1 label byte + 3072 pixels)")
    rec = raw.reshape(-1, 3073)
    return rec[:, 1:], rec[:, 0].astype(np.int64)


def read_cifar10(split: Literal["train", "test"], *, root=None, format: str = "auto"
                 ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], str]:
    """CIFAR-10 images (N, 32, 32, 3) uint8 HWC and labels (N,) from the python or binary batches.

    Returns (images, labels, class_names, format used). Python batches go through a restricted
    unpickler (``fairdd.data.safe_pickle``); class names come from ``batches.meta`` when present.
    """
    if format not in ("auto", "python", "binary"):
        raise ValueError(f"format must be 'auto', 'python' or 'binary'; got {format!r}")
    fmt, folder = _locate(root, format)
    names = (_PY_FILES if fmt == "python" else _BIN_FILES)[split]
    reader = _read_python_batch if fmt == "python" else _read_binary_batch
    parts = [reader(folder / n) for n in names]
    data = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"CIFAR-10 labels must lie in [0, 9]; got [{labels.min()}, {labels.max()}] in {folder}")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # (N, 32, 32, 3)
    classes = CIFAR10_CLASSES
    if fmt == "python" and (folder / "batches.meta").is_file():
        meta = restricted_load(folder / "batches.meta")
        if isinstance(meta, dict) and len(meta.get("label_names", ())) == 10:
            classes = tuple(str(c) for c in meta["label_names"])
    return np.ascontiguousarray(images), labels, classes, fmt


# ----------------------------------------------------------------------------- group-0 versions
def grayscale(images: np.ndarray) -> np.ndarray:
    """Pillow's ``convert("L")`` of RGB images (N, H, W, 3) uint8, copied to 3 channels → (N, H, W, 3).

    One Pillow call on the images stacked vertically (each output pixel depends on its input pixel only):
    L = (19595 R + 38470 G + 7471 B + 2¹⁵) >> 16, the ITU-R 601-2 luma in Pillow's fixed point.
    """
    n, h, w, _ = images.shape
    if n == 0:
        return images.copy()
    tall = Image.fromarray(np.ascontiguousarray(images.reshape(n * h, w, 3)), mode="RGB").convert("L")
    grey = np.asarray(tall, dtype=np.uint8).reshape(n, h, w)
    return np.repeat(grey[..., None], 3, axis=3)


def _line_mask(h: int, w: int, xy: tuple[int, int, int, int], width: int) -> np.ndarray:
    """Pixels Pillow's ``ImageDraw.line(xy, width=width)`` paints on a w×h image, shape (h, w) bool."""
    canvas = Image.new("L", (w, h), 0)
    ImageDraw.Draw(canvas).line(xy, fill=255, width=width)
    return np.asarray(canvas) > 0


def _add_noise(x: np.ndarray, noise: np.ndarray) -> np.ndarray:
    # as the authors: the float noise truncated to int16, added, clipped to [0, 255]
    return np.clip(x.astype(np.int16) + noise.astype(np.int16), 0, 255).astype(np.uint8)


def hierarchical_corruption(images: np.ndarray, severity: int, rng: np.random.RandomState) -> np.ndarray:
    """COBRA App. F corruptions of RGB images (N, H, W, 3) uint8, cumulative in ``severity`` (0–5).

    The operators and parameters of ``hierarchical_corruption`` in the authors' ``data_handler/cifar10.py``:

    1. channels reordered (R, G, B) ← (G, B, R);
    2. + a red line from (0, 0) to (W, H), width 2 (Pillow ``ImageDraw.line``);
    3. + a red 5×5 patch at rows/columns 2–6;
    4. + Gaussian noise N(2.5, 50²) (truncated to integers, clipped) and a green line from (0, H) to
       (W, 0), width 3;
    5. + rotation by 270° (Pillow ``ROTATE_270``: 90° clockwise), inversion 255 − x, and noise N(2, 20²).

    The noise is drawn from ``rng`` image after image, each image's severity-4 draw before its
    severity-5 draw, so that with ``rng`` in the state of the authors' global NumPy generator the
    pixels are the same.
    """
    if not isinstance(severity, int) or not 0 <= severity <= 5:
        raise ValueError(f"severity must be an integer in [0, 5]; got {severity!r}")
    x = images.copy()
    n, h, w, _ = x.shape
    if severity >= 4 and n:
        z = rng.normal(0.0, 1.0, size=(n, 1 if severity == 4 else 2, h, w, 3))  # per image: sev-4 then sev-5 draw
    if severity >= 1:
        x = x[..., [1, 2, 0]]
    if severity >= 2:
        x[:, _line_mask(h, w, (0, 0, w, h), 2)] = (255, 0, 0)
    if severity >= 3:
        x[:, 2:7, 2:7] = (255, 0, 0)
    if severity >= 4 and n:
        x = _add_noise(x, 2.5 + 50.0 * z[:, 0])
        x[:, _line_mask(h, w, (0, h, w, 0), 3)] = (0, 255, 0)
    if severity >= 5 and n:
        x = 255 - np.rot90(x, k=-1, axes=(1, 2))  # ROTATE_270 = a quarter turn clockwise
        x = _add_noise(x, 2.0 + 20.0 * z[:, 1])
    return np.ascontiguousarray(x)


# ----------------------------------------------------------------------------- the construction
def _build(images: np.ndarray, labels: np.ndarray, *, split: str, skew: float, severity: int | None,
           seed: int) -> dict[str, np.ndarray]:
    rng = np.random.RandomState(numpy_seed(seed))
    order = np.arange(len(labels), dtype=np.int64)
    rng.shuffle(order)  # the authors' CIFAR10(shuffle=True, seed=seed)
    images, labels = images[order], labels[order]
    n_classes = 10
    if split == "test":
        group0 = np.ones(len(labels), dtype=bool)
    else:
        n_total = len(labels) // n_classes  # 5000 on CIFAR-10
        n_skewed = int((len(labels) * skew) // n_classes)  # 4500 at skew 0.9
        quota = np.where(np.arange(n_classes) < n_classes // 2, n_skewed, n_total - n_skewed)  # (10,)
        rank = _rank_within_class(labels, n_classes)  # (N,) position of each image among its class
        group0 = rank < quota[labels]
    first = grayscale(images[group0]) if severity is None else hierarchical_corruption(images[group0], severity, rng)
    if split == "test":
        return dict(images=np.concatenate([first, images]), labels=np.concatenate([labels, labels]),
                    groups=np.repeat(np.array([0, 1]), len(labels)))
    out = images.copy()
    out[group0] = first
    return dict(images=out, labels=labels, groups=(~group0).astype(np.int64))


def _rank_within_class(labels: np.ndarray, n_classes: int) -> np.ndarray:
    onehot = labels[:, None] == np.arange(n_classes)[None, :]  # (N, C)
    return (np.cumsum(onehot, axis=0) - 1)[np.arange(len(labels)), labels]


def load_cifar10s(
    *,
    split: Literal["train", "test"] = "train",
    skew: float = 0.9,
    severity: int | None = None,
    seed: int = 0,
    root=None,
    format: Literal["auto", "python", "binary"] = "auto",
    cache_dir=None,
    use_cache: bool = True,
) -> GroupedDataset:
    """CIFAR10-S from the user's CIFAR-10 batches (module docstring: the construction).

    Parameters
    ----------
    split : "train" (skewed) or "test" (every image in both versions: balanced over (class, group)).
    skew : share of classes 0–4 that is group 0 (and of classes 5–9 that is colour), in [0, 1]; 0.9 published.
    severity : None → group 0 is grayscale (CIFAR10-S); 0–5 → group 0 is the colour image under the
        cumulative App. F corruptions (``hierarchical_corruption``).
    seed : the order of the images and the corruption noise (the authors use 0).
    root : folder holding ``cifar-10-batches-py/`` or ``cifar-10-batches-bin/`` (or the batches);
        default ``$FAIRDD_DATA``.
    format : "python" (pickled batches), "binary" (``*.bin``) or "auto" (python if complete, else binary).
    cache_dir, use_cache : where the built arrays are cached (``fairdd.data.cache``).

    Returns
    -------
    GroupedDataset, images (N, 3, 32, 32) normalised with the authors' mean and std; groups
    ("grayscale" | "corrupted", "color").
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
    seed = check_seed(seed)
    try:  # the shared checkers (types first: True is not a skew), with this loader's wording
        skew = check_real("skew", skew, 0.0, 1.0)
        severity = None if severity is None else check_int("severity", severity, 0, 5)
    except ValueError as exc:
        what = "skew must be in [0, 1]" if "skew" in str(exc) else "severity must be None or an integer in [0, 5]"
        value = skew if "skew" in str(exc) else severity
        raise type(exc)(f"{what}; got {describe_value(value)}") from None
    if format not in ("auto", "python", "binary"):
        raise ValueError(f"format must be 'auto', 'python' or 'binary'; got {format!r}")
    fmt, folder = _locate(root, format)
    files = (_PY_FILES if fmt == "python" else _BIN_FILES)[split]
    knobs = dict(split=split, skew=float(skew), severity=severity, seed=int(seed), format=fmt, version=1)

    def build():
        images, labels, classes, _ = read_cifar10(split, root=folder, format=fmt)
        out = _build(images, labels, split=split, skew=float(skew), severity=severity, seed=int(seed))
        out["class_names"] = np.array(classes)
        return out

    arrays, hit = cached_arrays("cifar10-s", knobs, source_fingerprint(folder, files), build,
                                cache_dir=cache_dir, use_cache=use_cache)
    ds = GroupedDataset(
        images=normalised(arrays["images"], CIFAR10S_MEAN, CIFAR10S_STD), labels=torch.from_numpy(arrays["labels"].astype(np.int64)),
        groups=torch.from_numpy(arrays["groups"].astype(np.int64)),
        class_names=tuple(str(c) for c in arrays["class_names"]),
        group_names=("grayscale" if severity is None else "corrupted", "color"),
        mean=CIFAR10S_MEAN, std=CIFAR10S_STD,
        info=dict(name="cifar10-s", split=split, skew=float(skew), severity=severity, seed=int(seed), format=fmt,
                  root=str(folder), cache_hit=hit),
    )
    if split == "test":
        ds.check_complete("cifar10-s test split")
    return ds
