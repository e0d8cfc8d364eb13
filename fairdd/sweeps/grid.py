"""A sweep file (TOML) and the cells it expands to.

    [sweep]
    preset = "smoke"          # any preset (fairdd.config.PRESETS)
    seeds = [0, 1]            # run seeds (initialisation, batches, evaluation models): not the data
    n_models = 1              # evaluation models per cell
    exclude = [{ method = "cafe", target = "fairdd" }]   # optional: combinations left out
    [grid]                    # every combination is a cell
    dataset = ["colored-digits"]   # or "folder:PATH": your own images (knobs metadata, label, group... in [data])
    method = ["dm"]
    target = ["vanilla", "cobra"]
    ipc = [1, 2]
    [data]                    # fairdd.datasets.load knobs (mode, bias, severity, skew, style, ...): each
                              # cell's dataset gets those its loader takes (fairdd.datasets.options);
    data_seed = 3             # the data draw (default: the authors' draw); a grid axis too
    [overrides]               # DistillConfig fields; a sub-table named after a grid value applies only to
    iterations = 5            # the cells with that value, e.g. [overrides.dm] or [overrides.cobra]
    [evaluate]                # EvalConfig fields (and n_models), with sub-tables the same way

A grid axis may be ``dataset``, ``method``, ``target``, ``ipc``, ``seed``, a data knob (``mode``,
``bias``, ``severity``, ``skew``, ...) or any ``DistillConfig`` field, so the imbalance × separation study is a
grid over ``bias`` (``skew`` for cifar10-s) and ``severity``. The seeds vary the run, never the data: every
cell draws its dataset with ``data_seed`` (default ``None``, the authors' draw: ``fairdd.datasets.load``'s
``seed=None``); a ``data_seed`` grid axis varies the draw when asked. ``target`` also takes the baselines
``"random"`` (a random real subset) and ``"whole"`` (the whole training set); their cells ignore the
distillation overrides. A data knob that no dataset of the grid takes is an error; a cell passes its
dataset only the knobs it takes (``colored-*`` have ``mode``, ``cifar10-s`` has ``skew``), so one grid can
span datasets. The CelebA knobs ``target`` / ``group`` (attribute names) go in ``[data]`` only: ``target``
as a grid axis is the strategy.
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from ..config import METHODS, PRESETS, DistillConfig, EvalConfig, distill_config, eval_config
from ..data.registry import DATASETS, FOLDER, check_name, options
from ..provenance import settings_differences
from ..validate import check_bool, check_int, check_real, check_seed, describe_value

__all__ = ["SweepSpec", "Cell", "load_spec", "parse_spec", "make_spec", "cell_differences", "grid_size", "BASELINES",
           "data_knobs", "MAX_CELLS"]

# Cells a grid may expand to unless the limit is raised (``max_cells=``, ``[sweep] max_cells``, ``--max-cells``):
# each cell's configs are built and checked when the grid is read (~1.5 ms a cell), and a typo'd axis
# (a range of 1000 values) would otherwise build for minutes before anything runs.
MAX_CELLS = 10_000

BASELINES = ("random", "whole")  # targets that are not distilled
CORE_AXES = ("dataset", "method", "target", "ipc", "seed")
# how a set is read, not what it is: never part of a cell (a worker loads its data from the files or cache)
_HOW_LOADED = ("seed", "download", "cache_dir", "use_cache", "workers")


def data_knobs() -> tuple[str, ...]:
    """Every knob some registered dataset's loader (or folder:PATH) takes; the cell's seed is the ``seed`` axis."""
    return tuple(dict.fromkeys(k for d in DATASETS + (FOLDER + ".",) for k in options(d) if k not in _HOW_LOADED))


_DISTILL_FIELDS = tuple(f.name for f in dataclasses.fields(DistillConfig)
                        if f.name not in ("method", "target", "ipc", "seed", "preset"))
_EVAL_FIELDS = tuple(f.name for f in dataclasses.fields(EvalConfig) if f.name != "preset")
_SECTIONS = ("sweep", "grid", "data", "overrides", "evaluate", "resources")
RUN_AXES = ("data_seed",)  # axes that are neither a data knob passed as is nor a config field


@dataclass(frozen=True)
class Cell:
    """One distill + evaluate run of a sweep: everything needed to rerun it, nothing shared.

    ``axes`` holds the cell's value on every grid axis (what the table groups by); ``distill``,
    ``evaluate`` and ``data`` are the keyword arguments of ``fairdd.distill`` (on top of the preset),
    ``fairdd.evaluate`` and ``fairdd.datasets.load``.
    """

    dataset: str
    method: str
    target: str
    ipc: int
    seed: int
    preset: str
    n_models: int
    data_seed: int | None = None  # the data draw (None: the authors'); ``seed`` is the run's
    data: dict = field(default_factory=dict)
    distill: dict = field(default_factory=dict)
    evaluate: dict = field(default_factory=dict)
    axes: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Give the cell's fields as a plain dict."""
        return dataclasses.asdict(self)

    @property
    def key(self) -> str:
        """A content hash: two cells with the same settings share it, other settings never do."""
        text = json.dumps(self.to_dict() | {"axes": None}, sort_keys=True, default=str)
        return hashlib.sha1(text.encode()).hexdigest()[:8]

    @property
    def id(self) -> str:
        """Folder name: readable axis values, then the content hash."""
        extra = [f"{k}{_slug(v)}" for k, v in self.axes.items() if k not in CORE_AXES]
        parts = [_slug(self.dataset).replace(":", "_"), self.method, self.target, f"ipc{self.ipc}", f"s{self.seed}", *extra, self.key]
        return "-".join(parts)

    def distill_config(self) -> DistillConfig:
        """Build the cell's ``DistillConfig`` (a baseline cell: vanilla's, for its data and seed)."""
        return distill_config(method=self.method, target=self.target if self.target not in BASELINES else "vanilla",
                              ipc=self.ipc, preset=self.preset, seed=self.seed, dataset=self.dataset, **self.distill)

    def eval_config(self) -> EvalConfig:
        """Build the cell's ``EvalConfig``: the preset's, with the sweep's evaluation overrides."""
        return eval_config(preset=self.preset, method=self.method, **self.evaluate)


