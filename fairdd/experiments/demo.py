"""The demo: one training set distilled with every target strategy, each set evaluated on the test set.

    result = fairdd.experiments.demo.run(train, test, ipc=10, preset="smoke", out="results/demo")
    text = result.table()          # accuracy, EOD (95 % CI), DEO_A, noise floors, worst group, seconds
    result.metrics()               # what metrics.json holds: one entry per strategy

Each strategy in ``strategies`` is a DM distillation with that target (``"random"``: a random real
subset, the baseline), evaluated with the preset's protocol; ``fairdd demo`` is this function, a
chart (``fairdd.viz.paper.metrics_chart``) and a printed table.
"""
from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..config import distill_config, eval_config
from ..data import GroupedDataset
from ..data.dataset import check_dataset
from ..distill import distill
from ..evaluate import FairnessReport, evaluate, random_subset
from ..ownership import check_output, write_owned
from ..report import demo_table
from ..results import check_result_target
from ..targets import STRATEGIES

__all__ = ["DEMO_STRATEGIES", "DemoRow", "DemoResult", "check_outputs", "run"]

DEMO_STRATEGIES = ("random", "vanilla", "uniform", "fairdd", "cobra")  # "random": a random real subset
METRICS_FILE = "metrics.json"


@dataclass(frozen=True)
class DemoRow:
    """One strategy of the demo: its name, its evaluation report and the seconds it took (distil + evaluate)."""

    name: str
    report: FairnessReport
    seconds: float

    def metrics(self) -> dict:
        """Give the row as ``metrics.json`` records it: overall metrics, std over models, floors, bootstrap."""
        r = self.report
        return {**r.overall, "std": r.std, "n_models": r.n_models, "noise_floor": r.noise_floor(),
                "bootstrap95": {k: list(v) for k, v in r.bootstrap().items()}, "seconds": round(self.seconds, 1)}


@dataclass(frozen=True)
class DemoResult:
    """Every strategy's row in the order run, with the settings shared by all and where it was written."""

    rows: tuple[DemoRow, ...]
    method: str
    ipc: int
    preset: str
    n_models: int
    seconds: float  # the whole demo
    out: Path | None  # the folder written (None: nothing written)

    def metrics(self) -> dict:
        """Give the content of ``metrics.json``: strategy → its ``DemoRow.metrics()``."""
        return {row.name: row.metrics() for row in self.rows}

    def table(self) -> str:
        """Format the closing table (``fairdd.report.demo_table``): one line per strategy, a footnote."""
        return demo_table([(row.name, row.report, row.seconds) for row in self.rows])


def _check_strategies(strategies) -> tuple[str, ...]:
    allowed = ["random", *STRATEGIES]
    if isinstance(strategies, str) or not isinstance(strategies, (list, tuple)) or not strategies:
        raise ValueError(f"strategies must be a non-empty list of names from {allowed}; got {strategies!r}")
    bad = [s for s in strategies if s not in allowed]
    if bad:
        raise ValueError(f"unknown strategies {bad}; allowed: {allowed}")
    if len(set(strategies)) < len(strategies):
        raise ValueError(f"strategies repeats a name: {list(strategies)}")
    return tuple(strategies)


def _check_row_callbacks(callbacks) -> list:
    """One callable ``f(row)`` or a list/tuple of them (called after each strategy with its ``DemoRow``)."""
    callbacks = [callbacks] if callable(callbacks) else callbacks
    if not isinstance(callbacks, (list, tuple)) or not all(callable(cb) for cb in callbacks):
        raise ValueError(f"callbacks must be a callable f(row) or a list of them; got {callbacks!r}")
    for i, cb in enumerate(callbacks):
        try:
            inspect.signature(cb).bind(None)
        except TypeError:
            raise ValueError(f"callbacks[{i}] must take one argument (the DemoRow); its signature is "
                             f"{inspect.signature(cb)}") from None
        except ValueError:  # builtins without a signature: trust them
            pass
    return list(callbacks)


