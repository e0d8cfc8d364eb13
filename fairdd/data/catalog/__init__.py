"""The shipped datasets, one module each: every public module here defines ``RECORD``, a ``DatasetRecord``.

Importing this package registers every ``RECORD`` in file-name order; adding a dataset to fairdd is one
new module here (and its tests). User code registers its own with ``fairdd.datasets.register``; an
installed package can declare records under the entry-point group ``fairdd.datasets``
(``my-faces = "mypkg.records:RECORD"``), registered here in every process, sweep workers included.
"""
from __future__ import annotations

import importlib
import pkgutil
import warnings
from importlib.metadata import entry_points

from ..record import DatasetRecord, register

__all__: list[str] = []

ENTRY_POINT_GROUP = "fairdd.datasets"


def _register_catalog() -> None:
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        entry = getattr(module, "RECORD", None)
        if not isinstance(entry, DatasetRecord):
            raise TypeError(f"{module.__name__} must define RECORD, a DatasetRecord; got {entry!r}")
        register(entry)


def _register_entry_points() -> None:
    """Register the records installed packages declare; a broken one is a warning naming it, not a failed import."""
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry = point.load()
            if not isinstance(entry, DatasetRecord):
                raise TypeError(f"it is a {type(entry).__name__}, not a DatasetRecord")
            register(entry)
        except Exception as exc:  # noqa: BLE001  (a third party's error must not stop `import fairdd`)
            warnings.warn(f"dataset entry point {point.name!r} ({point.value}) not registered: "
                          f"{type(exc).__name__}: {exc}", stacklevel=2)


_register_catalog()
_register_entry_points()
