"""A sweep directory: one folder per cell, claim files, and the one lock that guards them.

    DIR/sweep.toml                the sweep file as given (the sweep *is* this file)
    DIR/cells/<cell id>/cell.json   the cell's full config, dataset fingerprint, host and device
    DIR/cells/<cell id>/result/     the distilled set (``DistillResult`` folder)
    DIR/cells/<cell id>/report.json the evaluation (``FairnessReport``)
    DIR/cells/<cell id>/done.json   written last: metrics and timings; its presence means "done"
    DIR/cells/<cell id>/failed.json the error of the last failed attempt
    DIR/cells/<cell id>/claim       held while a worker runs the cell (O_EXCL create, heart-beaten)
    DIR/cells/<cell id>/log.txt     the cell's log, every attempt appended
    DIR/cells/<cell id>/job.json    the SLURM job (array task) the cell was last submitted to, its log
    DIR/cells/<cell id>/requeue.json  its job's requeue: the attempt it starts, the checkpoint's iteration
    DIR/cells/<cell id>/checkpoint.pt the distillation state an interrupted attempt left (removed when done)
    DIR/cells/<cell id>/eval/model-<k>.json  each evaluation model's answers, kept until the cell is done
    DIR/resources.json              what SLURM jobs ask for (saved on the first run, reused on resume)
    DIR/jobs/                       submitit's pickles and per-job stdout / stderr

A cell's state is read from these files, never guessed: ``done.json`` that is not a complete record
makes the cell ``damaged`` (shown, never dropped); a claim is live only while its process runs (pid
*and* start time, so a reused pid is no owner) and, for a SLURM worker, while SLURM says its job runs.

Nothing under DIR is written by two workers: a cell's files belong to the worker holding its claim.
Paths inside are relative, so the folder can be moved or copied and re-read.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..io import write_json
from .grid import SweepSpec, parse_spec

__all__ = ["SweepDir", "Claim", "CellState", "STATES"]

STATES = ("done", "running", "queued", "requeued", "failed", "damaged", "pending")
CellState = Literal["done", "running", "queued", "requeued", "failed", "damaged", "pending"]
DONE_KEYS = ("accuracy", "eod", "deo_a", "worst_group_accuracy")  # what a complete done.json holds
HEARTBEAT_S = 30.0  # a worker touches its claim this often
STALE_AFTER_S = 300.0  # a claim from another host not touched for this long is abandoned


@dataclass
class Claim:
    """A worker's hold on a cell: the claim file, kept fresh by a heartbeat thread until released."""

    path: Path
    _stop: threading.Event
    _thread: threading.Thread

    def release(self) -> None:
        """Stop the heartbeat and delete the claim file."""
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


