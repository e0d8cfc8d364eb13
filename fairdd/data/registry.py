"""Every dataset by name: ``load(name, split=..., **knobs)``, the knobs each one takes, and whether its files are here."""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

from . import colored
from .cifar10s import load_cifar10s
from .dataset import GroupedDataset
from .faces import load_bffhq, load_celeba, load_utkface
from .own_sources import from_folder

__all__ = ["DATASETS", "FOLDER", "load", "options", "availability", "Availability", "canonical_knobs", "check_name"]


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


FOLDER = "folder:"  # "folder:PATH": your own images and metadata table (fairdd.data.own_sources.from_folder)


def check_name(name: str) -> str:
    """Give the registry's key for ``name`` (case-insensitive; ``folder:PATH`` keeps its path), or raise."""
    if isinstance(name, str) and name.lower().startswith(FOLDER):
        if not name[len(FOLDER):].strip():
            raise ValueError(f"dataset {name!r} names no folder; write folder:PATH (e.g. folder:fairdd/data/examples/tinted_digits)")
        return FOLDER + name[len(FOLDER):]
    key = name.lower() if isinstance(name, str) else name
    if key not in _BUILDERS:
        raise ValueError(f"unknown dataset name {name!r}; allowed: {list(DATASETS)} or folder:PATH (your own data)")
    return key


_check_name = check_name


def _builder(key: str) -> Callable[..., GroupedDataset]:
    if key.startswith(FOLDER):
        def build(**kw) -> GroupedDataset:
            return from_folder(key[len(FOLDER):], **kw)
        build.__signature__ = inspect.signature(from_folder).replace(  # type: ignore[attr-defined]
            parameters=[p for p in inspect.signature(from_folder).parameters.values() if p.name != "root"])
        return build
    return _BUILDERS[key]


def options(name: str) -> tuple[str, ...]:
    """List the keyword arguments ``load(name, ...)`` accepts (besides ``split``), e.g. to filter CLI flags."""
    params = inspect.signature(_builder(check_name(name))).parameters
    return tuple(p for p in params if p != "split")


def canonical_knobs(name: str, knobs: dict, *, data_seed=None) -> dict:
    """Give every knob ``name``'s loader builds with, in one canonical form.

    Two ways of asking for the same set compare equal: the loader's defaults filled in, ``mode="fg"`` as
    ``"foreground"``, ``style=None`` as the style it builds, and ``data_seed`` (the loader's ``seed``: the
    data draw) as the seed that draws it — ``None`` where only the default reproduces the authors' draw
    (the official coloured sets), else an integer (0 for cifar10-s and the face splits: the authors'
    code fixes seed 0).
    The loader's ``seed`` is reported as ``data_seed``; a set without one (bffhq) has ``data_seed=None``.
    """
    key = _check_name(name)
    params = inspect.signature(_BUILDERS[key]).parameters
    out = {k: p.default for k, p in params.items() if k != "split"}
    out.update(knobs)
    if key in colored.DATASETS:
        out["mode"] = {"fg": "foreground", "bg": "background"}.get(out["mode"], out["mode"])
        out["style"] = out["style"] or colored.default_style(key)
        if data_seed is None and out["style"] != "official":
            data_seed = colored.resolved_seed(out["style"], None)
    elif "seed" in params and data_seed is None:
        data_seed = params["seed"].default
    out.pop("seed", None)
    if "seed" not in params and data_seed is not None:
        raise ValueError(f"dataset {key!r} has a fixed split: it takes no data_seed; got {data_seed!r}")
    out["data_seed"] = data_seed
    return out


def load(name: str, *, split: str = "train", **knobs) -> GroupedDataset:
    """Build or read the dataset ``name``: images with a class and a protected group each.

    A training split is biased (most of a class shares one group); a test split is balanced over
    (class, group) cells, so the fairness metrics compare groups on equal footing.

    Parameters
    ----------
    name : str
        One of ``DATASETS``: "colored-mnist", "colored-mnist-5k", "colored-fashion-mnist",
        "colored-digits" (groups = colours, :func:`fairdd.data.colored.load`); "cifar10-s"
        (groups = colour / greyscale, :func:`~fairdd.data.cifar10s.load_cifar10s`); "celeba",
        "utkface", "bffhq" (groups = a face attribute, :mod:`fairdd.data.faces`). Case-insensitive.
        ``"folder:PATH"``: your own images and metadata table under PATH
        (:func:`~fairdd.data.own_sources.from_folder`; knobs ``metadata``, ``image``, ``label``, ``group``...).
    split : {"train", "test"}
        Which split.
    **knobs
        The builder's own options, listed by ``options(name)``: the coloured sets take ``mode``,
        ``bias``, ``n_groups``, ``severity``, ``style``...; ``cifar10-s`` takes ``skew``,
        ``severity``, ``format``; the faces take ``target`` / ``group``.

    Returns
    -------
    GroupedDataset
        ``images`` (N, C, H, W) float32, normalised per channel as ``(x - mean) / std``;
        ``labels`` (N,) and ``groups`` (N,) int64; class and group names.

    Raises
    ------
    ValueError
        An unknown name, or a knob the dataset does not take (the message names the ones it does).
    FileNotFoundError
        A dataset read from files that are not there (the message says how to get them).
    """
    key = _check_name(name)
    allowed = options(key)
    extra = sorted(set(knobs) - set(allowed))
    if extra:
        raise ValueError(f"dataset {key!r} does not take {extra}; it takes: {list(allowed)}")
    return _builder(key)(split=split, **knobs)


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
    if key not in _NEEDS_FILES and not key.startswith(FOLDER):
        return Availability(key, True)
    try:
        load(key, split="test", **knobs)
    except (FileNotFoundError, ValueError, OSError) as exc:
        return Availability(key, False, str(exc))
    return Availability(key, True)
