"""fairdd.sweeps: grid expansion, claims, resumable local runs (killed and rerun), two concurrent runs,
the table against a direct computation, and the SLURM script submitit would submit."""
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fairdd.results import load_result

from fairdd.sweeps import Resources, Sweep, estimate_cell, load_table, make_executor, parse_spec, sbatch_script
from fairdd.sweeps.estimate import TIMINGS
from fairdd.sweeps.store import SweepDir

ROOT = Path(__file__).resolve().parents[1]
SMOKE = (ROOT / "benchmarks" / "grids" / "smoke.toml").read_text()
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}

TINY = """
[sweep]
preset = "smoke"
seeds = [0, 1]
n_models = 1
device = "cpu"
[grid]
dataset = ["colored-digits"]
target = ["vanilla", "cobra"]
ipc = [1]
[data]
n_groups = 4
size = 16
[overrides]
iterations = 2
depth = 2
[evaluate]
depth = 2
"""


def _cli(*args) -> list[str]:
    return [sys.executable, "-m", "fairdd", "sweep", *args]


def _starts(cell_dir: Path) -> int:
    """How many times a worker started this cell (one log line per attempt)."""
    log = cell_dir / "log.txt"
    return log.read_text().count(f"cell {cell_dir.name} on") if log.is_file() else 0


# ----------------------------------------------------------------------------- grid
def test_smoke_grid_expands_to_eight_distinct_cells():
    spec = parse_spec(SMOKE)
    cells = spec.cells()
    assert len(cells) == 8 and len({c.id for c in cells}) == 8
    assert {(c.target, c.ipc, c.seed) for c in cells} == {(t, i, s) for t in ("vanilla", "cobra") for i in (1, 2)
                                                          for s in (0, 1)}
    cfg = cells[0].distill_config()
    assert cfg.iterations == 5 and cfg.depth == 2 and cfg.preset == "smoke" and cells[0].data["size"] == 16
    # the id is a content hash: same settings, same id; another override, another id
    assert parse_spec(SMOKE).cells()[0].id == cells[0].id
    assert parse_spec(SMOKE.replace("iterations = 5", "iterations = 6")).cells()[0].id != cells[0].id


def test_grid_sub_tables_and_exclusions():
    text = TINY.replace("target = [\"vanilla\", \"cobra\"]", "target = [\"vanilla\", \"fairdd\", \"cobra\"]\n"
                        "method = [\"dm\", \"dc\"]")
    text = text.replace("[sweep]", "[sweep]\nexclude = [{ method = \"dc\", target = \"fairdd\" }]")
    text += "[overrides.cobra]\niterations = 7\n[evaluate.dc]\nn_models = 2\n"
    cells = parse_spec(text).cells()
    assert len(cells) == (2 * 3 - 1) * 2
    for c in cells:
        assert c.distill_config().iterations == (7 if c.target == "cobra" else 2)
        assert c.n_models == (2 if c.method == "dc" else 1)
        assert not (c.method == "dc" and c.target == "fairdd")


@pytest.mark.parametrize("bad, message", [
    ("[grid]\ndataset = [\"colored-digits\"]\ntarget = [\"best\"]", "unknown target 'best'"),
    ("[grid]\ndataset = [\"colored-digits\"]\ntarget = [\"cobra\"]\ncolour = [1]", "unknown grid axis 'colour'"),
    ("[grid]\ndataset = [\"colored-digits\"]\ntarget = [\"cobra\"]\n[overrides]\niters = 3", "unknown [overrides] key"),
    ("[grid]\ndataset = [\"colored-digits\"]\ntarget = [\"cobra\"]\n[overrides.DM]\niterations = 3",
     "[overrides.DM] names no grid value"),
    ("[grid]\ndataset = [\"colored-digits\"]\ntarget = [\"cobra\"]\n[overrides]\nlr_img = -1", "lr_img must be a finite number in (0, inf); got -1"),
    ("[sweep]\npreset = \"fast\"", "unknown preset 'fast'"),
    ("[grid\n", "not valid TOML"),
])
def test_bad_sweep_files_name_the_value(bad, message):
    with pytest.raises(ValueError, match=None) as info:
        parse_spec(bad)
    assert message in str(info.value)


