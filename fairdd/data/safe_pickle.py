"""Read the CIFAR "python version" batches without running arbitrary code.

A pickle can call any importable function while it loads. The CIFAR-10 batches only need dicts,
lists, str/bytes, ints and numpy uint8 arrays, so the unpickler here resolves only the few globals
that rebuild a numpy array (and ``_codecs.encode``, which protocol-2 pickles written by Python 3 use
for bytes); any other global is refused with ``pickle.UnpicklingError`` naming it.
"""
from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

__all__ = ["restricted_load", "ALLOWED_GLOBALS"]

ALLOWED_GLOBALS = frozenset({
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),  # numpy < 2 and the original Python 2 files
    ("numpy._core.multiarray", "_reconstruct"),  # numpy ≥ 2
    ("numpy.core.numeric", "_frombuffer"),  # protocol 5
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),  # bytes in protocol-2 pickles written by Python 3
})


class _Refused(pickle.UnpicklingError):
    """A global outside ``ALLOWED_GLOBALS``."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED_GLOBALS:
            raise _Refused(
                f"refusing to load global {module}.{name}: CIFAR batches contain only numpy arrays, "
                f"lists, str/bytes and ints (allowed globals: {sorted('.'.join(g) for g in ALLOWED_GLOBALS)})"
            )
        return super().find_class(module, name)


def restricted_load(path: str | os.PathLike) -> object:
    """Unpickle ``path`` (latin-1 for Python 2 strings) allowing only ``ALLOWED_GLOBALS``.

    A refused global is a ``pickle.UnpicklingError``; a file cut short or damaged is a ``ValueError``;
    both name ``path``.
    """
    data = Path(path).read_bytes()
    try:
        return _RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
    except _Refused as exc:
        raise pickle.UnpicklingError(f"{path}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - anything else a short or corrupt stream raises
        raise ValueError(f"{path} is truncated or damaged: not a complete pickle ({type(exc).__name__}: "
                         f"{str(exc)[:120]}); fetch the file again") from exc
