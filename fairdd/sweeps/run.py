"""Running a sweep's cells: in this process, or as submitit jobs (local processes or SLURM).

A job is a list of cell ids. A worker runs each cell of its list that is not done and that it can
claim (``SweepDir.claim``), so any number of workers — jobs of one submission, or two ``sweep run``
commands on one directory — never run a cell twice, and a cell whose worker died is taken over.

A cell's folder is named by a hash of its full settings, so a finished cell is reused only by a cell
with the very same settings. Giving a directory a sweep whose cell has the grid point of a finished
cell but other settings (another preset, override, n_models ...) is refused, naming what differs:
one directory, one set of comparable results.
"""
from __future__ import annotations

import logging
import math
import os
import socket
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal, Sequence

from .estimate import estimate_cell
from .grid import Cell, SweepSpec, cell_differences, load_spec, parse_spec
from .store import STATES, SweepDir

__all__ = ["Sweep", "SweepStatus", "Plan", "Resources", "SweepRun", "run_job", "run_cells", "run_cell", "EXECUTORS"]

EXECUTORS = ("local", "slurm", "debug", "inline")
LOCAL_TIMEOUT_MIN = 30 * 24 * 60  # submitit's local default (2 min) would stop real runs
Executor = Literal["local", "slurm", "debug", "inline"]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resources:
    """What each job asks the scheduler for (SLURM); ``timeout_min=None`` sizes it from the estimate."""

    partition: str | None = None  # SLURM partition
    gpus_per_task: int = 1  # GPUs per job (one task per job)
    cpus_per_task: int = 8  # data loading and augmentation threads
    mem_gb: int = 32  # host memory per job
    timeout_min: int | None = None  # wall time per job; None = 1.5 × the largest job's estimate + 10 min
    account: str | None = None  # SLURM account
    qos: str | None = None  # SLURM quality of service
    constraint: str | None = None  # SLURM node features, e.g. "h100"
    setup: tuple[str, ...] = ()  # shell lines run before the job (module load ..., conda activate ...)
    additional: dict = field(default_factory=dict)  # any other sbatch option, name → value

    def __post_init__(self) -> None:
        for name in ("gpus_per_task", "cpus_per_task", "mem_gb"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "gpus_per_task" else 1):
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        if self.timeout_min is not None and (not isinstance(self.timeout_min, int) or self.timeout_min < 1):
            raise ValueError(f"timeout_min must be an integer >= 1 or None; got {self.timeout_min!r}")


@dataclass(frozen=True)
class Plan:
    """The cells a run would start, grouped into jobs, and their GPU-hour estimate (one H100)."""

    todo: list[Cell]
    jobs: list[list[str]]
    gpu_hours: float
    measured_share: float  # share of the estimate resting on measured (DM) step times
    total_cells: int
    done_cells: int

    def summary(self) -> str:
        source = ("from measured step times" if self.measured_share == 1 else
                  f"{100 * self.measured_share:.0f}% of it from measured step times, the rest from the step model")
        return (f"{len(self.todo)} of {self.total_cells} cells to run ({self.done_cells} done); estimate "
                f"{_hours(self.gpu_hours)} GPU-hours on one H100 ({source})")

    def breakdown(self, by: Sequence[str] = ("method", "target", "ipc")):
        """Estimated GPU-hours of the cells to run, summed per ``by`` (a DataFrame)."""
        import pandas as pd

        rows = []
        for c in self.todo:
            e = estimate_cell(c)
            rows.append({**{k: getattr(c, k, c.axes.get(k)) for k in by}, "cells": 1, "distill_h": e.distill_s / 3600,
                         "eval_h": e.eval_s / 3600, "hours": e.hours, "measured": e.measured})
        if not rows:
            return pd.DataFrame(columns=[*by, "cells", "distill_h", "eval_h", "hours", "measured"])
        return pd.DataFrame(rows).groupby(list(by), sort=False).agg(
            cells=("cells", "sum"), distill_h=("distill_h", "sum"), eval_h=("eval_h", "sum"), hours=("hours", "sum"),
            measured=("measured", "all")).reset_index()


