"""Experiment grids and analysis helpers used by the notebooks.

``imbalance_separation`` is the paper's dual-axis study (docs/method.md, "Datasets"): for every
(target, imbalance = bias, separation = severity, seed) it distils, evaluates and returns a tidy
DataFrame. With ``out=`` every finished cell is appended atomically to ``out`` (JSON) and skipped on
a rerun, so a stopped study resumes where it stopped.

Shared output files (``imbalance_separation(out=...)``, ``reproduce(out=...)``) are safe under
concurrent writers: each write takes a lock (``<out>.lock``, the ``filelock`` package), re-reads the
file and merges its row in, so no row is lost; every row records the settings that made it, and
a run with other settings into the same file is refused, naming what differs.
"""
from __future__ import annotations

import contextlib
import itertools
import json
import statistics
import time
from pathlib import Path
from typing import Callable, Sequence

import torch

from .data import GroupedDataset
from .distill import distill, resolve_device
from .evaluate import evaluate
from .io import check_output, read_json, write_json
from .models import ConvNet, reset_parameters

__all__ = ["imbalance_separation", "group_clouds", "reproduce", "published", "PUBLISHED", "STUDY_COLUMNS"]

STUDY_COLUMNS = ["target", "imbalance", "severity", "seed", "accuracy", "eod", "deo_a", "worst_group_accuracy",
                 "seconds"]


def imbalance_separation(
    *,
    dataset: str = "colored-mnist-5k",
    targets: Sequence[str] = ("vanilla", "uniform", "fairdd", "cobra"),
    imbalances: Sequence[float] = (0.5, 0.7, 0.9),
    severities: Sequence[int] = (0, 2, 4),
    seeds: Sequence[int] = (0,),
    ipc: int = 10,
    method: str = "dm",
    preset: str = "demo",
    n_models: int = 2,
    mode: str = "foreground",
    device: str = "auto",
    out: str | Path | None = None,
    callback: Callable[[dict], None] | None = None,
    eval_overrides: dict | None = None,
    **overrides,
):
    """Run the grid and return a DataFrame with ``STUDY_COLUMNS``.

    ``overrides`` go to ``distill`` (e.g. ``iterations=100``), ``eval_overrides`` to ``evaluate``.
    """
    import pandas as pd

    from . import datasets

    dev = resolve_device(device)
    settings = _settings(dataset=dataset, mode=mode, method=method, ipc=ipc, preset=preset, n_models=n_models,
                         distill=overrides, evaluate=eval_overrides or {})
    key = lambda r: (r["target"], float(r["imbalance"]), int(r["severity"]), int(r["seed"]))  # noqa: E731
    check = lambda rows: _check_study_rows(out, rows, settings)  # noqa: E731
    if out is not None:
        check_output(out, kind="file", what="study file")
    done: list[dict] = check(_read_shared(out, [])) if out is not None else []
    tests: dict[tuple, GroupedDataset] = {}
    for bias, sev, seed in itertools.product(imbalances, severities, seeds):
        if out is not None:  # another process may have finished cells meanwhile
            done = check(_read_shared(out, []))
        have = {key(r) for r in done}
        todo = [t for t in targets if (t, float(bias), int(sev), int(seed)) not in have]
        if not todo:
            continue
        train = datasets.load(dataset, split="train", mode=mode, bias=bias, severity=sev, seed=seed)
        if (sev, seed) not in tests:
            tests[(sev, seed)] = datasets.load(dataset, split="test", mode=mode, severity=sev, seed=seed)
        for target in todo:
            t0 = time.perf_counter()
            result = distill(train, method=method, target=target, ipc=ipc, preset=preset, seed=seed, device=dev,
                             **overrides)
            rep = evaluate(result, tests[(sev, seed)], n_models=n_models, preset=preset, seed=seed, device=dev,
                           **(eval_overrides or {}))
            row = {"target": target, "imbalance": float(bias), "severity": int(sev), "seed": int(seed),
                   **rep.overall, "seconds": time.perf_counter() - t0, "settings": settings}
            if out is not None:
                def merge(rows, row=row):
                    rows = check(rows)
                    return rows if key(row) in {key(r) for r in rows} else rows + [row]

                done = _update_shared(out, [], merge)
            else:
                done.append(row)
            if callback is not None:
                callback(row)
    frame = pd.DataFrame(done, columns=STUDY_COLUMNS)
    wanted = frame.apply(lambda r: key(r) in {(t, float(b), int(s), int(e)) for t, b, s, e in
                                             itertools.product(targets, imbalances, severities, seeds)}, axis=1)
    return frame[wanted].reset_index(drop=True) if len(frame) else frame


def _settings(**kw) -> dict:
    """The settings a row depends on, as JSON would store them (so a rerun compares equal)."""
    return json.loads(json.dumps(kw, default=str))


