"""Fault class 6, sweeps tell the truth: a sweep folder belongs to one grid, every cell's state is read
from its files (a damaged record is shown as damaged, never dropped or fatal), and a claim names one
process (pid and start time), not a pid that the system may give to another.

One test per case; the shared finished folder is built once per module (two inline cells).
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fairdd.cli import main
from fairdd.sweeps import Sweep, load_table, parse_spec
from fairdd.sweeps.store import SweepDir

GRID = """
[sweep]
name = "truth"
preset = "smoke"
seeds = [0]
n_models = 1
device = "cpu"
[grid]
dataset = ["colored-digits"]
target = ["random"]
ipc = [1, 2]
[data]
n_groups = 4
size = 16
[evaluate]
depth = 2
"""


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("truth") / "sweep"
    Sweep(parse_spec(GRID), d).run("inline")
    assert Sweep.open(d).status().counts["done"] == 2
    return d


@pytest.fixture
def folder(finished, tmp_path) -> Path:
    """A private copy of the finished sweep folder."""
    return Path(shutil.copytree(finished, tmp_path / "sweep"))


def _cli(capsys, *args) -> tuple[int, str, str]:
    code = main(["sweep", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _first(folder: Path) -> str:
    return Sweep.open(folder).cells[0].id


# ------------------------------------------------------------------ one folder, one grid
def test_another_grid_in_a_sweep_folder_is_refused(folder, tmp_path, capsys):
    other = tmp_path / "other.toml"
    other.write_text(GRID.replace('target = ["random"]', 'target = ["whole"]').replace("ipc = [1, 2]", "ipc = [1]"))
    code, out, err = _cli(capsys, "run", str(other), "--dir", str(folder), "--executor", "inline")
    assert code == 2 and err.startswith("error: ") and "belongs to another grid" in err, err
    assert "drops 2 of its cells" in err and "--replace-grid" in err and len(err.strip().splitlines()) == 1
    assert "whole" not in (folder / "sweep.toml").read_text()  # the folder's grid is untouched


def test_another_grid_replaces_the_folders_only_when_asked(folder):
    other = parse_spec(GRID.replace("ipc = [1, 2]", "ipc = [1]"))
    sweep = Sweep(other, folder, replace_grid=True)
    sweep.run("inline")
    assert 'ipc = [1]' in (folder / "sweep.toml").read_text() and len(Sweep.open(folder).cells) == 1
    assert len(list((folder / "cells").glob("*/done.json"))) == 2  # the dropped cell's results are kept


def test_a_grown_grid_is_the_same_grid(folder):
    grown = Sweep(parse_spec(GRID.replace("ipc = [1, 2]", "ipc = [1, 2, 3]")), folder)
    assert [c.ipc for c in grown.plan().todo] == [3]


def test_a_damaged_sweep_file_in_the_folder_is_named(folder, capsys):
    (folder / "sweep.toml").write_text("[sweep\npreset = ")
    code, out, err = _cli(capsys, "status", str(folder))
    assert code != 0 and f"{folder / 'sweep.toml'} is not a valid sweep file" in err, err


# ------------------------------------------------------------------ damaged records are shown
@pytest.mark.parametrize("damage", ["truncated", "missing metric", "not a record"])
def test_a_damaged_done_json_shows_as_damaged_in_status_and_table(folder, capsys, damage):
    cid = _first(folder)
    done = folder / "cells" / cid / "done.json"
    record = json.loads(done.read_text())
    done.write_text({"truncated": done.read_text()[:40],
                     "missing metric": json.dumps({k: v for k, v in record.items() if k != "eod"}),
                     "not a record": "[1, 2]"}[damage])
    status = Sweep.open(folder).status()
    assert status.counts["damaged"] == 1 and status.counts["done"] == 1
    row = status.cells.set_index("cell").loc[cid]
    assert row["state"] == "damaged" and str(done) in row["error"], row["error"]
    code, out, err = _cli(capsys, "status", str(folder))
    assert code == 1 and "damaged" in out and "--retry-failed" in err
    table = load_table(folder)
    assert list(table.damaged) == [cid] and len(table.cells) == 1
    assert "1 damaged cell(s) left out" in table.markdown() and cid in table.latex()
    code, out, err = _cli(capsys, "table", str(folder))
    assert code == 1 and f"damaged cell(s) left out (rerun with --retry-failed): {cid}" in err


def test_a_damaged_cell_is_rerun_only_when_asked_and_its_record_kept(folder):
    cid = _first(folder)
    done = folder / "cells" / cid / "done.json"
    done.write_text("{")
    sweep = Sweep.open(folder)
    assert sweep.plan().todo == [] and sweep.plan().failed == [cid]
    sweep.run("inline", retry_failed=True)
    assert Sweep.open(folder).status().counts["done"] == 2
    assert (done.parent / "done.json.damaged").read_text() == "{"


def test_a_damaged_failed_json_is_named_not_blank(folder):
    cid = _first(folder)
    (folder / "cells" / cid / "done.json").unlink()
    (folder / "cells" / cid / "failed.json").write_text("\x00\x01")
    row = Sweep.open(folder).status().cells.set_index("cell").loc[cid]
    assert row["state"] == "failed" and row["error"].endswith("failed.json is damaged")


def test_a_damaged_job_record_or_resources_file_is_named(folder):
    cid = _first(folder)
    (folder / "cells" / cid / "job.json").write_text("not json")
    assert Sweep.open(folder).status().counts["done"] == 2  # no record: no SLURM word, files decide
    (folder / "resources.json").write_text('{"mem_gb": ')
    with pytest.raises(ValueError, match=r"resources.json is damaged .*; fix or delete it"):
        Sweep.open(folder).resources()


# ------------------------------------------------------------------ claims name one process
def _claim(folder: Path, cid: str, info) -> Path:
    (folder / "cells" / cid / "done.json").unlink(missing_ok=True)
    path = folder / "cells" / cid / "claim"
    path.write_text(json.dumps(info))
    return path


def test_a_claim_whose_pid_was_reused_is_stale(folder):
    """The claim's pid runs (this very process) but started at another time: another process."""
    from fairdd.sweeps.store import process_start

    cid = _first(folder)
    _claim(folder, cid, {"host": socket.gethostname(), "pid": os.getpid(), "started": process_start(os.getpid()) - 1,
                         "since": time.time()})
    store = SweepDir(folder)
    assert store.state(cid) == "pending"
    claim = store.claim(cid)
    assert claim is not None and json.loads(claim.path.read_text())["started"] == process_start(os.getpid())
    claim.release()


