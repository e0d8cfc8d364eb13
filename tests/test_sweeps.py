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
    # a claim left on a done cell (killed between done.json and its release) is litter the rerun clears
    mtimes = {p: p.stat().st_mtime_ns for c in done_before for p in (cells / c).rglob("*")
              if p.is_file() and p.name != "claim"}
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
    assert status.counts == {"done": 8, "running": 0, "queued": 0, "requeued": 0, "failed": 0, "damaged": 0, "pending": 0}
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
    assert status.counts == {"done": 1, "running": 0, "queued": 0, "requeued": 0, "failed": 1, "damaged": 0, "pending": 0}
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
    assert (dm.eval_config().epochs, dm.eval_config().decay_at) == (1501, 752)  # epoch_eval_train 1500 + 1
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


# ------------------------------------------------- SLURM, faked on PATH (the real one: test_sweeps_slurm.py)
FAKE = r'''#!{python}
import json, os, sys
from pathlib import Path
name = Path(sys.argv[0]).name
state = json.loads(Path(os.environ["FAKE_SLURM"]).read_text())
with open(Path(os.environ["FAKE_SLURM"]).parent / "calls.log", "a") as f:
    f.write(" ".join([name] + sys.argv[1:]) + "\n")
if name == "sbatch":
    if state.get("refuse"):
        sys.stderr.write(state["refuse"] + "\n")
        sys.exit(1)
    state["next"] = state.get("next", 100) + 1
    Path(os.environ["FAKE_SLURM"]).write_text(json.dumps(state))
    (Path(os.environ["FAKE_SLURM"]).parent / f"sbatch-{{state['next']}}.sh").write_text(Path(sys.argv[-1]).read_text())
    print(f"Submitted batch job {{state['next']}}")
elif name in ("sacct",) and state.get("sacct") is None:
    sys.stderr.write("Slurm accounting storage is disabled\n")
    sys.exit(1)
else:
    sys.stdout.write(state.get(name, ""))
'''


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    """squeue / sacct / scontrol / sinfo / sbatch / srun answering from a JSON file (``set(...)``)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("squeue", "sacct", "scontrol", "sinfo", "sbatch", "srun"):
        (bin_dir / name).write_text(FAKE.format(python=sys.executable))
        (bin_dir / name).chmod(0o755)
    state = tmp_path / "slurm.json"
    state.write_text(json.dumps({"sinfo": "2|4000|(null)|cpu*\n"}))
    monkeypatch.setenv("FAKE_SLURM", str(state))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    class Fake:
        folder = tmp_path

        def set(self, **kw):
            state.write_text(json.dumps({**json.loads(state.read_text()), **kw}))

        def scripts(self) -> list[str]:
            return [p.read_text() for p in sorted(tmp_path.glob("sbatch-*.sh"))]

    return Fake()


def _main(capsys, *args) -> tuple[int, str, str]:
    from fairdd.cli import main

    code = main(["sweep", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _tiny_grid(tmp_path, text: str = TINY) -> Path:
    grid = tmp_path / "grid.toml"
    grid.write_text(text.replace("[sweep]", '[sweep]\nname = "tiny"'))
    return grid


def test_slurm_defaults_fit_the_device_and_the_partition(tmp_path, fake_slurm, capsys):
    """#22.1/6: a CPU grid asks for no GPU, CPUs and memory within the node, time from the CPU estimate."""
    grid = _tiny_grid(tmp_path)
    code, out, _ = _main(capsys, "run", str(grid), "--dir", str(tmp_path / "d"), "--executor", "slurm", "--dry-run")
    lines = out.splitlines()
    assert code == 0 and not any("gpus" in ln for ln in lines), out
    assert "#SBATCH --cpus-per-task=2" in lines and "#SBATCH --mem=4000MB" in lines  # the 2-CPU, 4000 MB node
    sweep = Sweep(parse_spec(TINY), tmp_path / "x")
    cpu = sweep.plan(device="cpu")
    assert cpu.gpu_hours == pytest.approx(sum(estimate_cell(c, device="cpu").hours for c in sweep.cells))
    assert f"#SBATCH --time={sweep._timeout_min(cpu, cpu.jobs)}" in lines
    long = Sweep(parse_spec(TINY.replace("iterations = 2", "iterations = 300000")), tmp_path / "y")
    cpu = long.plan(device="cpu")
    longest = max(estimate_cell(c, device="cpu").hours for c in long.cells)  # one cell per job here
    assert long._timeout_min(cpu, cpu.jobs) == math.ceil(3 * 60 * longest + 10) > 15  # the CPU margin, past the floor
    fake_slurm.set(sinfo="16|64000|gpu:4|gpu*\n")  # a GPU partition: a GPU grid asks for one
    code, out, _ = _main(capsys, "run", str(grid), "--dir", str(tmp_path / "d"), "--executor", "slurm", "--dry-run",
                         "--device", "cuda")
    assert "#SBATCH --gpus-per-task=1" in out.splitlines() and "#SBATCH --cpus-per-task=8" in out.splitlines()