# ---------------------------------------------------------------------------- claims
def test_claims_exclude_a_second_worker_and_dead_workers_are_taken_over(tmp_path):
    store = SweepDir(tmp_path)
    claim = store.claim("c1")
    assert claim is not None and store.state("c1") == "running"
    assert store.claim("c1") is None  # held by a live worker (this process)
    claim.release()
    assert store.state("c1") == "pending"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "cells" / "c1" / "claim").write_text(json.dumps({"host": socket.gethostname(), "pid": dead.pid}))
    assert store.state("c1") == "pending"
    again = store.claim("c1")
    assert again is not None and json.loads(again.path.read_text())["pid"] == os.getpid()
    again.release()
    store.write("c1", "done.json", {"accuracy": 1.0, "eod": 0.0, "deo_a": 0.0, "worst_group_accuracy": 1.0})
    assert store.state("c1") == "done" and store.claim("c1", retry_failed=True) is None


# ------------------------------------------------------- local executor: kill, rerun
@pytest.fixture(scope="module")
def killed_and_rerun(tmp_path_factory):
    """Run the smoke grid with submitit's local executor, SIGKILL it after 3 cells, rerun it."""
    base = tmp_path_factory.mktemp("sweep")
    grid, d = base / "smoke.toml", base / "run"
    grid.write_text(SMOKE)
    first = subprocess.Popen(_cli("run", str(grid), "--dir", str(d), "--executor", "local"), env=ENV, cwd=base,
                             start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    cells = d / "cells"
    deadline = time.time() + 300
    while time.time() < deadline and len(list(cells.glob("*/done.json"))) < 3:
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)  # the CLI, submitit's controller and the worker
    first.wait()
    done_before = sorted(p.parent.name for p in cells.glob("*/done.json"))
    mtimes = {p: p.stat().st_mtime_ns for c in done_before for p in (cells / c).rglob("*") if p.is_file()}
    rerun = subprocess.run(_cli("run", "--dir", str(d), "--executor", "local", "--max-parallel", "2"),
                           env=ENV, cwd=base, capture_output=True, text=True, timeout=600)
    return dict(dir=d, done_before=done_before, mtimes=mtimes, rerun=rerun)


@pytest.mark.slow
def test_killed_sweep_reruns_only_the_missing_cells(killed_and_rerun):
    k = killed_and_rerun
    d, before = k["dir"], k["done_before"]
    assert k["rerun"].returncode == 0, k["rerun"].stdout + k["rerun"].stderr
    assert 3 <= len(before) < 8, before  # killed half-way
    assert f"{8 - len(before)} of 8 cells to run ({len(before)} done)" in k["rerun"].stdout
    status = Sweep.open(d).status()
    assert status.counts == {"done": 8, "running": 0, "queued": 0, "failed": 0, "damaged": 0, "pending": 0}
    for path, mtime in k["mtimes"].items():  # finished cells untouched
        assert path.stat().st_mtime_ns == mtime, path
    for cell in (d / "cells").iterdir():
        if cell.name in before:  # never started again
            assert _starts(cell) == 1, cell.name
        assert not (cell / "claim").exists()
        assert len(load_result(cell / "result").images) and (cell / "report.json").is_file()
    cell_json = json.loads(next((d / "cells").iterdir()).joinpath("cell.json").read_text())
    assert cell_json["distill"]["iterations"] == 5 and cell_json["dataset"]["train"]["info"]["size"] == 16


