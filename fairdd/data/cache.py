"""A cache of decoded arrays for the file-based datasets (CIFAR10-S, CelebA, UTKFace, BFFHQ).

Decoding tens of thousands of JPEGs takes minutes; reading the decoded uint8 arrays back takes
seconds. An entry is one ``.npy`` file per array (no pickled objects: read with ``allow_pickle=False``;
plain ``.npy`` reads several times faster than a zipped ``.npz``) and a small JSON index, named after the
dataset and its decoding knobs. The index holds a fingerprint of the source files (relative path, size
and modification time of each): a changed, added or removed source file gives a different fingerprint,
and the entry is rebuilt and replaced. Every file is written to a temporary name in the same folder,
then moved with ``os.replace``; the arrays go first and the index last, so a reader sees either the old
entry or the whole new one.

Verified: the index records each array's shape, dtype and SHA-256 (of its bytes), checked on every
read. A damaged entry (an array file changed, cut short or missing, an unreadable index) is never
used: it is rebuilt, with a ``CacheWarning`` naming the file and what is wrong.

Where (``cache_folder``): ``cache_dir=`` (CLI ``--cache-dir``) if given, else ``$FAIRDD_CACHE``, else
``$XDG_CACHE_HOME/fairdd``, else ``~/.cache/fairdd``; never inside the data root, so a read-only data
root works. A cache that cannot be written (read-only, disk full) costs only speed: the arrays are
returned, with a ``CacheWarning`` naming the folder and the error.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..io import TEMP_PREFIX

__all__ = ["cache_folder", "source_fingerprint", "cached_arrays", "CacheWarning"]


class CacheWarning(UserWarning):
    """A cache entry was damaged (and is rebuilt) or could not be written (the arrays are still returned)."""


def cache_folder(cache_dir: str | os.PathLike | None = None) -> Path:
    """Give the folder holding cache entries (see the module docstring)."""
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get("FAIRDD_CACHE"):
        return Path(os.environ["FAIRDD_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "fairdd"


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
    try:
        _write_entry(folder, index, f"{name}-{key}-{fingerprint[:16]}", fingerprint, knobs, arrays)
    except OSError as exc:
        warnings.warn(f"cannot write the dataset cache in {folder} ({exc.strerror or exc}); the data is decoded "
                      "again next time: give a writable cache_dir= (CLI --cache-dir) or set $FAIRDD_CACHE",
                      CacheWarning, stacklevel=3)
    return arrays, False


def _digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).data).hexdigest()


def _write_entry(folder: Path, index: Path, stem: str, fingerprint: str, knobs: dict, arrays: dict) -> None:
    """Write the arrays, then the index naming them; then remove the arrays the old index named."""
    folder.mkdir(parents=True, exist_ok=True)
    old = _named_arrays(index)
    files, meta = {}, {}
    try:
        for k, a in arrays.items():
            a = np.asarray(a)
            files[k] = f"{stem}-{k}.npy"
            meta[k] = dict(shape=list(a.shape), dtype=a.dtype.str, sha256=_digest(a))
            _atomic_write(folder / files[k], lambda f, a=a: np.save(f, a, allow_pickle=False))
        entry = dict(fingerprint=fingerprint, knobs=knobs, arrays=files, checks=meta)
        _atomic_write(index, lambda f: f.write(json.dumps(entry, sort_keys=True).encode()))
    except BaseException:  # the old entry stays whole; arrays written for the new one go
        for name in set(files.values()) - old:
            (folder / name).unlink(missing_ok=True)
        raise
    for name in old - set(files.values()):  # only files the replaced index named: the cache's own
        (folder / name).unlink(missing_ok=True)


def _named_arrays(index: Path) -> set[str]:
    try:
        arrays = json.loads(index.read_text()).get("arrays", {})
        return {f for f in arrays.values() if isinstance(f, str) and "/" not in f and f.endswith(".npy")}
    except (OSError, ValueError, AttributeError):
        return set()


def _read_entry(folder: Path, index: Path, fingerprint: str) -> dict[str, np.ndarray] | None:
    """Return the entry's arrays when it matches ``fingerprint`` and passes its checks, else None.

    A damaged entry gives a ``CacheWarning`` naming the file and what is wrong.
    """
    if not index.is_file():
        return None
    try:
        entry = json.loads(index.read_text())
        if not isinstance(entry, dict) or not isinstance(entry.get("arrays"), dict):
            raise ValueError("not a cache index")
    except (OSError, ValueError) as exc:
        return _damaged(index, f"unreadable index ({exc})")
    if entry.get("fingerprint") != fingerprint:
        return None  # the source files changed: rebuilt, nothing is wrong
    checks, out = entry.get("checks"), {}
    if not isinstance(checks, dict):
        return None  # written before checksums: rebuilt once
    for k, f in entry["arrays"].items():
        path, want = folder / str(f), checks.get(k) or {}
        try:
            a = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            return _damaged(path, f"cannot be read ({type(exc).__name__}: {str(exc)[:120]})")
        if list(a.shape) != want.get("shape") or a.dtype.str != want.get("dtype"):
            return _damaged(path, f"holds {a.dtype.str} {list(a.shape)}, its index says "
                                  f"{want.get('dtype')} {want.get('shape')}")
        if _digest(a) != want.get("sha256"):
            return _damaged(path, "its content does not match the checksum in its index")
        out[k] = a
    return out


def _damaged(path: Path, why: str) -> None:
    warnings.warn(f"dataset cache {path} is damaged ({why}); rebuilding it from the source files",
                  CacheWarning, stacklevel=4)
    return None


def _atomic_write(path: Path, write: Callable) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