def test_a_claim_of_a_live_process_holds(folder):
    from fairdd.sweeps.store import process_start

    cid = _first(folder)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        _claim(folder, cid, {"host": socket.gethostname(), "pid": child.pid, "started": process_start(child.pid),
                             "since": time.time()})
        assert SweepDir(folder).state(cid) == "running" and SweepDir(folder).claim(cid) is None
    finally:
        child.kill()
        child.wait()
    assert SweepDir(folder).state(cid) == "pending"


@pytest.mark.parametrize("info", [[1, 2], {"host": socket.gethostname(), "pid": "12"}, None])
def test_a_damaged_claim_is_no_claim(folder, info):
    cid = _first(folder)
    _claim(folder, cid, info)
    assert SweepDir(folder).state(cid) == "pending" and Sweep.open(folder).status().counts["pending"] == 1


def test_a_local_workers_claim_is_not_judged_by_slurm(folder, monkeypatch):
    """On a machine with SLURM, a local (submitit) worker's job id is a pid, not a SLURM job."""
    from fairdd.sweeps.run import _owner

    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.delenv("SLURM_ARRAY_JOB_ID", raising=False)
    monkeypatch.setenv("SUBMITIT_JOB_ID", str(os.getpid()))
    cid = _first(folder)
    (folder / "cells" / cid / "done.json").unlink()
    claim = SweepDir(folder, job_alive=lambda job: False).claim(cid, owner=_owner())  # SLURM: "no such job"
    try:
        assert SweepDir(folder, job_alive=lambda job: False).state(cid) == "running"
    finally:
        claim.release()
