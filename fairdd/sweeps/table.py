"""The paper table of a sweep directory.

Rows method × target, columns dataset × IPC, cells accuracy and EOD as mean ± std over seeds, with the published
numbers beside ours where known, and beside each entry the noise floor: the EOD / DEO_A that a perfectly fair model
of the same per-class accuracy scores on that test set from sampling noise alone (``FairnessReport.noise_floor``).

    table = fairdd.sweeps.load_table("results/sweeps/smoke")
    text = table.markdown(); table.save("results/sweeps/smoke")   # table.md, table.tex, table.csv, cells.csv

Everything is read from the cells' ``done.json`` files, so a moved or copied directory gives the same
table. With one seed the ± is the spread over the cell's evaluation models (``std_over`` says which).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from .store import SweepDir

__all__ = ["SweepTable", "load_table", "METRICS", "FLOORS"]

METRICS = ("accuracy", "eod", "deo_a", "worst_group_accuracy")
FLOORS = ("eod", "deo_a")  # metrics with a noise floor
FLOOR_COLUMN = "floor EOD / DEO_A"


@dataclass
class SweepTable:
    """``cells``.

    One row per finished cell (tidy). ``summary``: one row per (rows × columns) entry with mean, std and number of
    seeds per metric and the published accuracy / EOD. ``rows``/``columns``: the axes of the wide layout.
    """

    cells: "object"
    summary: "object"
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    damaged: dict = field(default_factory=dict)  # cell id → what is wrong with its done.json (left out)

    @property
    def has_floor(self) -> bool:
        """Whether the cells' reports gave a noise floor (sweeps run before it existed have none)."""
        return bool(len(self.summary)) and "eod_floor" in self.summary and self.summary["eod_floor"].notna().any()

    def wide(self, *, published: bool = True, floor: bool = True):
        """Return the paper layout.

        A DataFrame of strings ``"acc ± s / EOD ± s"`` (published in brackets), each column followed by its
        noise-floor column ``"EOD floor / DEO_A floor"`` (with ``floor`` and where the reports give one); a floor
        column's label ends with ``FLOOR_COLUMN``.
        """
        import pandas as pd

        if not len(self.summary):
            return pd.DataFrame()
        s = self.summary.copy()
        s["text"] = [_entry(r, published) for r in s.to_dict(orient="records")]
        wide = s.pivot_table(index=list(self.rows), columns=list(self.columns), values="text", aggfunc="first",
                             sort=False)
        if not (floor and self.has_floor):
            return wide
        s["floor"] = [_floor(r) for r in s.to_dict(orient="records")]
        floors = s.pivot_table(index=list(self.rows), columns=list(self.columns), values="floor", aggfunc="first",
                               sort=False).reindex(index=wide.index, columns=wide.columns)
        out = {}
        for col in wide.columns:
            key = col if isinstance(col, tuple) else (col,)
            out[key + ("",)] = wide[col]
            out[key + (FLOOR_COLUMN,)] = floors[col]
        return pd.DataFrame(out, index=wide.index)

    def markdown(self, *, published: bool = True) -> str:
        """Return the paper layout as a markdown table (with the damage note when cells are damaged)."""
        wide = self.wide(published=published)
        if not len(wide):
            return "(no finished cells)" + (f"\n\n{self.damage_note()}\n" if self.damaged else "")
        head = [" / ".join(self.rows)] + [_col_name(c, self.columns) for c in wide.columns]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for idx, row in wide.iterrows():
            idx = idx if isinstance(idx, tuple) else (idx,)
            lines.append("| " + " / ".join(map(str, idx)) + " | " + " | ".join(
                "—" if not isinstance(v, str) else v for v in row.tolist()) + " |")
        note = self._note() + (f"\n\n{self.damage_note()}" if self.damaged else "")
        return "\n".join(lines) + "\n\n" + note + "\n"

    def latex(self, *, published: bool = True, caption: str = "", label: str = "tab:sweep") -> str:
        r"""Return a booktabs table (``\usepackage{booktabs}``)."""
        wide = self.wide(published=published)
        cols = list(wide.columns) if len(wide) else []
        spec = "l" * len(self.rows) + "c" * len(cols)
        out = ["\\begin{table}[t]", "\\centering", f"\\begin{{tabular}}{{{spec}}}", "\\toprule"]
        out.append(" & ".join([_tex(r) for r in self.rows] + [_tex(_col_name(c, self.columns)) for c in cols])
                   + " \\\\")
        out.append("\\midrule")
        for idx, row in wide.iterrows():
            idx = idx if isinstance(idx, tuple) else (idx,)
            cells = [_tex(str(i)) for i in idx] + [
                _tex(v).replace("±", "$\\pm$") if isinstance(v, str) else "--" for v in row.tolist()]
            out.append(" & ".join(cells) + " \\\\")
        out += ["\\bottomrule", "\\end{tabular}"]
        text = _tex(caption or self._note()).replace("±", "$\\pm$")
        out.append(f"\\caption{{{text}}}")
        out += [f"\\label{{{label}}}", "\\end{table}"]
        if self.damaged:
            out.append("% " + self.damage_note().replace("**", ""))
        return "\n".join(out) + "\n"

    def save(self, directory: str | Path) -> list[Path]:
        """Write table.md, table.tex, table.csv (summary, tidy) and cells.csv (one row per cell).

        All four are checked first: a file there that fairdd did not write is never replaced
        (``fairdd.ownership``), and then nothing is written.
        """
        from ..ownership import check_owned, write_owned

        d = Path(directory)
        md, tex = self.markdown(), self.latex()
        writes = {"table.md": lambda p: p.write_text(md), "table.tex": lambda p: p.write_text(tex),
                  "table.csv": lambda p: self.summary.to_csv(p, index=False),
                  "cells.csv": lambda p: self.cells.to_csv(p, index=False)}
        for name in writes:
            check_owned(d / name, what="sweep table")
        return [write_owned(d / name, write, what="sweep table") for name, write in writes.items()]

    def _near_misses(self) -> list[str]:
        """Why an entry whose dataset and target a paper reports has no number beside it, once each."""
        if not len(self.summary) or "published_near_miss" not in self.summary:
            return []
        rows = self.summary[self.summary["published_near_miss"].astype(bool)]
        return list(dict.fromkeys(f"{r['dataset']} {r['target']}: {r['published_source']}"
                                  for r in rows.to_dict(orient="records")))

    def _undefined(self) -> list[str]:
        """Why an entry's EOD reads "undefined": ``"<row> at <column>: EOD undefined (<why>)"``, once each."""
        from ..report import shown

        if not len(self.summary) or "eod_undefined" not in self.summary:
            return []
        out = []
        for r in self.summary.to_dict(orient="records"):
            if math.isnan(r["eod_mean"]):
                where = " / ".join(str(r[k]) for k in self.rows) + " at " + " ".join(str(r[k]) for k in self.columns)
                out.append(f"{where}: EOD {shown(r['eod_mean'], r['eod_undefined'] or None)}")
        return list(dict.fromkeys(out))

    def damage_note(self) -> str:
        """One line naming the cells left out because their ``done.json`` is damaged ("" if none)."""
        if not self.damaged:
            return ""
        return (f"**{len(self.damaged)} damaged cell(s) left out** (rerun with --retry-failed): "
                + "; ".join(f"{cid}: {why}" for cid, why in self.damaged.items()))

    def _note(self) -> str:
        over = sorted(set(self.summary["std_over"])) if len(self.summary) else []
        txt = "Accuracy % / EOD (mean ± std over " + " or ".join(over or ["seeds"]) + ")"
        if len(self.summary) and self.summary["published_accuracy"].notna().any():
            txt += "; [published accuracy / EOD] where a paper gives them at exactly these settings"
        misses = self._near_misses()
        if misses:
            txt += "; " + "; ".join(misses)
        txt += "".join(f"; {u}" for u in self._undefined())
        if self.has_floor:
            txt += (f"; {FLOOR_COLUMN}: what a perfectly fair model of the same per-class accuracy scores on "
                    "this test set from sampling noise alone (mean over seeds); an EOD near it is no evidence "
                    "of bias")
        return txt + "."


