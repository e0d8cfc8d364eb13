"""``reproduce``: a preset's protocol for several targets on one experiment, beside the published numbers."""
from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Callable, Sequence

import torch

from ..distill import distill, resolve_device
from ..evaluate import evaluate
from ..io import check_output
from .published import published
from .study import _differences, _read_shared, _settings, _update_shared

__all__ = ["reproduce"]


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

    from .. import datasets
    from ..evaluate import random_subset

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
