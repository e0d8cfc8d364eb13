"""What SLURM says about a sweep's jobs: one query for many array tasks, read the way sites differ.

``squeue`` (one line per array task) gives the live jobs and why they wait; ``sacct`` the ended ones
(the worst state of any step, so a step killed for memory reads OUT_OF_MEMORY); where accounting is
off (``sacct`` refused), ``sacct -c`` reads the job completion log (``jobcomp/filetxt``), and
``scontrol`` gives the ended jobs neither names (array tasks in the completion log, everything where
there is none) that slurmctld still holds (``MinJobAge``). A job killed by the
memory watchdog without cgroups ends FAILED or CANCELLED with "exceeded memory limit" in its log:
that reads as OUT_OF_MEMORY too. No SLURM here: every job is unknown (``alive`` None).

How an ended job leaves its cells (``Sweep.status``): FAILED, OUT_OF_MEMORY, TIMEOUT, DEADLINE make
them ``failed`` (a rerun would do the same again: ``--retry-failed``, with other resources);
CANCELLED, NODE_FAIL, PREEMPTED, BOOT_FAIL leave them ``pending`` (a plain rerun resubmits them).
"""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

__all__ = ["JobState", "query", "LIVE", "FAILS", "log_tail"]

LIVE = ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
        "RESIZING", "SUSPENDED", "SIGNALING", "STAGE_OUT", "STOPPED")
FAILS = ("FAILED", "OUT_OF_MEMORY", "TIMEOUT", "DEADLINE")  # ended: the cells are failed
_WORST = ("OUT_OF_MEMORY", "TIMEOUT", "NODE_FAIL", "FAILED", "CANCELLED", "PREEMPTED", "DEADLINE", "BOOT_FAIL")
_OOM_LOG = re.compile(r"exceeded (job )?memory limit|oom[-_ ]kill|out of memory", re.IGNORECASE)


@dataclass(frozen=True)
class JobState:
    """One array task (``"123_4"``) or job: its SLURM state, why (pending reason, exit code), alive or not."""

    job: str
    state: str  # SLURM's word: PENDING, RUNNING, COMPLETED, FAILED, OUT_OF_MEMORY, ... or UNKNOWN
    reason: str = ""

    @property
    def alive(self) -> bool | None:
        """Whether the job is queued or running; ``None`` where SLURM cannot say."""
        if self.state == "UNKNOWN":
            return None
        return self.state in LIVE


def _run(args: list[str]) -> subprocess.CompletedProcess | None:
    if shutil.which(args[0]) is None:
        return None
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None


def _squeue(jobs: list[str]) -> dict[str, JobState] | None:
    """Return the live jobs among ``jobs``; None where squeue cannot be asked."""
    out = _run(["squeue", "-h", "-r", "-o", "%i|%T|%r", "-j", ",".join(jobs)])
    if out is None or out.returncode:
        # squeue refuses a whole list when one id has left slurmctld: ask for every job of the user
        out = _run(["squeue", "-h", "-r", "-o", "%i|%T|%r"])
    if out is None or out.returncode:
        return None
    found = {}
    for line in out.stdout.splitlines():
        parts = line.strip().split("|")
        if len(parts) == 3:
            found[parts[0]] = JobState(parts[0], parts[1].split()[0], "" if parts[2] == "None" else parts[2])
    return found


def _sacct(jobs: list[str], *, completion: bool = False) -> dict[str, JobState] | None:
    """Return ended jobs from accounting; None where that source is off.

    ``completion``: from the job completion log (``sacct -c``), which a site without slurmdbd may keep with
    ``JobCompType=jobcomp/filetxt``; it names array tasks by their own job ids, so they are left to
    ``scontrol``.
    """
    out = _run(["sacct", "-n", "-P", "-o", "JobID,State,ExitCode", "-j", ",".join(jobs)] + (["-c"] if completion else []))
    if out is None or out.returncode:
        return None
    states: dict[str, list[tuple[str, str]]] = {}
    for line in out.stdout.splitlines():
        parts = line.strip().split("|")
        if len(parts) == 3 and parts[0]:
            states.setdefault(parts[0].split(".")[0], []).append((parts[1].split()[0], parts[2]))
    found = {}
    for job, rows in states.items():
        worst = next((w for w in _WORST for s, _ in rows if s == w), rows[0][0])
        code = next((c for s, c in rows if s == worst), rows[0][1])
        found[job] = JobState(job, worst, f"exit code {code}" if code not in ("", "0:0") else "")
    return found