def test_dry_run_prints_the_sbatch_header_without_slurm(tmp_path, monkeypatch, capsys):
    """#22.8/9: no srun here; the header names the sweep, runs in its folder, has no --wckey."""
    monkeypatch.setenv("PATH", str(tmp_path))
    grid = _tiny_grid(tmp_path)
    code, out, err = _main(capsys, "run", str(grid), "--dir", str(tmp_path / "d"), "--executor", "slurm",
                           "--dry-run", "--exclude", "node7", "--sbatch", "reservation=lab", "--python", "/v/bin/python")
    lines = out.splitlines()
    assert code == 0, err
    for line in ("#SBATCH --job-name=fairdd-tiny", f"#SBATCH --chdir={(tmp_path / 'd').resolve()}",
                 "#SBATCH --exclude=node7", "#SBATCH --reservation=lab"):
        assert line in lines, line
    assert not any("wckey" in ln for ln in lines) and any(ln.endswith("-u -m submitit.core._submit "
                                                                       f"{(tmp_path / 'd').resolve()}/jobs/%j")
                                                          and "/v/bin/python" in ln for ln in lines)
    assert not (tmp_path / "d" / "resources.json").exists()  # a dry run changes nothing


def test_every_standard_knob_reaches_the_sbatch_script(tmp_path):
    from fairdd.sweeps import preview_script

    res = Resources(partition="gpu", gres="gpu:a100:2", mem_per_gpu="40G", cpus_per_gpu=6, exclude="n[1-2]",
                    nodelist="n3", comment="fairdd", mail_user="me@lab", mail_type="END,FAIL",
                    dependency="afterok:12", exclusive=True, job_name="mine", signal_delay_s=300,
                    srun_args=("--cpu-bind=none",), setup=("module load cuda",), additional={"reservation": "r1"},
                    chdir="/scratch", account="lab", qos="high", constraint="a100")
    text = preview_script(res.resolved("cuda"), tmp_path / "jobs", 3, timeout_min=60, max_parallel=2)
    lines = text.splitlines()
    for line in ("--partition=gpu", "--gres=gpu:a100:2", "--mem-per-gpu=40G", "--cpus-per-gpu=6", "--exclude='n[1-2]'",
                 "--nodelist=n3", "--comment=fairdd", "--mail-user=me@lab", "--mail-type=END,FAIL",
                 "--dependency=afterok:12", "--exclusive", "--job-name=mine", "--signal=USR2@300",
                 "--reservation=r1", "--chdir=/scratch", "--account=lab", "--qos=high", "--constraint=a100",
                 "--array=0-2%2", "--time=60"):
        assert f"#SBATCH {line}" in lines, line
    assert "module load cuda" in lines and "--cpu-bind=none" in text
    assert not any(flag in text for flag in ("--gpus-per-task", "--mem=", "--cpus-per-task"))  # gres, per-GPU asks
    assert Resources.from_dict(res.to_dict()) == res
    with pytest.raises(ValueError, match=r"unknown resource \['gpu'\]"):
        Resources.from_dict({"gpu": 1})
    with pytest.raises(ValueError, match="mem_gb must be a positive number or None; got -1"):
        Resources(mem_gb=-1)