@dataclass
class SweepStatus:
    """Per-cell state and the sweep's GPU-hours: ``cells`` is a DataFrame (one row per cell)."""

    cells: "object"
    counts: dict
    hours_used: dict  # device kind → hours spent by finished cells
    hours_left: float  # estimate for the cells not done, one H100

    def summary(self) -> str:
        counts = ", ".join(f"{self.counts[s]} {s}" for s in STATES)
        used = ", ".join(f"{_hours(h)} h on {d}" for d, h in self.hours_used.items()) or "none yet"
        return f"{counts}; used {used}; estimate for the rest {_hours(self.hours_left)} GPU-hours (one H100)"


def _hours(h: float) -> str:
    return f"{h:.2f}" if h >= 0.1 else f"{h:.2g}"


class SweepRun:
    """Submitted jobs of one ``Sweep.run``; ``wait()`` blocks until they end (with a progress bar)."""

    def __init__(self, sweep: "Sweep", jobs: list, cell_ids: list[str]) -> None:
        self.sweep, self.jobs, self.cell_ids = sweep, jobs, cell_ids
        self.errors: list[str] = []  # workers that died (killed, timed out); cell errors are in failed.json

    @property
    def job_ids(self) -> list[str]:
        return [str(getattr(j, "job_id", "inline")) for j in self.jobs]

    def wait(self, *, progress: bool = False, poll_s: float = 1.0) -> SweepStatus:
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(self.cell_ids), desc="cells", unit="cell")
        try:
            while True:
                finished = all(_job_done(j) for j in self.jobs)
                if bar is not None:
                    bar.n = sum(self.sweep.dir.state(c) in ("done", "failed") for c in self.cell_ids)
                    bar.refresh()
                if finished:
                    break
                time.sleep(poll_s)
        finally:
            if bar is not None:
                bar.close()
        for job in self.jobs:
            try:
                job.result()
            except Exception as exc:  # noqa: BLE001 - a worker's death leaves its cell claimable again
                lines = str(exc).strip().splitlines()
                self.errors.append(f"job {getattr(job, 'job_id', '?')}: {lines[-1] if lines else type(exc).__name__}")
                log.warning("sweep worker failed: %s", self.errors[-1])
        return self.sweep.status()


def _job_done(job) -> bool:
    return job.done()


