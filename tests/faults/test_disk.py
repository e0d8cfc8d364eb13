"""Fault class 3, disk full and read-only: a failed write names the file, keeps the last good state and
leaves nothing half-written; a read-only data root still works (the cache lives elsewhere).

Writes are made to fail as a full or read-only disk does: ``OSError(ENOSPC / EACCES)`` raised from the
write (the tests run as root, which ``chmod`` does not stop), and a real ``EFBIG`` from ``RLIMIT_FSIZE``
in a subprocess. Each test is one case.
"""
from __future__ import annotations

import errno
import os
import resource
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import fairdd
from fairdd.cli import main
from fairdd.data.cache import CacheWarning, cache_folder, cached_arrays
from fairdd.ownership import MANIFEST
from fairdd.results import DistillResult

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "data"))  # the shared on-disk fixtures
from file_fixtures import bffhq_dir  # noqa: E402,F401  (fixture)

SMALL = dict(ipc=1, preset="smoke", device="cpu", depth=2)


def _result(value: float) -> DistillResult:
    return DistillResult(torch.full((4, 3, 8, 8), float(value)), torch.arange(4) % 2, config={"target": "vanilla"})


def _value(path) -> float:
    return float(fairdd.load_result(path).images[0, 0, 0, 0])


def _fail_writes(monkeypatch, code: int, *, when=lambda path: True, after: int = 0):
    """Make ``Path.write_bytes`` / ``write_text`` write ``after`` bytes, then fail with ``code``, for paths
    ``when`` accepts (fairdd writes into a temporary sibling: ``path.name`` holds the target's name)."""
    real_bytes, real_text = Path.write_bytes, Path.write_text

    def failing(real):
        def write(self, data, *args, **kwargs):
            if not when(self):
                return real(self, data, *args, **kwargs)
            with open(self, "wb") as f:
                f.write((data.encode() if isinstance(data, str) else bytes(data))[:after])
            raise OSError(code, os.strerror(code))
        return write

    monkeypatch.setattr(Path, "write_bytes", failing(real_bytes))
    monkeypatch.setattr(Path, "write_text", failing(real_text))


def _no_temporaries(folder: Path) -> None:
    left = [p.name for p in folder.rglob("*") if ".fairdd-tmp-" in p.name or p.name.endswith(".tmp")]
    assert not left, left


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES, errno.EFBIG, errno.EROFS])
def test_a_failed_payload_write_keeps_the_old_result_and_names_the_file(tmp_path, monkeypatch, code):
    _result(1.0).save(tmp_path / "res")
    _fail_writes(monkeypatch, code, when=lambda p: "tensors-" in p.name, after=100)
    with pytest.raises(OSError, match=rf"cannot write {tmp_path / 'res'}/tensors-[0-9a-f]+\.pt: {os.strerror(code)}"):
        _result(2.0).save(tmp_path / "res", overwrite=True)
    monkeypatch.undo()
    assert _value(tmp_path / "res") == 1.0
    _no_temporaries(tmp_path)
    _result(3.0).save(tmp_path / "res", overwrite=True)  # nothing wedged
    assert _value(tmp_path / "res") == 3.0


def test_disk_full_while_writing_the_manifest_keeps_the_old_result(tmp_path, monkeypatch):
    _result(1.0).save(tmp_path / "res")
    _fail_writes(monkeypatch, errno.ENOSPC, when=lambda p: "config.json" in p.name, after=10)
    with pytest.raises(OSError, match=r"res/config\.json: No space left on device"):
        _result(2.0).save(tmp_path / "res", overwrite=True)
    monkeypatch.undo()
    assert _value(tmp_path / "res") == 1.0
    _no_temporaries(tmp_path)


def test_disk_full_while_recording_ownership_keeps_the_old_result(tmp_path, monkeypatch):
    _result(1.0).save(tmp_path / "res")
    _fail_writes(monkeypatch, errno.ENOSPC, when=lambda p: MANIFEST in p.name, after=5)
    with pytest.raises(OSError, match=rf"{MANIFEST}: No space left on device"):
        _result(2.0).save(tmp_path / "res", overwrite=True)
    monkeypatch.undo()
    assert _value(tmp_path / "res") == 1.0
    _no_temporaries(tmp_path)
    _result(3.0).save(tmp_path / "res", overwrite=True)
    assert _value(tmp_path / "res") == 3.0


def test_disk_full_at_a_later_checkpoint_keeps_the_earlier_one(tmp_path, monkeypatch, digits_train):
    ck = tmp_path / "ck.pt"
    fairdd.distill(digits_train, checkpoint=ck, iterations=2, **SMALL)
    _fail_writes(monkeypatch, errno.ENOSPC, when=lambda p: "ck.pt" in p.name, after=500)
    with pytest.raises(OSError, match=f"cannot write {ck}: No space left on device"):
        fairdd.distill(digits_train, checkpoint=ck, resume=ck, iterations=4, **SMALL)
    monkeypatch.undo()
    assert torch.load(ck, weights_only=True)["iteration"] == 2
    _no_temporaries(tmp_path)


def test_report_write_on_a_read_only_disk_names_the_file_and_leaves_nothing(tmp_path, monkeypatch, digits_train,
                                                                             digits_test):
    report = fairdd.evaluate(fairdd.random_subset(digits_train, ipc=1, seed=0), digits_test, n_models=1,
                             preset="smoke", device="cpu", depth=2)
    _fail_writes(monkeypatch, errno.EROFS, when=lambda p: "report.json" in p.name, after=7)
    with pytest.raises(OSError, match=f"cannot write {tmp_path / 'report.json'}: Read-only file system"):
        report.save(tmp_path / "report.json")
    assert not (tmp_path / "report.json").exists()
    _no_temporaries(tmp_path)