def _scontrol() -> dict[str, JobState]:
    out = _run(["scontrol", "show", "job", "-o"])
    found = {}
    for line in (out.stdout.splitlines() if out is not None and not out.returncode else []):
        kv = dict(w.split("=", 1) for w in line.split() if "=" in w)
        if "JobState" not in kv:
            continue
        job = kv.get("JobId", "")
        if kv.get("ArrayJobId") and kv.get("ArrayTaskId", "").isdigit():
            job = f"{kv['ArrayJobId']}_{kv['ArrayTaskId']}"
        reason = "" if kv.get("Reason") in (None, "None") else kv["Reason"]
        code = kv.get("ExitCode", "0:0")
        reason = ", ".join(r for r in (reason, f"exit code {code}" if code != "0:0" else "") if r)
        found[job] = JobState(job, kv["JobState"], reason)
    return found


def query(jobs: Iterable[str], *, logs: dict[str, Path] | None = None) -> dict[str, JobState]:
    """Ask SLURM for the state of each job id (``"123_4"`` for an array task).

    UNKNOWN where SLURM cannot be asked, GONE for a job that is not live and has left no record (an array task
    cancelled while pending, a job purged after ``MinJobAge`` without accounting).

    logs : a job's stderr file: an ended job whose log says it exceeded its memory is OUT_OF_MEMORY.
    """
    jobs = sorted({str(j) for j in jobs if j})
    if not jobs:
        return {}
    live = _squeue(jobs)
    if live is None:
        return {j: JobState(j, "UNKNOWN") for j in jobs}
    found = dict(live)
    rest = [j for j in jobs if j not in found]
    if rest:  # accounting, else the completion log; what neither holds, slurmctld's memory of ended jobs
        ended = _sacct(rest)
        ended = (_sacct(rest, completion=True) if ended is None else ended) or {}
        found.update({j: ended[j] for j in rest if j in ended})
        if any(j not in found for j in rest):
            kept = _scontrol()
            found.update({j: kept[j] for j in rest if j not in found and j in kept})
    out = {}
    for j in jobs:
        state = found.get(j, JobState(j, "GONE", "no record left"))
        if state.state in ("FAILED", "CANCELLED", "GONE") and logs and j in logs and _OOM_LOG.search(log_tail(logs[j], 20)):
            state = JobState(j, "OUT_OF_MEMORY", state.reason)
        out[j] = state
    return out


def log_tail(path: Path | None, lines: int = 1) -> str:
    """Return the last ``lines`` non-empty lines of a log ("" if there is none)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode(errors="replace")
    except (OSError, TypeError):
        return ""
    return "\n".join([ln for ln in text.splitlines() if ln.strip()][-lines:])


def partition_node(partition: str | None = None) -> dict | None:
    """Return the smallest node of ``partition`` (default: the default one).

    Its cpus, mem_gb, whether it has GPUs and its time limit (``sinfo``); None without SLURM.
    """
    args = ["sinfo", "-h", "-o", "%c|%m|%G|%P|%l"] + (["-p", partition] if partition else [])
    out = _run(args)
    if out is None or out.returncode:
        return None
    rows = [ln.strip().split("|") for ln in out.stdout.splitlines() if ln.count("|") in (3, 4)]
    if not partition:
        rows = [r for r in rows if r[3].endswith("*")] or rows
    if not rows:
        return None

    def number(text: str) -> float:
        return float(re.sub(r"[^0-9.].*$", "", text) or 0)

    limits = [m for r in rows if len(r) > 4 and (m := time_limit_min(r[4])) is not None]
    return {"cpus": int(min(number(r[0]) for r in rows)), "mem_gb": min(number(r[1]) for r in rows) / 1024,
            "gpus": any("gpu" in r[2] for r in rows), "max_min": min(limits) if limits else None}


def time_limit_min(text: str) -> int | None:
    """Return the minutes of a SLURM time limit ("2-00:00:00", "12:00:00", "30:00", "45").

    None for "infinite" or what is not a time.
    """
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", text.strip())
    if not m:
        return None
    days, a, b, c = (int(g) if g else None for g in m.groups())
    if c is not None:  # [D-]H:M:S
        hours, minutes = a, b
    elif b is not None:  # D-H:M or M:S
        hours, minutes = (a, b) if days is not None else (0, a)
    else:  # D-H or M
        hours, minutes = (a, 0) if days is not None else (0, a)
    return (days or 0) * 24 * 60 + hours * 60 + minutes
