"""Every dataset by name: ``load(name, split=..., **knobs)``, the knobs each one takes, and whether its files are here."""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

from . import colored
from .cifar10s import load_cifar10s
from .dataset import GroupedDataset
from .faces import load_bffhq, load_celeba, load_utkface

__all__ = ["DATASETS", "load", "options", "availability", "Availability"]


def _colored(name: str) -> Callable[..., GroupedDataset]:
    def build(**kw) -> GroupedDataset:
        return colored.load(name, **kw)
    build.__signature__ = inspect.signature(colored.load).replace(  # type: ignore[attr-defined]
        parameters=[p for p in inspect.signature(colored.load).parameters.values() if p.name != "name"])
    return build


_BUILDERS: dict[str, Callable[..., GroupedDataset]] = {
    **{name: _colored(name) for name in colored.DATASETS},
    "cifar10-s": load_cifar10s,
    "celeba": load_celeba,
    "utkface": load_utkface,
    "bffhq": load_bffhq,
}
DATASETS = tuple(_BUILDERS)
# which names read files the user must bring (the others are shipped with a package)
_NEEDS_FILES = ("colored-mnist", "colored-fashion-mnist", "cifar10-s", "celeba", "utkface", "bffhq")


def _check_name(name: str) -> str:
    key = name.lower() if isinstance(name, str) else name
    if key not in _BUILDERS:
        raise ValueError(f"unknown dataset name {name!r}; allowed: {list(DATASETS)}")
    return key


def options(name: str) -> tuple[str, ...]:
    """The keyword arguments ``load(name, ...)`` accepts (besides ``split``), e.g. to filter CLI flags."""
    params = inspect.signature(_BUILDERS[_check_name(name)]).parameters
    return tuple(p for p in params if p != "split")


def load(name: str, *, split: str = "train", **knobs) -> GroupedDataset:
    """Build or read the dataset ``name`` (one of ``DATASETS``); ``knobs`` are those of ``options(name)``.

    The coloured sets take ``mode``, ``bias``, ``n_groups``, ``severity``, ``style``...;
    ``cifar10-s`` takes ``skew``, ``severity``, ``format``; the faces take ``target`` / ``group``.
    A knob the dataset does not take is a ``ValueError`` naming the ones it does.
    """
    key = _check_name(name)
    allowed = options(key)
    extra = sorted(set(knobs) - set(allowed))
    if extra:
        raise ValueError(f"dataset {key!r} does not take {extra}; it takes: {list(allowed)}")
    return _BUILDERS[key](split=split, **knobs)


@dataclass(frozen=True)
class Availability:
    """Whether ``load(name)`` can find its files now; ``reason`` says what is missing and how to get it."""

    name: str
    available: bool
    reason: str = ""


def availability(name: str, **knobs) -> Availability:
    """Try to load the test split of ``name`` (with ``knobs``, e.g. ``root=``) and report, never raise.

    The sets shipped with packages are always available; for the others this reads the files (and fills
    the cache), so a dashboard can list every dataset and show the missing ones greyed out with the reason.
    """
    key = _check_name(name)
    if key not in _NEEDS_FILES:
        return Availability(key, True)
    try:
        load(key, split="test", **knobs)
    except (FileNotFoundError, ValueError, OSError) as exc:
        return Availability(key, False, str(exc))
    return Availability(key, True)
