"""Publication output: a consistent seaborn style, vector figures, and LaTeX tables.

Units, the same everywhere in fairdd: accuracy in %, EOD and DEO_A in percentage points (pp: a
difference of two accuracies in %). The spread shown is ± 1 standard deviation over the evaluation
models, and every figure and table says so (it is not a confidence interval).
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import pandas as pd

from ..ownership import check_owned, write_owned
from ..data import imbalance_knob
from ..palette import PAPER_CYCLE, strategy_colour
from ..tables import _spread, latex_table, summary_table  # the tables, here too: beside the figures

__all__ = ["paper_style", "save_figure", "save_text", "summary_table", "latex_table", "accuracy_eod_figure",
           "caption", "metrics_chart", "PALETTE", "UNITS"]

PALETTE = list(PAPER_CYCLE)  # Okabe–Ito, blue first (fairdd.palette)
UNITS = {"accuracy": "%", "eod": "pp", "deo_a": "pp", "worst_group_accuracy": "%"}  # pp: percentage points
_NAMES = {"accuracy": "accuracy", "eod": "EOD", "deo_a": "DEO_A", "worst_group_accuracy": "worst group"}


def paper_style(*, context: str = "paper", font_scale: float = 1.0) -> None:
    """Seaborn 'ticks' style, colour-blind-safe palette, embedded TrueType fonts in PDF."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(context=context, style="ticks", palette=PALETTE, font_scale=font_scale)
    mpl.rcParams.update({"pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "none",
                         "figure.dpi": 110, "savefig.bbox": "tight"})


def save_figure(fig, path: str | Path, *, formats: tuple[str, ...] = ("pdf", "svg")) -> list[Path]:
    """Write ``path.<fmt>`` for every format, atomically. Returns the written paths.

    Every target is checked first: a file there that fairdd did not write is never replaced
    (``fairdd.ownership``), and then nothing is written.
    """
    path = Path(path)
    targets = [path.with_suffix("." + fmt) for fmt in formats]
    for target in targets:
        check_owned(target, what="figure")
    for target, fmt in zip(targets, formats):
        write_owned(target, lambda p, fmt=fmt: fig.savefig(p, format=fmt), what="figure")
    return targets


def save_text(text: str, path: str | Path) -> Path:
    """Write ``text`` (a LaTeX or Markdown table) to ``path`` atomically.

    A file there that fairdd did not write is never replaced (``fairdd.ownership``).
    """
    return write_owned(path, lambda p: Path(p).write_text(text), what="table")


def accuracy_eod_figure(table: pd.DataFrame, *, metrics: tuple[str, ...] = ("accuracy", "eod"),
                        figsize: tuple[float, float] = (6.5, 2.6)):
    """Bar chart of ``metrics`` per strategy from a ``summary_table``, one panel each.

    Bars are the mean, error bars ± 1 std over the evaluation models (said under the figure, with
    their number); accuracy in %, EOD / DEO_A in percentage points (``UNITS``). Drawn on a bare
    ``Figure`` (no pyplot), so it is shown once in a notebook: display the returned figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics):
        ax.bar(table.index, table[metric], yerr=table[metric + "_std"], color=PALETTE[: len(table)], capsize=2)
        ax.set_ylabel(f"{_NAMES[metric]} ({UNITS[metric]})")
        ax.tick_params(axis="x", rotation=30)
    fig.supxlabel(f"error bars: ± 1 std {_spread(table)}", fontsize="small")
    return fig


def caption(result, *, n_models: int | None = None) -> str:
    """Derive a table caption from a distilled result (``DistillResult`` or ``fairdd.load_result``).

    Names the dataset as built (its recorded knobs: mode, bias / skew, severity, group attribute, data
    draw), the IPC, the matcher and the preset, e.g. ``"colored-digits (foreground, bias 0.9), IPC 2,
    DM, preset smoke."``; with ``n_models`` it ends with the spread the table shows.
    """
    info = dict((result.dataset or {}).get("info") or {})
    config = dict(result.config or {})
    imbalance = imbalance_knob(str(info.get("name")), strict=False)  # bias, skew: the record's
    knobs = [info.get("mode")] + [f"{k} {info[k]}" for k in (imbalance, "severity", "group")
                                  if k is not None and info.get(k) not in (None, 0)]
    knobs.append("the authors' data draw" if info.get("seed", "?") is None else f"data seed {info.get('seed', '?')}")
    built = ", ".join(k for k in knobs if k)
    text = (f"{info.get('name', 'unknown dataset')} ({built}), IPC {config.get('ipc', '?')}, "
            f"{str(config.get('method', '?')).upper()}, preset {config.get('preset', '?')}.")
    if n_models is not None:
        text += f" Mean ± std over {n_models} evaluation models."
    return text


def metrics_chart(path: str | Path, metrics: Mapping[str, Mapping]) -> Path:
    """Write a PNG of accuracy and EOD per strategy, ± 1 std over models, EOD's noise floor dashed.

    Drawn on a bare ``Figure`` (no pyplot, no backend switch), so it is safe inside a notebook; the
    file is written as ``fairdd.ownership.write_owned`` does (a file fairdd did not write is never
    replaced).

    Parameters
    ----------
    path : path
        The PNG to write.
    metrics : mapping
        Strategy → its metrics as ``metrics.json`` of the demo holds them (``DemoRow.metrics``):
        ``accuracy``, ``eod``, ``std`` (per metric), optionally ``noise_floor`` and ``n_models``.

    Returns
    -------
    Path
        The file written.
    """
    from matplotlib.figure import Figure

    names = list(metrics)
    fig = Figure(figsize=(9, 3.2))
    axes = fig.subplots(1, 2)
    colours = [strategy_colour(n, i) for i, n in enumerate(names)]  # Okabe–Ito, colour-blind safe
    for ax, key, title in ((axes[0], "accuracy", "Accuracy (%) ↑"), (axes[1], "eod", "EOD (pp) ↓")):
        vals = [metrics[n][key] for n in names]
        errs = [metrics[n]["std"][key] for n in names]
        ax.bar(names, vals, yerr=errs, color=colours, capsize=3)
        ax.set_title(title)
        ax.set_ylim(0, 105)
        ax.tick_params(axis="x", rotation=20)
    marks = [(i, metrics[n]["noise_floor"]["eod"]) for i, n in enumerate(names) if "noise_floor" in metrics[n]]
    if marks:  # each strategy's floor: the EOD a perfectly fair model of its accuracy scores on this test set
        axes[1].hlines([f for _, f in marks], [i - 0.4 for i, _ in marks], [i + 0.4 for i, _ in marks],
                       colors="k", linestyles="--", lw=1.2, label="noise floor (fair model)")
        axes[1].legend(loc="lower right", fontsize=8)
    models = sorted({metrics[n].get("n_models") for n in names} - {None})
    fig.supxlabel(f"error bars: ± 1 std over {' or '.join(map(str, models))} evaluation models; "
                  "pp: percentage points", fontsize=8)
    fig.tight_layout()
    return write_owned(path, lambda p: fig.savefig(p, format="png", dpi=120), what="metrics chart")
