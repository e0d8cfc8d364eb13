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

import contextlib
import dataclasses
import io
import json
import logging
import math
import os
import shutil
import socket
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal, Sequence

from .estimate import estimate_cell
from .grid import Cell, SweepSpec, cell_differences, load_spec, parse_spec
from ..io import write_json
from .resources import Resources
from .store import STATES, SweepDir

__all__ = ["Sweep", "SweepStatus", "Plan", "Resources", "SweepRun", "run_job", "run_cells", "run_cell", "EXECUTORS"]

EXECUTORS = ("local", "slurm", "debug", "inline")
DEFAULT_SPREAD = 16  # slurm: the fewest array tasks a grid is spread over (when it has that many cells)
LOCAL_TIMEOUT_MIN = 30 * 24 * 60  # submitit's local default (2 min) would stop real runs
TIME_MARGIN = {"cpu": 3.0, "cuda": 1.5}  # SLURM --time over the estimate: the CPU model is a model, the GPU's measured
MIN_TIMEOUT_MIN, MAX_TIMEOUT_MIN = 15, 7 * 24 * 60  # and never under 15 min or over a week (or the partition's limit)
Executor = Literal["local", "slurm", "debug", "inline"]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    """The cells a run would start, grouped into jobs, and their GPU-hour estimate (one H100)."""

    todo: list[Cell]
    jobs: list[list[str]]
    gpu_hours: float
    measured_share: float  # share of the estimate resting on measured (DM) step times
    total_cells: int
    done_cells: int
    device: str = "cuda"  # what the estimate is for: "cuda" (one H100) or "cpu"
    failed: list = field(default_factory=list)  # ids of failed / damaged cells (run only with retry_failed)

    def summary(self) -> str:
        """Say in one line how many cells are to run and the estimate, with where it comes from."""
        source = ("from measured step times" if self.measured_share == 1 else
                  f"{100 * self.measured_share:.0f}% of it from measured step times, the rest from the step model")
        text = (f"{len(self.todo)} of {self.total_cells} cells to run ({self.done_cells} done); estimate "
                f"{_hours(self.gpu_hours)} {_unit(self.device)} ({source})")
        if self.failed and not any(c.id in self.failed for c in self.todo):
            shown = ", ".join(self.failed[:3]) + (" ..." if len(self.failed) > 3 else "")
            text += f"; {len(self.failed)} failed cell(s) not rerun ({shown}): rerun them with --retry-failed"
        return text

    def breakdown(self, by: Sequence[str] = ("method", "target", "ipc")):
        """Estimated GPU-hours of the cells to run, summed per ``by`` (a DataFrame)."""
        import pandas as pd

        rows = []
        for c in self.todo:
            e = estimate_cell(c, device=self.device)
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
    hours_left: float  # estimate for the cells not done, on ``device``
    device: str = "auto"  # the grid's device
    resources: dict | None = None  # the SLURM resources saved in the folder (None: never submitted)

    def summary(self) -> str:
        """Say in one line how many cells are in each state, the hours used and the estimate for the rest."""
        counts = ", ".join(f"{self.counts[s]} {s}" for s in STATES if self.counts[s] or s in _ALWAYS)
        used = ", ".join(f"{_hours(h)} h on {d}" for d, h in self.hours_used.items()) or "none yet"
        unit = _unit("cpu" if self.device == "cpu" else "cuda")
        return f"{counts}; used {used}; estimate for the rest {_hours(self.hours_left)} {unit}"

    def resources_line(self) -> str:
        """Return the saved SLURM resources, the knobs set (``""`` if the sweep was never submitted)."""
        if not self.resources:
            return ""
        default = Resources().to_dict()
        return "resources: " + (", ".join(f"{k}={v}" for k, v in self.resources.items() if v != default[k])
                                or "defaults for the device")


_HINTS = {"OUT_OF_MEMORY": ": killed over its memory limit; retry with more --mem-gb",
          "TIMEOUT": ": killed at its time limit; retry with more --timeout-min",
          "DEADLINE": ": killed at its deadline"}
_ALWAYS = ("done", "running", "failed", "pending")  # shown even when 0


def _hours(h: float) -> str:
    return f"{h:.2f}" if h >= 0.1 else f"{h:.2g}"


def _unit(device: str) -> str:
    return "CPU-hours (estimate, one core, fp32)" if device == "cpu" else "GPU-hours on one H100"


def _first_error(exc: BaseException) -> str:
    """Return sbatch's complaint from a submitit error, once (it often repeats it)."""
    text = str(getattr(exc, "output", b"") or b"", "utf-8", "replace") if isinstance(
        getattr(exc, "output", None), bytes) else str(exc)
    lines = list(dict.fromkeys(ln.strip() for ln in text.splitlines() if "error" in ln.lower() and ln.strip()))
    return "; ".join(lines[:2]) or text.strip().splitlines()[-1] if text.strip() else type(exc).__name__


