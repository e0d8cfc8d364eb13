"""A cache of decoded arrays for the file-based datasets (CIFAR10-S, CelebA, UTKFace, BFFHQ).

Decoding tens of thousands of JPEGs takes minutes; reading the decoded uint8 arrays back takes
seconds. An entry is one ``.npy`` file per array (no pickled objects: read with ``allow_pickle=False``;
plain ``.npy`` reads several times faster than a zipped ``.npz``) and a small JSON index, named after the
dataset and its decoding knobs. The index holds a fingerprint of the source files (relative path, size
and modification time of each): a changed, added or removed source file gives a different fingerprint,
and the entry is rebuilt and replaced. Every file is written to a temporary name in the same folder,
then moved with ``os.replace``; the arrays go first and the index last, so a reader sees either the old
entry or the whole new one.

Where: ``cache_dir=`` if given, else ``$FAIRDD_DATA/cache``, else ``data/cache`` under the working
directory.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

__all__ = ["cache_folder", "source_fingerprint", "cached_arrays"]


def cache_folder(cache_dir: str | os.PathLike | None = None) -> Path:
    """Give the folder holding cache entries (see the module docstring)."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("FAIRDD_DATA")
    return Path(env) / "cache" if env else Path("data/cache")


def source_fingerprint(root: str | os.PathLike, files: Iterable[str | os.PathLike]) -> str:
    """SHA-256 over (path relative to ``root``, size, mtime in ns) of every file, in sorted order."""
    root = Path(root)
    h = hashlib.sha256()
    for f in sorted(str(Path(f)) for f in files):
        st = (root / f).stat()
        h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def cached_arrays(
    name: str,
    knobs: dict,
    fingerprint: str,
    build: Callable[[], dict[str, np.ndarray]],
    *,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
) -> tuple[dict[str, np.ndarray], bool]:
    """Arrays of ``build()``, read from the cache when its entry matches ``fingerprint``.

    Parameters
    ----------
    name : dataset name, the start of the entry's file name.
    knobs : decoding settings (JSON-serialisable); they select the entry.
    fingerprint : ``source_fingerprint`` of the files ``build`` reads; a mismatch rebuilds the entry.
    build : returns a dict of numpy arrays (no object arrays).
    use_cache : False decodes without reading or writing the cache.

    Returns
    -------
    (arrays, hit) where ``hit`` says whether the cache answered.
    """
    if not use_cache:
        return build(), False
    key = hashlib.sha256(json.dumps(knobs, sort_keys=True).encode()).hexdigest()[:16]
    folder = cache_folder(cache_dir)
    index = folder / f"{name}-{key}.json"
    hit = _read_entry(folder, index, fingerprint)
    if hit is not None:
        return hit, True
    arrays = build()
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{name}-{key}-{fingerprint[:16]}"
    files = {}
    for k, a in arrays.items():
        files[k] = f"{stem}-{k}.npy"
        _atomic_write(folder / files[k], lambda f, a=a: np.save(f, np.asarray(a), allow_pickle=False))
    entry = dict(fingerprint=fingerprint, knobs=knobs, arrays=files)
    _atomic_write(index, lambda f: f.write(json.dumps(entry, sort_keys=True).encode()))
    for old in folder.glob(f"{name}-{key}-*.npy"):  # arrays of a replaced entry
        if old.name not in files.values():
            old.unlink(missing_ok=True)
    return arrays, False


def _read_entry(folder: Path, index: Path, fingerprint: str) -> dict[str, np.ndarray] | None:
    try:
        entry = json.loads(index.read_text())
        if entry.get("fingerprint") != fingerprint:
            return None
        return {k: np.load(folder / f, allow_pickle=False) for k, f in entry["arrays"].items()}
    except (OSError, ValueError, KeyError, TypeError):  # absent or damaged: rebuilt
        return None


def _atomic_write(path: Path, write: Callable) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