@pytest.mark.slow
def test_table_equals_a_direct_computation_and_survives_a_move(killed_and_rerun, tmp_path, capsys):
    d = killed_and_rerun["dir"]
    table = load_table(d)
    # direct: each cell's report.json, averaged over seeds by hand
    by_key: dict = {}
    floors: dict = {}
    for c in Sweep.open(d).cells:
        rep = json.loads((d / "cells" / c.id / "report.json").read_text())
        by_key.setdefault((c.method, c.target, c.ipc), []).append((rep["accuracy"], rep["eod"]))
        floors.setdefault((c.method, c.target, c.ipc), []).append(rep["noise_floor"])
    assert len(table.summary) == len(by_key) == 4
    for row in table.summary.to_dict(orient="records"):
        vals = by_key[(row["method"], row["target"], row["ipc"])]
        acc = [a for a, _ in vals]
        eod = [e for _, e in vals]
        mean = sum(acc) / len(acc)
        assert row["n_seeds"] == 2 and row["std_over"] == "seeds"
        assert row["accuracy_mean"] == pytest.approx(mean, abs=1e-9)
        assert row["accuracy_std"] == pytest.approx(math.sqrt(sum((a - mean) ** 2 for a in acc) / len(acc)), abs=1e-9)
        assert row["eod_mean"] == pytest.approx(sum(eod) / len(eod), abs=1e-9)
        floor = floors[(row["method"], row["target"], row["ipc"])]  # the reports' noise floor, mean over seeds
        assert row["eod_floor"] == pytest.approx(sum(f["eod"] for f in floor) / 2, abs=1e-9)
        assert row["deo_a_floor"] == pytest.approx(sum(f["deo_a"] for f in floor) / 2, abs=1e-9)
        assert 0 < row["deo_a_floor"] < row["eod_floor"] < 100
        entry = f"| {row['method']} / {row['target']} | "
        line = next(ln for ln in table.markdown().splitlines() if ln.startswith(entry))
        assert f"| {row['eod_floor']:.2f} / {row['deo_a_floor']:.2f} |" in line
        assert math.isnan(row["published_accuracy"])  # the paper has no colored-digits numbers
    text = table.markdown()
    assert text.splitlines()[0] == ("| method / target | colored-digits IPC 1 | floor EOD / DEO_A | "
                                    "colored-digits IPC 2 | floor EOD / DEO_A |")
    assert "sampling noise alone" in text and "floor EOD / DEO\\_A" in table.latex()
    assert "\\toprule" in table.latex() and "$\\pm$" in table.latex() and "±" not in table.latex()
    moved = tmp_path / "elsewhere"
    shutil.copytree(d, moved)
    assert load_table(moved).markdown() == text
    from fairdd.cli import main

    assert main(["sweep", "table", str(moved)]) == 0
    assert text in capsys.readouterr().out
    import pandas as pd

    csv = pd.read_csv(moved / "table.csv")
    assert csv["accuracy_mean"].tolist() == pytest.approx(table.summary["accuracy_mean"].tolist(), abs=1e-9)
    assert csv["eod_floor"].tolist() == pytest.approx(table.summary["eod_floor"].tolist(), abs=1e-9)
    assert csv["deo_a_floor"].tolist() == pytest.approx(table.summary["deo_a_floor"].tolist(), abs=1e-9)
    assert (moved / "table.tex").read_text() == table.latex()