def test_resources_are_saved_reused_on_resume_and_changed_only_when_asked(tmp_path, fake_slurm, capsys):
    """#22.2: the natural resume (``run --dir D``) keeps the first run's flags; status shows them."""
    grid, d = _tiny_grid(tmp_path), tmp_path / "d"
    code, out, err = _main(capsys, "run", str(grid), "--dir", str(d), "--executor", "slurm", "--mem-gb", "3",
                           "--cpus-per-task", "1", "--slurm-partition", "cpu")
    assert code == 0, err
    assert json.loads((d / "resources.json").read_text())["mem_gb"] == 3.0
    for cid in Sweep.open(d)._by_id:  # the job died without a word: the cells may run again
        (d / "cells" / cid / "job.json").unlink()
    code, out, err = _main(capsys, "run", "--dir", str(d), "--executor", "slurm")
    first, second = fake_slurm.scripts()
    for line in ("#SBATCH --mem=3GB", "#SBATCH --cpus-per-task=1", "#SBATCH --partition=cpu"):
        assert line in first.splitlines() and line in second.splitlines(), line
    assert "resources changed" not in out
    code, out, _ = _main(capsys, "status", str(d))
    assert "resources: partition=cpu, cpus_per_task=1, mem_gb=3.0" in out
    for cid in Sweep.open(d)._by_id:
        (d / "cells" / cid / "job.json").unlink()
    code, out, _ = _main(capsys, "run", "--dir", str(d), "--executor", "slurm", "--mem-gb", "6")
    assert "resources changed: mem_gb 3.0 -> 6.0" in out and "#SBATCH --mem=6GB" in fake_slurm.scripts()[-1]
    assert "#SBATCH --cpus-per-task=1" in fake_slurm.scripts()[-1]


def test_queued_cells_are_not_submitted_twice_and_max_parallel_spreads_them(tmp_path, fake_slurm, capsys):
    """#22.3/6: cells of a live job are queued (with SLURM's reason); --max-parallel spreads a small grid."""
    grid, d = _tiny_grid(tmp_path), tmp_path / "d"
    code, out, err = _main(capsys, "run", str(grid), "--dir", str(d), "--executor", "slurm", "--max-parallel", "2")
    assert code == 0 and "2 SLURM array task(s) of up to 2 cells" in out, out + err
    assert "#SBATCH --array=0-1%2" in fake_slurm.scripts()[0]
    fake_slurm.set(squeue="101_0|PENDING|Resources\n101_1|PENDING|Priority\n")
    code, out, err = _main(capsys, "run", "--dir", str(d), "--executor", "slurm")
    assert "0 of 4 cells to run" in out and len(fake_slurm.scripts()) == 1
    status = Sweep.open(d).status()
    assert status.counts["queued"] == 4 and set(status.cells["error"]) == {"PENDING Resources", "PENDING Priority"}
    assert [len(j) for j in Sweep(parse_spec(SMOKE), tmp_path / "s").plan().jobs] == [1] * 8  # spread by default
    assert len(Sweep(parse_spec(SMOKE), tmp_path / "s").plan(max_parallel=3).jobs) == 3


def test_ended_jobs_settle_their_cells_with_slurms_reason_and_the_log(tmp_path, fake_slurm, capsys):
    """#22.4: OOM, a failing setup line, a time limit, a node failure, a cancel: each shown per cell."""
    text = TINY.replace("ipc = [1]", "ipc = [1, 2]").replace("seeds = [0, 1]", "seeds = [0]")
    grid, d = _tiny_grid(tmp_path, text), tmp_path / "d"
    code, out, err = _main(capsys, "run", str(grid), "--dir", str(d), "--executor", "slurm")
    jobs = {c: json.loads((d / "cells" / c / "job.json").read_text()) for c in Sweep.open(d)._by_id}
    assert sorted(j["job"] for j in jobs.values()) == ["101_0", "101_1", "101_2", "101_3"]
    by_job = {j["job"]: c for c, j in jobs.items()}
    log = d / jobs[by_job["101_1"]]["log"]
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("bash: module: command not found\n")
    fake_slurm.set(sacct="101_0|OUT_OF_MEMORY|0:125\n101_0.batch|OUT_OF_MEMORY|0:125\n101_1|FAILED|127:0\n"
                         "101_2|NODE_FAIL|0:0\n101_3|TIMEOUT|0:0\n")
    code, out, err = _main(capsys, "status", str(d))
    rows = Sweep.open(d).status().cells.set_index("job")
    assert code == 1 and "--retry-failed" in err
    assert rows.loc["101_0", "state"] == "failed" and "SLURM job 101_0 OUT_OF_MEMORY" in rows.loc["101_0", "error"]
    assert rows.loc["101_1", "error"] == "SLURM job 101_1 FAILED (exit code 127:0): bash: module: command not found"
    assert rows.loc["101_0", "error"].endswith("killed over its memory limit; retry with more --mem-gb")
    assert rows.loc["101_1", "log"] == jobs[by_job["101_1"]]["log"]
    assert rows.loc["101_2", "state"] == "pending" and "NODE_FAIL; a rerun resubmits it" in rows.loc["101_2", "error"]
    assert rows.loc["101_3", "state"] == "failed" and "TIMEOUT" in rows.loc["101_3", "error"]
    code, out, err = _main(capsys, "run", "--dir", str(d), "--executor", "slurm")
    assert "1 of 4 cells to run" in out and "3 failed cell(s) not rerun" in out and "--retry-failed" in out
    fake_slurm.set(sacct=None, scontrol="JobId=1 ArrayJobId=101 ArrayTaskId=0 JobState=COMPLETED Reason=None "
                                        "ExitCode=0:0\n")  # no accounting: scontrol still knows
    from fairdd.sweeps.slurm import query

    assert query(["101_0"])["101_0"].state == "COMPLETED"


