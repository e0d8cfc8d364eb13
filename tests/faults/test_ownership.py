"""Fault class 1, ownership: fairdd replaces or deletes only files its manifest lists as its own.

Each test is one case, tried as a user would (the API or the CLI): a user's file where fairdd writes is
refused by name and left byte-for-byte intact; files fairdd wrote are replaced; two runs never share
one checkpoint.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
import torch

import fairdd
from fairdd.cli import main
from fairdd.ownership import MANIFEST, check_owned, write_owned
from fairdd.results import DistillResult

SMALL = dict(ipc=1, preset="smoke", device="cpu", iterations=2, depth=2)


def _result(value: float = 1.0, n: int = 4) -> DistillResult:
    return DistillResult(torch.full((n, 3, 8, 8), float(value)), torch.arange(n) % 2,
                         history=[{"iteration": 1, "loss": value, "seconds": 0.0}], config={"target": "vanilla"})


def _mine(folder: Path, name: str, text: str = "the user's own file") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


def _cli_refuses(argv, capsys, *names) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for name in names:
        assert name in err, err
    return err


@pytest.mark.parametrize("name", ["history.json", "tensors.pt", ".notes.tmp", "grid.png"])
def test_save_refuses_a_folder_holding_a_users_file_named_like_a_result_file(tmp_path, name):
    mine = _mine(tmp_path / "out", name)
    with pytest.raises(FileExistsError, match=name.replace(".", r"\.")):
        _result().save(tmp_path / "out", overwrite=True)
    assert mine.read_text() == "the user's own file" and os.listdir(tmp_path / "out") == [name]


@pytest.mark.parametrize("name", ["history.json", "tensors.pt", ".notes.tmp", "history-0123456789abcdef.json"])
def test_overwrite_keeps_a_users_file_put_inside_a_result_folder(tmp_path, name):
    _result(1.0).save(tmp_path / "res")
    mine = _mine(tmp_path / "res", name)
    _result(2.0).save(tmp_path / "res", overwrite=True)
    assert mine.read_text() == "the user's own file"
    assert float(fairdd.load_result(tmp_path / "res").images[0, 0, 0, 0]) == 2.0


def test_a_result_file_the_user_replaced_is_not_overwritten(tmp_path):
    _result(1.0).save(tmp_path / "res")
    (tmp_path / "res" / "grid.png").write_bytes(b"my edited picture")
    with pytest.raises(FileExistsError, match="grid.png"):
        _result(2.0).save(tmp_path / "res", overwrite=True)
    assert (tmp_path / "res" / "grid.png").read_bytes() == b"my edited picture"
    assert float(fairdd.load_result(tmp_path / "res").images[0, 0, 0, 0]) == 1.0  # the old result, whole


def test_a_users_folder_beside_the_result_with_a_similar_name_survives(tmp_path):
    backup = tmp_path / ".res.backup"
    _mine(backup, "history.json")
    _result().save(tmp_path / "res")
    assert (backup / "history.json").read_text() == "the user's own file"


def test_a_result_from_before_manifests_is_still_overwritable_and_its_extra_files_kept(tmp_path):
    _result(1.0).save(tmp_path / "res")
    (tmp_path / "res" / MANIFEST).unlink()  # as written by an older fairdd
    mine = _mine(tmp_path / "res", "notes.md")
    _result(2.0).save(tmp_path / "res", overwrite=True)
    assert mine.is_file() and float(fairdd.load_result(tmp_path / "res").images[0, 0, 0, 0]) == 2.0
    assert sorted(os.listdir(tmp_path / "res"))[:1] == [MANIFEST]


def test_a_killed_writers_temporary_is_cleaned_but_a_users_tmp_file_is_not(tmp_path):
    _result(1.0).save(tmp_path / "res")
    dead = tmp_path / "res" / ".fairdd-tmp-999999999-config.json.abc.tmp"  # no such pid
    dead.write_text("half")
    mine = _mine(tmp_path / "res", ".config.json.abc.tmp")  # the old temp name: no longer taken as ours
    _result(2.0).save(tmp_path / "res", overwrite=True)
    assert not dead.exists() and mine.read_text() == "the user's own file"


def test_demo_refuses_a_users_metrics_json_before_any_work(tmp_path, capsys):
    mine = _mine(tmp_path / "demo", "metrics.json", "{}")
    _cli_refuses(["demo", "--preset", "smoke", "--dataset", "colored-digits", "--out", str(tmp_path / "demo"),
                  "--device", "cpu", "--ipc", "1"], capsys, "metrics.json", "did not write")
    assert mine.read_text() == "{}" and sorted(os.listdir(tmp_path / "demo")) == ["metrics.json"]


def test_demo_refuses_a_users_metrics_png(tmp_path, capsys):
    mine = _mine(tmp_path / "demo", "metrics.png", "png")
    _cli_refuses(["demo", "--preset", "smoke", "--dataset", "colored-digits", "--out", str(tmp_path / "demo"),
                  "--device", "cpu", "--ipc", "1"], capsys, "metrics.png")
    assert mine.read_text() == "png"


def test_reproduce_refuses_a_users_table_before_any_work(tmp_path, capsys):
    mine = _mine(tmp_path / "rep", "table.tex", "my paper's table")
    _cli_refuses(["reproduce", "colored-digits", "--preset", "smoke", "--out", str(tmp_path / "rep"),
                  "--device", "cpu"], capsys, "table.tex")
    assert mine.read_text() == "my paper's table" and sorted(os.listdir(tmp_path / "rep")) == ["table.tex"]


def test_reproduce_called_from_python_refuses_a_users_table_before_any_work(tmp_path):
    from fairdd.experiments import reproduce

    mine = _mine(tmp_path / "rep", "table.md", "my notes")
    with pytest.raises(FileExistsError, match="table.md"):
        reproduce(dataset="colored-digits", preset="smoke", targets=["random"], n_models=1, device="cpu",
                  out=tmp_path / "rep")
    assert mine.read_text() == "my notes" and sorted(os.listdir(tmp_path / "rep")) == ["table.md"]


def test_distill_cli_refuses_an_out_folder_holding_a_users_history_json(tmp_path, capsys):
    mine = _mine(tmp_path / "res", "history.json")
    _cli_refuses(["distill", "--dataset", "colored-digits", "--preset", "smoke", "--ipc", "1", "--device", "cpu",
                  "--out", str(tmp_path / "res"), "--overwrite"], capsys, "history.json")
    assert mine.read_text() == "the user's own file"


def test_evaluate_refuses_to_write_its_report_over_a_users_file(tmp_path, capsys):
    _result().save(tmp_path / "res")
    mine = _mine(tmp_path, "report.json", "my notes")
    _cli_refuses(["evaluate", str(tmp_path / "res"), "--dataset", "colored-digits", "--preset", "smoke",
                  "--out", str(mine)], capsys, "report.json")
    assert mine.read_text() == "my notes"


def test_checkpoint_path_holding_a_users_file_is_refused_before_work(tmp_path, digits_train):
    mine = _mine(tmp_path, "weights.pt", "not a checkpoint")
    with pytest.raises(FileExistsError, match="weights.pt"):
        fairdd.distill(digits_train, checkpoint=mine, **SMALL)
    assert mine.read_text() == "not a checkpoint"


def test_a_checkpoint_fairdd_wrote_is_replaced_by_the_next_run(tmp_path, digits_train):
    ck = tmp_path / "ck.pt"
    fairdd.distill(digits_train, checkpoint=ck, **SMALL)
    fairdd.distill(digits_train, checkpoint=ck, target="cobra", **SMALL)
    assert torch.load(ck, weights_only=True)["config"] is not None


def test_two_runs_given_one_checkpoint_path_the_second_is_refused_naming_the_first(tmp_path, digits_train):
    ck, started, release, errors = tmp_path / "ck.pt", threading.Event(), threading.Event(), []

    def hold(run, info):
        started.set()
        release.wait(60)

    def first():
        try:
            fairdd.distill(digits_train, checkpoint=ck, callbacks=[hold], **SMALL)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert started.wait(60)
        with pytest.raises(FileExistsError, match=rf"ck\.pt is in use by another run \(pid {os.getpid()}"):
            fairdd.distill(digits_train, checkpoint=ck, target="cobra", **SMALL)
    finally:
        release.set()
        thread.join(120)
    assert not errors and ck.is_file()


def test_resume_from_a_checkpoint_written_before_manifests_continues_in_place(tmp_path, digits_train):
    ck = tmp_path / "ck.pt"
    fairdd.distill(digits_train, checkpoint=ck, **SMALL)
    (tmp_path / MANIFEST).unlink()  # as written by an older fairdd
    fairdd.distill(digits_train, resume=ck, **{**SMALL, "iterations": 3})
    assert torch.load(ck, weights_only=True)["iteration"] == 3


def test_report_save_refuses_a_users_file(tmp_path, digits_train, digits_test):
    report = fairdd.evaluate(fairdd.random_subset(digits_train, ipc=1, seed=0), digits_test, n_models=1,
                             preset="smoke", device="cpu", depth=2)
    mine = _mine(tmp_path, "report.json", "mine")
    with pytest.raises(FileExistsError, match="report.json"):
        report.save(mine)
    assert mine.read_text() == "mine"
    report.save(tmp_path / "r.json")
    report.save(tmp_path / "r.json")  # its own file: replaced


def test_save_figure_refuses_a_users_pdf_and_writes_nothing(tmp_path):
    from matplotlib.figure import Figure

    from fairdd.viz.paper import save_figure

    mine = _mine(tmp_path, "fig.svg", "<svg>mine</svg>")
    with pytest.raises(FileExistsError, match="fig.svg"):
        save_figure(Figure(), tmp_path / "fig")
    assert mine.read_text() == "<svg>mine</svg>" and not (tmp_path / "fig.pdf").exists()


def test_a_file_fairdd_wrote_and_the_user_then_edited_is_the_users(tmp_path):
    path = write_owned(tmp_path / "notes.txt", lambda p: p.write_text("fairdd"))
    check_owned(path)  # fairdd's: may be replaced
    path.write_text("edited by hand")
    with pytest.raises(FileExistsError, match="notes.txt"):
        write_owned(path, lambda p: p.write_text("fairdd again"))
    assert path.read_text() == "edited by hand"


def test_a_damaged_manifest_makes_nothing_fairdds(tmp_path):
    path = write_owned(tmp_path / "metrics.json", lambda p: p.write_text("{}"))
    (tmp_path / MANIFEST).write_text("{not json")
    with pytest.raises(FileExistsError, match="metrics.json"):
        write_owned(path, lambda p: p.write_text("[]"))
    assert path.read_text() == "{}"


def test_symlink_to_a_users_file_is_not_written_through(tmp_path):
    target = _mine(tmp_path / "elsewhere", "precious.txt")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "metrics.json").symlink_to(target)
    with pytest.raises(FileExistsError, match="metrics.json"):
        write_owned(tmp_path / "out" / "metrics.json", lambda p: p.write_text("{}"))
    assert target.read_text() == "the user's own file"


def test_dashboard_server_refuses_a_users_file_in_its_workdir_before_starting(tmp_path):
    from fairdd.widgets.app import serve

    mine = _mine(tmp_path, "voila.log", "my log")
    with pytest.raises(FileExistsError, match="voila.log"):
        with serve(workdir=tmp_path):
            pass
    assert mine.read_text() == "my log" and sorted(os.listdir(tmp_path)) == ["voila.log"]


def test_a_report_aimed_at_a_results_config_json_is_refused(tmp_path, capsys):
    _result().save(tmp_path / "res")
    before = (tmp_path / "res" / "config.json").read_text()
    _cli_refuses(["evaluate", str(tmp_path / "res"), "--dataset", "colored-digits", "--preset", "smoke",
                  "--out", str(tmp_path / "res" / "config.json")], capsys, "config.json", "result manifest")
    assert (tmp_path / "res" / "config.json").read_text() == before


def test_a_checkpoint_aimed_at_a_results_payload_is_refused(tmp_path, digits_train):
    _result().save(tmp_path / "res")
    (payload,) = (tmp_path / "res").glob("tensors-*.pt")
    with pytest.raises(FileExistsError, match="would replace a fairdd result file"):
        fairdd.distill(digits_train, checkpoint=payload, **SMALL)
    fairdd.load_result(tmp_path / "res")  # still whole: its checksums hold