def _differences(made: dict, want: dict) -> str:
    differ = sorted(k for k in set(made) | set(want) if made.get(k) != want.get(k))
    return ", ".join(f"{k}={made.get(k)!r}, now {want.get(k)!r}" for k in differ)


def _check_study_rows(out, rows, settings: dict) -> list:
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValueError(f"{out} is not a study file (expected a JSON list of rows)")
    for r in rows:
        made = r.get("settings")
        if made != settings:
            why = _differences(made, settings) if isinstance(made, dict) else "the file records no settings"
            raise ValueError(f"{out} holds rows made with other settings ({why}); use another output file")
    return rows


@contextlib.contextmanager
def _lock(out):
    from filelock import FileLock

    with FileLock(f"{out}.lock"):
        yield


def _read_shared(out, empty):
    """The JSON in ``out`` (``empty`` when there is none yet), read under its lock."""
    with _lock(out):
        return read_json(out, "results file") if Path(out).is_file() else empty


def _update_shared(out, empty, update: Callable):
    """Under ``out``'s lock: read it, apply ``update``, write the result atomically; return it."""
    with _lock(out):
        data = update(read_json(out, "results file") if Path(out).is_file() else empty)
        write_json(out, data)
        return data


@torch.no_grad()
def group_clouds(train: GroupedDataset, class_id: int, *, per_group: int = 100, net: torch.nn.Module | None = None,
                 width: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings (n, d) of up to ``per_group`` real images per group of class ``class_id`` under
    ``net`` (default: a fixed random ConvNet-3 drawn from ``seed``) and their groups (n,)."""
    if not 0 <= class_id < train.n_classes:
        raise ValueError(f"class_id must be in [0, {train.n_classes}); got {class_id}")
    gen = torch.Generator().manual_seed(seed)
    idx = (train.labels == class_id).nonzero().flatten()
    idx = idx[torch.randperm(len(idx), generator=gen)]
    groups = train.groups[idx]
    rank = torch.zeros_like(groups)
    for a in groups.unique().tolist():  # analysis helper, per group once
        m = groups == a
        rank[m] = torch.arange(int(m.sum()))
    idx = idx[rank < per_group]
    if net is None:
        c, h, _ = train.image_shape
        net = reset_parameters(ConvNet(in_channels=c, n_classes=train.n_classes, width=width, image_size=h), gen)
    net.eval()
    return net.embed(train.images[idx]), train.groups[idx]


# Published (accuracy %, EOD) per (dataset, mode, method, ipc) and the protocol they were measured
# under — the preset that reproduces it. Each entry names where it comes from; numbers that are not
# from a paper say so. ``mode=None``: the dataset has no foreground/background variant.
FAIRDD_TABLES = "FairDD paper (Zhou et al., arXiv 2411.19623), Tables 1–2"
COBRA_TABLE = "COBRA paper (Moslemi et al., arXiv 2605.00185), Table 1"
PRELIMINARY = "COBRA authors' preliminary runs of the barycenter variant: not a published number"
PUBLISHED = {
    "fairdd-paper": {
        ("colored-fashion-mnist", "foreground", "dm", 10): {
            "random": (32.80, 100.0, FAIRDD_TABLES), "vanilla": (33.35, 100.0, FAIRDD_TABLES),
            "fairdd": (77.09, 26.87, FAIRDD_TABLES), "whole": (82.94, 79.2, FAIRDD_TABLES)},
        ("colored-fashion-mnist", "foreground", "dc", 10): {
            "vanilla": (60.77, 99.40, FAIRDD_TABLES), "fairdd": (76.01, 46.80, FAIRDD_TABLES)},
    },
    "paper": {
        ("colored-fashion-mnist", "foreground", "dm", 10): {"cobra": (76.2, 27.2, PRELIMINARY)},
        ("colored-fashion-mnist", "foreground", "dc", 10): {"cobra": (77.2, 29.5, PRELIMINARY)},
        ("cifar10-s", None, "dm", 100): {
            "vanilla": (45.4, 82.87, COBRA_TABLE), "fairdd": (61.2, 25.17, COBRA_TABLE),
            "cobra": (62.4, 9.37, COBRA_TABLE), "whole": (69.71, 48.96, COBRA_TABLE)},
        ("cifar10-s", None, "dc", 50): {
            "vanilla": (39.5, 71.85, COBRA_TABLE), "fairdd": (46.2, 35.65, COBRA_TABLE),
            "cobra": (46.6, 26.18, COBRA_TABLE)},
        ("bffhq", None, "dm", 100): {"vanilla": (65.8, 63.47, COBRA_TABLE), "cobra": (74.2, 7.87, COBRA_TABLE)},
    },
}


def published(dataset: str, mode: str | None, method: str, ipc: int, preset: str) -> dict:
    """{target: (accuracy, EOD, source)} known for this experiment *under ``preset``'s protocol*
    (``paper`` = COBRA's, ``fairdd-paper`` = FairDD's); empty where none is."""
    table = PUBLISHED.get(preset, {})
    return table.get((dataset, mode, method, ipc)) or table.get((dataset, None, method, ipc)) or {}


def _comparable(settings: dict, target: str) -> dict:
    """The settings a reproduce row depends on (the random subset is not distilled)."""
    return {k: v for k, v in settings.items() if not (target == "random" and k == "distill")}


def reproduce(
    *,
    dataset: str = "colored-fashion-mnist",
    mode: str = "foreground",
    method: str = "dm",
    ipc: int = 10,
    targets: Sequence[str] = ("random", "vanilla", "fairdd", "cobra"),
    preset: str = "paper",
    n_models: int | None = None,
    seed: int = 0,
    device: str = "auto",
    out: str | Path | None = None,
    root=None,
    download: bool = False,
    callback: Callable[[dict], None] | None = None,
    eval_overrides: dict | None = None,
    **overrides,
):
    """Run the ``preset``'s protocol for ``targets`` (``"random"`` = random real subset) and return a
    DataFrame: metrics (mean ± std over ``n_models``, default the preset's for ``method``), the
    accuracy / EOD published *under the same protocol* where known, with its source (``published``;
    ``paper`` = COBRA's protocol, ``fairdd-paper`` = FairDD's; a number that is not from a paper is
    labelled so in ``published_source``),
    distillation and evaluation seconds, ms per iteration and peak GPU memory. With ``out`` each
    finished row is saved (JSON) with the settings that made it, and skipped on a rerun with the same
    settings; a rerun with other settings into the same file is refused (rows would not be comparable)."""
    import pandas as pd

    from . import datasets
    from .evaluate import random_subset

    dev = resolve_device(device)
    known = published(dataset, mode, method, ipc, preset)
    settings = _settings(dataset=dataset, mode=mode, method=method, ipc=ipc, preset=preset, n_models=n_models,
                         seed=seed, distill=overrides, evaluate=eval_overrides or {})

    def check(rows: dict) -> dict:
        if not isinstance(rows, dict):
            raise ValueError(f"{out} is not a reproduce rows file (expected a JSON object by target)")
        for target, row in rows.items():
            made = _comparable(row.get("settings", {}) if isinstance(row, dict) else {}, target)
            want = _comparable(settings, target)
            if made != want:
                raise ValueError(f"{out} holds a {target!r} row made with other settings ("
                                 + _differences(made, want) + "); use another output folder")
        return rows

    if out is not None:
        check_output(out, kind="file", what="rows file")
    rows: dict = check(_read_shared(out, {})) if out is not None else {}
    train = test = None
    for target in targets:
        if out is not None:  # another process may have finished this target meanwhile
            rows = check(_read_shared(out, {}))
        if target in rows:
            continue
        if train is None:
            train = datasets.load(dataset, split="train", mode=mode, seed=seed, root=root, download=download)
            test = datasets.load(dataset, split="test", mode=mode, seed=seed, root=root, download=download)
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        t0 = time.perf_counter()
        if target == "random":
            result = random_subset(train, ipc=ipc, seed=seed)
        else:
            result = distill(train, method=method, target=target, ipc=ipc, preset=preset, seed=seed, device=dev,
                             **overrides)
        t1 = time.perf_counter()
        rep = evaluate(result, test, n_models=n_models, preset=preset, method=method, seed=seed, device=dev,
                       **(eval_overrides or {}))
        n_it = len(result.history)
        pub = known.get(target, (float("nan"), float("nan"), f"none under the {preset!r} protocol"))
        row = {**rep.overall, **{f"{k}_std": v for k, v in rep.std.items()},
               "published_accuracy": pub[0], "published_eod": pub[1], "published_source": pub[2],
               "n_models": len(rep.per_model),
               "iterations": n_it, "distill_s": t1 - t0, "eval_s": rep.seconds,
               # median step time: robust to the first steps' warm-up (allocator, thread pools, cuDNN)
               "ms_per_iteration": 1000 * statistics.median(h["seconds"] for h in result.history) if n_it else None,
               "peak_gpu_gb": torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else None,
               "settings": settings}
        if out is not None:  # merged under the lock: rows another process wrote meanwhile are kept
            rows = _update_shared(out, {}, lambda have, target=target, row=row:
                                  check(have) if target in have else {**have, target: row})
        else:
            rows[target] = row
        if callback is not None:
            callback({"target": target, **rows[target]})
    frame = pd.DataFrame.from_dict({t: rows[t] for t in targets if t in rows}, orient="index")
    frame.index.name = "target"
    return frame
