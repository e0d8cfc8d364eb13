"""The imbalance × separation study (docs/method.md, "Datasets"): for every (target, imbalance = bias,
separation = severity, seed) it distils, evaluates and returns a tidy DataFrame."""
from __future__ import annotations

import contextlib
import itertools
import json
import time
from pathlib import Path
from typing import Callable, Sequence

from ..data import GroupedDataset
from ..distill import distill, resolve_device
from ..evaluate import evaluate
from ..io import check_output, read_json, write_json

__all__ = ["imbalance_separation", "STUDY_COLUMNS"]

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

    from .. import datasets

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