@dataclass(frozen=True)
class SweepSpec:
    """A parsed sweep file. ``cells()`` expands the grid in a fixed order (the file's axis order)."""

    preset: str
    seeds: tuple[int, ...]
    n_models: int
    grid: dict
    data: dict = field(default_factory=dict)
    overrides: dict = field(default_factory=dict)
    evaluate: dict = field(default_factory=dict)
    exclude: tuple = ()  # partial points ({"method": "cafe", "target": "fairdd"}) whose cells are left out
    device: str = "auto"
    name: str = "sweep"
    text: str = ""  # the file as written (kept with the results)
    resources: dict = field(default_factory=dict)  # axis -> {value as text: SLURM resources of those cells}

    def cells(self) -> list[Cell]:
        """Expand the grid into its cells (seeds included, exclusions removed); repeated values are refused."""
        axes = dict(self.grid)
        if "seed" not in axes:
            axes["seed"] = list(self.seeds)
        names = list(axes)
        out = []
        for values in itertools.product(*(axes[n] for n in names)):
            point = dict(zip(names, values))
            if any(all(point.get(k) == v for k, v in ex.items()) for ex in self.exclude):
                continue
            out.append(self._cell(point))
        ids = [c.id for c in out]
        if len(set(ids)) != len(ids):
            raise ValueError("the grid has repeated values: two cells would be the same run")
        return out

    def _cell(self, point: dict) -> Cell:
        core = {k: point.get(k) for k in ("dataset", "method", "target", "ipc", "seed")}
        for k, default in (("method", "dm"), ("ipc", 10)):
            core[k] = default if core[k] is None else core[k]
        if core["dataset"] is None or core["target"] is None:
            raise ValueError("the grid needs a 'dataset' and a 'target' axis (or one value each)")
        data = dict(self.data)
        data_seed = point.get("data_seed", data.pop("data_seed", None))
        knobs = data_knobs()
        data.update({k: v for k, v in point.items() if k in knobs and k not in CORE_AXES})
        takes = options(str(core["dataset"]))
        data = {k: v for k, v in data.items() if k in takes}  # the knobs this cell's dataset takes
        distill = _matching(self.overrides, point, _DISTILL_FIELDS, "overrides")
        distill.update({k: v for k, v in point.items() if k in _DISTILL_FIELDS})
        if core["target"] in BASELINES:  # a random subset / the whole set is not distilled
            distill = {}
        evaluate = _matching(self.evaluate, point, tuple(dict.fromkeys(_EVAL_FIELDS + ("n_models",))), "evaluate")
        n_models = check_int("n_models", evaluate.pop("n_models", self.n_models), 1)
        for key, value in data.items():
            _check_knob(str(core["dataset"]), key, value)
        cell = Cell(dataset=str(core["dataset"]), method=str(core["method"]), target=str(core["target"]),
                    ipc=check_int("ipc", core["ipc"], 1), seed=check_seed(core["seed"]), preset=self.preset,
                    n_models=n_models, data_seed=_data_seed(data_seed, str(core["dataset"])), data=data,
                    distill=distill, evaluate=evaluate, axes=dict(point))
        cell.distill_config()  # validate now, not on the cluster an hour later
        cell.eval_config()
        return cell