def _setup_part(script: str) -> str:
    """The sbatch script up to its command: what the job's shell runs before srun."""
    return script.split("\n# command")[0] + "\n"


@pytest.mark.parametrize("bad", ["source /no/such/venv/bin/activate", "module-load-nothing cuda/12",
                                 "false # a comment of the lab's", "test -d /no/such/dir && echo ok"])
def test_a_failing_setup_line_stops_the_job_naming_the_line(tmp_path, bad):
    """#22.4: a setup line that fails ends the job there, with its status and the line in the log."""
    from fairdd.sweeps import preview_script

    (tmp_path / "activate").write_text("export FROM_VENV=yes\n")
    setup = ("# the lab's environment", "export A=1", f"source {tmp_path}/activate", bad, "echo REACHED $A $FROM_VENV")
    script = _setup_part(preview_script(Resources(setup=setup).resolved("cpu"), tmp_path / "jobs", 1, timeout_min=5))
    ran = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert ran.returncode != 0 and "REACHED" not in ran.stdout, ran
    assert ran.stderr.strip().splitlines()[-1] == f"fairdd: setup line 4 failed (exit {ran.returncode}): {bad}"
    good = _setup_part(preview_script(Resources(setup=setup[:3] + setup[4:]).resolved("cpu"), tmp_path, 1,
                                      timeout_min=5))
    ran = subprocess.run(["bash", "-c", good], capture_output=True, text=True, cwd=tmp_path)
    assert ran.returncode == 0 and ran.stdout.strip() == "REACHED 1 yes", ran  # lines run in the job's shell


@pytest.mark.parametrize("bad", ["if true; then", "echo 'unclosed", "module load x \\", "a\nb"])
def test_a_setup_line_that_is_no_whole_command_is_refused_before_submission(tmp_path, bad):
    from fairdd.sweeps import preview_script

    with pytest.raises(ValueError, match="setup line"):
        preview_script(Resources(setup=("true", bad)).resolved("cpu"), tmp_path, 1, timeout_min=5)


def test_a_failing_setup_line_shows_as_the_cells_failure_with_the_log(tmp_path, fake_slurm, capsys):
    """#22.4 end to end: the job's own script fails on its setup line; status names the line and the log."""
    grid, d = _tiny_grid(tmp_path, TINY.replace("seeds = [0, 1]", "seeds = [0]")), tmp_path / "d"
    code, out, err = _main(capsys, "run", str(grid), "--dir", str(d), "--executor", "slurm", "--max-parallel", "1",
                           "--setup", "source /no/such/venv/bin/activate")
    assert code == 0, err
    (script,) = fake_slurm.scripts()
    cid = next(iter(Sweep.open(d)._by_id))
    record = json.loads((d / "cells" / cid / "job.json").read_text())
    log = d / record["log"]
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as f:  # the job, as SLURM runs it: its stderr is the recorded log
        ran = subprocess.run(["bash", "-c", _setup_part(script)], stdout=subprocess.DEVNULL, stderr=f, cwd=d)
    fake_slurm.set(sacct=f"{record['job']}|FAILED|{ran.returncode}:0\n")
    code, out, err = _main(capsys, "status", str(d))
    row = Sweep.open(d).status().cells.set_index("cell").loc[cid]
    assert code == 1 and row["state"] == "failed" and row["log"] == record["log"]
    assert row["error"] == (f"SLURM job {record['job']} FAILED (exit code {ran.returncode}:0): fairdd: setup line 1 "
                            f"failed (exit {ran.returncode}): source /no/such/venv/bin/activate")


