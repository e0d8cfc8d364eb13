"""fairdd.sweeps on a real single-node SLURM (Debian's slurm-wlm + munge, stood up by tests/slurm_cluster.py).

One grid goes through ``fairdd sweep run --executor slurm`` as a user would: a job array queued behind
another user's job, a second ``run`` while it waits (no duplicates), ``scancel`` of one task and a
resume (only that cell again, with the saved resources), a Python error (``failed``, its log, status
exits 1, a plain rerun names the cells and ``--retry-failed``), a job killed for memory (OUT_OF_MEMORY
with the job's log), ``table``. Skipped where SLURM cannot be stood up, except under CI, where it fails.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import slurm_cluster
from fairdd.sweeps import Sweep

ROOT = Path(__file__).resolve().parents[1]
GRID = """
[sweep]
name = "slurm-test"
preset = "smoke"
seeds = [0]
n_models = 1
device = "cpu"
[grid]
dataset = ["colored-digits"]
target = ["random", "vanilla"]
ipc = [1, 5000]     # IPC 5000 is more than a class holds: those two cells raise ValueError
[data]
n_groups = 4
size = 16
[overrides]
iterations = 2
depth = 2
[evaluate]
depth = 2
"""
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    why = slurm_cluster.missing()
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the SLURM test: {why}")
        pytest.skip(why)
    c = slurm_cluster.start(tmp_path_factory.mktemp("slurm"), mem_mb=4096)
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(c.conf)  # for the Sweep API in this process (squeue, scontrol)
    yield c
    if old is None:
        os.environ.pop("SLURM_CONF", None)
    else:
        os.environ["SLURM_CONF"] = old
    c.run("scancel", "--user=root", check=False)
    c.stop()


def _sweep(cluster, *args) -> subprocess.CompletedProcess:
    env = {**cluster.env, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "fairdd", "sweep", *args], env=env, capture_output=True,
                          text=True, timeout=180)


def _tasks(cluster, name: str = "fairdd-slurm-test") -> list[str]:
    return cluster.run("squeue", "-h", "-r", "-n", name, "-o", "%i").split()


def _settle(d: Path, timeout: float = 150) -> dict:
    end = time.time() + timeout
    while time.time() < end:
        states = Sweep.open(d).states()
        if not any(s in ("queued", "requeued", "running") for s, _ in states.values()):
            return states
        time.sleep(2)
    raise AssertionError(f"cells still queued or running after {timeout} s: {states}")


def test_a_grid_through_a_real_slurm(cluster, tmp_path):
    grid, d = tmp_path / "grid.toml", tmp_path / "sweep"
    grid.write_text(GRID)
    cpus = int(cluster.run("sinfo", "-h", "-o", "%c").split()[0])
    blocker = cluster.run("sbatch", "--parsable", "-c", str(cpus), "-J", "other-user", "-o", "/dev/null",
                          "--wrap", "sleep 300").strip()
    run = _sweep(cluster, "run", str(grid), "--dir", str(d), "--executor", "slurm", "--cpus-per-task", "1",
                 "--mem-gb", "1")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "4 SLURM array task(s) of up to 1 cells" in run.stdout
    first = {c: json.loads((d / "cells" / c / "job.json").read_text())["job"] for c in Sweep.open(d)._by_id}
    array = {j.split("_")[0] for j in first.values()}
    assert len(array) == 1 and sorted(j.split("_")[1] for j in first.values()) == ["0", "1", "2", "3"]
    assert json.loads((d / "resources.json").read_text())["mem_gb"] == 1.0
    # queued behind the other job: status says so and why; a second run submits nothing
    status = _sweep(cluster, "status", str(d))
    assert status.returncode == 0 and "4 queued" in status.stdout and "PENDING" in status.stdout, status.stdout
    again = _sweep(cluster, "run", "--dir", str(d), "--executor", "slurm")
    assert again.returncode == 0 and "nothing to run" in again.stdout, again.stdout + again.stderr
    assert sorted(_tasks(cluster)) == sorted(first.values())
    # cancel one task: its cell is pending again, a resume submits it alone with the saved resources
    cancelled = next(c for c, j in first.items() if "random-ipc1-" in c)
    cluster.run("scancel", first[cancelled])
    states = Sweep.open(d).states()
    assert states[cancelled][0] == "pending", states[cancelled]
    assert f"job {first[cancelled]} " in states[cancelled][1]["reason"]
    assert "a rerun resubmits it" in states[cancelled][1]["reason"]
    resume = _sweep(cluster, "run", "--dir", str(d), "--executor", "slurm")
    assert "1 of 4 cells to run" in resume.stdout, resume.stdout + resume.stderr
    job = json.loads((d / "cells" / cancelled / "job.json").read_text())["job"]
    assert job not in first.values()
    info = cluster.run("scontrol", "show", "job", job)
    assert "MinMemoryNode=1G" in info and "NumCPUs=1" in info and "JobName=fairdd-slurm-test" in info, info
    cluster.run("scancel", blocker)
    states = _settle(d)
    assert sorted(s for s, _ in states.values()) == ["done", "done", "failed", "failed"], states
    # a Python error: failed with the error and the log; status exits 1; a plain rerun names the cells
    status = _sweep(cluster, "status", str(d))
    assert status.returncode == 1 and "ValueError: ipc=5000 is larger" in status.stdout, status.stdout
    assert "--retry-failed" in status.stderr
    failed = [c for c, (s, _) in states.items() if s == "failed"]
    assert all((d / Sweep.open(d).dir.read(c, "failed.json")["log"]).is_file() for c in failed)
    rerun = _sweep(cluster, "run", "--dir", str(d), "--executor", "slurm")
    assert "nothing to run" in rerun.stdout and "2 failed cell(s) not rerun" in rerun.stdout
    assert "--retry-failed" in rerun.stdout and failed[0] in rerun.stdout
    table = _sweep(cluster, "table", str(d))
    assert table.returncode == 0 and "| random |" in table.stdout.replace("dm / random", "| random"), table.stdout
    print(status.stdout)


def test_a_job_killed_for_memory_shows_as_oom_with_its_log(cluster, tmp_path):
    grid, d = tmp_path / "grid.toml", tmp_path / "sweep"
    grid.write_text(GRID.replace('target = ["random", "vanilla"]', 'target = ["random"]').replace(
        "ipc = [1, 5000]", "ipc = [1]"))
    run = _sweep(cluster, "run", str(grid), "--dir", str(d), "--executor", "slurm", "--cpus-per-task", "1",
                 "--mem-gb", "0.2")  # Python and torch alone need more: the watchdog kills the job
    assert run.returncode == 0, run.stdout + run.stderr
    (cell, (state, _)), = _settle(d).items()
    failed = Sweep.open(d).dir.read(cell, "failed.json")
    assert state == "failed" and "OUT_OF_MEMORY" in failed["error"], failed
    assert "memory limit" in (d / failed["log"]).read_text()
    status = _sweep(cluster, "status", str(d))
    assert status.returncode == 1 and "OUT_OF_MEMORY" in status.stdout
    retry = _sweep(cluster, "run", "--dir", str(d), "--executor", "slurm", "--retry-failed", "--mem-gb", "1")
    assert "resources changed: mem_gb 0.2 -> 1.0" in retry.stdout, retry.stdout + retry.stderr
    assert [s for s, _ in _settle(d).values()] == ["done"]
    print(status.stdout)


ITERATIONS = 2000  # 300 (~2 s here) could all run before the signal arrived on a quiet machine


def test_a_preempted_cell_is_requeued_and_resumes_bit_exact(cluster, tmp_path):
    """SLURM's warning signal (here sent at once, as a preemption or the time limit would) checkpoints the
    running distillation, requeues the job, and the requeued job resumes it: the same images as a run
    that was never interrupted."""
    from fairdd.results import load_result

    text = GRID.replace('target = ["random", "vanilla"]', 'target = ["vanilla"]').replace(
        "ipc = [1, 5000]", "ipc = [1]").replace("iterations = 2", f"iterations = {ITERATIONS}")
    grid, d = tmp_path / "grid.toml", tmp_path / "sweep"
    grid.write_text(text)
    run = _sweep(cluster, "run", str(grid), "--dir", str(d), "--executor", "slurm", "--cpus-per-task", "1",
                 "--mem-gb", "1.5")
    assert run.returncode == 0, run.stdout + run.stderr
    (cell,) = Sweep.open(d)._by_id
    job = json.loads((d / "cells" / cell / "job.json").read_text())["job"]
    log = d / "cells" / cell / "log.txt"
    end = time.time() + 90
    while not (d / "cells" / cell / "cell.json").is_file() and time.time() < end:
        time.sleep(0.5)  # written once the data is loaded, right before the distillation
    time.sleep(1)  # into the distillation, far from its end (ITERATIONS take ~13 s on a quiet 2-core machine)
    cluster.run("scancel", "--signal=USR2", job)
    end = time.time() + 60
    while "JobState=PENDING" not in cluster.run("scontrol", "show", "job", job) and time.time() < end:
        time.sleep(0.5)
    held = Sweep.open(d).status().cells.set_index("cell").loc[cell]  # #22: requeued, not queued
    at = int(held["resumes_at"].removeprefix("iteration "))
    assert held["state"] == "requeued" and held["attempt"] == 2 and 0 < at < ITERATIONS, held
    assert f"attempt 2 resumes at iteration {at}; PENDING" in held["error"]
    print(_sweep(cluster, "status", str(d)).stdout)
    cluster.run("scontrol", "update", f"JobId={job}", "StartTime=now")  # SLURM holds a requeued job ~2 min
    states = _settle(d, timeout=120)
    assert states[cell][0] == "done", (states, log.read_text())
    text_log = log.read_text()
    stopped = int(text_log.split("checkpoint at iteration ")[1].split(",")[0])
    assert 0 < stopped < ITERATIONS and f"at iteration {stopped}" in text_log.split("resuming the distillation")[1]
    assert "Restarts=1" in cluster.run("scontrol", "show", "job", job)
    assert not (d / "cells" / cell / "checkpoint.pt").exists()
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the job ran (OMP_NUM_THREADS=1): on a loaded 2-core machine 2 threads crawl
    try:
        Sweep(grid, tmp_path / "inline").run("inline")
    finally:
        torch.set_num_threads(threads)
    ours, ref = load_result(d / "cells" / cell / "result"), load_result(tmp_path / "inline" / "cells" / cell / "result")
    assert ours.images.equal(ref.images) and len(ours.history) == ITERATIONS


def test_a_failing_setup_line_fails_its_cells_naming_the_line_and_the_log(cluster, tmp_path):
    """#22.4 on a real SLURM: a setup line that fails (a venv that is not there) stops the job before
    Python starts; its cells read failed, with the line and the job's log, instead of pending."""
    grid, d = tmp_path / "grid.toml", tmp_path / "sweep"
    grid.write_text(GRID.replace('target = ["random", "vanilla"]', 'target = ["random"]'))
    run = _sweep(cluster, "run", str(grid), "--dir", str(d), "--executor", "slurm", "--cpus-per-task", "1",
                 "--mem-gb", "1", "--setup", "source /no/such/venv/bin/activate")
    assert run.returncode == 0, run.stdout + run.stderr
    states = _settle(d, timeout=60)
    assert sorted(s for s, _ in states.values()) == ["failed", "failed"], states
    sweep = Sweep.open(d)
    for cid in states:
        failed = sweep.dir.read(cid, "failed.json")
        assert "FAILED" in failed["error"] and "fairdd: setup line 1 failed" in failed["error"], failed
        assert "source /no/such/venv/bin/activate" in failed["error"]
        assert "fairdd: setup line 1 failed" in (d / failed["log"]).read_text()
        assert not (d / "cells" / cid / "cell.json").exists()  # no cell started
    status = _sweep(cluster, "status", str(d))
    assert status.returncode == 1 and "setup line 1 failed" in status.stdout, status.stdout


