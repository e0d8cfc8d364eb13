"""One record per dataset, and the one registry of them that every part of fairdd reads.

A :class:`DatasetRecord` holds everything fairdd knows about a dataset: how to load it (``loader``,
whose keyword defaults are the dataset's knobs), its classes and groups, the image size, which files the
user must bring, the authors' protocol facts that depend on the dataset (IDC's multi-formation factor,
the severity its published set is built at) and the sizes a time estimate reads. The shipped datasets
are one module each under ``fairdd/data/catalog/``; user code adds its own with :func:`register`::

    fairdd.datasets.register(fairdd.datasets.DatasetRecord(
        name="my-faces", loader=load_my_faces, classes=("young", "old"), group_attribute="gender",
        groups=("female", "male"), image_size=64, files="my_faces/*.png", idc_factor=((1, 4), (100, 3))))

after which ``fairdd.datasets.load("my-faces")``, the CLI, the sweeps and the presets know it.
"""
from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Callable

from .dataset import GroupedDataset

__all__ = ["DatasetRecord", "register", "unregister", "record", "records", "idc_factor_exceptions", "DATASETS",
           "FOLDER"]

FOLDER = "folder:"  # "folder:PATH": your own images and metadata table (fairdd.data.own_sources.from_folder)


def _check_names(field: str, value) -> None:
    if not isinstance(value, tuple) or not value or not all(isinstance(v, str) and v for v in value):
        raise TypeError(f"DatasetRecord.{field} must be a non-empty tuple of names; got {value!r}")


def _check_positive(field: str, value, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"DatasetRecord.{field} must be a positive integer{' or None' if optional else ''}; "
                         f"got {value!r}")


def _check_idc_factor(steps) -> None:
    """Check that ``steps`` is ((1, f1), (ipc2, f2), ...): rising IPCs from 1, positive factors."""
    ok = (isinstance(steps, tuple) and steps and all(isinstance(s, tuple) and len(s) == 2 for s in steps)
          and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for s in steps for v in s))
    if not ok or steps[0][0] != 1 or any(a[0] >= b[0] for a, b in zip(steps, steps[1:])):
        raise ValueError("DatasetRecord.idc_factor must be ((1, factor), (from_ipc, factor), ...) with rising "
                         f"IPCs and positive factors, e.g. ((1, 4), (100, 3)); got {steps!r}")


def _check_knob_names(entry) -> None:
    """Check that ``train_only`` and ``imbalance`` name knobs of ``entry``'s loader."""
    if not isinstance(entry.train_only, tuple) or not all(isinstance(k, str) for k in entry.train_only):
        raise TypeError(f"DatasetRecord.train_only of {entry.name!r} must be a tuple of knob names; "
                        f"got {entry.train_only!r}")
    if entry.imbalance is not None and not isinstance(entry.imbalance, str):
        raise TypeError(f"DatasetRecord.imbalance of {entry.name!r} must be a knob name or None; "
                        f"got {entry.imbalance!r}")
    knobs = entry.knobs
    unknown = [k for k in entry.train_only + (entry.imbalance,) if k is not None and k not in knobs]
    if unknown:
        raise ValueError(f"DatasetRecord {entry.name!r} names {unknown} in train_only/imbalance, which its "
                         f"loader does not take; its knobs: {list(knobs)}")


