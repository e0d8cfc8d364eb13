"""Study and reproduce output files: concurrent writers lose no row; other settings are refused."""
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
    out = tmp_path / "s.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(out), targets], env=env, stderr=subprocess.PIPE,
                              text=True) for targets in ("vanilla,uniform", "fairdd,cobra")]
    for p in procs:
        p.wait(timeout=300)
        assert p.returncode == 0, p.stderr.read()
    rows = json.loads(out.read_text())
    assert sorted(r["target"] for r in rows) == ["cobra", "fairdd", "uniform", "vanilla"]
    assert all(r["settings"]["ipc"] == 1 for r in rows)


def test_study_file_refuses_other_settings_and_unrecorded_rows(tmp_path):
    out = tmp_path / "s.json"
    grid = {k: v for k, v in GRID.items() if k != "epochs"}
    first = imbalance_separation(targets=("vanilla",), out=out, eval_overrides={"epochs": 1}, **grid)
    assert len(first) == 1
    again = imbalance_separation(targets=("vanilla",), out=out, eval_overrides={"epochs": 1}, **grid)
    assert again.equals(first)  # same settings: the row is reused
    with pytest.raises(ValueError, match=r"s.json holds rows made with other settings \(ipc=1, now 2\)"):
        imbalance_separation(targets=("vanilla",), out=out, eval_overrides={"epochs": 1}, **{**grid, "ipc": 2})
    legacy = tmp_path / "old.json"
    legacy.write_text(json.dumps([{k: v for k, v in json.loads(out.read_text())[0].items() if k != "settings"}]))
    with pytest.raises(ValueError, match="old.json holds rows made with other settings .the file records no settings"):
        imbalance_separation(targets=("vanilla",), out=legacy, eval_overrides={"epochs": 1}, **grid)
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(IsADirectoryError, match="dir.json is a folder"):
        imbalance_separation(targets=("vanilla",), out=tmp_path / "dir.json", **grid)
