"""Experiment grids and analysis helpers used by the notebooks.

``imbalance_separation`` is the paper's dual-axis study (METHOD.md §3): for every
(target, imbalance = bias, separation = severity, seed) it distils, evaluates and returns a tidy
DataFrame. With ``out=`` every finished cell is appended atomically to ``out`` (JSON) and skipped on
a rerun, so a stopped study resumes where it stopped.
"""
from __future__ import annotations

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
from .io import write_json
from .models import ConvNet, reset_parameters

__all__ = ["imbalance_separation", "group_clouds", "reproduce", "PUBLISHED", "STUDY_COLUMNS"]

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
    done: list[dict] = []
    if out is not None and Path(out).is_file():
        done = json.loads(Path(out).read_text())
    key = lambda r: (r["target"], float(r["imbalance"]), int(r["severity"]), int(r["seed"]))  # noqa: E731
    have = {key(r) for r in done}
    tests: dict[tuple, GroupedDataset] = {}
    for bias, sev, seed in itertools.product(imbalances, severities, seeds):
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
                   **rep.overall, "seconds": time.perf_counter() - t0}
            done.append(row)
            if out is not None:
                write_json(out, done)
            if callback is not None:
                callback(row)
    frame = pd.DataFrame(done, columns=STUDY_COLUMNS)
    wanted = frame.apply(lambda r: key(r) in {(t, float(b), int(s), int(e)) for t, b, s, e in
                                             itertools.product(targets, imbalances, severities, seeds)}, axis=1)
    return frame[wanted].reset_index(drop=True) if len(frame) else frame


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


# Published (accuracy %, EOD) at IPC 10, ConvNet-3 (METHOD.md §6). The COBRA column is the authors'
# earlier runs of the barycenter variant: indicative, not the final paper table.
PUBLISHED = {
    ("colored-fashion-mnist", "foreground", "dm", 10): {
        "random": (32.80, 100.0), "vanilla": (33.35, 100.0), "fairdd": (77.09, 26.87), "cobra": (76.2, 27.2),
        "whole": (82.94, 79.2)},
    ("colored-fashion-mnist", "foreground", "dc", 10): {
        "vanilla": (60.77, 99.40), "fairdd": (76.01, 46.80), "cobra": (77.2, 29.5)},
}


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
    n_models: int = 5,
    seed: int = 0,
    device: str = "auto",
    out: str | Path | None = None,
    root=None,
    callback: Callable[[dict], None] | None = None,
    eval_overrides: dict | None = None,
    **overrides,
):
    """Run the published protocol for ``targets`` (``"random"`` = random real subset) and return a
    DataFrame: metrics (mean ± std over ``n_models``), the published accuracy / EOD where known,
    distillation and evaluation seconds, ms per iteration and peak GPU memory. With ``out`` each
    finished row is saved (JSON) with the settings that made it, and skipped on a rerun with the same
    settings; a rerun with other settings into the same file is refused (rows would not be comparable)."""
    import pandas as pd

    from . import datasets
    from .evaluate import random_subset

    dev = resolve_device(device)
    rows: dict = json.loads(Path(out).read_text()) if out is not None and Path(out).is_file() else {}
    published = PUBLISHED.get((dataset, mode, method, ipc), {})
    settings = json.loads(json.dumps(dict(dataset=dataset, mode=mode, method=method, ipc=ipc, preset=preset,
                                          n_models=n_models, seed=seed, distill=overrides,
                                          evaluate=eval_overrides or {}), default=str))
    for target, row in rows.items():
        made, want = _comparable(row.get("settings", {}), target), _comparable(settings, target)
        if made != want:
            differ = sorted(k for k in set(made) | set(want) if made.get(k) != want.get(k))
            raise ValueError(f"{out} holds a {target!r} row made with other settings ("
                             + ", ".join(f"{k}={made.get(k)!r}, now {want.get(k)!r}" for k in differ)
                             + "); use another output folder")
    train = test = None
    for target in targets:
        if target in rows:
            continue
        if train is None:
            train = datasets.load(dataset, split="train", mode=mode, seed=seed, root=root)
            test = datasets.load(dataset, split="test", mode=mode, seed=seed, root=root)
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        t0 = time.perf_counter()
        if target == "random":
            result = random_subset(train, ipc=ipc, seed=seed)
        else:
            result = distill(train, method=method, target=target, ipc=ipc, preset=preset, seed=seed, device=dev,
                             **overrides)
        t1 = time.perf_counter()
        rep = evaluate(result, test, n_models=n_models, preset=preset, seed=seed, device=dev, **(eval_overrides or {}))
        n_it = len(result.history)
        pub = published.get(target, (float("nan"), float("nan")))
        rows[target] = {**rep.overall, **{f"{k}_std": v for k, v in rep.std.items()},
                        "published_accuracy": pub[0], "published_eod": pub[1],
                        "iterations": n_it, "distill_s": t1 - t0, "eval_s": rep.seconds,
                        # median step time: robust to the first steps' warm-up (allocator, thread pools, cuDNN)
                        "ms_per_iteration": 1000 * statistics.median(h["seconds"] for h in result.history)
                        if n_it else None,
                        "peak_gpu_gb": torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else None,
                        "settings": settings}
        if out is not None:
            write_json(out, rows)
        if callback is not None:
            callback({"target": target, **rows[target]})
    frame = pd.DataFrame.from_dict({t: rows[t] for t in targets if t in rows}, orient="index")
    frame.index.name = "target"
    return frame