class Sweep:
    """A grid of distill + evaluate cells living in a directory.

    >>> sweep = Sweep("grid.toml", "results/sweeps/smoke")
    >>> print(sweep.plan().summary())
    >>> sweep.run(executor="local", max_parallel=2).wait(progress=True)
    >>> sweep.status().summary(); sweep.table().markdown()
    """

    def __init__(self, spec: SweepSpec | str | Path | None, directory: str | Path, *,
                 key: Sequence[str] | None = None) -> None:
        """``spec``: a sweep file, a ``SweepSpec``, or None for the one stored in ``directory``.

        key : the grid axes that name a result (default: all of the cell's axes). A finished cell in
            ``directory`` with the same values on ``key`` but other settings makes this a ``ValueError``
            naming the difference (checked when ``spec`` is given, not when the stored one is opened).
        """
        self.dir = SweepDir(directory)
        given = spec is not None
        if spec is None:
            if not self.dir.spec_file.is_file():
                raise FileNotFoundError(f"{directory} holds no sweep (no sweep.toml); pass the sweep file")
            spec = parse_spec(self.dir.spec_file.read_text(), name=self.dir.root.name, max_cells=None)
        elif not isinstance(spec, SweepSpec):
            spec = load_spec(spec)
        self.spec = spec
        self.cells = spec.cells()
        self._by_id = {c.id: c for c in self.cells}
        if given:
            self._check_finished(key)

    @classmethod
    def open(cls, directory: str | Path) -> "Sweep":
        """The sweep stored in ``directory`` (after it was run, moved or copied)."""
        return cls(None, directory)

    def _check_finished(self, key: Sequence[str] | None) -> None:
        """Refuse a cell whose grid point (on ``key``) a finished cell of other settings already holds."""
        cells_dir = self.dir.root / "cells"
        if not cells_dir.is_dir():
            return
        wanted = {}
        for c in self.cells:
            point = c.axes if key is None else {k: c.axes.get(k) for k in key}
            wanted.setdefault(json_key(point), c)
        for done in sorted(cells_dir.glob("*/done.json")):
            if done.parent.name in self._by_id:
                continue  # the same settings: reused
            made = (self.dir.read(done.parent.name, "cell.json") or {}).get("cell")
            if not isinstance(made, dict):
                continue
            axes = made.get("axes", {})
            point = axes if key is None else {k: axes.get(k) for k in key}
            mine = wanted.get(json_key(point))
            if mine is not None:
                raise ValueError(f"{self.dir.root} holds a finished cell {done.parent.name} made with other "
                                 f"settings: {cell_differences(made, mine.to_dict())}; use another directory")

    def cell(self, cell_id: str) -> Cell:
        try:
            return self._by_id[cell_id]
        except KeyError:
            raise ValueError(f"{cell_id!r} is not a cell of this sweep") from None

    # ---------------------------------------------------------------- planning
    def plan(self, *, retry_failed: bool = False, cells_per_job: int | None = None,
             job_hours: float = 2.0) -> Plan:
        """The cells not done (failed ones too with ``retry_failed``; running ones are left alone),
        grouped into jobs of ``cells_per_job`` (default: packed up to ``job_hours`` by the estimate,
        cells of one dataset together, so a job loads each dataset once)."""
        states = {c.id: self.dir.state(c.id) for c in self.cells}
        wanted = ("pending", "failed") if retry_failed else ("pending",)
        todo = [c for c in self.cells if states[c.id] in wanted]
        est = {c.id: estimate_cell(c) for c in todo}
        if cells_per_job is not None and (not isinstance(cells_per_job, int) or cells_per_job < 1):
            raise ValueError(f"cells_per_job must be an integer >= 1 or None; got {cells_per_job!r}")
        jobs: list[list[str]] = []
        ordered = sorted(todo, key=lambda c: (c.dataset, json_key(c.data), c.seed))
        hours = 0.0
        for c in ordered:
            h = est[c.id].hours
            if not jobs or (len(jobs[-1]) >= cells_per_job if cells_per_job else hours + h > job_hours):
                jobs.append([])
                hours = 0.0
            jobs[-1].append(c.id)
            hours += h
        total = sum(e.hours for e in est.values())
        measured = sum(e.hours for e in est.values() if e.measured)
        return Plan(todo=todo, jobs=jobs, gpu_hours=total, measured_share=measured / total if total else 1.0,
                    total_cells=len(self.cells), done_cells=sum(s == "done" for s in states.values()))

    # ----------------------------------------------------------------- running
    def run(self, executor: Executor = "local", *, max_parallel: int = 1, retry_failed: bool = False,
            cells_per_job: int | None = None, resources: Resources | None = None, device: str | None = None,
            plan: Plan | None = None, callback: Callable[[Cell, dict], None] | None = None) -> SweepRun:
        """Start the cells not yet done and return at once; ``.wait()`` on the result blocks.

        executor : "local" (submitit processes on this machine), "slurm" (submitit job array),
            "debug" (submitit, in this process on ``wait``) or "inline" (this process, now; no submitit).
        max_parallel : local: worker processes, each taking cells as they free up; slurm: array tasks
            running at once.
        callback : "inline" only: called with (cell, its ``done.json``) after each cell this run finishes.
        """
        if executor not in EXECUTORS:
            raise ValueError(f"unknown executor {executor!r}; allowed: {list(EXECUTORS)}")
        if isinstance(max_parallel, bool) or not isinstance(max_parallel, int) or max_parallel < 1:
            raise ValueError(f"max_parallel must be an integer >= 1; got {max_parallel!r}")
        resources = resources or Resources()
        self._write_spec()
        self.dir.clear_dead_claims()
        plan = plan or self.plan(retry_failed=retry_failed, cells_per_job=cells_per_job)
        # cells of one dataset build together: a worker loads each (dataset, knobs, seed) once
        ids = [c.id for c in sorted(plan.todo, key=lambda c: (c.dataset, json_key(c.data), c.seed))]
        if callback is not None and executor != "inline":
            raise ValueError(f"callback needs executor 'inline' (cells run in this process); got {executor!r}")
        device = device or self.spec.device
        root = str(self.dir.root.resolve())
        if not ids:
            return SweepRun(self, [], [])
        if executor in ("local", "inline", "debug"):
            # workers pull from the whole list (rotated so they start apart): the claims share the work
            n = min(max_parallel, len(ids))
            job_lists = [ids[i * len(ids) // n:] + ids[:i * len(ids) // n] for i in range(n)]
        else:
            job_lists = plan.jobs
        if executor == "inline":
            run_cells(self, job_lists[0], retry_failed=retry_failed, device=device, callback=callback)
            return SweepRun(self, [], ids)
        # local workers run on this machine's own time (the estimate is for an H100): no default limit
        timeout = self._timeout_min(plan, job_lists) if executor == "slurm" else LOCAL_TIMEOUT_MIN
        ex = make_executor(executor, self.dir.jobs, resources=resources, max_parallel=max_parallel,
                           timeout_min=resources.timeout_min or timeout)
        n = len(job_lists)
        jobs = ex.map_array(run_job, [root] * n, job_lists, [retry_failed] * n, [device] * n)
        from ..io import write_json

        write_json(self.dir.jobs / "submissions" / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.json",
                   {"executor": executor, "host": socket.gethostname(), "jobs": [str(j.job_id) for j in jobs],
                    "cells": job_lists, "gpu_hours_estimate": plan.gpu_hours})
        return SweepRun(self, jobs, ids)

    def _timeout_min(self, plan: Plan, job_lists: list[list[str]]) -> int:
        est = {c.id: estimate_cell(c).hours for c in plan.todo}
        longest = max(sum(est[i] for i in ids) for ids in job_lists)
        return int(math.ceil(1.5 * longest * 60 + 10))

    def _write_spec(self) -> None:
        from ..io import atomic_write

        with self.dir.lock():
            current = self.dir.spec_file.read_text() if self.dir.spec_file.is_file() else None
            if current != self.spec.text:
                atomic_write(self.dir.spec_file, lambda p: p.write_text(self.spec.text))

    # ------------------------------------------------------------------ status
    def status(self) -> SweepStatus:
        """done / running / failed / pending per cell, the last error line of failures, hours used
        (finished cells, by device) and the estimate for the rest (one H100)."""
        import pandas as pd

        rows, used, left = [], {}, 0.0
        for c in self.cells:
            state = self.dir.state(c.id)
            row = {"cell": c.id, "state": state, **{k: v for k, v in c.axes.items()}, "worker": "", "error": "",
                   "hours": None}
            if state == "done":
                done = self.dir.read(c.id, "done.json") or {}
                hours = float(done.get("seconds", 0.0)) / 3600
                kind = done.get("device_name") or done.get("device", "?")
                used[kind] = used.get(kind, 0.0) + hours
                row["hours"] = hours
            else:
                left += estimate_cell(c).hours
                if state == "running":
                    claim = self.dir.read(c.id, "claim") or {}
                    row["worker"] = " ".join(f"{k} {claim[k]}" for k in ("host", "pid", "job") if claim.get(k))
                if state == "failed":
                    row["error"] = (self.dir.read(c.id, "failed.json") or {}).get("error", "")
            rows.append(row)
        frame = pd.DataFrame(rows)
        counts = {s: int((frame["state"] == s).sum()) if len(frame) else 0 for s in STATES}
        return SweepStatus(cells=frame, counts=counts, hours_used=used, hours_left=left)

    def table(self, **kw):
        """The paper table of the finished cells (``fairdd.sweeps.table.SweepTable``)."""
        from .table import load_table

        return load_table(self.dir.root, **kw)


def json_key(obj) -> str:
    import json

    return json.dumps(obj, sort_keys=True, default=str)


# ------------------------------------------------------------------------- executors
def make_executor(kind: str, folder: str | Path, *, resources: Resources, max_parallel: int = 1,
                  timeout_min: int = 60):
    """A submitit executor with the requested resources. Needs ``pip install fairdd[cluster]``."""
    try:
        import submitit
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError("executor 'local', 'slurm' and 'debug' need submitit: pip install 'fairdd[cluster]' "
                          "(or use executor='inline')") from exc
    folder = Path(folder) / "%j"
    timeout_min = resources.timeout_min or timeout_min
    if kind == "debug":
        return submitit.DebugExecutor(folder)
    if kind == "local":
        import torch

        ex = submitit.LocalExecutor(folder)
        gpus = min(resources.gpus_per_task, torch.cuda.device_count()) if torch.cuda.is_available() else 0
        ex.update_parameters(timeout_min=timeout_min, gpus_per_node=gpus)
        return ex
    if kind != "slurm":
        raise ValueError(f"unknown executor {kind!r}; allowed: {list(EXECUTORS)}")
    try:
        ex = submitit.SlurmExecutor(folder)
    except RuntimeError as exc:
        raise RuntimeError(f"executor 'slurm' needs a SLURM cluster: {exc}") from exc
    params = dict(job_name="fairdd-sweep", time=timeout_min, ntasks_per_node=1, gpus_per_task=resources.gpus_per_task,
                  cpus_per_task=resources.cpus_per_task, mem=f"{resources.mem_gb}GB",
                  array_parallelism=max_parallel, signal_delay_s=120)
    for name in ("partition", "account", "qos", "constraint"):
        if getattr(resources, name):
            params[name] = getattr(resources, name)
    if resources.setup:
        params["setup"] = list(resources.setup)
    if resources.additional:
        params["additional_parameters"] = dict(resources.additional)
    ex.update_parameters(**params)
    return ex


def sbatch_script(executor, n_jobs: int) -> str:
    """The sbatch script submitit would write for an array of ``n_jobs`` (nothing is submitted)."""
    from submitit.slurm.slurm import _make_sbatch_string

    params = dict(executor.parameters)
    if n_jobs > 1:
        params["map_count"] = n_jobs
    return _make_sbatch_string(command=executor._submitit_command_str, folder=executor.folder, **params)


# ------------------------------------------------------------------------- workers
def run_job(root: str, cell_ids: Sequence[str], retry_failed: bool = False, device: str = "auto") -> dict:
    """A worker: run every listed cell that is not done and can be claimed. Returns ``{id: state}``.

    Errors of a cell are written to its ``failed.json`` and its log; the worker goes on with the next.
    """
    return run_cells(Sweep.open(root), cell_ids, retry_failed=retry_failed, device=device)


def run_cells(sweep: Sweep, cell_ids: Sequence[str], *, retry_failed: bool = False, device: str = "auto",
              callback: Callable[[Cell, dict], None] | None = None) -> dict:
    """``run_job`` on a ``Sweep`` in hand; ``callback(cell, done)`` after each cell finished here."""
    root = sweep.dir.root
    cache: dict = {}
    out = {}
    for cid in cell_ids:
        if cid not in sweep._by_id:  # sweep.toml was changed after submission: the cell is gone
            log.warning("cell %s is no longer in %s/sweep.toml; skipped", cid, root)
            out[cid] = "removed"
            continue
        cell = sweep.cell(cid)
        claim = sweep.dir.claim(cid, retry_failed=retry_failed, owner=_owner())
        if claim is None:
            out[cid] = sweep.dir.state(cid)
            continue
        try:
            done = run_cell(sweep.dir, cell, device=device, cache=cache)
            out[cid] = "done"
        except Exception as exc:  # noqa: BLE001 - recorded per cell; the job goes on
            lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
            sweep.dir.write(cid, "failed.json", {
                "error": f"{type(exc).__name__}: {lines[-1] if lines else ''}",
                "traceback": traceback.format_exc(), "at": time.time(), **_owner()})
            out[cid] = "failed"
        finally:
            claim.release()
        if out[cid] == "done" and callback is not None:
            callback(cell, done)
    return out


def _owner() -> dict:
    job = os.environ.get("SLURM_ARRAY_JOB_ID") or os.environ.get("SLURM_JOB_ID") or os.environ.get("SUBMITIT_JOB_ID")
    task = os.environ.get("SLURM_ARRAY_TASK_ID")
    return {"job": f"{job}_{task}" if job and task else job}


def run_cell(store: SweepDir, cell: Cell, *, device: str = "auto", cache: dict | None = None) -> dict:
    """Distil and evaluate one cell into its folder; ``done.json`` is written last."""
    import torch

    from .. import datasets
    from ..distill import distill, resolve_device
    from ..evaluate import evaluate, random_subset

    folder = store.cell(cell.id)
    handler = logging.FileHandler(folder / "log.txt")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    pkg = logging.getLogger("fairdd")
    pkg.addHandler(handler)
    old_level = pkg.level
    pkg.setLevel(logging.INFO)
    try:
        dev = resolve_device(device)
        log.info("cell %s on %s (%s, pid %d)", cell.id, dev, socket.gethostname(), os.getpid())
        cache = {} if cache is None else cache
        t0 = time.perf_counter()
        train, test = _load(cell, cache, datasets.load)
        load_s = time.perf_counter() - t0
        store.write(cell.id, "cell.json", {
            "cell": cell.to_dict(), "id": cell.id,
            "distill": None if cell.target in ("random", "whole") else cell.distill_config().to_dict(),
            "evaluate": {**cell.eval_config().to_dict(), "n_models": cell.n_models},
            "dataset": {"train": _describe(train), "test": _describe(test)},
            "host": socket.gethostname(), "device": str(dev), "torch": torch.__version__})
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        t1 = time.perf_counter()
        if cell.target == "whole":
            source = train
        elif cell.target == "random":
            source = random_subset(train, ipc=cell.ipc, seed=cell.seed)
        else:
            source = distill(train, method=cell.method, target=cell.target, ipc=cell.ipc, preset=cell.preset,
                             seed=cell.seed, device=dev, **cell.distill)
        distill_s = time.perf_counter() - t1
        if cell.target != "whole":
            source.save(folder / "result", overwrite=True)  # a retried cell replaces its own result
        log.info("distilled in %.1f s", distill_s)
        report = evaluate(source, test, n_models=cell.n_models, preset=cell.preset, method=cell.method,
                          seed=cell.seed, device=dev, **cell.evaluate)
        report.save(folder / "report.json")
        done = _done_record(cell, source, report, dev, distill_s=distill_s, load_s=load_s,
                            seconds=time.perf_counter() - t0)
        failed = folder / "failed.json"
        if failed.exists():
            failed.unlink()
        store.write(cell.id, "done.json", done)
        log.info("done: %s", report.summary())
        return done
    except Exception:
        log.exception("cell %s failed", cell.id)
        raise
    finally:
        pkg.removeHandler(handler)
        pkg.setLevel(old_level)
        handler.close()


def _done_record(cell: Cell, source, report, dev, *, distill_s: float, load_s: float, seconds: float) -> dict:
    """What ``done.json`` holds: the report's metrics, spread and noise floor, timings and the device."""
    import statistics

    import torch

    history = getattr(source, "history", [])
    steps = [h["seconds"] for h in history]
    return {**report.overall, "std": dict(report.std), "noise_floor": report.noise_floor(),
            "n_models": cell.n_models, "distill_s": distill_s, "eval_s": report.seconds, "load_s": load_s,
            "seconds": seconds, "iterations": len(history),
            # median step time: robust to the first steps' warm-up (allocator, thread pools, cuDNN)
            "ms_per_iteration": 1000 * statistics.median(steps) if steps else None,
            "device": dev.type,
            "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
            "peak_gpu_gb": torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else None,
            "host": socket.gethostname(), "finished_at": time.time()}


def _load(cell: Cell, cache: dict, load):
    from ..data import options

    key = json_key({"dataset": cell.dataset, "seed": cell.seed, **cell.data})
    if key not in cache:
        cache.clear()  # one dataset at a time in memory
        seed = {"seed": cell.seed} if "seed" in options(cell.dataset) else {}  # bffhq has a fixed split
        train = load(cell.dataset, split="train", **seed, **cell.data)
        test_knobs = {k: v for k, v in cell.data.items() if k not in ("bias", "group_noise", "group_labels")}
        test = load(cell.dataset, split="test", **seed, **test_knobs)
        cache[key] = (train, test)
    return cache[key]


def _describe(ds) -> dict:
    """The dataset's fingerprint where ``GroupedDataset`` offers one, else its build knobs and sizes."""
    fp = getattr(ds, "fingerprint", None)
    out = {"info": ds.info, "n": len(ds), "n_classes": ds.n_classes, "n_groups": ds.n_groups,
           "image_shape": list(ds.image_shape)}
    if callable(fp):
        out["fingerprint"] = fp()
    else:
        out["counts"] = ds.cell_counts().tolist()
    return out
