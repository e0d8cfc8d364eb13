"""Study output folders (sweeps): concurrent writers lose no row; other settings are refused."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fairdd.experiments import imbalance_separation

ROOT = Path(__file__).resolve().parents[1]
GRID = dict(dataset="colored-digits", imbalances=(0.8,), severities=(0,), seeds=(0,), ipc=1, preset="smoke",
            n_models=1, device="cpu", iterations=1, epochs=1, depth=2)

WRITER = textwrap.dedent("""
    import sys, torch
    torch.set_num_threads(1)
    from fairdd.experiments import imbalance_separation
    grid = dict(dataset="colored-digits", imbalances=(0.8,), severities=(0,), seeds=(0,), ipc=1, preset="smoke",
                n_models=1, device="cpu", iterations=1, depth=2)
    imbalance_separation(targets=sys.argv[2].split(","), out=sys.argv[1], eval_overrides={"epochs": 1}, **grid)
""")


def test_two_concurrent_study_writers_lose_no_row(tmp_path):
    out = tmp_path / "s"  # a sweep folder: one folder per cell, nothing shared between the writers
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(out), targets], env=env, stderr=subprocess.PIPE,
                              text=True) for targets in ("vanilla,uniform", "fairdd,cobra")]
    for p in procs:
        p.wait(timeout=300)
        assert p.returncode == 0, p.stderr.read()
    cells = [json.loads(p.read_text()) for p in out.glob("cells/*/cell.json")]
    assert sorted(c["cell"]["target"] for c in cells) == ["cobra", "fairdd", "uniform", "vanilla"]
    assert all(c["cell"]["ipc"] == 1 for c in cells) and len(list(out.glob("cells/*/done.json"))) == 4
    computed = []
    grid = {k: v for k, v in GRID.items() if k != "epochs"}
    rows = imbalance_separation(targets=("vanilla", "uniform", "fairdd", "cobra"), out=out,
                                eval_overrides={"epochs": 1}, callback=computed.append, **grid)
    assert rows["target"].tolist() == ["vanilla", "uniform", "fairdd", "cobra"] and computed == []  # all reused


def test_study_folder_refuses_other_settings_and_old_results_files(tmp_path):
    out = tmp_path / "s"
    grid = {k: v for k, v in GRID.items() if k != "epochs"}
    first = imbalance_separation(targets=("vanilla",), out=out, eval_overrides={"epochs": 1}, **grid)
    assert len(first) == 1
    again = imbalance_separation(targets=("vanilla",), out=out, eval_overrides={"epochs": 1}, **grid)
    assert again.equals(first)  # same settings: the row is reused
    with pytest.raises(ValueError, match=r"s holds a finished cell \S+ made with other settings: ipc=1 \(now 2\); use another"):
        imbalance_separation(targets=("vanilla",), out=out, eval_overrides={"epochs": 1}, **{**grid, "ipc": 2})
    legacy = tmp_path / "old.json"  # a results file of the former shared-JSON layout
    legacy.write_text(json.dumps([{"target": "vanilla"}]))
    with pytest.raises(FileExistsError, match="old.json is a file .* give a folder path"):
        imbalance_separation(targets=("vanilla",), out=legacy, eval_overrides={"epochs": 1}, **grid)
    assert json.loads(legacy.read_text()) == [{"target": "vanilla"}]  # left as it was
