"""Published accuracy / EOD, each with the full setting it was measured under, and the one matcher
that decides whether a run of ours may stand beside it.

A published row records everything that makes a number: the dataset and every knob that builds it
(bias, mode, style, skew, severity, group attribute, n_groups, size, ... and the data draw), the
method, target and IPC, and the protocol — a preset's own values, with no distillation or evaluation
override and the preset's number of evaluation models. ``compare(run_setting(...))`` gives the
published number only when every one of those equals the run's; otherwise it says *why not*, naming
each knob that differs (``"skew=0.5 (published 0.9)"``). ``reproduce`` and the sweep table call it,
so a run at other settings can never be labelled with a paper's number.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

__all__ = ["Published", "Comparison", "PUBLISHED", "compare", "run_setting", "construction_knobs",
           "FAIRDD_TABLES", "COBRA_TABLE", "PRELIMINARY", "HOW_LOADED", "cell_comparison"]

FAIRDD_TABLES = "FairDD paper (Zhou et al., NeurIPS 2025), Tables 1–2"
COBRA_TABLE = "COBRA paper (Moslemi et al., arXiv 2605.00185), Table 1"
PRELIMINARY = "COBRA authors' preliminary runs of the barycenter variant: not a published number"
# loader arguments that say how files are read, not what the set is: never part of a setting
HOW_LOADED = ("root", "download", "cache_dir", "use_cache", "workers", "format", "seed")
NO_PUBLISHED = "no published number for these settings"


@dataclass(frozen=True)
class Published:
    """One published (accuracy %, EOD) and the full setting it was measured under.

    data : every construction knob of ``dataset``'s loader (``fairdd.datasets.options`` less
        ``HOW_LOADED``) and ``data_seed`` (``None``: the authors' own draw); a test checks that
        no knob is left out, so a knob added to a loader must be added here.
    preset : the preset whose own values are the paper's protocol (``paper`` = COBRA's,
        ``fairdd-paper`` = FairDD's): no overrides, the preset's number of evaluation models.
    """

    accuracy: float
    eod: float
    source: str
    dataset: str
    method: str
    target: str
    ipc: int
    preset: str
    data: Mapping = field(default_factory=dict)

    def setting(self) -> dict:
        """The row's setting in ``run_setting``'s terms (what ``compare`` checks knob by knob)."""
        return run_setting(dataset=self.dataset, method=self.method, target=self.target, ipc=self.ipc,
                           preset=self.preset, data=dict(self.data))


@dataclass(frozen=True)
class Comparison:
    """What may stand beside a run: the published numbers and their source, or ``reason`` why none.

    ``accuracy`` / ``eod`` are NaN and ``source`` repeats ``reason`` when no row matches.
    """

    accuracy: float
    eod: float
    source: str
    reason: str = ""
    near_miss: bool = False  # a row exists for this dataset and target, at other settings

    @property
    def matched(self) -> bool:
        return not self.reason


def _coloured(**knobs) -> dict:
    base = dict(mode="foreground", bias=0.9, groups=None, n_groups=10, size=32, severity=0, style="official",
                group_noise=0.0, group_labels=1.0, data_seed=None)
    return {**base, **knobs}


_CFMNIST = _coloured()
_CIFAR10S = dict(skew=0.9, severity=None, data_seed=None)  # severity None: the grayscale group as published


def _rows(source: str, dataset: str, method: str, ipc: int, preset: str, data: dict, numbers: dict) -> list:
    return [Published(accuracy=a, eod=e, source=source, dataset=dataset, method=method, target=t, ipc=ipc,
                      preset=preset, data=data) for t, (a, e) in numbers.items()]


PUBLISHED: tuple[Published, ...] = tuple(
    _rows(FAIRDD_TABLES, "colored-fashion-mnist", "dm", 10, "fairdd-paper", _CFMNIST,
          {"random": (32.80, 100.0), "vanilla": (33.35, 100.0), "fairdd": (77.09, 26.87), "whole": (82.94, 79.2)})
    + _rows(FAIRDD_TABLES, "colored-fashion-mnist", "dc", 10, "fairdd-paper", _CFMNIST,
            {"vanilla": (60.77, 99.40), "fairdd": (76.01, 46.80)})
    + _rows(PRELIMINARY, "colored-fashion-mnist", "dm", 10, "paper", _CFMNIST, {"cobra": (76.2, 27.2)})
    + _rows(PRELIMINARY, "colored-fashion-mnist", "dc", 10, "paper", _CFMNIST, {"cobra": (77.2, 29.5)})
    + _rows(COBRA_TABLE, "cifar10-s", "dm", 100, "paper", _CIFAR10S,
            {"vanilla": (45.4, 82.87), "fairdd": (61.2, 25.17), "cobra": (62.4, 9.37), "whole": (69.71, 48.96)})
    + _rows(COBRA_TABLE, "cifar10-s", "dc", 50, "paper", _CIFAR10S,
            {"vanilla": (39.5, 71.85), "fairdd": (46.2, 35.65), "cobra": (46.6, 26.18)})
    + _rows(COBRA_TABLE, "bffhq", "dm", 100, "paper", {}, {"vanilla": (65.8, 63.47), "cobra": (74.2, 7.87)})
)


def construction_knobs(dataset: str, data: Mapping | None = None, *, data_seed=None) -> dict:
    """Every knob that builds ``dataset``: the loader's defaults, replaced by ``data``, in canonical form
    (``mode="fg"`` → ``"foreground"``, ``style=None`` → the dataset's own), and ``data_seed`` resolved
    (``fairdd.datasets.authors_draw``). How files are read (``HOW_LOADED``) is left out."""
    from .data.registry import canonical_knobs

    data = dict(data or {})
    data_seed = data.pop("data_seed", data_seed)
    knobs = canonical_knobs(dataset, {k: v for k, v in data.items() if k not in HOW_LOADED}, data_seed=data_seed)
    return {k: v for k, v in knobs.items() if k not in HOW_LOADED}


def run_setting(*, dataset: str, method: str, target: str, ipc: int, preset: str, data: Mapping | None = None,
                data_seed=None, distill: Mapping | None = None, evaluate: Mapping | None = None,
                n_models: int | None = None) -> dict:
    """A run's setting in the terms every published row is written in.

    data : the dataset knobs the run was built with (loader defaults fill the rest).
    distill, evaluate : the overrides on top of the preset (``--set`` / ``--eval-set``); one that restates
        the preset's own value is no change.
    n_models : evaluation models; ``None`` = the preset's own for ``method``.
    """
    own_models = None
    if _has_protocol(method, preset):  # overrides that restate the preset's own value change nothing
        from .config import distill_config, eval_config

        own = eval_config(preset=preset, method=method)
        own_models = own.n_models
        evaluate = {k: v for k, v in dict(evaluate or {}).items() if getattr(own, k, object()) != v}
        strategy = target if target not in ("random", "whole") else "vanilla"
        config = distill_config(method=method, target=strategy, ipc=ipc, preset=preset, dataset=dataset)
        distill = {k: v for k, v in dict(distill or {}).items() if getattr(config, k, object()) != v}
    run = {"dataset": dataset, "method": method, "target": target, "ipc": int(ipc), "preset": preset}
    knobs = construction_knobs(dataset, data, data_seed=data_seed)  # celeba's ``target`` is an attribute
    return {**run, **{f"data {k}" if k in run else k: v for k, v in knobs.items()},
            "overrides": dict(sorted(dict(distill or {}).items())),
            "eval overrides": dict(sorted(dict(evaluate or {}).items())),
            "n_models": own_models if n_models is None else int(n_models)}


def compare(setting: Mapping) -> Comparison:
    """The published number whose full setting equals ``setting`` (``run_setting``), or why there is none.

    Rows of the same dataset and target are candidates; the nearest one (fewest differing knobs) names
    what differs, e.g. ``"no published number for these settings: skew=0.5 (published 0.9);
    overrides={'iterations': 2} (published {})"``.
    """
    candidates = [p for p in PUBLISHED if p.dataset == setting["dataset"] and p.target == setting["target"]]
    if not candidates:
        reason = f"{NO_PUBLISHED}: no paper reports {setting['target']} on {setting['dataset']}"
        return Comparison(math.nan, math.nan, reason, reason)
    diffs = [(_differences(setting, p.setting()), p) for p in candidates]
    best, row = min(diffs, key=lambda d: len(d[0]))
    if not best:
        return Comparison(row.accuracy, row.eod, row.source)
    reason = f"{NO_PUBLISHED}: " + "; ".join(best)
    return Comparison(math.nan, math.nan, reason, reason, near_miss=True)


def _differences(run: Mapping, published: Mapping) -> list[str]:
    return [f"{k}={_show(k, run.get(k))} (published {_show(k, v)})"
            for k, v in published.items() if k not in run or not _same(run[k], v)]


def _same(a, b) -> bool:
    """Equal, and a flag is never a number (``True == 1`` in Python)."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def _show(key: str, value) -> str:
    return "the authors' draw" if key == "data_seed" and value is None else repr(value)


def _has_protocol(method: str, preset: str) -> bool:
    from .config import METHOD_PRESETS

    return method in METHOD_PRESETS and preset in METHOD_PRESETS[method].distill


def cell_comparison(cell) -> Comparison:
    """The published number a sweep cell (``fairdd.sweeps.Cell``) may stand beside, or why none (``compare``)."""
    return compare(run_setting(dataset=cell.dataset, method=cell.method, target=cell.target, ipc=cell.ipc,
                               preset=cell.preset, data=cell.data, data_seed=cell.data_seed,
                               distill=cell.distill, evaluate=cell.evaluate, n_models=cell.n_models))