def load_spec(path: str | Path, *, max_cells: int | None = MAX_CELLS) -> SweepSpec:
    """Read and validate a sweep file (``max_cells`` as in :func:`parse_spec`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep file {path} does not exist")
    return parse_spec(path.read_text(), name=path.stem, max_cells=max_cells)


def grid_size(text_or_raw: str | dict) -> tuple[int, str]:
    """Return the number of cells a sweep file's grid spans (before exclusions), and how.

    ``(24, "2 target × 3 ipc × 4 seed")``. Counted from the axis lengths alone, so a huge grid is measured without
    being built.
    """
    raw = tomllib.loads(text_or_raw) if isinstance(text_or_raw, str) else text_or_raw
    axes = {k: len(v) if isinstance(v, list) else 1 for k, v in dict(raw.get("grid", {})).items()}
    if "seed" not in axes:
        seeds = dict(raw.get("sweep", {})).get("seeds", [0])
        axes["seed"] = len(seeds) if isinstance(seeds, list) else 1
    return math.prod(axes.values()), " × ".join(f"{n} {k}" for k, n in axes.items())


def _check_size(raw: dict, max_cells: int | None) -> None:
    """Refuse a grid of more than ``max_cells`` cells (the argument, else ``[sweep] max_cells``) before building it."""
    head = dict(raw.get("sweep", {}))
    limit = max_cells
    if "max_cells" in head:
        limit = max(limit or 0, check_int("[sweep] max_cells", head["max_cells"], 1)) if limit is not None else None
    if limit is None:
        return
    check_int("max_cells", limit, 1)
    n, how = grid_size(raw)
    if n > limit:
        raise ValueError(f"the grid has {n:,} cells ({how}), more than the limit of {limit:,}: check the axes, "
                         f"or raise the limit (fairdd sweep run --max-cells N, or max_cells = N in [sweep])")


def parse_spec(text: str, *, name: str = "sweep", max_cells: int | None = MAX_CELLS) -> SweepSpec:
    """Parse sweep TOML text (see the module docstring) into a ``SweepSpec``; clear errors for bad input.

    ``max_cells``: the most cells the grid may span (counted from the axis lengths, before any cell is
    built; ``[sweep] max_cells`` in the file raises it too); None = no limit, for a stored sweep that
    was accepted when it was written.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"sweep file is not valid TOML: {exc}") from exc
    unknown = sorted(set(raw) - set(_SECTIONS))
    if unknown:
        raise ValueError(f"unknown section(s) {unknown} in the sweep file; allowed: {list(_SECTIONS)}")
    head = dict(raw.get("sweep", {}))
    preset, seeds, n_models = _parse_head(head)
    _check_size(raw, max_cells)
    grid = {}
    for axis, values in raw.get("grid", {}).items():
        values = values if isinstance(values, list) else [values]
        if not values:
            raise ValueError(f"grid axis {axis!r} has no values")
        allowed = CORE_AXES + RUN_AXES + data_knobs() + _DISTILL_FIELDS
        if axis not in allowed:
            raise ValueError(f"unknown grid axis {axis!r}; allowed: {list(allowed)}")
        if len({json.dumps(v, sort_keys=True) for v in values}) != len(values):
            raise ValueError(f"grid axis {axis!r} repeats a value: {values!r}")
        grid[axis] = values
    if "seed" in grid and "seeds" in head:
        raise ValueError("give the seeds once: either [sweep] seeds or a [grid] seed axis")
    for m in grid.get("method", []):
        if m not in METHODS:
            raise ValueError(f"unknown method {m!r}; allowed: {list(METHODS)}")
    from ..targets import STRATEGIES

    for d in grid.get("dataset", []):
        check_name(d)  # a benchmark's name or folder:PATH (your own data)
    for t in grid.get("target", []):
        if t not in tuple(STRATEGIES) + BASELINES:
            raise ValueError(f"unknown target {t!r}; allowed: {list(STRATEGIES) + list(BASELINES)}")
    data = dict(raw.get("data", {}))
    knobs = data_knobs()
    bad = sorted(set(data) - set(knobs + RUN_AXES))
    if bad:
        raise ValueError(f"unknown [data] key(s) {bad}; allowed: {list(knobs + RUN_AXES)}")
    _check_knobs_apply([*data, *(a for a in grid if a in knobs and a not in CORE_AXES)], grid)
    values = {str(v) for vs in grid.values() for v in vs} | {str(s) for s in seeds}
    for section in ("overrides", "evaluate"):
        for sub, table in raw.get(section, {}).items():
            if isinstance(table, dict) and sub not in values:
                raise ValueError(f"[{section}.{sub}] names no grid value; sub-tables apply to the cells with "
                                 f"that value on some axis, one of {sorted(values)}")
    exclude = head.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(e, dict) and e and set(e) <= set(grid) for e in exclude):
        raise ValueError(f"[sweep] exclude must be a list of tables of grid axes ({sorted(grid)}); got {exclude!r}")
    spec = SweepSpec(preset=preset, seeds=tuple(seeds), n_models=n_models, grid=grid, data=data,
                     overrides=dict(raw.get("overrides", {})), evaluate=dict(raw.get("evaluate", {})),
                     exclude=tuple(exclude), device=str(head.get("device", "auto")),
                     name=str(head.get("name", name)), text=text,
                     resources=_parse_resources(raw.get("resources", {}), grid))
    spec.cells()  # expands and validates every cell's configs
    return spec


