"""Saving a result folder: never destroys what is not ours, atomic at every kill point, concurrent
savers take turns, payload checksums catch tampering."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import fairdd
from fairdd.io import KILL_ENV
from fairdd.results import DistillResult

ROOT = Path(__file__).resolve().parents[1]


def _result(value: float, n: int = 4) -> DistillResult:
    return DistillResult(torch.full((n, 3, 8, 8), float(value)), torch.arange(n) % 2,
                         history=[{"iteration": 1, "loss": value, "seconds": 0.0}], config={"target": f"v{value}"})


def _value(path) -> float:
    return float(fairdd.load_result(path).images[0, 0, 0, 0])


def test_refuses_to_replace_what_is_not_a_result(tmp_path):
    user = tmp_path / "proj"
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=f"{user} exists and is not a fairdd result.*notes.txt"):
        _result(1).save(user, overwrite=True)
    assert (user / "notes.txt").read_text() == "mine" and sorted(os.listdir(user)) == ["notes.txt"]
    afile = tmp_path / "afile"
    afile.write_text("data")
    with pytest.raises(FileExistsError, match=f"{afile} exists and is not a folder"):
        _result(1).save(afile, overwrite=True)
    assert afile.read_text() == "data" and sorted(os.listdir(tmp_path)) == ["afile", "proj"]
    with pytest.raises(NotADirectoryError, match=f"{afile}"):
        _result(1).save(afile / "sub")
    # an empty folder is fine; a user's file added inside a result folder survives an overwrite
    (tmp_path / "empty").mkdir()
    _result(1).save(tmp_path / "empty")
    (tmp_path / "empty" / "README").write_text("keep")
    _result(2).save(tmp_path / "empty", overwrite=True)
    assert _value(tmp_path / "empty") == 2 and (tmp_path / "empty" / "README").read_text() == "keep"
    assert len(os.listdir(tmp_path / "empty")) == 6  # 4 result files, the manifest, README


def test_tampered_payload_is_refused(tmp_path):
    _result(0.5).save(tmp_path / "r")
    tensors = next((tmp_path / "r").glob("tensors-*.pt"))
    raw = bytearray(tensors.read_bytes())
    raw[-200] ^= 0xFF  # one flipped byte inside the stored floats
    tensors.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="does not match its checksum"):
        fairdd.load_result(tmp_path / "r")
    _result(0.5).save(tmp_path / "h")
    history = next((tmp_path / "h").glob("history-*.json"))
    history.write_text("[]\n")
    with pytest.raises(ValueError, match="history.*does not match its checksum"):
        fairdd.load_result(tmp_path / "h")


SAVER = textwrap.dedent("""
    import sys, torch
    from fairdd.results import DistillResult
    path, value, n = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    for i in range(n):
        DistillResult(torch.full((4, 3, 8, 8), value), torch.arange(4) % 2,
                      history=[{"iteration": i, "loss": value, "seconds": 0.0}]).save(path, overwrite=True)
""")

KILL_POINTS = ["write:tensors-*", "write:history-*", "save:payload", "write:config.json", "save:committed",
               "save:cleaned", "write:grid.png"]


def _save_in_subprocess(path, value, *, kill_at=None, n=1):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    if kill_at:
        env[KILL_ENV] = kill_at
    return subprocess.Popen([sys.executable, "-c", SAVER, str(path), str(value), str(n)], env=env,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("first", [True, False], ids=["first-save", "overwrite"])
def test_sigkill_at_every_point_leaves_old_or_new(tmp_path, first):
    """SIGKILL at each step of the save protocol: load_result gives the old or the new result, a
    later save succeeds, and no hidden copies are left behind."""
    outcomes = {}
    procs = {}
    for point in KILL_POINTS:
        path = tmp_path / point.replace(":", "_").replace("*", "x")
        if not first:
            _result(1.0).save(path)
        procs[point] = (path, _save_in_subprocess(path, 2.0, kill_at=point))
    for point, (path, proc) in procs.items():
        proc.wait(timeout=120)
        assert proc.returncode == -9, (point, proc.stderr.read())
        try:
            outcomes[point] = _value(path)
        except FileNotFoundError:
            assert first, point  # nothing was there before: nothing (or leftovers) is "old"
            outcomes[point] = None
        # the next save works (no wedge, leftovers recognised as ours) and cleans up
        _result(3.0).save(path, overwrite=True)
        assert _value(path) == 3.0
        assert len(os.listdir(path)) == 5 and sorted(os.listdir(path.parent)) == sorted(
            p.name for p in tmp_path.iterdir())
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    old = None if first else 1.0
    assert set(outcomes.values()) <= {old, 2.0}
    # before the manifest is committed the old result is there; after it, the new one
    committed = KILL_POINTS.index("save:committed")
    assert all(outcomes[p] == old for p in KILL_POINTS[:committed])
    assert all(outcomes[p] == 2.0 for p in KILL_POINTS[committed:])


def test_concurrent_savers_take_turns(tmp_path):
    path = tmp_path / "res"
    (tmp_path / ".res.old-12345").mkdir()  # left by an old-style saver that was killed: tolerated, cleaned
    procs = [_save_in_subprocess(path, v, n=15) for v in (1.0, 2.0)]
    for p in procs:
        p.wait(timeout=300)
        assert p.returncode == 0, p.stderr.read()
    assert _value(path) in (1.0, 2.0)
    assert len(os.listdir(path)) == 5  # config, tensors, history, grid, .fairdd-manifest.json
    assert sorted(os.listdir(tmp_path)) == ["res"]


def test_manifest_records_checksums_and_dataset_fingerprint(digits_train, tmp_path):
    result = fairdd.random_subset(digits_train, ipc=2, seed=0)
    result.save(tmp_path / "r")
    meta = json.loads((tmp_path / "r" / "config.json").read_text())
    assert meta["version"] == 2 and len(meta["files"]["tensors_sha256"]) == 64
    fp = meta["dataset"]["fingerprint"]
    assert fp["name"] == "colored-digits" and fp["split"] == "train" and fp["n"] == len(digits_train)