def test_sacct_and_scontrol_of_the_real_cluster_are_read(cluster, tmp_path):
    """#22.6: no slurmdbd here, so ``sacct`` is refused; the cluster keeps a job completion log
    (jobcomp/filetxt) that ``sacct -c`` reads, and ``scontrol`` holds the ended array tasks: the parser
    reads SLURM's real output of each, not a fake's."""
    from fairdd.sweeps import slurm

    def submit(*args: str) -> str:
        return cluster.run("sbatch", "--parsable", "-c", "1", "--mem=100M", "-o", "/dev/null", *args).strip()

    fail, ok = submit("--wrap", "exit 3"), submit("--wrap", "true")
    array = submit("--array=0-1", "--wrap", "exit $SLURM_ARRAY_TASK_ID").split(";")[0]
    jobs = [fail, ok, f"{array}_0", f"{array}_1"]
    end = time.time() + 60
    while any(s.alive for s in slurm.query(jobs).values()) and time.time() < end:
        time.sleep(1)
    assert slurm._sacct([fail, ok]) is None  # accounting storage is disabled: refused
    comp = slurm._sacct([fail, ok], completion=True)
    assert comp[fail] == slurm.JobState(fail, "FAILED", "exit code 3:0") and comp[ok].state == "COMPLETED", comp
    kept = slurm._scontrol()
    assert kept[f"{array}_0"].state == "COMPLETED" and kept[f"{array}_1"].state == "FAILED", kept
    assert "exit code 1:0" in kept[f"{array}_1"].reason
    states = slurm.query(jobs)
    assert [states[j].state for j in jobs] == ["FAILED", "COMPLETED", "COMPLETED", "FAILED"], states