def _limited(limit: int):
    def apply():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_cli_distill_past_the_file_size_limit_prints_one_line_and_keeps_the_old_result(tmp_path):
    out = tmp_path / "res"
    _result(1.0).save(out)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "fairdd", "distill", "--dataset", "colored-digits", "--preset",
                           "smoke", "--ipc", "1", "--device", "cpu", "--set", "iterations=1", "--set", "depth=2",
                           "--out", str(out), "--overwrite"], env=env, capture_output=True, text=True, timeout=300,
                          preexec_fn=_limited(20_000))  # a real EFBIG: the tensors file is ~120 kB
    err = proc.stderr.strip()
    assert proc.returncode == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert f"cannot write {out}/tensors-" in err and "File too large" in err
    assert _value(out) == 1.0
    _no_temporaries(tmp_path)


def test_a_cache_that_cannot_be_written_still_gives_the_data_with_a_warning(tmp_path, monkeypatch):
    real = np.save

    def full(f, *a, **k):
        real(f, *a, **k)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", full)
    arr = np.ones((3, 4), dtype=np.uint8)
    with pytest.warns(CacheWarning, match=f"cannot write the dataset cache in {tmp_path / 'c'}.*No space left"):
        arrays, hit = cached_arrays("toy", {}, "0" * 64, lambda: {"x": arr}, cache_dir=tmp_path / "c")
    assert not hit and np.array_equal(arrays["x"], arr)
    assert not list((tmp_path / "c").iterdir())  # no half entry


def test_the_default_cache_is_not_in_the_data_root(tmp_path, monkeypatch, bffhq_dir):
    for var in ("FAIRDD_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FAIRDD_DATA", str(bffhq_dir))  # a shared, read-only data root
    monkeypatch.chdir(tmp_path)
    before = sorted(p.relative_to(bffhq_dir) for p in bffhq_dir.rglob("*"))
    ds = fairdd.datasets.load("bffhq", split="test")
    assert sorted(p.relative_to(bffhq_dir) for p in bffhq_dir.rglob("*")) == before
    assert cache_folder() == tmp_path / "home" / ".cache" / "fairdd"
    assert list(cache_folder().glob("bffhq-*.json")) and len(ds) > 0
    assert not (tmp_path / "data").exists()


def test_fairdd_cache_and_xdg_cache_home_choose_the_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("FAIRDD_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_folder() == tmp_path / "xdg" / "fairdd"
    monkeypatch.setenv("FAIRDD_CACHE", str(tmp_path / "mine"))
    assert cache_folder() == tmp_path / "mine" and cache_folder(tmp_path / "given") == tmp_path / "given"


def test_cli_cache_dir_flag_puts_the_cache_there(tmp_path, bffhq_dir, capsys):
    assert main(["distill", "--dataset", "bffhq", "--root", str(bffhq_dir), "--cache-dir", str(tmp_path / "cc"),
                 "--preset", "smoke", "--ipc", "1", "--device", "cpu", "--set", "iterations=1", "--set", "depth=2",
                 "--out", str(tmp_path / "res")]) == 0
    assert list((tmp_path / "cc").glob("bffhq-*.json"))


def test_a_cache_folder_that_is_a_file_warns_and_loads(tmp_path, bffhq_dir):
    (tmp_path / "cachefile").write_text("not a folder")
    with pytest.warns(CacheWarning, match="cachefile"):
        ds = fairdd.datasets.load("bffhq", split="test", root=bffhq_dir, cache_dir=tmp_path / "cachefile")
    assert len(ds) > 0 and (tmp_path / "cachefile").read_text() == "not a folder"


def test_a_demo_out_that_cannot_be_created_is_one_line_before_work(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    assert main(["demo", "--preset", "smoke", "--dataset", "colored-digits", "--out", str(tmp_path / "afile" / "d"),
                 "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "afile" in err


def test_no_warning_when_the_cache_is_fine(tmp_path, bffhq_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        fairdd.datasets.load("bffhq", split="test", root=bffhq_dir, cache_dir=tmp_path / "c")
        assert fairdd.datasets.load("bffhq", split="test", root=bffhq_dir, cache_dir=tmp_path / "c").info["cache_hit"]


def test_disk_full_writing_the_picture_leaves_the_new_result_and_no_stale_picture(tmp_path, monkeypatch):
    _result(1.0).save(tmp_path / "res")
    monkeypatch.setattr("fairdd.results._write_png", lambda p, image: (_ for _ in ()).throw(
        OSError(errno.ENOSPC, "No space left on device")))
    with pytest.raises(OSError, match=r"res/grid\.png: No space left on device"):
        _result(2.0).save(tmp_path / "res", overwrite=True)
    monkeypatch.undo()
    assert _value(tmp_path / "res") == 2.0 and not (tmp_path / "res" / "grid.png").exists()
    _no_temporaries(tmp_path)


def test_a_failed_write_does_not_make_a_later_file_of_yours_fairdds(tmp_path, monkeypatch):
    from fairdd.ownership import write_owned

    _fail_writes(monkeypatch, errno.ENOSPC, when=lambda p: "metrics.json" in p.name)
    with pytest.raises(OSError, match="No space left"):
        write_owned(tmp_path / "metrics.json", lambda p: p.write_text("{}"))
    monkeypatch.undo()
    (tmp_path / "metrics.json").write_text("mine")  # the user's file, made after the failure
    with pytest.raises(FileExistsError, match="metrics.json"):
        write_owned(tmp_path / "metrics.json", lambda p: p.write_text("{}"))
    assert (tmp_path / "metrics.json").read_text() == "mine"