# ------------------------------------------------------------- two concurrent runs
@pytest.mark.slow
def test_two_concurrent_runs_never_run_a_cell_twice(tmp_path):
    grid, d = tmp_path / "tiny.toml", tmp_path / "run"
    grid.write_text(TINY)
    args = _cli("run", str(grid), "--dir", str(d), "--executor", "inline")
    procs = [subprocess.Popen(args, env=ENV, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    cells = list((d / "cells").iterdir())
    assert len(cells) == 4
    for cell in cells:
        assert _starts(cell) == 1, cell.name
        done = json.loads((cell / "done.json").read_text())  # complete, valid JSON
        assert 0 <= done["accuracy"] <= 100 and not (cell / "claim").exists()
    assert Sweep.open(d).status().counts["done"] == 4


# ------------------------------------------------------------- failures and retries
def test_failed_cells_are_reported_and_rerun_only_on_request(tmp_path, monkeypatch):
    module = sys.modules["fairdd.distill"]  # the module (fairdd.distill is also the function)
    real = module.distill

    def broken(train, **kw):
        if kw["target"] == "cobra":
            raise RuntimeError("out of memory\nCUDA ran out of memory (tried 3 GiB)")
        return real(train, **kw)

    monkeypatch.setattr(module, "distill", broken)
    sweep = Sweep(parse_spec(TINY.replace("seeds = [0, 1]", "seeds = [0]")), tmp_path)
    sweep.run("inline")
    status = sweep.status()
    assert status.counts == {"done": 1, "running": 0, "queued": 0, "failed": 1, "damaged": 0, "pending": 0}
    errors = status.cells.loc[status.cells["state"] == "failed", "error"].tolist()
    assert errors == ["RuntimeError: CUDA ran out of memory (tried 3 GiB)"]
    assert status.hours_left > 0 and list(status.hours_used) == ["cpu"]
    assert sweep.plan().todo == []  # failed cells wait for retry_failed
    monkeypatch.setattr(module, "distill", real)
    assert [c.target for c in sweep.plan(retry_failed=True).todo] == ["cobra"]
    sweep.run("inline", retry_failed=True)
    assert sweep.status().counts["done"] == 2
    assert not any((tmp_path / "cells").glob("*/failed.json"))


def test_debug_executor_runs_the_cells_through_submitit(tmp_path):
    """...and a data knob as a grid axis gives the study layout (rows target, columns bias)."""
    text = TINY.replace("seeds = [0, 1]", "seeds = [0]").replace('["vanilla", "cobra"]', '["fairdd"]')
    text = text.replace("ipc = [1]", "ipc = [1]\nbias = [0.6, 0.9]")
    sweep = Sweep(parse_spec(text), tmp_path)
    status = sweep.run("debug").wait()
    assert status.counts["done"] == 2 and (tmp_path / "jobs").is_dir()
    table = load_table(tmp_path, rows=("target",), columns=("bias",))
    assert table.markdown().splitlines()[0] == "| target | bias 0.6 | floor EOD / DEO_A | bias 0.9 | floor EOD / DEO_A |"
    assert table.wide(floor=False).shape == (1, 2)
    assert sorted(table.summary["bias"]) == [0.6, 0.9] and set(table.summary["std_over"]) == {"models"}
    with pytest.raises(ValueError, match="unknown table axis"):
        load_table(tmp_path, columns=("colour",))


# ---------------------------------------------------------------------- SLURM path
def test_slurm_executor_writes_the_requested_resources(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="needs a SLURM cluster"):
        make_executor("slurm", tmp_path / "jobs", resources=Resources())
    srun = tmp_path / "srun"  # submitit only checks that srun exists; nothing is submitted
    srun.write_text("#!/bin/sh\nexit 0\n")
    srun.chmod(0o755)
    res = Resources(partition="gpu", gpus_per_task=2, cpus_per_task=6, mem_gb=48, timeout_min=90, account="lab",
                    constraint="h100", setup=("module load cuda/12",))
    ex = make_executor("slurm", tmp_path / "jobs", resources=res, max_parallel=3)
    script = sbatch_script(ex, 5)
    for line in ("#SBATCH --partition=gpu", "#SBATCH --gpus-per-task=2", "#SBATCH --cpus-per-task=6",
                 "#SBATCH --mem=48GB", "#SBATCH --time=90", "#SBATCH --array=0-4%3", "#SBATCH --account=lab",
                 "#SBATCH --constraint=h100", "#SBATCH --ntasks-per-node=1", "module load cuda/12"):
        assert line in script.splitlines(), line
    assert "-m submitit.core._submit" in script
    sweep = Sweep(parse_spec(SMOKE), tmp_path / "sweep")
    plan = sweep.plan(cells_per_job=3)
    assert [len(j) for j in plan.jobs] == [3, 3, 2] and sorted(sum(plan.jobs, [])) == sorted(c.id for c in sweep.cells)


# ---------------------------------------------------------------------- estimates
def test_estimate_follows_the_measured_step_times():
    from fairdd.sweeps import make_spec

    spec = make_spec(preset="paper", n_models=5, grid={"dataset": "colored-digits", "target": ["vanilla", "cobra"],
                                                       "ipc": 1},
                     overrides={"iterations": 100, "batch_real": 256, "refresh_every": 1, "warm_start_epochs": 0,
                                "cobra": {"warm_start_epochs": 1}},
                     evaluate={"epochs": 1000, "batch_size": 256})
    vanilla, cobra = spec.cells()
    ev, ec = estimate_cell(vanilla), estimate_cell(cobra)
    assert ev.measured and ec.measured
    # vanilla: 100 steps of the measured IPC-10 DM step (IPC 1 costs no less), real batch 256
    assert ev.distill_s == pytest.approx(100 * TIMINGS["dm_step_ms"][10] / 1000)
    # cobra: a warm start of K = 1 epoch over 10 images is one network step per iteration
    assert ec.distill_s - ev.distill_s == pytest.approx(100 * TIMINGS["net_step_ms"] / 1000)
    # evaluation: 5 models batched × 1000 epochs × 1 batch
    assert ev.eval_s == pytest.approx(5 * 1000 * TIMINGS["eval_batched_ms"] / 1000)
    # a bigger real batch costs its extra images: 10 classes × 344 more
    big = make_spec(preset="paper", grid={"dataset": "colored-digits", "target": "vanilla", "ipc": 1},
                    overrides={"iterations": 100, "batch_real": 600, "warm_start_epochs": 0}).cells()[0]
    assert estimate_cell(big).distill_s - ev.distill_s == pytest.approx(100 * 10 * 344 * TIMINGS["real_image_ms"] / 1000)
    dc = make_spec(preset="paper", grid={"dataset": "colored-digits", "target": "vanilla", "method": "dc"}).cells()[0]
    assert not estimate_cell(dc).measured


def test_example_grids_parse_and_data_knobs_are_axes():
    grids = ROOT / "benchmarks" / "grids"
    study = parse_spec((grids / "imbalance_separation.toml").read_text()).cells()
    assert len(study) == 4 * 3 * 3
    assert {(c.data["bias"], c.data["severity"]) for c in study} == {(b, s) for b in (0.5, 0.7, 0.9) for s in (0, 2, 4)}
    assert "-bias0.7-severity2-" in next(c.id for c in study if c.axes["bias"] == 0.7 and c.axes["severity"] == 2)
    table1 = parse_spec((grids / "cobra_table1.toml").read_text()).cells()
    assert len(table1) == 3 * 3 * 3 + 2 * 3  # CAFE has no FairDD row
    dm = next(c for c in table1 if c.method == "dm" and c.target == "cobra" and c.ipc == 100)
    cfg = dm.distill_config()
    assert (cfg.iterations, cfg.batch_real, cfg.lr_img) == (2600, 600, 1.0)  # the rest is the paper preset's
    assert dm.eval_config().epochs == 1500
    assert {c.n_models for c in table1 if c.method == "cafe"} == {2}
    app_f = parse_spec((grids / "app_f_cifar10s.toml").read_text()).cells()
    assert len(app_f) == 3 * 3 * 6 and all(set(c.data) == {"skew", "severity"} for c in app_f)


def test_make_spec_writes_the_same_sweep_as_the_file():
    from fairdd.sweeps import make_spec

    spec = make_spec(name="smoke", preset="smoke", seeds=[0, 1], n_models=1, device="cpu",
                     grid={"dataset": ["colored-digits"], "method": ["dm"], "target": ["vanilla", "cobra"],
                           "ipc": [1, 2]},
                     data={"n_groups": 4, "size": 16, "bias": 0.75}, overrides={"iterations": 5, "depth": 2},
                     evaluate={"depth": 2})
    assert [c.id for c in spec.cells()] == [c.id for c in parse_spec(SMOKE).cells()]
    assert parse_spec(spec.text).cells() == spec.cells()
    study = make_spec(grid={"dataset": "colored-digits", "target": ["cobra"], "bias": [0.5, 0.9]},
                      overrides={"cobra": {"iterations": 3}}, exclude=[{"bias": 0.5}])
    (cell,) = study.cells()
    assert cell.data["bias"] == 0.9 and cell.distill_config().iterations == 3
    with pytest.raises(ValueError, match="finite"):
        make_spec(grid={"dataset": "colored-digits", "target": "cobra"}, overrides={"lr_img": float("nan")})


def test_baseline_targets_random_and_whole(tmp_path):
    text = TINY.replace("seeds = [0, 1]", "seeds = [0]").replace('["vanilla", "cobra"]', '["random", "whole"]')
    sweep = Sweep(parse_spec(text), tmp_path)
    sweep.run("inline")
    assert sweep.status().counts["done"] == 2
    random_cell, whole_cell = sweep.cells
    assert len(load_result(tmp_path / "cells" / random_cell.id / "result").images)
    assert not (tmp_path / "cells" / whole_cell.id / "result").exists()  # the training set itself
    cell = json.loads((tmp_path / "cells" / whole_cell.id / "cell.json").read_text())
    assert cell["distill"] is None and cell["dataset"]["train"]["n"] > 100
    assert set(load_table(tmp_path).summary["target"]) == {"random", "whole"}


# ------------------------------------------------------- settings of finished cells
def test_a_finished_cell_of_other_settings_is_refused_and_the_grid_may_grow(tmp_path):
    one = TINY.replace("seeds = [0, 1]", "seeds = [0]").replace('["vanilla", "cobra"]', '["vanilla"]')
    Sweep(parse_spec(one), tmp_path).run("inline")
    (done,) = list((tmp_path / "cells").glob("*/done.json"))
    with pytest.raises(ValueError, match=r"holds a finished cell \S+ made with other settings: distill="
                                         r"\{'iterations': 2, 'depth': 2\} \(now \{'iterations': 3, 'depth': 2\}\); "
                                         r"use another"):
        Sweep(parse_spec(one.replace("iterations = 2", "iterations = 3")), tmp_path)
    with pytest.raises(ValueError, match=r"settings: n_models=1 \(now 2\); use another"):
        Sweep(parse_spec(one.replace("n_models = 1", "n_models = 2")), tmp_path)
    grown = Sweep(parse_spec(one.replace('["vanilla"]', '["vanilla", "random"]')), tmp_path)  # new cells only
    assert [c.target for c in grown.plan().todo] == ["random"]
    # a baseline cell ignores the distillation overrides: another iterations count is the same random subset
    grown.run("inline")
    again = parse_spec(one.replace('["vanilla"]', '["random"]').replace("iterations = 2", "iterations = 9"))
    with pytest.raises(ValueError, match=r"belongs to another grid .* drops 1 of its cells .*--replace-grid"):
        Sweep(again, tmp_path)  # a grid that drops cells is another grid: refused unless asked
    assert Sweep(again, tmp_path, replace_grid=True).plan().todo == [] and again.cells()[0].distill == {}
    assert Sweep.open(tmp_path).plan().todo == []  # opening the stored sweep checks nothing


def test_data_knobs_reach_only_the_datasets_that_take_them():
    text = TINY.replace('dataset = ["colored-digits"]', 'dataset = ["colored-digits", "cifar10-s"]')
    text = text.replace("[data]\nn_groups = 4\nsize = 16", "[data]\nmode = \"background\"\nskew = 0.8")
    cells = parse_spec(text).cells()
    assert {c.dataset: c.data for c in cells} == {"colored-digits": {"mode": "background"},
                                                  "cifar10-s": {"skew": 0.8}}
    with pytest.raises(ValueError, match=r"data knob 'skew' applies to none of the grid's datasets "
                                         r"\['colored-digits'\]; datasets that take it: \['cifar10-s'\]"):
        parse_spec(TINY.replace("size = 16", "size = 16\nskew = 0.8"))


def test_study_runs_app_f_severities_on_cifar10s(tmp_path, monkeypatch):
    """imbalance_separation on CIFAR10-S: imbalance is the skew, separation the App. F corruptions."""
    import importlib.util

    from fairdd.experiments import STUDY_COLUMNS, imbalance_separation

    spec = importlib.util.spec_from_file_location("_ff", ROOT / "tests" / "data" / "file_fixtures.py")
    fx = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fx)
    fx.write_cifar_python(tmp_path / "files", fx.cifar_arrays(n_train_per_class=12, n_test_per_class=3))
    monkeypatch.setenv("FAIRDD_DATA", str(tmp_path / "files"))
    frame = imbalance_separation(dataset="cifar10-s", targets=("vanilla",), imbalances=(0.75,), severities=(0, 4),
                                 ipc=1, preset="smoke", n_models=1, device="cpu", out=tmp_path / "study",
                                 eval_overrides={"depth": 2}, iterations=1, depth=2)
    assert list(frame.columns) == STUDY_COLUMNS and frame["severity"].tolist() == [0, 4]
    assert frame["imbalance"].tolist() == [0.75, 0.75]
    infos = [json.loads(p.read_text()) for p in (tmp_path / "study" / "cells").glob("*/cell.json")]
    assert sorted((i["dataset"]["train"]["info"]["skew"], i["dataset"]["train"]["info"]["severity"])
                  for i in infos) == [(0.75, 0), (0.75, 4)]
    assert all("mode" not in i["cell"]["data"] for i in infos)  # cifar10-s has no foreground/background
    assert "-skew0.75-severity4-" in " ".join(p.name for p in (tmp_path / "study" / "cells").iterdir())
    with pytest.raises(ValueError, match="mode 'background' does not apply to dataset 'cifar10-s'"):
        imbalance_separation(dataset="cifar10-s", mode="background", out=tmp_path / "x")
    with pytest.raises(ValueError, match="dataset 'bffhq' has no imbalance knob"):
        imbalance_separation(dataset="bffhq")


def test_a_dead_workers_claim_on_a_finished_cell_is_cleared_by_the_next_run(tmp_path):
    """A worker killed after writing done.json but before releasing its claim leaves the file behind."""
    one = TINY.replace("seeds = [0, 1]", "seeds = [0]").replace('["vanilla", "cobra"]', '["vanilla"]')
    Sweep(parse_spec(one), tmp_path).run("inline")
    (done,) = list((tmp_path / "cells").glob("*/done.json"))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    claim = done.parent / "claim"
    claim.write_text(json.dumps({"host": socket.gethostname(), "pid": int(dead.stdout), "since": time.time()}))
    live = tmp_path / "cells" / "other" / "claim"  # a live worker's claim (this process) is left alone
    live.parent.mkdir()
    (live.parent / "done.json").write_text("{}")
    live.write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}))
    mtime = done.stat().st_mtime_ns
    assert SweepDir(tmp_path).state(done.parent.name) == "done"
    Sweep(parse_spec(one), tmp_path).run("inline")
    assert not claim.exists() and live.exists() and done.stat().st_mtime_ns == mtime