@dataclass(frozen=True)
class DatasetRecord:
    """Everything fairdd knows about one dataset (the facts at its loader's default knobs).

    Attributes
    ----------
    name : str
        The key of ``fairdd.datasets.load`` (lower case).
    loader : callable
        ``loader(split=..., **knobs) -> GroupedDataset``; its keyword arguments and their defaults are
        the dataset's knobs (:attr:`knobs`).
    classes, groups : tuple of str
        Class names and protected-group names at the default knobs.
    group_attribute : str
        What a group is ("colour", "race", "Male"...).
    image_size, channels : int
        Side in pixels and channels of an image at the default knobs.
    files : str
        The files the user must bring ("" = shipped with a package, always available).
    downloadable : bool
        ``loader(download=True)`` can fetch the files.
    train_size : int or None
        Training images at the default knobs (the whole-set baseline's cost); None where it depends on
        the user's files.
    test_size : int or None
        Test images at the default knobs (what evaluating on the test split costs); None where it depends
        on the user's files.
    idc_factor : tuple of (int, int)
        IDC's multi-formation factor as ``(from_ipc, factor)`` steps: COBRA ``train_idc.py`` uses
        ``((1, 4), (100, 3))`` on UTKFace and BFFHQ and ``((1, 2),)`` on every other dataset.
    published_severity : int or None
        The ``severity`` knob of the published set (cifar10-s: None, its grayscale group).
    train_only : tuple of str
        The knobs that shape only the training split (its bias, skew, group-label noise): the test split
        matching a training set is built without them (:meth:`test_knobs`).
    imbalance : str or None
        The knob that sets the training split's imbalance (the study's imbalance axis: ``bias``,
        ``skew``); None = the dataset has none.
    canonical : callable or None
        ``canonical(knobs, data_seed) -> (knobs, data_seed)``: one form for two ways of asking for the
        same set (aliases, defaults that depend on other knobs); None = the knobs as given.
    source : str
        Where the construction comes from (the authors' file).
    title : str
        The name people write ("UTKFace"); default ``name``.
    """

    name: str
    loader: Callable[..., GroupedDataset]
    classes: tuple[str, ...]
    group_attribute: str
    groups: tuple[str, ...]
    image_size: int
    channels: int = 3
    files: str = ""
    downloadable: bool = False
    train_size: int | None = None
    test_size: int | None = None
    idc_factor: tuple[tuple[int, int], ...] = ((1, 2),)
    published_severity: int | None = 0
    train_only: tuple[str, ...] = ()
    imbalance: str | None = None
    canonical: Callable[[dict, int | None], tuple[dict, int | None]] | None = None
    source: str = ""
    title: str = ""

    def __post_init__(self) -> None:
        """Check every field (``ValueError``/``TypeError`` naming the field, the value and what is allowed)."""
        if not isinstance(self.name, str) or not self.name or self.name != self.name.lower().strip():
            raise ValueError(f"DatasetRecord.name must be a non-empty lower-case name; got {self.name!r}")
        if self.name.startswith(FOLDER):
            raise ValueError(f"DatasetRecord.name must not start with {FOLDER!r} (your own folders); got {self.name!r}")
        if not callable(self.loader) or "split" not in inspect.signature(self.loader).parameters:
            raise TypeError(f"DatasetRecord.loader of {self.name!r} must be a callable taking split=...; "
                            f"got {self.loader!r}")
        _check_names("classes", self.classes)
        _check_names("groups", self.groups)
        if not isinstance(self.group_attribute, str) or not self.group_attribute:
            raise TypeError(f"DatasetRecord.group_attribute must be a non-empty str; got {self.group_attribute!r}")
        _check_positive("image_size", self.image_size)
        _check_positive("channels", self.channels)
        _check_positive("train_size", self.train_size, optional=True)
        _check_positive("test_size", self.test_size, optional=True)
        _check_idc_factor(self.idc_factor)
        _check_knob_names(self)
        if self.downloadable and "download" not in self.knobs:
            raise ValueError(f"DatasetRecord {self.name!r} is downloadable but its loader takes no download=")

    @property
    def knobs(self) -> dict:
        """The loader's keyword arguments (besides ``split``) and their defaults."""
        params = inspect.signature(self.loader).parameters.values()
        return {p.name: p.default for p in params if p.name != "split"
                and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}

    @property
    def n_classes(self) -> int:
        """Number of classes at the default knobs."""
        return len(self.classes)

    @property
    def needs_files(self) -> bool:
        """Whether the loader reads files the user must bring (else it is always available)."""
        return bool(self.files)

    @property
    def display(self) -> str:
        """The name people write: ``title``, else ``name``."""
        return self.title or self.name

    def test_knobs(self, knobs: dict) -> dict:
        """Give the knobs of the test split matching a training split built with ``knobs``.

        That is ``knobs`` less :attr:`train_only`: the test split is balanced, whatever the training
        split's bias or skew.
        """
        return {k: v for k, v in knobs.items() if k not in self.train_only}

    def idc_factor_at(self, ipc: int) -> int:
        """IDC's multi-formation factor at ``ipc`` (the last step of :attr:`idc_factor` at or below it)."""
        return [factor for start, factor in self.idc_factor if start <= ipc][-1]


