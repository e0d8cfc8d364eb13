"""A cache of decoded arrays for the file-based datasets (CIFAR10-S, CelebA, UTKFace, BFFHQ).

Decoding tens of thousands of JPEGs takes minutes; reading the decoded uint8 arrays back takes
seconds. An entry is one ``.npz`` file (no pickled objects: read with ``allow_pickle=False``) named
after the dataset and its decoding knobs, holding the arrays and a fingerprint of the source files
(relative path, size and modification time of each). A changed, added or removed source file gives a
different fingerprint: the entry is rebuilt and replaced. Writes go to a temporary file in the same
folder, then ``os.replace``: a reader never sees half an entry.

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
    """The folder holding cache entries (see the module docstring)."""
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
    path = folder / f"{name}-{key}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["__fingerprint__"]) == fingerprint:
                    return {k: z[k] for k in z.files if not k.startswith("__")}, True
        except (OSError, ValueError, KeyError):  # a damaged entry is rebuilt
            pass
    arrays = build()
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, __fingerprint__=np.array(fingerprint), __knobs__=np.array(json.dumps(knobs, sort_keys=True)),
                     **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return arrays, False
