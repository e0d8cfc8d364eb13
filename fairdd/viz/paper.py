"""Publication output: a consistent seaborn style, vector figures, and LaTeX tables."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import pandas as pd

from ..io import atomic_write
from ..palette import PAPER_CYCLE

__all__ = ["paper_style", "save_figure", "summary_table", "latex_table", "PALETTE"]

PALETTE = list(PAPER_CYCLE)  # Okabe–Ito, blue first (fairdd.palette)


def paper_style(*, context: str = "paper", font_scale: float = 1.0) -> None:
    """Seaborn 'ticks' style, colour-blind-safe palette, embedded TrueType fonts in PDF."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(context=context, style="ticks", palette=PALETTE, font_scale=font_scale)
    mpl.rcParams.update({"pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "none",
                         "figure.dpi": 110, "savefig.bbox": "tight"})


def save_figure(fig, path: str | Path, *, formats: tuple[str, ...] = ("pdf", "svg")) -> list[Path]:
    """Write ``path.<fmt>`` for every format, atomically. Returns the written paths."""
    path = Path(path)
    out = []
    for fmt in formats:
        target = path.with_suffix("." + fmt)
        atomic_write(target, lambda p, fmt=fmt: fig.savefig(p, format=fmt))
        out.append(target)
    return out


def summary_table(reports: Mapping[str, object]) -> pd.DataFrame:
    """One row per name from ``FairnessReport`` objects or ``{metric: value, "std": {...}}`` dicts.

    ``eod_floor`` is the EOD noise floor (``FairnessReport.noise_floor()``, or a dict's
    ``noise_floor_eod``); NaN where it is not known.
    """
    rows = []
    for name, r in reports.items():
        d = r.to_dict() if hasattr(r, "to_dict") else dict(r)
        row = {"strategy": name}
        for k in ("accuracy", "eod", "deo_a", "worst_group_accuracy"):
            row[k] = d[k]
            row[k + "_std"] = d.get("std", {}).get(k, float("nan"))
        floor = r.noise_floor().get("eod") if hasattr(r, "noise_floor") else d.get("noise_floor_eod")
        row["eod_floor"] = float("nan") if floor is None else float(floor)
        rows.append(row)
    return pd.DataFrame(rows).set_index("strategy")


def latex_table(table: pd.DataFrame, *, caption: str = "", label: str = "tab:fairdd",
                columns: tuple[str, ...] = ("accuracy", "eod", "deo_a")) -> str:
    """Write a booktabs table of mean ± std per strategy.

    The best value of each column is in bold (highest accuracy, lowest EOD / DEO_A). Where the table
    has an ``eod_floor`` column (``summary_table``), a footnote under the table gives each strategy's
    EOD noise floor: the EOD a perfectly fair model of the same accuracy scores on this test set.
    """
    heads = {"accuracy": r"Acc.\ (\%) $\uparrow$", "eod": r"EOD $\downarrow$", "deo_a": r"DEO$_A$ $\downarrow$",
             "worst_group_accuracy": r"Worst group (\%) $\uparrow$"}
    best = {c: (table[c].max() if c in ("accuracy", "worst_group_accuracy") else table[c].min()) for c in columns}
    lines = [r"\begin{table}[t]", r"\centering", r"\begin{tabular}{l" + "c" * len(columns) + "}", r"\toprule",
             "Strategy & " + " & ".join(heads[c] for c in columns) + r" \\", r"\midrule"]
    for name, row in table.iterrows():
        cells = []
        for c in columns:
            cell = "undefined" if row[c] != row[c] else f"{row[c]:.2f} $\\pm$ {row[c + '_std']:.2f}"  # NaN: not measured
            cells.append(rf"\textbf{{{cell}}}" if row[c] == best[c] else cell)
        lines.append(str(name).replace("_", r"\_") + " & " + " & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    floors = table["eod_floor"].dropna() if "eod_floor" in table else pd.Series(dtype=float)
    if len(floors):
        each = ", ".join(f"{str(n).replace('_', chr(92) + '_')} {v:.1f}" for n, v in floors.items())
        lines.append(r"\par\footnotesize EOD noise floor (a perfectly fair model of the same per-class "
                     rf"accuracy, on this test set): {each}.")
    if caption:
        lines.append(rf"\caption{{{caption}}}")
    lines += [rf"\label{{{label}}}", r"\end{table}"]
    return "\n".join(lines) + "\n"