class SweepDir:
    """The files of one sweep directory (see the module docstring)."""

    def __init__(self, root: str | Path, *, job_alive=None) -> None:
        """Open the sweep folder ``root``.

        ``job_alive(job_id) -> bool | None``: whether SLURM runs that job (None: unknown); a claim of a job
        SLURM reports dead is freed at once instead of after ``STALE_AFTER_S``.
        """
        self.root = Path(root)
        self.job_alive = job_alive

    @property
    def spec_file(self) -> Path:
        """The sweep file kept in the folder (``sweep.toml``)."""
        return self.root / "sweep.toml"

    @property
    def jobs(self) -> Path:
        """The submitit folder: job scripts, logs and submission records."""
        return self.root / "jobs"

    def stored_spec(self) -> SweepSpec:
        """Return the grid stored here (``sweep.toml``), validated; else ``FileNotFoundError`` / ``ValueError``."""
        if not self.spec_file.is_file():
            raise FileNotFoundError(f"{self.root} holds no sweep (no sweep.toml); pass the sweep file")
        try:
            return parse_spec(self.spec_file.read_text(), name=self.root.name, max_cells=None)
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{self.spec_file} is not a valid sweep file: {exc}") from None

    def cell(self, cell_id: str) -> Path:
        """Return the folder of cell ``cell_id``."""
        return self.root / "cells" / cell_id

    def lock(self, timeout: float = 120.0):
        """Return the sweep's lock (``filelock``; released by the OS if its holder dies)."""
        from filelock import FileLock

        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / ".lock"), timeout=timeout)

    # ------------------------------------------------------------------ states
    def state(self, cell_id: str) -> CellState:
        """Give the cell's state from the files alone: done / damaged / running / failed / pending.

        "queued" needs SLURM: ``Sweep.status``.
        """
        d = self.cell(cell_id)
        if (d / "done.json").is_file():
            return "damaged" if self.damage(cell_id) else "done"
        if claim_is_live(d / "claim", self.job_alive):
            return "running"
        if (d / "failed.json").is_file():
            return "failed"
        return "pending"

    def damage(self, cell_id: str) -> str | None:
        """Return what is wrong with the cell's ``done.json`` (None if it is a complete record)."""
        path = self.cell(cell_id) / "done.json"
        try:
            done = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return f"{path} is not valid JSON ({exc})"
        if not isinstance(done, dict):
            return f"{path} holds a {type(done).__name__}, not a record"
        missing = [k for k in DONE_KEYS if not isinstance(done.get(k), (int, float)) or isinstance(done.get(k), bool)]
        return f"{path} lacks the metrics {missing}" if missing else None

    def read(self, cell_id: str, name: str) -> dict | None:
        """Read the cell's JSON file ``name``; ``None`` if it is missing or unreadable."""
        path = self.cell(cell_id) / name
        try:
            obj = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return None
        return obj if isinstance(obj, dict) else None

    # ------------------------------------------------------------------ claims
    def claim(self, cell_id: str, *, retry_failed: bool = False, owner: dict | None = None) -> Claim | None:
        """Take the cell if it is pending (or failed, with ``retry_failed``).

        ``None`` if it is done, held by a live worker, or failed and not to be retried. A dead worker's claim is
        taken over.
        """
        d = self.cell(cell_id)
        with self.lock():
            held = self.read(cell_id, "claim") if (d / "claim").exists() else None
            if held and owner and owner.get("job") and held.get("job") == owner["job"]:
                (d / "claim").unlink(missing_ok=True)  # this job's own, from before SLURM requeued it
            state = self.state(cell_id)
            if state in ("done", "running") or (state in ("failed", "damaged") and not retry_failed):
                return None
            d.mkdir(parents=True, exist_ok=True)
            path = d / "claim"
            if path.exists():  # stale: its worker died
                path.unlink()
            if state == "damaged":  # kept beside, for the record; the cell is run again
                os.replace(d / "done.json", d / "done.json.damaged")
            info = {"host": socket.gethostname(), "pid": os.getpid(), "started": process_start(os.getpid()),
                    "since": time.time(), **(owner or {})}
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:  # another worker on a file system where the lock did not hold
                return None
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(info))
        stop = threading.Event()
        thread = threading.Thread(target=_heartbeat, args=(path, stop), daemon=True)
        thread.start()
        return Claim(path, stop, thread)

    def clear_dead_claims(self) -> list[str]:
        """Remove the claim files that dead workers left on finished cells; return those cells' ids.

        A worker killed between writing ``done.json`` and releasing its claim leaves one behind: the
        cell is done (``state`` reads ``done.json`` first), the file is only litter.
        """
        cleared = []
        with self.lock():
            for path in sorted((self.root / "cells").glob("*/claim")):
                if (path.parent / "done.json").is_file() and not claim_is_live(path, self.job_alive):
                    path.unlink(missing_ok=True)
                    cleared.append(path.parent.name)
        return cleared

    def write(self, cell_id: str, name: str, obj) -> Path:
        """Write ``obj`` as the cell's JSON file ``name`` (atomically); return its path."""
        return write_json(self.cell(cell_id) / name, obj)


def claim_is_live(path: Path, job_alive=None) -> bool:
    """Tell whether a claim is live: whether its worker runs.

    Live: its SLURM job (if any) is not reported dead, and on this host its process exists with the start
    time it had when it claimed (a pid can be reused); on another host, it was touched lately.
    """
    try:
        info = json.loads(path.read_text())
        age = time.time() - path.stat().st_mtime
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return False
    if not isinstance(info, dict):
        return False
    if info.get("job") and job_alive is not None and job_alive(str(info["job"])) is False:
        return False
    if info.get("host") == socket.gethostname():
        pid = info.get("pid")
        if not isinstance(pid, int) or not _pid_alive(pid):
            return False
        started = info.get("started")
        return started is None or started == process_start(pid)
    return age < STALE_AFTER_S


def process_start(pid: int) -> int | None:
    """Return the process's start time in clock ticks since boot (``/proc/<pid>/stat`` field 22).

    None where there is no ``/proc``. A pid together with it names one process, even after the pid is reused.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed process its parent has not reaped yet is a zombie: dead for our purpose
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _heartbeat(path: Path, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_S):
        try:
            os.utime(path)
        except FileNotFoundError:
            return
