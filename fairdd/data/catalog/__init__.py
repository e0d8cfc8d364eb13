"""The shipped datasets, one module each: every public module here defines ``RECORD``, a ``DatasetRecord``.

Importing this package registers every ``RECORD`` in file-name order; adding a dataset to fairdd is one
new module here (and its tests). User code registers its own with ``fairdd.datasets.register``.
"""
from __future__ import annotations

import importlib
import pkgutil

from ..record import DatasetRecord, register

__all__: list[str] = []


def _register_catalog() -> None:
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        entry = getattr(module, "RECORD", None)
        if not isinstance(entry, DatasetRecord):
            raise TypeError(f"{module.__name__} must define RECORD, a DatasetRecord; got {entry!r}")
        register(entry)


_register_catalog()
