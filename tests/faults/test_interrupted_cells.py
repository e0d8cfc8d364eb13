"""Fault class: an interrupted cell loses no finished work and says where it stands.

A cell cut short (SLURM's warning before a time limit or a preemption, a killed job, an error in one
evaluation model) keeps what it finished: the distillation's checkpoint (the real-SLURM test in
tests/test_sweeps_slurm.py), each evaluation model's answers; the next attempt redoes only the rest and
ends bit for bit where an uninterrupted run ends. While SLURM holds a requeued job, ``status`` says
``requeued``, the attempt and the iteration it resumes from, never a plain ``queued``.

One test per case.
"""
import importlib
import json

import pytest

from fairdd.sweeps import Sweep, parse_spec
from fairdd.sweeps import run as sweep_run
from fairdd.sweeps import slurm

EVALUATE = importlib.import_module("fairdd.evaluate")  # the module (``fairdd.evaluate`` is also the function)
GRID = """
[sweep]
name = "interrupted"
preset = "smoke"
seeds = [0]
n_models = 3
device = "cpu"
[grid]
dataset = ["colored-digits"]
target = ["random"]
ipc = [2]
[data]
n_groups = 4
size = 16
[evaluate]
depth = 2
epochs = 1
"""


def _report(d, cid) -> dict:
    report = json.loads((d / "cells" / cid / "report.json").read_text())
    report.pop("seconds", None)
    return report


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    d = tmp_path_factory.mktemp("whole")
    sweep = Sweep(parse_spec(GRID), d)
    sweep.run("inline")
    (cid,) = sweep._by_id
    return d, cid


def _cut_at_model(monkeypatch, k: int) -> list:
    """Make the k-th model trained from now on raise (once); return the list of models trained."""
    real, trained = EVALUATE.train_models, []

    def train_models(*args, models=None, **kw):
        trained.extend(models or [])
        if len(trained) == k + 1 and not getattr(train_models, "cut", False):
            train_models.cut = True
            raise RuntimeError("killed during evaluation")
        return real(*args, models=models, **kw)

    monkeypatch.setattr(EVALUATE, "train_models", train_models)
    return trained


def test_a_cell_cut_during_evaluation_resumes_with_the_models_not_done(uninterrupted, tmp_path, monkeypatch):
    whole, cid = uninterrupted
    trained = _cut_at_model(monkeypatch, 2)
    sweep = Sweep(parse_spec(GRID), tmp_path)
    sweep.run("inline")
    assert sweep.dir.state(cid) == "failed" and trained == [0, 1, 2]
    assert sorted(p.name for p in (tmp_path / "cells" / cid / "eval").iterdir()) == ["model-0.json", "model-1.json"]
    sweep.run("inline", retry_failed=True)
    assert trained == [0, 1, 2, 2]  # models 0 and 1 were not trained again
    assert sweep.dir.state(cid) == "done" and not (tmp_path / "cells" / cid / "eval").exists()
    assert _report(tmp_path, cid) == _report(whole, cid)  # bit for bit: every model's answer on every image


def test_a_damaged_saved_model_is_trained_again_not_trusted(uninterrupted, tmp_path, monkeypatch):
    whole, cid = uninterrupted
    trained = _cut_at_model(monkeypatch, 2)
    sweep = Sweep(parse_spec(GRID), tmp_path)
    sweep.run("inline")
    (tmp_path / "cells" / cid / "eval" / "model-1.json").write_text('{"model": 1, "pred": [')  # cut mid-write
    sweep.run("inline", retry_failed=True)
    assert trained == [0, 1, 2, 1, 2] and _report(tmp_path, cid) == _report(whole, cid)


def test_saved_answers_of_another_training_set_are_not_reused(uninterrupted, tmp_path, monkeypatch):
    """A retry whose distilled set differs (a GPU's non-determinism, another attempt's result) retrains."""
    whole, cid = uninterrupted
    trained = _cut_at_model(monkeypatch, 2)
    sweep = Sweep(parse_spec(GRID), tmp_path)
    sweep.run("inline")
    path = tmp_path / "cells" / cid / "eval" / "model-0.json"
    saved = json.loads(path.read_text())
    path.write_text(json.dumps({**saved, "trained_on": "another set"}))
    sweep.run("inline", retry_failed=True)
    assert trained == [0, 1, 2, 0, 2] and _report(tmp_path, cid) == _report(whole, cid)


