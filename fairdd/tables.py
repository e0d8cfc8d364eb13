"""Result tables as text: one row per strategy, mean ± std, as Markdown or booktabs LaTeX.

Units as everywhere in fairdd: accuracy in %, EOD and DEO_A in percentage points (pp). The spread
is ± 1 standard deviation over the evaluation models, and every table says so. A metric the test
set cannot measure is NaN in the frame and reads "undefined" in the text, never ``nan``. Plain text
only (pandas, no plotting), so every layer that writes a table can use it; ``fairdd.viz.paper``
shows the same functions beside the figures.
"""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

__all__ = ["summary_table", "latex_table", "markdown"]


def markdown(frame: pd.DataFrame) -> str:
    """Give ``frame`` as a Markdown table (``DataFrame.to_markdown``), or aligned text without ``tabulate``."""
    try:
        import tabulate  # noqa: F401  (an optional dependency of pandas' to_markdown)
    except ImportError:
        return frame.to_string()
    return frame.to_markdown()


def summary_table(reports: Mapping[str, object]) -> pd.DataFrame:
    """One row per name from ``FairnessReport`` objects or ``{metric: value, "std": {...}}`` dicts.

    ``eod_floor`` is the EOD noise floor (``FairnessReport.noise_floor()``, or a dict's
    ``noise_floor_eod``); NaN where it is not known. ``n_models`` is the number of evaluation models
    the ± std is over (a report's, or a dict's ``n_models``); NaN where it is not known.
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
        models = r.n_models if hasattr(r, "n_models") else d.get("n_models")
        row["n_models"] = float("nan") if models is None else int(models)
        rows.append(row)
    return pd.DataFrame(rows).set_index("strategy")


def latex_table(table: pd.DataFrame, *, caption: str = "", label: str = "tab:fairdd",
                columns: tuple[str, ...] = ("accuracy", "eod", "deo_a")) -> str:
    """Write a booktabs table of mean ± std per strategy.

    The best value of each column is in bold (highest accuracy, lowest EOD / DEO_A). Where the table
    has an ``eod_floor`` column (``summary_table``), a footnote under the table gives each strategy's
    EOD noise floor: the EOD a perfectly fair model of the same accuracy scores on this test set.
    """
    heads = {"accuracy": r"Acc.\ (\%) $\uparrow$", "eod": r"EOD (pp) $\downarrow$",
             "deo_a": r"DEO$_A$ (pp) $\downarrow$", "worst_group_accuracy": r"Worst group (\%) $\uparrow$"}
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
    lines.append(r"\par\footnotesize Mean $\pm$ std " + _spread(table)
                 + " (not a confidence interval); pp: percentage points.")
    floors = table["eod_floor"].dropna() if "eod_floor" in table else pd.Series(dtype=float)
    if len(floors):
        each = ", ".join(f"{str(n).replace('_', chr(92) + '_')} {v:.1f}" for n, v in floors.items())
        lines.append(r"\par\footnotesize EOD noise floor (a perfectly fair model of the same per-class "
                     rf"accuracy, on this test set): {each}.")
    if caption:
        lines.append(rf"\caption{{{caption}}}")
    lines += [rf"\label{{{label}}}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def _spread(table: pd.DataFrame) -> str:
    """``"over 3 evaluation models"`` from the table's ``n_models`` (or ``"over the evaluation models"``)."""
    counts = sorted({int(n) for n in table["n_models"].dropna()}) if "n_models" in table else []
    return ("over " + " or ".join(map(str, counts)) if counts else "over the") + " evaluation models"