_RECORDS: dict[str, DatasetRecord] = {}


def register(entry: DatasetRecord, *, replace: bool = False) -> DatasetRecord:
    """Add ``entry`` to the registry; its name must be new unless ``replace=True``. Gives ``entry`` back."""
    if not isinstance(entry, DatasetRecord):
        raise TypeError(f"register takes a DatasetRecord; got {type(entry).__name__}")
    if entry.name in _RECORDS and not replace:
        raise ValueError(f"dataset {entry.name!r} is registered already; pass replace=True to replace it")
    _RECORDS[entry.name] = entry
    return entry


def unregister(name: str) -> DatasetRecord:
    """Remove the dataset ``name`` from the registry and give its record back."""
    if name not in _RECORDS:
        raise ValueError(f"unknown dataset name {name!r}; registered: {list(_RECORDS)}")
    return _RECORDS.pop(name)


def record(name: str) -> DatasetRecord:
    """Give the record of the dataset ``name`` (case-insensitive)."""
    key = name.lower() if isinstance(name, str) else None
    if key not in _RECORDS:
        raise ValueError(f"unknown dataset name {name!r}; allowed: {list(_RECORDS)} or folder:PATH (your own data)")
    return _RECORDS[key]


def find(name) -> DatasetRecord | None:
    """Give the record of the dataset ``name`` (case-insensitive), or None where no record has that name.

    A folder (``folder:PATH``), an unregistered name or a non-string all give None.
    """
    return _RECORDS.get(name.lower()) if isinstance(name, str) else None


def records() -> tuple[DatasetRecord, ...]:
    """Every registered record, in registration order."""
    return tuple(_RECORDS.values())


def idc_factor_exceptions(default: tuple = ((1, 2),)) -> str:
    """Say which datasets' records depart from IDC's ``default`` factor, e.g. "BFFHQ, UTKFace 4; 3 at IPC ≥ 100"."""
    by_steps: dict[tuple, list[str]] = {}
    for entry in _RECORDS.values():
        if entry.idc_factor != default:
            by_steps.setdefault(entry.idc_factor, []).append(entry.display)
    return "; ".join(", ".join(names) + " " + "; ".join(str(f) if start == 1 else f"{f} at IPC ≥ {start}"
                                                        for start, f in steps) for steps, names in by_steps.items())


class _Names(Sequence):
    """The registered names as a tuple that follows the registry (a dataset registered later is in it)."""

    def __getitem__(self, index):
        return tuple(_RECORDS)[index]

    def __len__(self) -> int:
        return len(_RECORDS)

    def __contains__(self, name) -> bool:
        return name in _RECORDS

    def __iter__(self):
        return iter(tuple(_RECORDS))

    def __add__(self, other) -> tuple:
        return tuple(self) + tuple(other)

    def __radd__(self, other) -> tuple:
        return tuple(other) + tuple(self)

    def __eq__(self, other) -> bool:
        return tuple(self) == (tuple(other) if isinstance(other, (tuple, _Names)) else other)

    def __repr__(self) -> str:
        return repr(tuple(self))


DATASETS = _Names()  # every registered name, e.g. ('bffhq', 'celeba', ..., 'utkface')
