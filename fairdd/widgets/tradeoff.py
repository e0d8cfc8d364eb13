"""The fairness / accuracy trade-off explorer.

Slide the barycenter's group weights from size-proportional (the pooled mean, vanilla's target) to uniform (COBRA),
together with IPC.

For a mix λ ∈ [0, 1] the class-y target is the weighted mean of its present groups' statistics with

    w_{y,a} = (1 − λ) · n_{y,a} / Σ_a' n_{y,a'}  +  λ · 1 / |𝒜_y|

(n_{y,a}: the group's count in the real batch, 𝒜_y: the groups present in class y's batch). λ = 0
is the pooled mean, λ = 1 COBRA's uniform barycenter. The ends are the real runs, not imitations:
λ = 0 *is* the vanilla run (target ``vanilla`` with the preset's vanilla configuration) and λ = 1 *is*
the COBRA run (target ``cobra``); the points in between use COBRA's configuration for the preset (outer
distance, warm start) with the mixed weights (target ``cobra-mix``). Under the demo and paper presets
vanilla and COBRA also differ in distance (L2 / L1) and warm start, so the step from λ = 0 to the first
λ > 0 changes those too; each row says which ``target`` it ran. Each (λ, IPC) is distilled, evaluated
with ``n_models`` networks and cached in a JSON file, so a rerun or a wider sweep reuses the points
already made.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..targets.moments import CobraMix

__all__ = ["MixedBarycenter", "TradeoffPoint", "tradeoff_sweep", "pareto_front", "plot_tradeoff", "target_for"]


MixedBarycenter = CobraMix  # the registered target ``cobra-mix`` (fairdd.targets), under its earlier name


def pareto_front(accuracy: Sequence[float], eod: Sequence[float]) -> np.ndarray:
    """Give the indices of the points no other point beats on both (higher accuracy, lower EOD), by accuracy.

    A point whose accuracy or EOD is NaN (a metric the test set cannot measure) is on no front.
    """
    acc, gap = np.asarray(accuracy, dtype=float), np.asarray(eod, dtype=float)
    keep = [i for i in range(len(acc)) if not (np.isnan(acc[i]) or np.isnan(gap[i]))
            and not np.any((acc >= acc[i]) & (gap <= gap[i]) & ((acc > acc[i]) | (gap < gap[i])))]
    return np.array(sorted(keep, key=lambda i: acc[i]), dtype=int)


def _key(mix: float, ipc: int) -> str:
    return f"mix{mix:.4f}-ipc{ipc}"


CACHE_FORMAT = 3  # 2: λ = 0 is the vanilla run, λ = 1 the COBRA run, rows carry the target and t-intervals;
# 3: the points in between run the registered target cobra-mix (their configs record it and λ)


def target_for(mix: float) -> str:
    """Return the target a point runs: ``vanilla`` at λ = 0, ``cobra`` at λ = 1, ``cobra-mix`` in between."""
    return "vanilla" if mix == 0.0 else "cobra" if mix == 1.0 else "cobra-mix"


def _distil_point(train, *, mix: float, ipc: int, method: str, preset: str, seed: int, device: str):
    from ..config import distill_config
    from ..distill import Distiller

    target = target_for(mix)
    mixed = {"mix": mix} if target == "cobra-mix" else {}  # recorded in the result's config as itself
    config = distill_config(method=method, target=target, ipc=ipc, preset=preset, seed=seed, **mixed)
    return Distiller(train, config, device=device).run()


def _row(mix: float, ipc: int, report) -> dict:
    """Give the point's scalars: means, population stds and 95 % t-intervals over the evaluation networks.

    ``undefined`` holds the metrics the test set cannot measure (NaN), each with why (``report.undefined``).
    """
    interval = report.model_interval(level=0.95)
    row = {"mix": mix, "ipc": ipc, "target": target_for(mix), **report.overall,
           **{f"{k}_std": v for k, v in report.std.items()}, "undefined": dict(report.undefined)}
    for k, iv in interval.items():
        row[f"{k}_lo"], row[f"{k}_hi"] = iv.low, iv.high
    return row


@dataclass
class TradeoffPoint:
    """One (mix, IPC) setting: its scalar row, its synthetic set and its (class, group) table."""

    row: dict
    images: torch.Tensor  # (C·ipc, c, h, w) normalised, as distilled
    labels: torch.Tensor  # (C·ipc,)
    by_group: "object"  # DataFrame: class, group, accuracy, count


def _adopt(folder: Path, names: list[str]) -> None:
    """Adopt a cache from before manifests whose settings match: its files are fairdd's (``fairdd.ownership``)."""
    from ..ownership import MANIFEST, OutputFolder

    if not (folder / MANIFEST).exists():
        with OutputFolder(folder).locked() as out:
            for name in names:
                if (folder / name).is_file():
                    out.claim(name)