def load_table(directory: str | Path, *, rows: Sequence[str] = ("method", "target"),
               columns: Sequence[str] | None = None) -> SweepTable:
    """Assemble the table of the finished cells of the sweep in ``directory``.

    rows, columns : grid axes (``dataset``, ``method``, ``target``, ``ipc``, data knobs, ...). Columns
        default to dataset (with ``mode`` when it varies) and IPC, then any other varying axis but seed.
    """
    import pandas as pd

    from ..published import cell_comparison

    store = SweepDir(directory)
    all_cells = store.stored_spec().cells()
    records, damaged = [], {}
    for c in all_cells:
        why = store.damage(c.id)
        if why:
            damaged[c.id] = why
            continue
        done = store.read(c.id, "done.json")
        if done is None:
            continue
        rec = {"cell": c.id, "dataset": c.dataset, "mode": c.data.get("mode", "foreground"), "method": c.method,
               "target": c.target, "ipc": c.ipc, "seed": c.seed, "preset": c.preset,
               **{k: v for k, v in c.axes.items() if k not in ("dataset", "method", "target", "ipc", "seed")}}
        undefined = done.get("undefined")
        if undefined is None:  # cells finished before done.json carried it: the report has it
            undefined = (store.read(c.id, "report.json") or {}).get("undefined") or {}
        for m in METRICS:
            rec[m] = float(done[m])
            rec[f"{m}_undefined"] = undefined.get(m, "")  # why the test set cannot measure it
            rec[f"{m}_models_std"] = float(done.get("std", {}).get(m, float("nan")))
        floor = done.get("noise_floor")
        if floor is None:  # cells finished before done.json carried it: the report has it
            floor = (store.read(c.id, "report.json") or {}).get("noise_floor") or {}
        for m in FLOORS:
            rec[f"{m}_floor"] = float(floor.get(m, float("nan")))
        rec.update(n_models=done.get("n_models"), distill_s=done.get("distill_s"), eval_s=done.get("eval_s"),
                   device=done.get("device_name", done.get("device")), data_seed=c.data_seed)
        pub = cell_comparison(c)  # the published number this cell may stand beside, or why none
        rec.update(published_accuracy=pub.accuracy, published_eod=pub.eod, published_source=pub.source,
                   published_near_miss=pub.near_miss)
        records.append(rec)
    cells = pd.DataFrame(records)
    axes = [a for a in dict.fromkeys(["dataset", "mode", "method", "target", "ipc",
                                      *[k for c in all_cells for k in c.axes]]) if a != "seed"]
    varying = [a for a in axes if a in cells and cells[a].astype(str).nunique() > 1] if len(cells) else []
    rows = tuple(rows)
    if columns is None:
        columns = ["dataset"] + (["mode"] if "mode" in varying else []) + ["ipc"]
        columns += [a for a in varying if a not in columns and a not in rows]
    columns = tuple(columns)
    bad = sorted(set(rows + columns) - set(axes))
    if bad:
        raise ValueError(f"unknown table axis {bad}; allowed: {axes}")
    keys = list(rows + columns)
    keys += [a for a in ("dataset", "mode", "method", "ipc", "preset") if a not in keys]
    if not len(cells):
        return SweepTable(cells=cells, summary=pd.DataFrame(columns=keys), rows=rows, columns=columns,
                          damaged=damaged)
    summary = _summarise(cells, keys)
    return SweepTable(cells=cells, summary=summary, rows=rows, columns=columns, damaged=damaged)