PER_IPC = TINY.replace("ipc = [1]", "ipc = [1, 2]").replace("seeds = [0, 1]", "seeds = [0]") + """
[resources.ipc.2]
mem_gb = 3
timeout_min = 45
[resources.target.cobra]
cpus_per_task = 1
"""


def test_a_grid_value_gets_its_own_resources_in_its_own_array(tmp_path, fake_slurm, capsys):
    """#22: per-cell resources where an axis changes the cost; cells of other resources, other arrays."""
    grid, d = _tiny_grid(tmp_path, PER_IPC), tmp_path / "d"
    code, out, err = _main(capsys, "run", str(grid), "--dir", str(d), "--executor", "slurm", "--mem-gb", "1.5")
    assert code == 0, err
    arrays = {}
    for script in fake_slurm.scripts():
        lines = script.splitlines()
        arrays[(next(ln for ln in lines if ln.startswith("#SBATCH --mem=")),
                next(ln for ln in lines if ln.startswith("#SBATCH --cpus-per-task=")))] = script
    assert set(arrays) == {("#SBATCH --mem=1536MB", "#SBATCH --cpus-per-task=2"),
                           ("#SBATCH --mem=3GB", "#SBATCH --cpus-per-task=2"),
                           ("#SBATCH --mem=1536MB", "#SBATCH --cpus-per-task=1"),
                           ("#SBATCH --mem=3GB", "#SBATCH --cpus-per-task=1")}, list(arrays)
    assert "#SBATCH --time=45" in arrays[("#SBATCH --mem=3GB", "#SBATCH --cpus-per-task=1")]
    sweep = Sweep.open(d)
    for cid, cell in sweep._by_id.items():  # each cell went to the array of its own resources
        job = json.loads((d / "cells" / cid / "job.json").read_text())["job"].split("_")[0]
        script = (tmp_path / f"sbatch-{job}.sh").read_text().splitlines()
        assert ("#SBATCH --mem=3GB" in script) == (cell.axes["ipc"] == 2)
        assert ("#SBATCH --cpus-per-task=1" in script) == (cell.axes["target"] == "cobra")
    code, out, err = _main(capsys, "run", "--dir", str(d), "--executor", "slurm", "--dry-run")  # jobs left SLURM
    assert code == 0 and out.count("#!/bin/bash") == 4 and len(fake_slurm.scripts()) == 4, out + err
    assert out.count("#SBATCH --mem=3GB") == 2  # the stored sweep keeps its per-value resources


@pytest.mark.parametrize("table, message", [
    ("[resources.ipc.7]\nmem_gb = 3", r"\[resources.ipc.7\] names no value of grid axis 'ipc'"),
    ("[resources.lr.1]\nmem_gb = 3", r"\[resources.lr\] names no grid axis"),
    ("[resources.ipc.2]\nmemory = 3", r"\[resources.ipc.2\]: unknown resource \['memory'\]"),
    ("[resources.ipc.2]\nmem_gb = -3", r"\[resources.ipc.2\]: mem_gb must be a positive number"),
])
def test_bad_per_value_resources_name_the_table(table, message):
    with pytest.raises(ValueError, match=message):
        parse_spec(PER_IPC.split("[resources")[0] + table)


def test_a_dead_jobs_claim_frees_its_cell_at_once(tmp_path, fake_slurm):
    """#22.7: a claim of a job SLURM reports dead does not hold its cell for STALE_AFTER_S."""
    store = SweepDir(tmp_path / "d")
    claim = store.cell("c1") / "claim"
    claim.parent.mkdir(parents=True)
    claim.write_text(json.dumps({"host": "node9", "pid": 4242, "since": time.time(), "job": "55_3"}))
    fake_slurm.set(squeue="55_3|RUNNING|None\n")
    sweep_dir = SweepDir(tmp_path / "d", job_alive=lambda j: __import__("fairdd.sweeps.slurm", fromlist=["query"])
                         .query([j])[j].alive)
    assert sweep_dir.state("c1") == "running"
    fake_slurm.set(squeue="", sacct="55_3|CANCELLED by 0|0:15\n")
    assert sweep_dir.state("c1") == "pending" and sweep_dir.claim("c1") is not None
    assert store.state("c1") == "running"  # without SLURM's word, only the age counts (the old rule)