def _submitted(tmp_path, monkeypatch, job_state: str, requeue: dict | None):
    sweep = Sweep(parse_spec(GRID), tmp_path)
    (cid,) = sweep._by_id
    sweep._write_spec()
    sweep.dir.write(cid, "job.json", {"job": "101_0", "log": "jobs/101_0/101_0_0_log.err", "at": 1.0})
    if requeue is not None:
        sweep.dir.write(cid, "requeue.json", requeue)
    monkeypatch.setattr(slurm, "query", lambda jobs, logs=None: {j: slurm.JobState(j, job_state, "BeginTime")
                                                                  for j in jobs})
    return Sweep.open(tmp_path), cid


def test_a_requeued_cell_says_requeued_its_attempt_and_iteration(tmp_path, monkeypatch):
    """#22: a requeued cell read ``queued``, as if it had never started."""
    sweep, cid = _submitted(tmp_path, monkeypatch, "PENDING", {"job": "101_0", "attempt": 2,
                                                               "resumes_at": "iteration 731"})
    row = sweep.status().cells.set_index("cell").loc[cid]
    assert row["state"] == "requeued" and row["attempt"] == 2 and row["resumes_at"] == "iteration 731"
    assert row["error"].startswith("attempt 2 resumes at iteration 731; PENDING BeginTime")
    assert sweep.status().counts["requeued"] == 1 and sweep.status().counts["queued"] == 0


def test_an_older_jobs_requeue_record_does_not_make_a_new_job_requeued(tmp_path, monkeypatch):
    sweep, cid = _submitted(tmp_path, monkeypatch, "PENDING", {"job": "99_3", "attempt": 2, "resumes_at": "iteration 731"})
    row = sweep.status().cells.set_index("cell").loc[cid]
    assert row["state"] == "queued" and row["attempt"] is None


def test_each_requeue_of_a_job_counts_one_more_attempt(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "101")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "0")
    sweep_run._note_requeue(tmp_path, "iteration 300")
    sweep_run._note_requeue(tmp_path, "evaluation model 2 of 3")
    record = json.loads((tmp_path / "requeue.json").read_text())
    assert (record["job"], record["attempt"], record["resumes_at"]) == ("101_0", 3, "evaluation model 2 of 3")
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "202")  # a new submission starts over at attempt 2
    sweep_run._note_requeue(tmp_path, "iteration 10")
    assert json.loads((tmp_path / "requeue.json").read_text())["attempt"] == 2


def test_slurms_warning_during_evaluation_requeues_at_the_next_model(uninterrupted, tmp_path, monkeypatch):
    """The warning used to be ignored during evaluation: the job ran on into its time limit (TIMEOUT,
    the cell failed) instead of requeueing with the finished models kept."""
    whole, cid = uninterrupted
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "101")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "0")
    sweep = Sweep(parse_spec(GRID), tmp_path)
    sweep_run._WARNED.set()
    try:
        with pytest.raises(sweep_run._Requeue) as stop:
            sweep.run("inline")
    finally:
        sweep_run._WARNED.clear()
    assert stop.value.where == "evaluation model 2 of 3"
    record = json.loads((tmp_path / "cells" / cid / "requeue.json").read_text())
    assert (record["job"], record["attempt"], record["resumes_at"]) == ("101_0", 2, "evaluation model 2 of 3")
    assert [p.name for p in (tmp_path / "cells" / cid / "eval").iterdir()] == ["model-0.json"]
    assert sweep.dir.state(cid) == "pending"  # claim released: the requeued job takes it
    trained = _cut_at_model(monkeypatch, 99)
    sweep.run("inline")
    assert trained == [1, 2] and _report(tmp_path, cid) == _report(whole, cid)
    assert not (tmp_path / "cells" / cid / "requeue.json").exists()


def test_evaluating_model_by_model_equals_evaluating_all_at_once(uninterrupted, tmp_path):
    """The sweep's resumable evaluation is ``fairdd.evaluate`` of the whole run, answer for answer."""
    from fairdd import datasets
    from fairdd.evaluate import evaluate, random_subset

    whole, cid = uninterrupted
    cell = Sweep.open(whole).cell(cid)
    train = datasets.load("colored-digits", split="train", size=16, n_groups=4)
    test = datasets.load("colored-digits", split="test", size=16, n_groups=4)
    direct = evaluate(random_subset(train, ipc=2, seed=0), test, n_models=3, preset="smoke", method="dm", seed=0,
                      device="cpu", **cell.evaluate)
    direct.save(tmp_path / "report.json")
    saved = json.loads((tmp_path / "report.json").read_text())
    saved.pop("seconds", None)
    assert saved == _report(whole, cid)
