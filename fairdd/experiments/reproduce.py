"""``reproduce``: a preset's protocol for several targets on one experiment, beside the published numbers.

It is a sweep over ``target`` (``fairdd.sweeps``): with ``out=`` each target's run writes its own folder
(``out/cells/<cell>/``: the result, the report, ``done.json``), so two processes never share a file, a
rerun reuses the finished targets, and a rerun with other settings into the same folder is refused,
naming what differs. ``fairdd sweep status out`` and ``fairdd sweep table out --rows target`` read it too.
With ``out=`` the run ends by writing ``out/table.md`` and ``out/table.tex`` (``save_tables``: atomic,
and never over a file fairdd did not write, which is checked before any work).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Sequence

from ..data import options
from ..ownership import OutputFolder, check_output
from ..published import cell_comparison
from ..tables import latex_table, markdown, summary_table
from .study import _folder

__all__ = ["reproduce", "reproduce_spec", "reproduce_frame", "shown_table", "reproduce_markdown", "reproduce_latex",
           "save_tables", "check_tables", "protocol_summary", "REPRODUCE_METRICS", "TABLE_COLUMNS", "TABLE_FILES"]

REPRODUCE_METRICS = ("accuracy", "eod", "deo_a", "worst_group_accuracy")
TABLE_COLUMNS = ("accuracy", "accuracy_std", "eod", "eod_std", "noise_floor_eod", "deo_a", "published_accuracy",
                 "published_eod", "published_source", "distill_s", "eval_s", "ms_per_iteration")  # table.md's
TABLE_FILES = ("table.md", "table.tex")


def reproduce_spec(*, dataset: str = "colored-fashion-mnist", mode: str | None = None, method: str = "dm",
                   ipc: int = 10, targets: Sequence[str] = ("random", "vanilla", "fairdd", "cobra"),
                   preset: str = "paper", n_models: int | None = None, seed: int = 0, data_seed: int | None = None,
                   device: str = "auto", root=None, data: dict | None = None, eval_overrides: dict | None = None,
                   **overrides):
    """The ``SweepSpec`` ``reproduce`` runs. Only the knobs ``dataset`` takes reach its loader: ``mode``
    (None: the dataset's own) is an error for a dataset without it, and so is any ``data`` knob.
    ``seed`` is the run's; ``data_seed`` the data draw (None: the authors')."""
    from ..config import eval_config
    from ..sweeps import make_spec

    takes = options(dataset)
    data = dict(data or {})
    if mode is not None:
        data["mode"] = mode
    if root is not None:
        data["root"] = str(root)
    if data_seed is not None:
        data["data_seed"] = data_seed
    bad = sorted(set(data) - set(takes) - {"data_seed"})
    if bad:
        raise ValueError(f"dataset {dataset!r} does not take {bad}; it takes: {list(takes)}")
    protocol = eval_config(preset=preset, method=method, **(eval_overrides or {}))  # validates the overrides
    if n_models is None:  # the preset's for the method, as evaluate() would choose
        n_models = protocol.n_models
    return make_spec(name="reproduce", preset=preset, seeds=[seed], n_models=n_models, device=device,
                     grid={"dataset": [dataset], "method": [method], "target": list(targets), "ipc": [ipc]},
                     data=data, overrides=overrides, evaluate=eval_overrides or {})


def reproduce(
    *,
    dataset: str = "colored-fashion-mnist",
    mode: str | None = None,
    method: str = "dm",
    ipc: int = 10,
    targets: Sequence[str] = ("random", "vanilla", "fairdd", "cobra"),
    preset: str = "paper",
    n_models: int | None = None,
    seed: int = 0,
    data_seed: int | None = None,
    device: str = "auto",
    out: str | Path | None = None,
    root=None,
    download: bool = False,
    callback: Callable[[dict], None] | None = None,
    eval_overrides: dict | None = None,
    data: dict | None = None,
    **overrides,
):
    """Run the ``preset``'s protocol for ``targets`` (``"random"`` = random real subset) and return a
    DataFrame indexed by target: metrics (mean ± std over ``n_models``, default the preset's for
    ``method``), the published accuracy / EOD where a published row's full setting equals the run's
    (``fairdd.experiments.compare``: dataset knobs, data draw, preset, no ``overrides`` /
    ``eval_overrides``, the preset's ``n_models``) with its source in ``published_source`` — else NaN
    and ``published_source`` says "no published number for these settings" and which knob differs —,
    the run seed and the data draw (``seed``, ``data_seed``; None: the authors'), distillation and
    evaluation seconds, ms per iteration and peak GPU memory.

    seed : the run's seed (initialisation, batches, evaluation models).
    data_seed : the data draw; ``None`` (default) is the authors' (``fairdd.datasets.load``).

    mode, data : dataset knobs (``fairdd.datasets.options(dataset)``): ``mode`` (default the dataset's
        own; coloured sets only), ``data`` e.g. ``{"skew": 0.9}`` for cifar10-s, ``{"style": "clean"}``.
    out : the sweep folder (module docstring), ending with ``table.md`` and ``table.tex`` (``save_tables``);
        default a temporary one (and no tables).
    download : fetch missing files first (``colored-mnist``, ``colored-fashion-mnist``).
    callback : called with each row computed here (``{"target": ..., **row}``), not with reused ones.
    """
    from ..sweeps import Sweep

    spec = reproduce_spec(dataset=dataset, mode=mode, method=method, ipc=ipc, targets=targets, preset=preset,
                          n_models=n_models, seed=seed, data_seed=data_seed, device=device, root=root, data=data,
                          eval_overrides=eval_overrides, **overrides)
    if out is not None:
        check_tables(out)  # before any work: a user's table.md / table.tex there is never replaced
    if download:  # fetch the files here, once; the cells then read them (download is not a setting)
        from .. import datasets

        knobs = datasets.test_knobs(dataset, {k: v for k, v in spec.data.items() if k != "data_seed"})
        datasets.load(dataset, split="test", download=True, **knobs)
    with _folder(out, "reproduce folder") as folder:
        sweep = Sweep(spec, folder, key=("target",))
        done_cb = None if callback is None else (lambda cell, done: callback({"target": cell.target,
                                                                              **_row(cell, done)}))
        sweep.run("inline", device=device, callback=done_cb)
        frame = reproduce_frame(sweep, targets=targets)
    if out is not None:
        save_tables(frame, out)
    return frame


def reproduce_frame(sweep, *, targets: Sequence[str] | None = None):
    """The finished cells of a reproduce sweep as its DataFrame (index: target, in ``targets`` order)."""
    import pandas as pd

    rows = {}
    for cell in sweep.cells:
        done = sweep.dir.read(cell.id, "done.json")
        if done is not None:
            rows[cell.target] = _row(cell, done)
    order = [t for t in (targets or [c.target for c in sweep.cells]) if t in rows]
    frame = pd.DataFrame.from_dict({t: rows[t] for t in order}, orient="index")
    frame.index.name = "target"
    return frame


def shown_table(frame, columns: Sequence[str]):
    """The columns of a ``reproduce_frame`` as text, as ``table.md`` shows them.

    A metric the test set cannot measure reads ``"undefined (<why>)"`` (``fairdd.report.shown``, the
    reason from the cell's ``done.json``), never ``nan``; any other missing number reads ``"—"``.
    """
    from ..report import shown

    def text(row: dict, col: str) -> str:
        value = row[col]
        if isinstance(value, str):
            return value
        if col in REPRODUCE_METRICS:
            return shown(float(value), (row.get("undefined") or {}).get(col))
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "—"
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    import pandas as pd

    rows = frame.to_dict(orient="index")
    return pd.DataFrame({c: [text(rows[t], c) for t in frame.index] for c in columns}, index=frame.index)


def reproduce_markdown(frame) -> str:
    """Give ``table.md``'s text: the ``TABLE_COLUMNS`` of a ``reproduce_frame`` as ``shown_table`` shows them."""
    return markdown(shown_table(frame, TABLE_COLUMNS))


def reproduce_latex(frame) -> str:
    """Give ``table.tex``'s text: a booktabs table (``fairdd.tables.latex_table``) of mean ± std per target."""
    rows = {t: {**r, "std": {k: r[f"{k}_std"] for k in REPRODUCE_METRICS}}
            for t, r in frame.to_dict(orient="index").items()}
    return latex_table(summary_table(rows))


def check_tables(out: str | Path) -> Path:
    """Check, before any work, that ``out`` is (or can become) a folder whose ``TABLE_FILES`` fairdd may write.

    Raises ``FileExistsError`` naming a file there that fairdd did not write (``fairdd.ownership``),
    or ``out`` itself where it is a file.
    """
    out = check_output(out, kind="folder", what="reproduce output")
    for name in TABLE_FILES:
        check_output(out / name, kind="file", what="reproduce table")
    return out


def save_tables(frame, out: str | Path) -> list[Path]:
    """Write ``out/table.md`` (``reproduce_markdown``) and ``out/table.tex`` (``reproduce_latex``).

    Each is written atomically under the folder's manifest (``fairdd.ownership``): a file of that
    name that fairdd did not write is never replaced. Returns the paths written.
    """
    texts = {"table.md": reproduce_markdown(frame) + "\n", "table.tex": reproduce_latex(frame)}
    with OutputFolder(check_output(out, kind="folder", what="reproduce output")).locked() as folder:
        return [folder.write(name, lambda p, text=texts[name]: p.write_text(text), what="reproduce table")
                for name in TABLE_FILES]


def protocol_summary(*, method: str = "dm", ipc: int = 10,
                     targets: Sequence[str] = ("random", "vanilla", "fairdd", "cobra"), preset: str = "paper",
                     n_models: int | None = None, eval_overrides: dict | None = None, **overrides) -> str:
    """Say what ``reproduce`` with these settings will run, in one line.

    E.g. ``"vanilla (20000 iterations), cobra (20000 iterations), the random subset, each evaluated with
    10 models × 300 epochs"``; ``n_models`` None is the preset's for ``method``, as ``reproduce`` uses.
    """
    from ..config import distill_config, eval_config

    from ..validate import check_int

    protocol = eval_config(preset=preset, method=method, **(eval_overrides or {}))
    n_models = protocol.n_models if n_models is None else check_int("n_models", n_models, 1)
    runs = [f"{t} ({distill_config(method=method, target=t, ipc=ipc, preset=preset, **overrides).iterations} "
            "iterations)" for t in targets if t != "random"]
    runs += ["the random subset"] if "random" in targets else []
    return f"{', '.join(runs)}, each evaluated with {n_models} models × {protocol.epochs} epochs"


def _row(cell, done: dict) -> dict:
    pub = cell_comparison(cell)
    pub = (pub.accuracy, pub.eod, pub.source)
    std = done.get("std", {})
    return {**{k: done[k] for k in REPRODUCE_METRICS}, "undefined": done.get("undefined") or {},
            **{f"{k}_std": std.get(k, float("nan")) for k in REPRODUCE_METRICS},
            "published_accuracy": pub[0], "published_eod": pub[1], "published_source": pub[2],
            "n_models": done["n_models"], "seed": cell.seed, "data_seed": cell.data_seed,
            "iterations": done["iterations"], "distill_s": done["distill_s"],
            "eval_s": done["eval_s"], "ms_per_iteration": done["ms_per_iteration"],
            "peak_gpu_gb": done["peak_gpu_gb"], "noise_floor_eod": done.get("noise_floor", {}).get("eod"),
            "noise_floor_deo_a": done.get("noise_floor", {}).get("deo_a"), "cell": cell.id}