def _parse_resources(table: dict, grid: dict) -> dict:
    """Parse the ``[resources.<axis>.<value>]`` tables.

    They hold the SLURM resources of the cells with that grid value (``[resources.ipc.100] mem_gb = 64``), checked as
    ``Resources`` fields.
    """
    from .resources import Resources

    for axis, by_value in table.items():
        if axis not in grid or not isinstance(by_value, dict):
            raise ValueError(f"[resources.{axis}] names no grid axis; use [resources.<axis>.<value>] with an axis "
                             f"of [grid], one of {sorted(grid)}")
        values = [str(v) for v in grid[axis]]
        for value, given in by_value.items():
            if value not in values or not isinstance(given, dict):
                raise ValueError(f"[resources.{axis}.{value}] names no value of grid axis {axis!r}; one of {values}")
            try:
                Resources.from_dict(given)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"[resources.{axis}.{value}]: {exc}") from None
    return {axis: dict(by_value) for axis, by_value in table.items()}


def _parse_head(head: dict) -> tuple[str, list, int]:
    """[sweep]'s preset, seeds and n_models, validated (its other keys are read by ``parse_spec``)."""
    allowed_head = ("preset", "seeds", "n_models", "device", "name", "exclude", "max_cells")
    bad = sorted(set(head) - set(allowed_head))
    if bad:
        raise ValueError(f"unknown key(s) {bad} in [sweep]; allowed: {list(allowed_head)}")
    preset = head.get("preset", "paper")
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; allowed: {list(PRESETS)}")
    seeds = head.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds:
        raise ValueError(f"[sweep] seeds must be a non-empty list of integers; got {seeds!r}")
    seeds = [check_seed(s, "[sweep] seeds") for s in seeds]
    n_models = check_int("[sweep] n_models", head.get("n_models", 5), 1)
    for key in ("device", "name"):
        if key in head and not isinstance(head[key], str):
            raise ValueError(f"[sweep] {key} must be a string; got {describe_value(head[key])}")
    return preset, seeds, n_models


def make_spec(*, grid: dict, preset: str = "paper", seeds: Sequence[int] = (0,), n_models: int = 5,
              data: dict | None = None, overrides: dict | None = None, evaluate: dict | None = None,
              exclude: Sequence[dict] = (), device: str = "auto", name: str = "sweep",
              max_cells: int | None = MAX_CELLS) -> SweepSpec:
    """Return a ``SweepSpec`` from Python values (what ``fairdd.experiments`` grids will call).

    The sweep file is written out as TOML and parsed back, so it is validated exactly as a file is and the sweep
    directory keeps a readable ``sweep.toml``.
    """
    head = {"name": name, "preset": preset, "seeds": list(seeds), "n_models": n_models, "device": device}
    if exclude:
        head["exclude"] = [dict(e) for e in exclude]
    doc = {"sweep": head, "grid": {k: list(v) if isinstance(v, (list, tuple)) else [v] for k, v in grid.items()},
           "data": data or {}, "overrides": overrides or {}, "evaluate": evaluate or {}}
    return parse_spec(_to_toml(doc), name=name, max_cells=max_cells)