def test_a_refused_sbatch_says_why_once_and_leaves_no_pickles(tmp_path, fake_slurm, capsys):
    """#22.9: sbatch's refusal is one line; jobs/ holds nothing of the failed submission."""
    fake_slurm.set(refuse="sbatch: error: Invalid generic resource (gres) specification")
    grid, d = _tiny_grid(tmp_path), tmp_path / "d"
    code, out, err = _main(capsys, "run", str(grid), "--dir", str(d), "--executor", "slurm", "--gpus-per-task", "1")
    assert code == 2 and err.count("Invalid generic resource (gres) specification") == 1, err
    assert "sbatch refused the job array" in err
    assert not [p for p in (d / "jobs").rglob("*") if p.is_file()]
    assert not any((d / "cells").glob("*/job.json"))


def test_slurms_warning_checkpoints_and_requeues_instead_of_failing_the_cell(tmp_path, monkeypatch):
    """The warning signal before the time limit does not mark the running cell failed: the distillation
    is checkpointed between two steps, submitit's requeue is called, and the next attempt resumes to the
    same images as an uninterrupted run."""
    import signal

    from fairdd.sweeps import run as sweep_run

    text = TINY.replace("seeds = [0, 1]", "seeds = [0]").replace('["vanilla", "cobra"]', '["vanilla"]')
    text = text.replace("iterations = 2", "iterations = 6")
    sweep = Sweep(parse_spec(text), tmp_path / "d")
    sweep._write_spec()
    (cell,) = sweep.cells
    requeued = []

    def submitit_handler(signum, frame):  # what submitit's checkpoint_and_try_requeue does, then exits
        requeued.append(sweep_run.SweepWorker().checkpoint(str(sweep.dir.root), [cell.id]))
        raise SystemExit(-1)

    monkeypatch.setenv("SUBMITIT_EXECUTOR", "slurm")
    old = signal.signal(signal.SIGUSR2, submitit_handler)
    try:
        sweep_run._WARNED.set()
        with pytest.raises(SystemExit):
            sweep_run.SweepWorker()(str(sweep.dir.root), [cell.id], False, "cpu")
    finally:
        sweep_run._WARNED.clear()
        signal.signal(signal.SIGUSR2, old)
    folder = tmp_path / "d" / "cells" / cell.id
    assert len(requeued) == 1 and requeued[0].args[1] == [cell.id]
    assert (folder / "checkpoint.pt").is_file() and not (folder / "failed.json").exists()
    assert not (folder / "claim").exists() and sweep.dir.state(cell.id) == "pending"
    Sweep.open(tmp_path / "d").run("inline")  # the requeued attempt
    assert "resumed" in (folder / "log.txt").read_text() and not (folder / "checkpoint.pt").exists()
    Sweep(parse_spec(text), tmp_path / "ref").run("inline")
    ours, ref = load_result(folder / "result"), load_result(tmp_path / "ref" / "cells" / cell.id / "result")
    assert ours.images.equal(ref.images) and len(ours.history) == 6


def test_max_parallel_caps_the_whole_run_not_each_array(tmp_path, fake_slurm, capsys):
    """#22.5: four arrays (per-value resources) under --max-parallel 2: one task each at a time, and the
    third and fourth arrays wait for the first and second (afterany), so never more than 2 run."""
    grid, d = _tiny_grid(tmp_path, PER_IPC.replace("seeds = [0]", "seeds = [0, 1]")), tmp_path / "d"
    code, out, err = _main(capsys, "run", str(grid), "--dir", str(d), "--executor", "slurm", "--max-parallel", "2")
    assert code == 0, err
    scripts = fake_slurm.scripts()  # in submission order: sbatch-101.sh ...
    assert len(scripts) == 4
    arrays = [next(ln for ln in s.splitlines() if ln.startswith("#SBATCH --array=")) for s in scripts]
    assert all(a.endswith("%1") for a in arrays), arrays
    waits = [[ln for ln in s.splitlines() if ln.startswith("#SBATCH --dependency=")] for s in scripts]
    assert waits == [[], [], ["#SBATCH --dependency=afterany:101"], ["#SBATCH --dependency=afterany:102"]], waits
    code, out, err = _main(capsys, "run", str(grid), "--dir", str(tmp_path / "e"), "--executor", "slurm",
                           "--max-parallel", "5", "--dry-run")  # more budget than arrays: split, no waiting
    shares = [int(ln.rsplit("%", 1)[1]) for ln in out.splitlines() if ln.startswith("#SBATCH --array=")]
    assert code == 0 and sum(shares) <= 5 and len(shares) == 4 and "--dependency" not in out, out