def tradeoff_sweep(train, test, *, mixes: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
                   ipcs: Sequence[int] = (10,), method: str = "dm", preset: str = "demo", n_models: int = 2,
                   seed: int = 0, device: str = "auto", cache: str | Path | None = None, on_point=None):
    """Distil and evaluate every (mix, IPC); returns (rows DataFrame, {key: TradeoffPoint}).

    Rows hold mix, ipc, the target run (``target_for(mix)``), accuracy, eod, deo_a,
    worst_group_accuracy, their stds and 95 % t-intervals (``_lo``, ``_hi``; NaN with one network) over
    the evaluation networks, and ``undefined`` ({metric: why} for those the test set cannot measure,
    which are NaN; points cached by an older fairdd have none, and their reason reads "not recorded").
    With ``cache`` (a folder) each point is stored when made (``points.json`` and one tensor file per
    point, written atomically) and reused by a later call with the same
    settings; a cache made with other settings is refused. ``on_point(row)`` is called after each
    new point (progress).
    """
    import pandas as pd

    from ..evaluate import evaluate
    from ..io import load_tensors, read_json, tensor_bytes
    from ..ownership import write_owned

    mixes = [float(m) for m in mixes]
    for m in mixes:
        MixedBarycenter(mix=m)  # validates
    for ipc in ipcs:
        if isinstance(ipc, bool) or not isinstance(ipc, int) or ipc < 1:
            raise ValueError(f"ipcs must be integers ≥ 1; got {ipc!r}")
    settings = json.loads(json.dumps({
        "format": CACHE_FORMAT, "method": method, "preset": preset, "n_models": n_models, "seed": seed,
        "train": {"n": len(train), "n_classes": train.n_classes, "n_groups": train.n_groups,
                  "info": str(getattr(train, "info", ""))},
        "test": {"n": len(test)}}))
    stored: dict = {}
    folder = Path(cache) if cache is not None else None
    if folder is not None and (folder / "points.json").exists():
        saved = read_json(folder / "points.json", "trade-off cache")
        if not isinstance(saved, dict) or saved.get("settings") != settings:
            raise ValueError(f"cache {str(folder)!r} was made with other settings ({saved.get('settings')}); "
                             f"now {settings}; use another folder")
        stored = saved["points"]
        _adopt(folder, ["points.json", *(f"{k}.pt" for k in stored)])
    points: dict[str, TradeoffPoint] = {}
    for ipc in ipcs:
        for mix in mixes:
            key = _key(mix, ipc)
            if key in stored:
                t = load_tensors(folder / f"{key}.pt", "trade-off point")
                points[key] = TradeoffPoint(stored[key]["row"], t["images"], t["labels"],
                                            pd.DataFrame(stored[key]["by_group"]))
                continue
            result = _distil_point(train, mix=mix, ipc=ipc, method=method, preset=preset, seed=seed, device=device)
            report = evaluate(result, test, n_models=n_models, preset=preset, seed=seed, device=device)
            row = _row(mix, ipc, report)
            points[key] = TradeoffPoint(row, result.images, result.labels, report.by_group)
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
                data = tensor_bytes({"images": result.images, "labels": result.labels})
                write_owned(folder / f"{key}.pt", lambda p, data=data: p.write_bytes(data), what="trade-off point")
                stored[key] = {"row": row, "by_group": report.by_group.to_dict(orient="records")}
                text = json.dumps({"settings": settings, "points": stored}, indent=2) + "\n"
                write_owned(folder / "points.json", lambda p, text=text: p.write_text(text), what="trade-off cache")
            if on_point is not None:
                on_point(row)
    df = pd.DataFrame([points[_key(m, i)].row for i in ipcs for m in mixes])
    return df, points