def _to_toml(doc: dict) -> str:
    """TOML for the sweep file's shapes: tables of scalars, lists and one level of sub-tables."""
    lines: list[str] = []

    def emit(prefix: str, table: dict) -> None:
        lines.append(f"[{prefix}]")
        subs = {k: v for k, v in table.items() if isinstance(v, dict)}
        lines.extend(f"{_key(k)} = {_value(v)}" for k, v in table.items() if not isinstance(v, dict))
        lines.append("")
        for k, v in subs.items():
            emit(f"{prefix}.{_key(k)}", v)

    for section, table in doc.items():
        emit(section, table)
    return "\n".join(lines)


def _key(k) -> str:
    k = str(k)
    return k if k.replace("_", "").replace("-", "").isalnum() else json.dumps(k)


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"sweep values must be finite numbers; got {v!r}")
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    raise ValueError(f"cannot write {v!r} ({type(v).__name__}) into a sweep file")


def _check_knobs_apply(knobs: list, grid: dict) -> None:
    """Refuse a data knob that no dataset of the grid takes (a typo'd file, or the wrong dataset)."""
    datasets = grid.get("dataset", [])
    for k in knobs:
        arg = "seed" if k == "data_seed" else k  # the data draw is the loaders' ``seed``
        if datasets and not any(arg in options(d) for d in datasets):
            takers = [d for d in DATASETS if arg in options(d)]
            raise ValueError(f"data knob {k!r} applies to none of the grid's datasets {datasets}; "
                             f"datasets that take it: {takers}")


def _check_knob(dataset: str, key: str, value) -> None:
    """Check that a data knob has the type of its loader's default.

    ``bias = 0.9`` a number, ``n_groups = 10`` an integer, ``download = false`` a bool, ``mode = "foreground"`` a
    string; its range is the loader's to check.
    """
    import inspect

    from ..data.registry import _builder, check_name

    default = inspect.signature(_builder(check_name(dataset))).parameters[key].default
    what = f"data knob {key!r} of {dataset!r}"
    if isinstance(default, bool):
        check_bool(what, value)
    elif isinstance(default, int):
        check_int(what, value)
    elif isinstance(default, float):
        check_real(what, value)
    elif isinstance(default, str) and not isinstance(value, str):
        raise ValueError(f"{what} must be a string (e.g. {default!r}); got {describe_value(value)}")


def cell_differences(made: dict, want: dict) -> str:
    """``"key=old (now new)"`` for every setting that differs between two ``Cell.to_dict()`` (axes aside).

    The same check as a resumed distillation's (``fairdd.provenance.settings_differences``).
    """
    return "; ".join(settings_differences(made, want, ignore=("axes",)))


def _matching(table: dict, point: dict, fields: tuple, section: str) -> dict:
    """Top-level keys of ``table``, then each sub-table whose name is one of the cell's axis values."""
    out = {k: v for k, v in table.items() if not isinstance(v, dict)}
    bad = sorted(set(out) - set(fields))
    if bad:
        raise ValueError(f"unknown [{section}] key(s) {bad}; allowed: {sorted(fields)}")
    values = {str(v) for v in point.values()}
    for name, sub in table.items():
        if not isinstance(sub, dict):
            continue
        bad = sorted(set(sub) - set(fields))
        if bad:
            raise ValueError(f"unknown [{section}.{name}] key(s) {bad}; allowed: {sorted(fields)}")
        if name in values:
            out.update(sub)
    return out


def _data_seed(value, dataset: str) -> int | None:
    """Return a cell's data draw: ``None`` (the authors') or a seed in range, for a dataset that has a draw."""
    if value is None:
        return None
    from ..validate import check_seed

    check_seed(value, "data_seed")
    if "seed" not in options(dataset):
        raise ValueError(f"dataset {dataset!r} has a fixed split: it takes no data_seed; got {value!r}")
    return int(value)


def _slug(value) -> str:
    return str(value).replace("/", "_").replace(" ", "")
