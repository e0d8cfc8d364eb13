"""A sweep directory: one folder per cell, claim files, and the one lock that guards them.

    DIR/sweep.toml                the sweep file as given (the sweep *is* this file)
    DIR/cells/<cell id>/cell.json   the cell's full config, dataset fingerprint, host and device
    DIR/cells/<cell id>/result/     the distilled set (``DistillResult`` folder)
    DIR/cells/<cell id>/report.json the evaluation (``FairnessReport``)
    DIR/cells/<cell id>/done.json   written last: metrics and timings; its presence means "done"
    DIR/cells/<cell id>/failed.json the error of the last failed attempt
    DIR/cells/<cell id>/claim       held while a worker runs the cell (O_EXCL create, heart-beaten)
    DIR/cells/<cell id>/log.txt     the cell's log, every attempt appended
    DIR/jobs/                       submitit's pickles and per-job stdout / stderr

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

__all__ = ["SweepDir", "Claim", "CellState", "STATES"]

STATES = ("done", "running", "failed", "pending")
CellState = Literal["done", "running", "failed", "pending"]
HEARTBEAT_S = 30.0  # a worker touches its claim this often
STALE_AFTER_S = 300.0  # a claim from another host not touched for this long is abandoned


@dataclass
class Claim:
    """A worker's hold on a cell: the claim file, kept fresh by a heartbeat thread until released."""

    path: Path
    _stop: threading.Event
    _thread: threading.Thread

    def release(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


class SweepDir:
    """The files of one sweep directory (see the module docstring)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def spec_file(self) -> Path:
        return self.root / "sweep.toml"

    @property
    def jobs(self) -> Path:
        return self.root / "jobs"

    def cell(self, cell_id: str) -> Path:
        return self.root / "cells" / cell_id

    def lock(self, timeout: float = 120.0):
        """The sweep's lock (``filelock``; released by the OS if its holder dies)."""
        from filelock import FileLock

        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / ".lock"), timeout=timeout)

    # ------------------------------------------------------------------ states
    def state(self, cell_id: str) -> CellState:
        d = self.cell(cell_id)
        if (d / "done.json").is_file():
            return "done"
        if claim_is_live(d / "claim"):
            return "running"
        if (d / "failed.json").is_file():
            return "failed"
        return "pending"

    def read(self, cell_id: str, name: str) -> dict | None:
        path = self.cell(cell_id) / name
        try:
            return json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    # ------------------------------------------------------------------ claims
    def claim(self, cell_id: str, *, retry_failed: bool = False, owner: dict | None = None) -> Claim | None:
        """Take the cell if it is pending (or failed, with ``retry_failed``); ``None`` if it is done, held
        by a live worker, or failed and not to be retried. A dead worker's claim is taken over."""
        d = self.cell(cell_id)
        with self.lock():
            state = self.state(cell_id)
            if state in ("done", "running") or (state == "failed" and not retry_failed):
                return None
            d.mkdir(parents=True, exist_ok=True)
            path = d / "claim"
            if path.exists():  # stale: its worker died
                path.unlink()
            info = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time(), **(owner or {})}
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
                if (path.parent / "done.json").is_file() and not claim_is_live(path):
                    path.unlink(missing_ok=True)
                    cleared.append(path.parent.name)
        return cleared

    def write(self, cell_id: str, name: str, obj) -> Path:
        return write_json(self.cell(cell_id) / name, obj)


def claim_is_live(path: Path) -> bool:
    """A claim is live while its worker runs: same host → its pid exists; other host → touched lately."""
    try:
        info = json.loads(path.read_text())
        age = time.time() - path.stat().st_mtime
    except (FileNotFoundError, json.JSONDecodeError):
        return False
    if info.get("host") == socket.gethostname():
        return _pid_alive(int(info.get("pid", -1)))
    return age < STALE_AFTER_S


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