class SweepRun:
    """Submitted jobs of one ``Sweep.run``; ``wait()`` blocks until they end (with a progress bar)."""

    def __init__(self, sweep: "Sweep", jobs: list, cell_ids: list[str], *, slurm: bool = False) -> None:
        self.sweep, self.jobs, self.cell_ids, self.slurm = sweep, jobs, cell_ids, slurm
        self.errors: list[str] = []  # workers that died (killed, timed out); cell errors are in failed.json

    @property
    def job_ids(self) -> list[str]:
        """Return the SLURM job ids of the submitted jobs (``"inline"`` for jobs run here)."""
        return [str(getattr(j, "job_id", "inline")) for j in self.jobs]

    def wait(self, *, progress: bool = False, poll_s: float | None = None) -> SweepStatus:
        """Block until the jobs end (SLURM: until SLURM says no cell is queued or running).

        Polls every ``poll_s`` seconds (default 1 locally, 5 on SLURM, to spare the controller).
        """
        poll_s = poll_s if poll_s is not None else (5.0 if self.slurm else 1.0)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(self.cell_ids), desc="cells", unit="cell")
        try:
            while True:
                if self.slurm:  # SLURM's word (squeue / sacct / scontrol), not submitit's result files
                    states = self.sweep.states()
                    finished = not any(states[c][0] in ("queued", "requeued", "running") for c in self.cell_ids)
                else:
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
        for job in ([] if self.slurm else self.jobs):
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
                 key: Sequence[str] | None = None, replace_grid: bool = False) -> None:
        """``spec``: a sweep file, a ``SweepSpec``, or None for the one stored in ``directory``.

        key : the grid axes that name a result (default: all of the cell's axes). A finished cell in
            ``directory`` with the same values on ``key`` but other settings makes this a ``ValueError``
            naming the difference (checked when ``spec`` is given, not when the stored one is opened).
        replace_grid : a directory belongs to one grid: a ``spec`` that drops cells of the stored grid
            (another grid, not the same one grown) is a ``ValueError`` unless this is True. With a
            ``key``, the directory is a store of results named by ``key`` that several grids fill
            (the studies): the ``key`` check alone guards it.
        """
        self.dir = SweepDir(directory, job_alive=self._job_alive)
        given = spec is not None
        if spec is None:
            spec = self.dir.stored_spec()
        elif not isinstance(spec, SweepSpec):
            spec = load_spec(spec)
        self.spec = spec
        self.cells = spec.cells()
        self._by_id = {c.id: c for c in self.cells}
        self._jobs: dict | None = None  # SLURM's word on the jobs, cached for one status / plan
        if given:
            self._check_finished(key)
            if not replace_grid and key is None:
                self._check_grid()

    @classmethod
    def open(cls, directory: str | Path) -> "Sweep":
        """Return the sweep stored in ``directory`` (after it was run, moved or copied)."""
        return cls(None, directory)

    def _check_grid(self) -> None:
        """Refuse a grid that drops cells of the one stored here (a grown grid keeps them all)."""
        if not self.dir.spec_file.is_file():
            return
        try:
            stored = parse_spec(self.dir.spec_file.read_text(), name=self.dir.root.name)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{self.dir.spec_file} is not a valid sweep file ({exc}); use another directory "
                             "or replace_grid=True (--replace-grid)") from None
        dropped = [c.id for c in stored.cells() if c.id not in self._by_id]
        if dropped:
            raise ValueError(
                f"{self.dir.root} belongs to another grid ({self.dir.spec_file}): this one drops {len(dropped)} of "
                f"its cells ({', '.join(dropped[:3])}{' ...' if len(dropped) > 3 else ''}); use another directory, "
                "or replace_grid=True (--replace-grid) to make this grid the folder's (finished cells are kept)")

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
        """Return the cell named ``cell_id``; ``ValueError`` if the sweep has none."""
        try:
            return self._by_id[cell_id]
        except KeyError:
            raise ValueError(f"{cell_id!r} is not a cell of this sweep") from None

    # ---------------------------------------------------------------- SLURM's word
    def _records(self) -> dict[str, dict]:
        """Return the SLURM job each cell was last submitted to (``job.json``)."""
        out = {}
        for c in self.cells:
            rec = self.dir.read(c.id, "job.json")
            if rec and rec.get("job"):
                out[c.id] = rec
        return out

    def job_states(self, refresh: bool = False) -> dict:
        """SLURM's state of the jobs the cells were submitted to (``slurm.JobState`` by job id)."""
        from . import slurm

        if self._jobs is None or refresh:
            records = self._records()
            logs = {r["job"]: self.dir.root / r["log"] for r in records.values() if r.get("log")}
            self._jobs = slurm.query({r["job"] for r in records.values()}, logs=logs) if records else {}
        return self._jobs

    def _job_alive(self, job: str) -> bool | None:
        from . import slurm

        jobs = self._jobs if self._jobs is not None else {}
        state = jobs.get(job) or slurm.query([job]).get(job)
        return None if state is None else state.alive

    def states(self) -> dict[str, tuple[str, dict]]:
        """Each cell's state and what explains it (job, reason, log, error), from its files and SLURM.

        A cell of a live SLURM job is ``queued`` (or ``running`` once claimed); a job that ended
        without the cell's result settles it: failed with SLURM's reason and the job's log (OOM, time
        limit, a failing setup line), or pending again (cancelled, node failure).
        """
        from . import slurm

        jobs = self.job_states(refresh=True)
        records = self._records()
        out = {}
        for c in self.cells:
            state, rec = self.dir.state(c.id), records.get(c.id)
            info = {"job": rec["job"] if rec else "", "log": rec.get("log", "") if rec else ""}
            js = jobs.get(rec["job"]) if rec else None
            # a failure recorded before this submission is history: the job's outcome decides
            earlier = state == "failed" and rec is not None and float(
                (self.dir.read(c.id, "failed.json") or {}).get("at", 0)) < float(rec.get("at", 0))
            requeue = self.dir.read(c.id, "requeue.json") or {}
            if rec is not None and requeue.get("job") == rec["job"]:  # this job's requeue (not an older job's)
                info.update(attempt=requeue.get("attempt"), resumes_at=requeue.get("resumes_at"))
            if (state == "pending" or earlier) and js is not None and js.alive:
                state, info["reason"] = "queued", f"{js.state} {js.reason}".strip()
                if info.get("attempt"):
                    state = "requeued"
                    info["reason"] = (f"attempt {info['attempt']} resumes at {info['resumes_at']}; "
                                      + info["reason"])
            elif (state == "pending" or earlier) and js is not None and js.alive is False \
                    and js.state != "COMPLETED":
                if js.state in slurm.FAILS:
                    log_text = slurm.log_tail(self.dir.root / info["log"]) if info["log"] else ""
                    hint = _HINTS.get(js.state) or (f" ({js.reason})" if js.reason else "") + \
                        (f": {log_text}" if log_text else "")
                    self.dir.write(c.id, "failed.json", {
                        "error": f"SLURM job {js.job} {js.state}{hint}",
                        "job": js.job, "slurm_state": js.state, "log": info["log"], "at": time.time()})
                    state = "failed"
                else:
                    word = "left SLURM without a record (cancelled while pending?)" if js.state == "GONE" else js.state
                    info["reason"] = f"job {js.job} {word}; a rerun resubmits it"
            out[c.id] = (state, info)
        return out

    # ---------------------------------------------------------------- planning
    def plan(self, *, retry_failed: bool = False, cells_per_job: int | None = None, job_hours: float = 2.0,
             max_parallel: int | None = None, device: str | None = None) -> Plan:
        """Return the cells to run.

        Pending ones (failed and damaged ones too with ``retry_failed``; running and queued ones are left alone),
        grouped into jobs of ``cells_per_job`` or, by default, into ``max_parallel`` jobs (16 if None), more where a
        job would last over ``job_hours`` on average by the estimate for ``device``; cells of one dataset together,
        so a job loads each dataset once.
        """
        _check_max_parallel(max_parallel)
        if cells_per_job is not None and (isinstance(cells_per_job, bool) or not isinstance(cells_per_job, int)
                                          or cells_per_job < 1):
            raise ValueError(f"cells_per_job must be an integer >= 1 or None; got {cells_per_job!r}")
        device = device or self.spec.device
        states = {cid: st for cid, (st, _) in self.states().items()}
        wanted = ("pending", "failed", "damaged") if retry_failed else ("pending",)
        todo = [c for c in self.cells if states[c.id] in wanted]
        est = {c.id: estimate_cell(c, device=device) for c in todo}
        ordered = sorted(todo, key=lambda c: (c.dataset, json_key(c.data), str(c.data_seed), c.seed))
        total = sum(e.hours for e in est.values())
        if cells_per_job:
            n = math.ceil(len(ordered) / cells_per_job)
        else:  # at least the parallel tasks asked for, and enough that a job lasts <= job_hours on average
            n = min(len(ordered), max(max_parallel or DEFAULT_SPREAD, math.ceil(total / job_hours)))
        jobs: list[list[str]] = []
        cum, per = 0.0, total / max(n, 1)
        for i, c in enumerate(ordered):  # contiguous; job k starts at k / n of the hours (or of the cells)
            if cells_per_job:
                start = not jobs or len(jobs[-1]) >= cells_per_job
            else:
                start = not jobs or len(jobs) < n and (cum >= per * len(jobs) * (1 - 1e-9)
                                                       or len(ordered) - i <= n - len(jobs))
            if start:
                jobs.append([])
            jobs[-1].append(c.id)
            cum += est[c.id].hours
        measured = sum(e.hours for e in est.values() if e.measured)
        return Plan(todo=todo, jobs=jobs, gpu_hours=total, measured_share=measured / total if total else 1.0,
                    total_cells=len(self.cells), done_cells=sum(s == "done" for s in states.values()),
                    device="cpu" if device == "cpu" else "cuda",
                    failed=[cid for cid, s in states.items() if s in ("failed", "damaged")])

    # ----------------------------------------------------------------- running
    def run(self, executor: Executor = "local", *, max_parallel: int | None = None, retry_failed: bool = False,
            cells_per_job: int | None = None, job_hours: float = 2.0, resources: Resources | None = None,
            device: str | None = None, plan: Plan | None = None,
            callback: Callable[[Cell, dict], None] | None = None) -> SweepRun:
        """Start the cells not yet done and return at once; ``.wait()`` on the result blocks.

        executor : "local" (submitit processes on this machine), "slurm" (submitit job array),
            "debug" (submitit, in this process on ``wait``) or "inline" (this process, now; no submitit).
        max_parallel : local: worker processes (default 1); slurm: array tasks running at once (default:
            no limit) and the fewest jobs the cells are spread over.
        resources : slurm: what each job asks for; default: those saved in the folder (``resources.json``),
            else ``Resources()``; given ones are saved. The device fills what they leave None.
        callback : "inline" only: called with (cell, its ``done.json``) after each cell this run finishes.
        """
        if executor not in EXECUTORS:
            raise ValueError(f"unknown executor {executor!r}; allowed: {list(EXECUTORS)}")
        _check_max_parallel(max_parallel)
        if callback is not None and executor != "inline":
            raise ValueError(f"callback needs executor 'inline' (cells run in this process); got {executor!r}")
        self._write_spec()
        self.dir.clear_dead_claims()
        device = device or self.spec.device
        if executor == "slurm":
            return self._submit(resources, max_parallel=max_parallel, retry_failed=retry_failed, device=device,
                                cells_per_job=cells_per_job, job_hours=job_hours)
        plan = plan or self.plan(retry_failed=retry_failed, cells_per_job=cells_per_job, device=device)
        # cells of one dataset build together: a worker loads each (dataset, knobs, data draw) once
        ids = [c.id for c in sorted(plan.todo, key=lambda c: (c.dataset, json_key(c.data), str(c.data_seed), c.seed))]
        if not ids:
            return SweepRun(self, [], [])
        # workers pull from the whole list (rotated so they start apart): the claims share the work
        n = min(max_parallel or 1, len(ids))
        job_lists = [ids[i * len(ids) // n:] + ids[:i * len(ids) // n] for i in range(n)]
        if executor == "inline":
            run_cells(self, job_lists[0], retry_failed=retry_failed, device=device, callback=callback)
            return SweepRun(self, [], ids)
        # local workers run on this machine's own time: no default limit
        ex = make_executor(executor, self.dir.jobs, resources=resources or Resources(), max_parallel=n,
                           timeout_min=(resources and resources.timeout_min) or LOCAL_TIMEOUT_MIN)
        jobs = ex.map_array(run_job, [str(self.dir.root.resolve())] * n, job_lists, [retry_failed] * n, [device] * n)
        return SweepRun(self, jobs, ids)

    def _submit(self, resources: Resources | None, *, max_parallel: int | None, retry_failed: bool, device: str,
                cells_per_job: int | None, job_hours: float) -> SweepRun:
        """Submit the cells to run as one SLURM job array.

        Under the lock, so two ``run`` never submit a cell twice (cells of a live job are ``queued``, not planned).
        """
        from . import slurm

        resources = self.resources(resources)
        with self.dir.lock():
            plan = self.plan(retry_failed=retry_failed, cells_per_job=cells_per_job, job_hours=job_hours,
                             max_parallel=max_parallel, device=device)
            if not plan.jobs:
                return SweepRun(self, [], [])
            jobs, arrays = [], []
            groups = self.job_groups(plan, resources)  # one array per set of resources
            shares = split_parallel([len(g[1]) for g in groups], max_parallel)
            for (res, job_lists), (share, after) in zip(groups, shares):
                node = slurm.partition_node(res.partition)
                res = res.resolved(device, node)
                if after is not None:  # past the budget: this array starts when an earlier one has ended
                    res = dataclasses.replace(res, dependency=",".join(
                        d for d in (res.dependency, f"afterany:{arrays[after]}") if d))
                ex = make_executor("slurm", self.dir.jobs, resources=res, max_parallel=share,
                                   timeout_min=res.timeout_min or self._timeout_min(plan, job_lists, node),
                                   name=self.spec.name, chdir=self.dir.root.resolve())
                new = self._submit_array(ex, job_lists, retry_failed=retry_failed, device=device, plan=plan)
                arrays.append(str(new[0].job_id).split("_")[0])
                jobs += new
        return SweepRun(self, jobs, [c for ids in plan.jobs for c in ids], slurm=True)

    def job_groups(self, plan: Plan, resources: Resources) -> list[tuple[Resources, list[list[str]]]]:
        """Split the plan's jobs by the resources of their cells: one job array per distinct set, in plan order.

        A cell's resources: ``resources`` with the sweep file's ``[resources.<axis>.<value>]`` of the cell.
        """
        groups: dict[str, tuple[Resources, list[list[str]]]] = {}
        for ids in plan.jobs:
            parts: dict[str, list[str]] = {}
            for cid in ids:
                given = {}
                for axis, by_value in self.spec.resources.items():  # later tables of the file win
                    given.update(by_value.get(str(self._by_id[cid].axes.get(axis)), {}))
                key = json_key(given)
                groups.setdefault(key, (resources.changed(given)[0], []))
                parts.setdefault(key, []).append(cid)
            for key, part in parts.items():
                groups[key][1].append(part)
        return list(groups.values())

    def _submit_array(self, ex, job_lists: list[list[str]], *, retry_failed: bool, device: str, plan: Plan) -> list:
        """Submit ``job_lists`` as one array of ``ex``; a refused sbatch leaves no pickles and says why once."""
        self.dir.jobs.mkdir(parents=True, exist_ok=True)
        before = set(self.dir.jobs.rglob("*"))
        n = len(job_lists)
        try:  # submitit prints sbatch's complaint itself: kept for the one error below
            with contextlib.redirect_stderr(io.StringIO()):
                jobs = ex.map_array(SweepWorker(), [str(self.dir.root.resolve())] * n, job_lists, [retry_failed] * n,
                                    [device] * n)
        except Exception as exc:  # noqa: BLE001 - sbatch refused: leave no pickles, say why once
            for path in sorted(set(self.dir.jobs.rglob("*")) - before, reverse=True):
                path.rmdir() if path.is_dir() else path.unlink(missing_ok=True)
            raise RuntimeError(f"sbatch refused the job array: {_first_error(exc)}") from None
        self._record(jobs, job_lists, plan)
        return jobs

    def _record(self, jobs: list, job_lists: list[list[str]], plan: Plan) -> None:
        from ..io import write_json

        now = time.time()
        for job, ids in zip(jobs, job_lists):
            log_path = os.path.relpath(Path(job.paths.stderr).resolve(), self.dir.root.resolve())
            for cid in ids:
                self.dir.write(cid, "job.json", {"job": str(job.job_id), "log": log_path, "at": now})
        write_json(self.dir.jobs / "submissions" / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.json",
                   {"executor": "slurm", "host": socket.gethostname(), "jobs": [str(j.job_id) for j in jobs],
                    "cells": job_lists, "hours_estimate": plan.gpu_hours, "device": plan.device})

    def resources(self, given: Resources | dict | None = None, *, save: bool = True) -> Resources:
        """Return the folder's SLURM resources (``resources.json``), with ``given`` ones replacing them.

        ``given``: a ``Resources`` or {field: value}; saved with ``save``. ``Resources()`` on a first run with none
        given.
        """
        from ..io import write_json

        path = self.dir.root / "resources.json"
        saved = None
        if path.is_file():
            try:
                saved = Resources.from_dict(json.loads(path.read_text()))
            except (ValueError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
                raise ValueError(f"{path} is damaged ({exc}); fix or delete it, then pass the resources") from None
        if isinstance(given, Resources):
            new = given
        else:
            new, _ = (saved or Resources()).changed(dict(given or {}))
        if save and new != saved:
            write_json(path, new.to_dict())
        return new

    def _timeout_min(self, plan: Plan, job_lists: list[list[str]], node: dict | None = None) -> int:
        """Return the jobs' wall time in minutes.

        The longest job's estimate × ``TIME_MARGIN`` of the device + 10 min, at least ``MIN_TIMEOUT_MIN``,
        at most the partition's limit (``node["max_min"]``) or ``MAX_TIMEOUT_MIN`` (a longer job is
        requeued at its limit and resumes from its checkpoint).
        """
        est = {c.id: estimate_cell(c, device=plan.device).hours for c in plan.todo}
        longest = max(sum(est[i] for i in ids) for ids in job_lists)
        cap = min(MAX_TIMEOUT_MIN, (node or {}).get("max_min") or MAX_TIMEOUT_MIN)
        return int(min(cap, max(MIN_TIMEOUT_MIN, math.ceil(TIME_MARGIN[plan.device] * longest * 60 + 10))))

    def _write_spec(self) -> None:
        from ..io import atomic_write

        with self.dir.lock():
            current = self.dir.spec_file.read_text() if self.dir.spec_file.is_file() else None
            if current != self.spec.text:
                atomic_write(self.dir.spec_file, lambda p: p.write_text(self.spec.text))

    # ------------------------------------------------------------------ status
    def status(self) -> SweepStatus:
        """Give each cell's state (done / running / queued / failed / damaged / pending).

        With its SLURM job, the reason or last error line and the log to read; hours used (finished cells, by
        device) and the estimate for the rest.
        """
        import pandas as pd

        rows, used, left, states = [], {}, 0.0, self.states()
        for c in self.cells:
            state, info = states[c.id]
            row = {"cell": c.id, "state": state, **dict(c.axes), "job": info.get("job", ""), "worker": "",
                   "error": info.get("reason", ""), "log": info.get("log", ""), "hours": None,
                   "attempt": info.get("attempt"), "resumes_at": info.get("resumes_at")}
            if state == "done":
                done = self.dir.read(c.id, "done.json") or {}
                hours = float(done.get("seconds", 0.0)) / 3600
                kind = done.get("device_name") or done.get("device", "?")
                used[kind] = used.get(kind, 0.0) + hours
                row["hours"] = hours
                row["log"] = ""
            else:
                left += estimate_cell(c, device=self.spec.device).hours
            if state == "running":
                claim = self.dir.read(c.id, "claim") or {}
                row["worker"] = " ".join(f"{k} {claim[k]}" for k in ("host", "pid", "job") if claim.get(k))
                if info.get("attempt"):
                    row["worker"] += f" (attempt {info['attempt']}, from {info['resumes_at']})"
            elif state == "failed":
                failed = self.dir.read(c.id, "failed.json")
                row["error"] = failed.get("error", "") if failed else f"{self.dir.cell(c.id) / 'failed.json'} is damaged"
                row["log"] = (failed or {}).get("log") or os.path.join("cells", c.id, "log.txt")
            elif state == "damaged":
                row["error"] = f"damaged: {self.dir.damage(c.id)}; rerun with --retry-failed"
            rows.append(row)
        frame = pd.DataFrame(rows)
        counts = {s: int((frame["state"] == s).sum()) if len(frame) else 0 for s in STATES}
        saved = self.dir.root / "resources.json"
        return SweepStatus(cells=frame, counts=counts, hours_used=used, hours_left=left,
                           device=self.spec.device, resources=json.loads(saved.read_text()) if saved.is_file() else None)

    def table(self, **kw):
        """Return the paper table of the finished cells (``fairdd.sweeps.table.SweepTable``)."""
        from .table import load_table

        return load_table(self.dir.root, **kw)


def _check_max_parallel(max_parallel) -> None:
    if max_parallel is not None and (isinstance(max_parallel, bool) or not isinstance(max_parallel, int)
                                     or max_parallel < 1):
        raise ValueError(f"max_parallel must be an integer >= 1 or None; got {max_parallel!r}")


def split_parallel(sizes: Sequence[int], max_parallel: int | None) -> list[tuple[int | None, int | None]]:
    """Share ``max_parallel`` running tasks among job arrays of ``sizes`` tasks.

    Per array: its ``--array %N`` and the index of an earlier array it waits for (None: none).

    One run never has more than ``max_parallel`` tasks running. Each array gets a share proportional
    to its tasks (at least 1, the shares summing to ``max_parallel``); with more arrays than that, each
    runs one task at a time and array ``i`` waits until array ``i - max_parallel`` has ended
    (``--dependency=afterany``), so at most ``max_parallel`` arrays run at once.
    """
    _check_max_parallel(max_parallel)
    n = len(sizes)
    if max_parallel is None:
        return [(None, None)] * n
    if n > max_parallel:
        return [(1, i - max_parallel if i >= max_parallel else None) for i in range(n)]
    shares = [1] * n  # then the rest of the budget, largest remainder first, never past an array's size
    rest = max_parallel - n
    want = [max(0.0, rest * s / max(sum(sizes), 1)) for s in sizes]
    for i in sorted(range(n), key=lambda i: -(want[i] % 1)):
        shares[i] += int(want[i])
    for i in sorted(range(n), key=lambda i: -(want[i] % 1)):
        if sum(shares) < max_parallel and shares[i] < sizes[i]:
            shares[i] += 1
    return [(min(sh, sz), None) for sh, sz in zip(shares, sizes)]


def json_key(obj) -> str:
    import json

    return json.dumps(obj, sort_keys=True, default=str)


# ------------------------------------------------------------------------- executors
def make_executor(kind: str, folder: str | Path, *, resources: Resources, max_parallel: int | None = 1,
                  timeout_min: int = 60, name: str = "sweep", chdir: str | Path | None = None):
    """Return a submitit executor with the requested resources. Needs ``pip install fairdd[cluster]``."""
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
        gpus = min(resources.gpus_per_task or 0, torch.cuda.device_count()) if torch.cuda.is_available() else 0
        ex.update_parameters(timeout_min=timeout_min, gpus_per_node=gpus)
        return ex
    if kind != "slurm":
        raise ValueError(f"unknown executor {kind!r}; allowed: {list(EXECUTORS)}")
    try:
        ex = submitit.SlurmExecutor(folder, max_num_timeout=resources.max_num_timeout, python=resources.python)
    except RuntimeError as exc:
        raise RuntimeError(f"executor 'slurm' needs a SLURM cluster: {exc}") from exc
    ex.update_parameters(**slurm_parameters(resources, timeout_min=timeout_min, max_parallel=max_parallel,
                                            name=name, chdir=chdir))
    return ex


def slurm_parameters(resources: Resources, *, timeout_min: int, max_parallel: int | None = None,
                     name: str = "sweep", chdir: str | Path | None = None) -> dict:
    """Give submitit's sbatch parameters for ``resources`` (resolved: ``Resources.resolved``).

    No ``--gpus-per-task`` without GPUs, no ``--wckey``; the job is named ``fairdd-<name>`` and runs in
    ``chdir`` (the sweep folder) unless the resources say otherwise.
    """
    r = resources
    params = dict(job_name=r.job_name or f"fairdd-{name}", time=timeout_min, ntasks_per_node=1,
                  signal_delay_s=r.signal_delay_s, wckey=None, array_parallelism=max_parallel or 100000)
    if r.gpus_per_task:
        params["gpus_per_task"] = r.gpus_per_task
    if r.mem_gb is not None and not (r.mem_per_cpu or r.mem_per_gpu):
        params["mem"] = f"{int(r.mem_gb)}GB" if float(r.mem_gb).is_integer() else f"{int(r.mem_gb * 1024)}MB"
    for knob in ("cpus_per_task", "cpus_per_gpu", "partition", "account", "qos", "constraint", "gres", "mem_per_cpu",
                 "mem_per_gpu", "exclude", "nodelist", "comment", "mail_user", "mail_type", "dependency"):
        if getattr(r, knob) is not None:
            params[knob] = getattr(r, knob)
    if r.exclusive:
        params["exclusive"] = True
    if r.setup:
        params["setup"] = guarded_setup(r.setup)
    if r.srun_args:
        params["srun_args"] = list(r.srun_args)
    extra = {"chdir": str(r.chdir or chdir)} if (r.chdir or chdir) else {}
    params["additional_parameters"] = {**extra, **dict(r.additional)}
    return params


def guarded_setup(lines: Sequence[str]) -> list[str]:
    """Return the job's setup lines, each stopping the job when it fails (``set -e`` for the setup only).

    A failing line (``module load nothing``, ``source /no/such/venv/bin/activate``) ends the job with
    its exit status and ``fairdd: setup line N failed (exit S): LINE`` as the log's last line, so the
    cells read ``failed`` with that reason instead of running later in the wrong environment. Each line
    runs in the job's shell (``{ ...; }``: ``source``, ``export``, ``module`` still take effect);
    comments and blank lines are kept as they are. A line bash cannot parse is a ``ValueError`` here.
    """
    import shlex

    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            out.append(line)
            continue
        message = shlex.quote(f"fairdd: setup line {n} failed (exit $fairdd_rc): ").replace("$fairdd_rc", "'$fairdd_rc'")
        out += ["{", line, "} || { fairdd_rc=$?; echo " + message + shlex.quote(line) + ' >&2; exit "$fairdd_rc"; }']
        _check_syntax(out[-3:], line)
    return out


def _check_syntax(block: list[str], line: str) -> None:
    """Raise a ``ValueError`` naming ``line`` if bash cannot parse its guarded ``block`` (no bash here: unchecked)."""
    import shutil
    import subprocess

    if shutil.which("bash") is None:
        return
    check = subprocess.run(["bash", "-n"], input="\n".join(block) + "\n", capture_output=True, text=True)
    if check.returncode:
        raise ValueError(f"setup line {line!r} is not a complete shell command (bash cannot parse it); "
                         "give each line whole, a multi-line construct joined with ';'")


def sbatch_script(executor, n_jobs: int) -> str:
    """Return the sbatch script submitit would write for an array of ``n_jobs`` (nothing is submitted)."""
    from submitit.slurm.slurm import _make_sbatch_string

    params = dict(executor.parameters)
    if n_jobs > 1:
        params["map_count"] = n_jobs
    return _make_sbatch_string(command=executor._submitit_command_str, folder=executor.folder, **params)


def preview_script(resources: Resources, folder: str | Path, n_jobs: int, *, timeout_min: int,
                   max_parallel: int | None = None, name: str = "sweep", chdir: str | Path | None = None) -> str:
    """Return the sbatch script of an array of ``n_jobs``, written without SLURM (no ``srun`` needed here)."""
    import shlex
    import sys

    from submitit.slurm.slurm import _make_sbatch_string

    params = slurm_parameters(resources, timeout_min=timeout_min, max_parallel=max_parallel, name=name, chdir=chdir)
    if n_jobs > 1:
        params["map_count"] = n_jobs
    folder = Path(folder).resolve() / "%j"
    python = resources.python or shlex.quote(sys.executable)
    command = " ".join([python, "-u -m submitit.core._submit", shlex.quote(str(folder))])
    return _make_sbatch_string(command=command, folder=folder, **params)


# ------------------------------------------------------------------------- workers
class _Requeue(BaseException):
    """Raised between two distillation steps or evaluation models after SLURM's warning signal.

    Not an error of the cell; ``where``: what the next attempt resumes from ("iteration 731").
    """

    def __init__(self, folder: Path | None = None, where: str = "") -> None:
        super().__init__(folder, where)
        self.folder, self.where = folder, where


_WARNED = threading.Event()  # SLURM's warning signal (USR2) arrived: checkpoint at the next step


class SweepWorker:
    """A submitit-checkpointable worker: ``run_job`` that survives a time limit or a preemption.

    SLURM's warning signal (``--signal-delay-s`` before the limit) only sets a flag; after the current
    distillation step the cell's distillation state is written to ``checkpoint.pt`` in its folder,
    its claim is released and submitit requeues the job (at most ``max_num_timeout`` times). The
    requeued job skips the finished cells and resumes the interrupted one from its checkpoint, bit for
    bit the run it would have been (``distill(resume=...)``).
    """

    def __call__(self, root: str, cell_ids: Sequence[str], retry_failed: bool = False,
                 device: str = "auto") -> dict:
        import signal

        submitit_handler = None
        if os.environ.get("SUBMITIT_EXECUTOR") == "slurm" and threading.current_thread() is threading.main_thread():
            submitit_handler = signal.getsignal(signal.SIGUSR2)
            signal.signal(signal.SIGUSR2, lambda signum, frame: _WARNED.set())
        try:
            return run_job(root, cell_ids, retry_failed, device)
        except _Requeue as stop:
            if not callable(submitit_handler):
                raise RuntimeError("interrupted for a requeue outside a SLURM job") from None
            try:
                submitit_handler(signal.SIGUSR2, None)  # checkpoint() below, scontrol requeue, exit
            except Exception as exc:  # noqa: BLE001 - no requeue (timed out too often): the cell failed
                if stop.folder is not None:
                    write_json(stop.folder / "failed.json", {
                        "error": f"{exc} (the checkpoint resumes at {stop.where}; retry with more "
                                 "--timeout-min or --max-num-timeout)", "log": f"cells/{stop.folder.name}/log.txt",
                        "at": time.time(), **_owner()})
                raise
            raise

    def checkpoint(self, root: str, cell_ids: Sequence[str], retry_failed: bool = False, device: str = "auto"):
        """Return what the requeued job runs: the same cells (submitit's checkpointing protocol)."""
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(SweepWorker(), root, cell_ids, retry_failed, device)


def _stop_if_warned(stepper, info) -> None:
    """Act as a distillation callback: after SLURM's warning, save the state and leave for the requeue."""
    if _WARNED.is_set():
        path = getattr(stepper, "_sweep_checkpoint", None)
        if path is not None:
            stepper.save_checkpoint(path)
            _note_requeue(path.parent, f"iteration {stepper.iteration}")
            log.info("SLURM's warning signal: checkpoint at iteration %d, requeueing", stepper.iteration)
        raise _Requeue(path.parent if path is not None else None, f"iteration {getattr(stepper, 'iteration', 0)}")


def _note_requeue(folder: Path, where: str) -> None:
    """Write ``requeue.json`` in the cell's folder.

    Its job, the attempt the requeue starts and where it resumes ("iteration 731", "evaluation model 2
    of 3"), which ``Sweep.states`` shows while SLURM holds the job (``requeued``).
    """
    job = _owner()["job"]
    before = {}
    try:
        before = json.loads((folder / "requeue.json").read_text())
    except (OSError, ValueError):
        pass
    attempt = int(before.get("attempt", 1)) + 1 if isinstance(before, dict) and before.get("job") == job else 2
    write_json(folder / "requeue.json", {"job": job, "attempt": attempt, "resumes_at": where, "at": time.time()})


def run_job(root: str, cell_ids: Sequence[str], retry_failed: bool = False, device: str = "auto") -> dict:
    """Run every listed cell that is not done and can be claimed (a worker); return ``{id: state}``.

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
                "error": f"{type(exc).__name__}: {lines[-1] if lines else ''}", "log": f"cells/{cid}/log.txt",
                "traceback": traceback.format_exc(), "at": time.time(), **_owner()})
            out[cid] = "failed"
        finally:
            claim.release()
        if out[cid] == "done" and callback is not None:
            callback(cell, done)
    return out


def _owner() -> dict:
    """Return the worker's SLURM job (``job``, what SLURM is asked about) or submitit's local job id (``worker``).

    ``worker`` is a pid, never asked of SLURM, so a local worker on a SLURM login node is not taken for a dead job.
    """
    job = os.environ.get("SLURM_ARRAY_JOB_ID") or os.environ.get("SLURM_JOB_ID")
    task = os.environ.get("SLURM_ARRAY_TASK_ID")
    if job:
        return {"job": f"{job}_{task}" if task else job}
    return {"job": None, "worker": os.environ.get("SUBMITIT_JOB_ID")}


def run_cell(store: SweepDir, cell: Cell, *, device: str = "auto", cache: dict | None = None) -> dict:
    """Distil and evaluate one cell into its folder; ``done.json`` is written last."""
    import torch

    from .. import datasets
    from ..distill import resolve_device
    from ..evaluate import evaluate

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
        source = _training_source(cell, train, folder, dev)
        distill_s = time.perf_counter() - t1
        if cell.target != "whole":
            source.save(folder / "result", overwrite=True)  # a retried cell replaces its own result
        log.info("distilled in %.1f s", distill_s)
        report = _evaluate_resumable(store, cell, source, test, dev, evaluate)
        report.save(folder / "report.json")
        done = _done_record(cell, source, report, dev, distill_s=distill_s, load_s=load_s,
                            seconds=time.perf_counter() - t0)
        failed = folder / "failed.json"
        if failed.exists():
            failed.unlink()
        for name in ("checkpoint.pt", "requeue.json"):  # an interrupted attempt's; result and report are saved
            (folder / name).unlink(missing_ok=True)
        shutil.rmtree(folder / "eval", ignore_errors=True)
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


def _training_source(cell: Cell, train, folder: Path, dev):
    """Return what the cell's models train on.

    The whole set, a random subset, or its distilled set (the one an attempt cut in its evaluation saved,
    else a distillation resumed from its checkpoint if there is one).
    """
    from ..distill import distill
    from ..evaluate import random_subset
    from ..results import load_result

    if cell.target == "whole":
        return train
    if cell.target == "random":
        return random_subset(train, ipc=cell.ipc, seed=cell.seed)
    if (folder / "eval").is_dir() and (folder / "result").is_dir():  # saved before the evaluation began
        log.info("the distilled set of an earlier attempt is in %s: evaluating it", folder / "result")
        return load_result(folder / "result")
    return _distill_resumable(distill, train, cell, folder / "checkpoint.pt", dev)


def _distill_resumable(distill, train, cell: Cell, path: Path, dev):
    """Run ``distill`` for the cell, resumed from ``path`` when an interrupted attempt left it there.

    After SLURM's warning signal the state is written to ``path`` between two steps.
    """
    def remember(stepper, info) -> None:
        stepper._sweep_checkpoint = path
        _stop_if_warned(stepper, info)

    if path.is_file():
        log.info("resuming the distillation from %s", path)
    where = {"resume": path} if path.is_file() else {}
    return distill(train, method=cell.method, target=cell.target, ipc=cell.ipc, preset=cell.preset, seed=cell.seed,
                   device=dev, callbacks=[remember], **where, **cell.distill)


def _evaluate_resumable(store: SweepDir, cell: Cell, source, test, dev, evaluate):
    """Run ``evaluate`` for the cell, one model at a time.

    Each model's answers are written to ``eval/model-<k>.json`` in its folder as it finishes: an attempt
    cut short (a requeue, a killed job) leaves the finished models, and the next trains only the rest; the
    report equals an uninterrupted run's (model k is the same network either way:
    ``train_models(models=[k])``). Answers are reused only for the very training set they came from
    (``_training_key``). Models trained together (a GPU, ``n_models`` > 1) are one joint run: evaluated
    whole.
    """
    import torch

    from ..evaluate import train_models
    from ..report import FairnessReport
    from ..train import predict

    kw = dict(n_models=cell.n_models, preset=cell.preset, method=cell.method, seed=cell.seed, device=dev,
              **cell.evaluate)
    if dev.type == "cuda" and cell.n_models > 1 and cell.eval_config().norm != "batchnorm":
        return evaluate(source, test, **kw)
    (store.cell(cell.id) / "eval").mkdir(exist_ok=True)
    key = _training_key(source)  # answers of models trained on another set (a retry's new result) are not reused
    models = []
    for k in range(cell.n_models):
        name = f"eval/model-{k}.json"
        saved = store.read(cell.id, name)
        if not (saved and saved.get("model") == k and saved.get("trained_on") == key
                and len(saved.get("pred", ())) == len(test)):
            trained = train_models(source, test, models=[k], **kw)
            saved = {"model": k, "trained_on": key, "pred": predict(trained.nets[0], test.images.to(dev)).tolist(),
                     "seconds": trained.seconds, "config": trained.config, "source": trained.source}
            store.write(cell.id, name, saved)
            log.info("evaluation model %d of %d trained and saved", k + 1, cell.n_models)
            if _WARNED.is_set() and k + 1 < cell.n_models:  # SLURM's warning: requeue, resume at the next model
                _note_requeue(store.cell(cell.id), f"evaluation model {k + 2} of {cell.n_models}")
                raise _Requeue(store.cell(cell.id), f"evaluation model {k + 2} of {cell.n_models}")
        models.append(saved)
    pred = torch.tensor([m["pred"] for m in models], dtype=torch.long, device=test.labels.device)  # (M, N)
    return FairnessReport.from_predictions(
        pred, test.labels, test.groups, class_names=test.class_names, group_names=test.group_names,
        config=models[0]["config"], source=models[0]["source"], seconds=sum(m["seconds"] for m in models),
        batched=False)


def _training_key(source) -> str:
    """Return what the evaluation models train on: a dataset's fingerprint, or a hash of the result's images."""
    import hashlib

    fingerprint = getattr(source, "fingerprint", None)
    if callable(fingerprint):
        return hashlib.sha256(json_key(fingerprint()).encode()).hexdigest()
    return hashlib.sha256(source.images.detach().cpu().contiguous().numpy().tobytes()).hexdigest()


def _done_record(cell: Cell, source, report, dev, *, distill_s: float, load_s: float, seconds: float) -> dict:
    """Return what ``done.json`` holds: the report's metrics, spread and noise floor, timings and the device."""
    import statistics

    import torch

    history = getattr(source, "history", [])
    steps = [h["seconds"] for h in history]
    return {**report.overall, "undefined": dict(report.undefined),  # why a NaN metric was not measured
            "std": dict(report.std), "noise_floor": report.noise_floor(),
            "n_models": cell.n_models, "seed": cell.seed, "data_seed": cell.data_seed,  # run seed, data draw
            "distill_s": distill_s, "eval_s": report.seconds, "load_s": load_s,
            "seconds": seconds, "iterations": len(history),
            # median step time: robust to the first steps' warm-up (allocator, thread pools, cuDNN)
            "ms_per_iteration": 1000 * statistics.median(steps) if steps else None,
            "device": dev.type,
            "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
            "peak_gpu_gb": torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else None,
            "host": socket.gethostname(), "finished_at": time.time()}


def _load(cell: Cell, cache: dict, load):
    from ..data import options, test_knobs

    key = json_key({"dataset": cell.dataset, "data_seed": cell.data_seed, **cell.data})
    if key not in cache:
        cache.clear()  # one dataset at a time in memory
        # the data draw is the cell's data_seed (None: the loader's own, the authors'), never its run seed
        seed = {"seed": cell.data_seed} if "seed" in options(cell.dataset) and cell.data_seed is not None else {}
        train = load(cell.dataset, split="train", **seed, **cell.data)
        test = load(cell.dataset, split="test", **seed, **test_knobs(cell.dataset, cell.data))
        cache[key] = (train, test)
    return cache[key]


def _describe(ds) -> dict:
    """Return the dataset's fingerprint where ``GroupedDataset`` offers one, else its build knobs and sizes."""
    fp = getattr(ds, "fingerprint", None)
    out = {"info": ds.info, "n": len(ds), "n_classes": ds.n_classes, "n_groups": ds.n_groups,
           "image_shape": list(ds.image_shape)}
    if callable(fp):
        out["fingerprint"] = fp()
    else:
        out["counts"] = ds.cell_counts().tolist()
    return out
