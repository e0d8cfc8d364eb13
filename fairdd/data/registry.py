"""Every dataset by name: ``load(name, split=..., **knobs)``, the knobs each one takes, and whether its files are here."""
from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from dataclasses import dataclass
from typing import Callable

from . import catalog  # noqa: F401  (registers the shipped datasets, one module each)
from .dataset import GroupedDataset
from .own_sources import from_folder
from .record import DATASETS, FOLDER, DatasetRecord, find, record, records, register, unregister

__all__ = ["DATASETS", "FOLDER", "load", "options", "availability", "Availability", "canonical_knobs", "check_name",
           "test_knobs", "test_set_for", "imbalance_knob",
           "DatasetRecord", "record", "records", "register", "unregister"]


def check_name(name: str) -> str:
    """Give the registry's key for ``name`` (case-insensitive; ``folder:PATH`` keeps its path), or raise."""
    if isinstance(name, str) and name.lower().startswith(FOLDER):
        if not name[len(FOLDER):].strip():
            raise ValueError(f"dataset {name!r} names no folder; write folder:PATH (e.g. folder:fairdd/data/examples/tinted_digits)")
        return FOLDER + name[len(FOLDER):]
    return record(name).name


_check_name = check_name


def _builder(key: str) -> Callable[..., GroupedDataset]:
    if key.startswith(FOLDER):
        def build(**kw) -> GroupedDataset:
            return from_folder(key[len(FOLDER):], **kw)
        build.__signature__ = inspect.signature(from_folder).replace(  # type: ignore[attr-defined]
            parameters=[p for p in inspect.signature(from_folder).parameters.values() if p.name != "root"])
        return build
    return record(key).loader


def options(name: str) -> tuple[str, ...]:
    """List the keyword arguments ``load(name, ...)`` accepts (besides ``split``), e.g. to filter CLI flags."""
    params = inspect.signature(_builder(check_name(name))).parameters
    return tuple(p for p in params if p != "split")


def test_knobs(name: str, knobs: dict) -> dict:
    """Give the knobs of ``name``'s test split matching a training split built with ``knobs``.

    That is ``knobs`` less the ones its record declares train-only (``DatasetRecord.train_only``); a
    ``folder:PATH`` set has none.
    """
    key = check_name(name)
    return dict(knobs) if key.startswith(FOLDER) else record(key).test_knobs(knobs)


def imbalance_knob(name: str, *, strict: bool = True) -> str | None:
    """Give the knob that sets ``name``'s training imbalance (``DatasetRecord.imbalance``: ``bias``, ``skew``).

    A dataset that declares none (a folder, the faces) is an error, or None with ``strict=False`` (and so
    is a name no record has).
    """
    entry = find(name)
    knob = entry.imbalance if entry is not None else None
    if knob is None and strict:
        having = [r.name for r in records() if r.imbalance is not None]
        raise ValueError(f"dataset {name!r} has no imbalance knob (DatasetRecord.imbalance); "
                         f"the datasets with one: {having}")
    return knob


_NOT_KNOBS = ("seed", "root", "split", "cache_hit")  # recorded with a set, but not how it was built


def test_set_for(source, *, dataset: str | None = None, data_seed: int | None = None, **knobs) -> GroupedDataset:
    """Load the test split matching the data ``source`` was distilled from.

    Parameters
    ----------
    source : DistillResult or dict
        A result (its ``dataset`` record, ``GroupedDataset.describe()``) or that record itself.
    dataset : str, optional
        Another dataset to test on (default: the one the result records).
    data_seed : int, optional
        Another data draw (default: the recorded one; the loader's ``seed``).
    **knobs
        Knobs of the loader (``options``) replacing recorded ones (``root``, ``download``, ``cache_dir``...);
        the recorded knobs the dataset declares train-only (``DatasetRecord.train_only``: bias, skew...)
        are left out, and so are given ones.

    Raises
    ------
    ValueError
        The result records no dataset and none is given, or a knob the dataset does not take.
    FileNotFoundError
        The result was distilled from a ``folder:PATH`` that is not there.
    """
    described = getattr(source, "dataset", source)
    info = (described.get("info") if isinstance(described, dict) else None) or {}
    name = dataset or info.get("name")
    if name is None:
        raise ValueError("the result records no dataset it was built from; pass dataset=")
    key = check_name(name)
    if dataset is None and key.startswith(FOLDER) and not Path(key[len(FOLDER):]).is_dir():
        raise FileNotFoundError(f"the result was distilled from the folder {key[len(FOLDER):]!r} (at "
                                f"{info.get('root')}), not found from here: evaluate where it was distilled, "
                                "or name another folder (CLI: --dataset folder:PATH --any-test-set)")
    takes = options(key)
    unknown = sorted(set(knobs) - set(takes))
    if unknown:
        raise ValueError(f"dataset {key!r} does not take {unknown}; it takes: {list(takes)}")
    recorded = {k: info[k] for k in takes if k in info and info[k] is not None and k not in _NOT_KNOBS}
    if "groups" in recorded:
        recorded["groups"] = list(recorded["groups"])
    if data_seed is not None and "seed" not in takes:
        raise ValueError(f"data_seed {data_seed!r} does not apply to dataset {key!r}: its split is fixed")
    seed = info.get("seed") if data_seed is None else data_seed
    if seed is not None and "seed" in takes:
        recorded["seed"] = seed
    return load(key, split="test", **test_knobs(key, {**recorded, **knobs}))


def canonical_knobs(name: str, knobs: dict, *, data_seed=None) -> dict:
    """Give every knob ``name``'s loader builds with, in one canonical form.

    Two ways of asking for the same set compare equal: the loader's defaults filled in, ``mode="fg"`` as
    ``"foreground"``, ``style=None`` as the style it builds, and ``data_seed`` (the loader's ``seed``: the
    data draw) as the seed that draws it — ``None`` where only the default reproduces the authors' draw
    (the official coloured sets), else an integer (0 for cifar10-s and the face splits: the authors'
    code fixes seed 0).
    The loader's ``seed`` is reported as ``data_seed``; a set without one (bffhq) has ``data_seed=None``.
    """
    entry = record(_check_name(name))
    defaults = entry.knobs
    out = {**defaults, **knobs}
    if entry.canonical is not None:  # e.g. the coloured sets' mode aliases and style-dependent seed
        out, data_seed = entry.canonical(out, data_seed)
    elif "seed" in defaults and data_seed is None:
        data_seed = defaults["seed"]
    out.pop("seed", None)
    key = entry.name
    if "seed" not in defaults and data_seed is not None:
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
        One of ``DATASETS``, the registered records (:func:`record`; the shipped ones are one module
        each under ``fairdd/data/catalog/``): "colored-mnist", "colored-mnist-5k",
        "colored-fashion-mnist", "colored-digits" (groups = colours); "cifar10-s" (groups = colour /
        greyscale); "celeba", "utkface", "bffhq" (groups = a face attribute). Case-insensitive.
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
    ds = _builder(key)(split=split, **knobs)
    if not key.startswith(FOLDER) and ds.info.get("name") != key:  # the record's name, which fairdd.distill
        ds = dataclasses.replace(ds, info={**ds.info, "name": key})  # reads back (IDC's factor)
    return ds


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
    if not key.startswith(FOLDER) and not record(key).needs_files:
        return Availability(key, True)
    try:
        load(key, split="test", **knobs)
    except (FileNotFoundError, ValueError, OSError) as exc:
        return Availability(key, False, str(exc))
    return Availability(key, True)