def check_outputs(out: str | Path, *, strategies: Sequence[str] = DEMO_STRATEGIES) -> Path:
    """Check, before any work, that the demo may write into ``out``; return it as a ``Path``.

    ``out`` must be (or become) a folder; each strategy's result folder in it may be (re)written (the
    demo replaces its own results, nothing else) and so may ``metrics.json``.
    """
    out = check_output(out, kind="folder", what="demo output")
    for name in _check_strategies(strategies):
        check_result_target(out / name, overwrite=True)
    check_output(out / METRICS_FILE, kind="file", what="metrics file")
    return out


def run(train: GroupedDataset, test: GroupedDataset, *, ipc: int = 10, preset: str = "demo", method: str = "dm",
        strategies: Sequence[str] = DEMO_STRATEGIES, n_models: int | None = None, seed: int = 0,
        device: str = "auto", out: str | Path | None = None,
        callbacks: Callable[[DemoRow], None] | Iterable[Callable[[DemoRow], None]] = (),
        eval_overrides: dict | None = None, **overrides) -> DemoResult:
    """Distil ``train`` with each of ``strategies`` and evaluate every set on ``test``.

    Parameters
    ----------
    train, test : GroupedDataset
        The training set to distil and the balanced test set every strategy is evaluated on.
    ipc, preset, method, seed, device
        As for ``fairdd.distill`` (every strategy gets the same); ``seed`` also seeds the evaluation.
    strategies : sequence of str
        Target strategies in the order run; ``"random"`` is a random real subset of ``ipc`` per class.
    n_models : int, optional
        Evaluation models per strategy; default the preset's for ``method``.
    out : path, optional
        Where to write: checked first (``check_outputs``), then ``out/<strategy>`` (each set) and
        ``out/metrics.json`` (``DemoResult.metrics``). None writes nothing.
    callbacks : callable or list of callables
        Each called as ``f(row)`` with the ``DemoRow`` of a strategy as it finishes (progress: the
        demo itself never prints).
    eval_overrides : dict, optional
        ``EvalConfig`` fields replacing the preset's in every evaluation.
    **overrides
        ``DistillConfig`` fields replacing the preset's in every distillation.

    Returns
    -------
    DemoResult
        The rows in the order run, the shared settings, and the folder written.
    """
    strategies = _check_strategies(strategies)
    callbacks = _check_row_callbacks(callbacks)
    check_dataset("train", train)
    check_dataset("test", test)
    if eval_overrides is not None and not isinstance(eval_overrides, dict):
        raise ValueError(f"eval_overrides must be a dict of EvalConfig fields; got {eval_overrides!r}")
    protocol = eval_config(preset=preset, method=method, **(eval_overrides or {}))  # checks the overrides first
    for name in strategies:  # and every distillation's settings, before any work
        if name != "random":
            distill_config(method=method, target=name, ipc=ipc, preset=preset, seed=seed, **overrides)
    n_models = protocol.n_models if n_models is None else n_models
    out = None if out is None else check_outputs(out, strategies=strategies)
    t_start, rows = time.perf_counter(), []
    for name in strategies:
        t0 = time.perf_counter()
        if name == "random":
            result = random_subset(train, ipc=ipc, seed=seed)
        else:
            result = distill(train, method=method, target=name, ipc=ipc, preset=preset, seed=seed, device=device,
                             **overrides)
        if out is not None:
            result.save(out / name, overwrite=True)
        report = evaluate(result, test, n_models=n_models, preset=preset, seed=seed, device=device,
                          **(eval_overrides or {}))
        rows.append(DemoRow(name=name, report=report, seconds=time.perf_counter() - t0))
        for cb in callbacks:
            cb(rows[-1])
    demo = DemoResult(rows=tuple(rows), method=method, ipc=ipc, preset=preset, n_models=n_models,
                      seconds=time.perf_counter() - t_start, out=out)
    if out is not None:
        write_owned(out / METRICS_FILE, lambda p: p.write_text(json.dumps(demo.metrics(), indent=2) + "\n"),
                    what="metrics file")
    return demo