def _summarise(cells, keys: list[str]):
    import pandas as pd

    out = []
    for key, grp in cells.groupby(keys, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        rec = dict(zip(keys, key))
        n = len(grp)
        rec["n_seeds"] = n
        rec["std_over"] = "seeds" if n > 1 else "models"
        for m in METRICS:
            rec[f"{m}_undefined"] = "; ".join(dict.fromkeys(w for w in grp[f"{m}_undefined"] if w))
            vals = grp[m].to_numpy(dtype=float)
            rec[f"{m}_mean"] = float(vals.mean())
            rec[f"{m}_std"] = float(vals.std()) if n > 1 else float(grp[f"{m}_models_std"].iloc[0])
        for m in FLOORS:  # the floor moves with the accuracy: averaged over the same seeds
            rec[f"{m}_floor"] = float(grp[f"{m}_floor"].to_numpy(dtype=float).mean())
        rec.update(_published(grp))
        out.append(rec)
    return pd.DataFrame(out)


def _published(grp) -> dict:
    """Return the published number beside an entry.

    Only when every cell of it matches the same published row (``fairdd.experiments.compare``), else NaN and the
    reason of a cell that does not.
    """
    cells = grp[["published_accuracy", "published_eod", "published_source", "published_near_miss"]]
    rows = list(cells.itertuples(index=False, name=None))
    matched = [r for r in rows if not math.isnan(r[0])]
    if len(matched) == len(rows) and len(set(matched)) == 1:
        acc, eod, source, _ = rows[0]
        return {"published_accuracy": acc, "published_eod": eod, "published_source": source,
                "published_near_miss": False}
    reason = next((r[2] for r in rows if math.isnan(r[0])), "the entry's cells match different published rows")
    return {"published_accuracy": float("nan"), "published_eod": float("nan"), "published_source": reason,
            "published_near_miss": bool(grp["published_near_miss"].any())}


def _entry(r: dict, published: bool) -> str:
    eod = "undefined" if math.isnan(r["eod_mean"]) else f"{r['eod_mean']:.2f} ± {r['eod_std']:.2f}"  # not measured
    text = f"{r['accuracy_mean']:.2f} ± {r['accuracy_std']:.2f} / {eod}"
    if published and not math.isnan(r["published_accuracy"]):
        text += f" [{r['published_accuracy']:.2f} / {r['published_eod']:.2f}]"
    return text


def _floor(r: dict) -> str:
    return "—" if math.isnan(r["eod_floor"]) else f"{r['eod_floor']:.2f} / {r['deo_a_floor']:.2f}"


def _col_name(col, names: Sequence[str]) -> str:
    col = col if isinstance(col, tuple) else (col,)
    if len(col) == len(names) + 1:  # a value column ("") or its floor column
        return FLOOR_COLUMN if col[-1] == FLOOR_COLUMN else _col_name(col[:-1], names)
    return " ".join(str(v) if n in ("dataset", "mode") else f"{'IPC' if n == 'ipc' else n} {v}"
                    for n, v in zip(names, col))


def _tex(text: str) -> str:
    for a, b in (("\\", "\\textbackslash{}"), ("&", "\\&"), ("%", "\\%"), ("_", "\\_"), ("#", "\\#")):
        text = text.replace(a, b)
    return text