def _bars(g, k: str):
    """(2, n) distances from the mean to the t-interval's ends (NaN-free: 0 where there is none)."""
    if f"{k}_lo" not in g:
        return None
    lo, hi, mean = g[f"{k}_lo"].to_numpy(float), g[f"{k}_hi"].to_numpy(float), g[k].to_numpy(float)
    return np.nan_to_num(np.stack([mean - lo, hi - mean]), nan=0.0)


def _undefined_note(df, metrics: Sequence[str] = ("accuracy", "eod")) -> str:
    """Say which points the plot cannot place, and why.

    E.g. ``"EOD undefined (1 group in the test set) at every point: not drawn"`` or ``"EOD undefined
    (<why>) at λ=0.5 IPC 10: not drawn"``, one line per metric and reason; ``""`` when every point has both.
    """
    names = {"accuracy": "accuracy", "eod": "EOD"}
    lines = []
    for metric in metrics:
        missing = df[df[metric].isna()]
        whys = {}  # why → the points it applies to, in order
        for _, r in missing.iterrows():
            why = (r.get("undefined") if isinstance(r.get("undefined"), dict) else {}).get(metric, "not recorded")
            whys.setdefault(why, []).append(f"λ={r['mix']:.2g} IPC {r['ipc']}")
        for why, where in whys.items():
            at = "at every point" if len(where) == len(df) else "at " + ", ".join(where)
            lines.append(f"{names[metric]} undefined ({why}) {at}: not drawn")
    return "\n".join(lines)


def plot_tradeoff(ax, df, *, label_points: bool = True) -> None:
    """Plot accuracy (x) against EOD (y) with 95 % t-interval bars and the Pareto front of the means.

    The bars span the t-interval over the evaluation networks; one colour per IPC. A point whose
    accuracy or EOD the test set cannot measure (NaN, ``undefined`` in its row) is not drawn and is on
    no front; the title says which points and why (``fairdd.metrics.unmeasurable``).
    """
    names = {"vanilla": " (vanilla)", "cobra": " (COBRA)"}
    for i, (ipc, g) in enumerate(df.groupby("ipc")):
        ax.errorbar(g["accuracy"], g["eod"], xerr=_bars(g, "accuracy"), yerr=_bars(g, "eod"), fmt="o",
                    capsize=3, label=f"IPC {ipc}", color=f"C{i}")
        if label_points:
            for _, r in g.dropna(subset=["accuracy", "eod"]).iterrows():  # an undefined point is not drawn
                ax.annotate(f"λ={r['mix']:.2g}" + names.get(r.get("target"), ""), (r["accuracy"], r["eod"]),
                            textcoords="offset points", xytext=(4, 4), fontsize=8)
    front = pareto_front(df["accuracy"], df["eod"])
    ax.plot(df["accuracy"].to_numpy()[front], df["eod"].to_numpy()[front], "k--", lw=1, label="Pareto front")
    ax.set_xlabel("accuracy % (higher is better)")
    ax.set_ylabel("EOD (lower is fairer)")
    note = _undefined_note(df)
    ax.set_title("λ: 0 = size-proportional (vanilla) … 1 = uniform (COBRA)\nbars: 95 % t-interval over networks"
                 + (f"\n{note}" if note else ""), fontsize=10)
    ax.legend(fontsize=8)


def plot_point(point: TradeoffPoint, train, *, majority=None):
    """One setting's synthetic set (left) and (class, group) accuracy heatmap (right); returns the figure."""
    import matplotlib.pyplot as plt

    from ..report import shown
    from ..viz import plots

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [1.2, 1]})
    keep = torch.cat([(point.labels == k).nonzero().flatten()[:10] for k in point.labels.unique().tolist()])
    plots.plot_images(left, train.display(point.images[keep]), point.labels[keep])
    r = point.row
    left.set_title(f"λ = {r['mix']:.2g}, IPC {r['ipc']}: accuracy {r['accuracy']:.1f}%, "
                   f"EOD {shown(r['eod'], (r.get('undefined') or {}).get('eod'), spec='.1f')}")
    plots.plot_group_heatmap(right, point.by_group, majority=majority, title="accuracy per (class, group) %")
    fig.tight_layout()
    return fig
