"""The imbalance × separation study (docs/method.md, "Datasets"), run as a sweep.

For every (target, imbalance, separation = severity, seed) it distils, evaluates and returns a tidy
DataFrame. The imbalance knob is the dataset's: ``bias`` for the coloured sets (share of a class's own
colour), ``skew`` for cifar10-s (COBRA's CIFAR10-S skew; with ``severity`` its group 0 is the colour
image under the App. F corruptions instead of grayscale).

The grid is a ``fairdd.sweeps`` sweep: with ``out=`` each cell writes its own folder under ``out``
(``out/cells/<cell>/``, ``out/sweep.toml``), so no file is shared by two processes, a stopped study
resumes where it stopped, and ``fairdd sweep table out --rows target --columns bias severity`` prints it.
A cell of ``out`` that was finished with other settings makes a rerun a ``ValueError`` naming what differs.
"""
from __future__ import annotations

import contextlib
import itertools
import tempfile
from pathlib import Path
from typing import Callable, Iterator, Sequence

from ..data import imbalance_knob, options  # imbalance_knob: the record's ``imbalance`` (bias, skew)
from ..ownership import check_output

__all__ = ["imbalance_separation", "study_spec", "study_frame", "STUDY_COLUMNS", "imbalance_knob"]

STUDY_COLUMNS = ["target", "imbalance", "severity", "seed", "accuracy", "eod", "deo_a", "worst_group_accuracy",
                 "seconds"]


def study_spec(*, dataset: str = "colored-mnist-5k", targets: Sequence[str] = ("vanilla", "uniform", "fairdd", "cobra"),
               imbalances: Sequence[float] = (0.5, 0.7, 0.9), severities: Sequence[int] = (0, 2, 4),
               seeds: Sequence[int] = (0,), ipc: int = 10, method: str = "dm", preset: str = "demo",
               n_models: int = 2, mode: str | None = "foreground", device: str = "auto",
               data: dict | None = None, eval_overrides: dict | None = None, **overrides):
    """The study's ``SweepSpec`` (``imbalance_separation``'s arguments; ``data``: more dataset knobs)."""
    from ..sweeps import make_spec

    knob = imbalance_knob(dataset)
    data = dict(data or {})
    if "mode" in options(dataset):
        data.setdefault("mode", mode or "foreground")
    elif mode not in (None, "foreground"):
        raise ValueError(f"mode {mode!r} does not apply to dataset {dataset!r}; it takes: {list(options(dataset))}")
    return make_spec(name="imbalance-separation", preset=preset, seeds=seeds, n_models=n_models, device=device,
                     grid={"dataset": [dataset], "method": [method], knob: [float(b) for b in imbalances],
                           "severity": [int(s) for s in severities], "target": list(targets), "ipc": [ipc]},
                     data=data, overrides=overrides, evaluate=eval_overrides or {})


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
    mode: str | None = "foreground",
    device: str = "auto",
    out: str | Path | None = None,
    callback: Callable[[dict], None] | None = None,
    eval_overrides: dict | None = None,
    data: dict | None = None,
    **overrides,
):
    """Run the grid (in this process) and return a DataFrame with ``STUDY_COLUMNS``.

    ``imbalances`` set ``bias`` (coloured sets) or ``skew`` (cifar10-s); ``severities`` the separation
    corruptions. ``overrides`` go to ``distill`` (e.g. ``iterations=100``), ``eval_overrides`` to
    ``evaluate``, ``data`` to ``fairdd.datasets.load`` (``mode`` only where the dataset has it).
    ``out``: the sweep folder (resumable; default a temporary one). ``callback(row)`` after each cell
    computed here (not for cells reused from ``out``).
    """
    from ..sweeps import Sweep

    spec = study_spec(dataset=dataset, targets=targets, imbalances=imbalances, severities=severities, seeds=seeds,
                      ipc=ipc, method=method, preset=preset, n_models=n_models, mode=mode, device=device, data=data,
                      eval_overrides=eval_overrides, **overrides)
    knob = imbalance_knob(dataset)
    with _folder(out, "study folder") as root:
        sweep = Sweep(spec, root, key=("target", knob, "severity", "seed"))
        done_cb = None if callback is None else (lambda cell, done: callback(_row(cell, done, knob)))
        sweep.run("inline", device=device, callback=done_cb)
        return study_frame(sweep, order=(targets, imbalances, severities, seeds))


def study_frame(sweep, *, order: tuple | None = None):
    """The finished cells of a study sweep as a ``STUDY_COLUMNS`` DataFrame, in the order
    (imbalance, severity, seed, target) of ``order = (targets, imbalances, severities, seeds)``."""
    import pandas as pd

    knob = imbalance_knob(sweep.cells[0].dataset) if sweep.cells else "bias"
    rows = {}
    for cell in sweep.cells:
        done = sweep.dir.read(cell.id, "done.json")
        if done is not None:
            row = _row(cell, done, knob)
            rows[(row["target"], row["imbalance"], row["severity"], row["seed"])] = row
    if order is not None:
        targets, imbalances, severities, seeds = order
        keys = [(t, float(b), int(s), int(e)) for b, s, e, t in itertools.product(imbalances, severities, seeds,
                                                                                    targets)]
        picked = [rows[k] for k in keys if k in rows]
    else:
        picked = list(rows.values())
    return pd.DataFrame(picked, columns=STUDY_COLUMNS)


def _row(cell, done: dict, knob: str) -> dict:
    return {"target": cell.target, "imbalance": float(cell.data[knob]), "severity": int(cell.data.get("severity", 0)),
            "seed": cell.seed, **{k: done[k] for k in ("accuracy", "eod", "deo_a", "worst_group_accuracy")},
            "seconds": done["distill_s"] + done["eval_s"], "cell": cell.id}


@contextlib.contextmanager
def _folder(out, what: str) -> Iterator[Path]:
    """``out`` checked as a folder, or a temporary folder removed afterwards."""
    if out is None:
        with tempfile.TemporaryDirectory(prefix="fairdd-") as tmp:
            yield Path(tmp)
        return
    path = Path(out)
    if path.is_file():
        raise FileExistsError(f"{what} {path} is a file (an older fairdd's results file?); the results are now "
                              "a sweep folder: give a folder path")
    yield check_output(path, kind="folder", what=what)
