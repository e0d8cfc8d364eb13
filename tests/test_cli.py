import json
import re
import subprocess
import sys

import pytest

from fairdd.cli import main


def test_demo_on_smoke_preset_writes_valid_metrics(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--preset", "smoke", "--dataset", "colored-digits", "--out", str(out),
                 "--device", "cpu", "--ipc", "2"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics) == ["random", "vanilla", "uniform", "fairdd", "cobra"]
    for row in metrics.values():
        assert {"accuracy", "eod", "deo_a", "worst_group_accuracy"} <= set(row)
        assert all(0 <= row[k] <= 100 for k in ("accuracy", "eod", "deo_a", "worst_group_accuracy"))
    assert (out / "metrics.png").stat().st_size > 1000
    assert (out / "cobra" / "grid.png").is_file()
    printed = capsys.readouterr().out
    assert "strategy" in printed and "EOD" in printed and "cobra" in printed


def test_distill_then_evaluate_commands(tmp_path, capsys):
    res = tmp_path / "res"
    assert main(["distill", "--dataset", "colored-digits", "--target", "fairdd", "--ipc", "1", "--preset", "smoke",
                 "--device", "cpu", "--out", str(res), "--set", "iterations=2", "--set", "depth=2"]) == 0
    report = tmp_path / "report.json"
    assert main(["evaluate", str(res), "--dataset", "colored-digits", "--preset", "smoke", "--n-models", "1",
                 "--device", "cpu", "--out", str(report), "--set", "depth=2"]) == 0
    saved = json.loads(report.read_text())
    assert saved["source"]["target"] == "fairdd" and len(saved["by_group"]) == 10 * 10


def test_cli_reports_bad_input_without_traceback(tmp_path, capsys):
    assert main(["distill", "--dataset", "colored-digits", "--bias", "2", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "bias must be in (0, 1]; got 2.0" in err and "Traceback" not in err
    assert main(["evaluate", str(tmp_path / "missing"), "--dataset", "colored-digits"]) == 2
    assert "not a fairdd result folder" in capsys.readouterr().err


def test_python_dash_m_entry_point():
    proc = subprocess.run([sys.executable, "-m", "fairdd", "--help"], capture_output=True, text=True, check=True)
    assert "demo" in proc.stdout and "distill" in proc.stdout


def _reproduce_rows(out) -> dict:
    """target → done.json of a reproduce folder (a sweep: one cell per target)."""
    from fairdd.sweeps import Sweep

    sweep = Sweep.open(out)
    return {c.target: sweep.dir.read(c.id, "done.json") for c in sweep.cells if sweep.dir.state(c.id) == "done"}


def test_reproduce_writes_tables_and_resumes(tmp_path, capsys):
    out = tmp_path / "rep"
    args = ["reproduce", "colored-digits", "--preset", "smoke", "--n-models", "1", "--device", "cpu",
            "--targets", "random", "cobra", "--out", str(out), "--set", "depth=2"]
    assert main(args) == 0
    rows = _reproduce_rows(out)  # one sweep cell per target
    assert list(rows) == ["random", "cobra"] and rows["cobra"]["iterations"] == 3
    assert r"\begin{table}" in (out / "table.tex").read_text() and "cobra" in (out / "table.md").read_text()
    first = capsys.readouterr().out
    assert "cobra" in first and "published" in first and re.search(r"\d s \+ \d+ s eval", first)
    assert main(args) == 0  # resumes: nothing is recomputed, so no per-row progress line is printed
    again = capsys.readouterr().out
    # the progress line "… 3 s + 1 s eval (…)", not the table's wrapped "distill_s eval_s" header
    assert not re.search(r"\d s \+ \d+ s eval", again) and "cobra" in again


def test_reproduce_passes_evaluation_overrides_and_names_bad_ones(tmp_path, capsys):
    base = ["reproduce", "colored-digits", "--preset", "smoke", "--n-models", "1", "--device", "cpu",
            "--targets", "random"]
    assert main(base + ["--out", str(tmp_path / "bad"), "--eval-set", "nope=1"]) == 2
    assert "unknown option(s) ['nope'] for EvalConfig" in capsys.readouterr().err
    assert main(base + ["--out", str(tmp_path / "bad"), "--eval-set", "epochs"]) == 2
    assert "--eval-set expects KEY=VALUE; got 'epochs'" in capsys.readouterr().err
    assert main(base + ["--out", str(tmp_path / "ok"), "--eval-set", "compile=false", "--eval-set", "epochs=1"]) == 0
    rows = _reproduce_rows(tmp_path / "ok")
    assert "random" in rows and json.loads(next((tmp_path / "ok" / "cells").glob("*/cell.json")).read_text())[
        "evaluate"]["epochs"] == 1


def test_reproduce_refuses_to_mix_rows_made_with_other_settings(tmp_path, capsys):
    base = ["reproduce", "colored-digits", "--preset", "smoke", "--n-models", "1", "--device", "cpu",
            "--targets", "random", "--out", str(tmp_path / "rep")]
    assert main(base + ["--eval-set", "epochs=1"]) == 0
    assert main(base + ["--eval-set", "epochs=2"]) == 2
    err = capsys.readouterr().err
    assert "made with other settings" in err and "evaluate={'epochs': 1} (now {'epochs': 2})" in err
    assert main(base + ["--eval-set", "epochs=1", "--set", "depth=2"]) == 0  # distillation settings: not random's


def test_paper_protocol_run_says_what_it_will_cost_on_one_line(tmp_path, capsys):
    assert main(["distill", "--dataset", "colored-digits", "--preset", "paper", "--device", "cpu", "--ipc", "1",
                 "--target", "vanilla", "--out", str(tmp_path / "r"), "--set", "iterations=6", "--set", "width=8",
                 "--set", "batch_real=8", "--set", "depth=2"]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "paper protocol: 6 iterations of dm/vanilla" in err[0] and "s each on cpu" in err[0]


def _file_fixtures():
    """tests/data/file_fixtures.py (the real on-disk formats' writers), loaded by path."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("_file_fixtures", Path(__file__).parent / "data" / "file_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reproduce_on_cifar10s_passes_only_the_knobs_it_takes(tmp_path, monkeypatch, capsys):
    fx = _file_fixtures()
    fx.write_cifar_python(tmp_path / "files", fx.cifar_arrays(n_train_per_class=12, n_test_per_class=3))
    monkeypatch.setenv("FAIRDD_DATA", str(tmp_path / "files"))  # the cache goes there too
    base = ["reproduce", "cifar10-s", "--root", str(tmp_path / "files"), "--preset", "smoke", "--n-models", "1",
            "--device", "cpu", "--ipc", "1", "--set", "depth=2", "--set", "iterations=2", "--eval-set", "depth=2"]
    assert main(base + ["--mode", "background", "--out", str(tmp_path / "bad")]) == 2
    assert "--mode 'background' does not apply to dataset 'cifar10-s'; it takes: ['--skew', '--severity', '--format']" \
        in capsys.readouterr().err
    assert main(base + ["--skew", "0.8", "--severity", "2", "--targets", "random", "vanilla",
                        "--out", str(tmp_path / "rep")]) == 0
    cells = [json.loads(p.read_text()) for p in (tmp_path / "rep" / "cells").glob("*/cell.json")]
    assert sorted(c["cell"]["target"] for c in cells) == ["random", "vanilla"]
    for c in cells:
        assert c["cell"]["data"] == {"root": str(tmp_path / "files"), "skew": 0.8, "severity": 2}  # no mode
        info = c["dataset"]["train"]["info"]
        assert (info["name"], info["skew"], info["severity"]) == ("cifar10-s", 0.8, 2)
        assert c["dataset"]["test"]["n"] == 2 * 10 * 3  # every test image in both versions
    assert set(_reproduce_rows(tmp_path / "rep")) == {"random", "vanilla"}
    out = capsys.readouterr().out
    table = (tmp_path / "rep" / "table.md").read_text()
    assert "vanilla" in out and "no published number for these settings" in table and "skew=0.8 (published 0.9)" in table
    from fairdd.sweeps import load_table

    note = load_table(tmp_path / "rep", rows=("target",)).markdown()  # the sweep table says why, once per entry
    assert "cifar10-s vanilla: no published number for these settings: ipc=1 (published 100)" in note
    assert "skew=0.8 (published 0.9); severity=2 (published None)" in note and "[" not in note.split("\n\n")[0]


def test_dataset_flags_reach_only_the_datasets_that_take_them(tmp_path, capsys):
    d = ["distill", "--preset", "smoke", "--device", "cpu", "--ipc", "1", "--set", "iterations=1", "--set", "depth=2"]
    assert main(d + ["--dataset", "colored-digits", "--skew", "0.5", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "--skew 0.5 does not apply to dataset 'colored-digits'; it takes: ['--mode', '--bias'" in err
    assert main(d + ["--dataset", "colored-digits", "--group", "race", "--out", str(tmp_path / "a")]) == 2
    assert "--group 'race' does not apply" in capsys.readouterr().err
    assert main(d + ["--dataset", "colored-digits", "--style", "official", "--n-groups", "4", "--size", "16",
                     "--mode", "background", "--out", str(tmp_path / "b")]) == 0
    from fairdd.results import load_result

    info = load_result(tmp_path / "b").dataset["info"]
    assert (info["style"], info["n_groups"], info["size"], info["mode"]) == ("official", 4, 16, "background")
    # evaluate rebuilds the test set from that record: style, palette, size and mode included
    assert main(["evaluate", str(tmp_path / "b"), "--preset", "smoke", "--n-models", "1", "--device", "cpu",
                 "--set", "depth=2"]) == 0
    assert main(["evaluate", str(tmp_path / "b"), "--preset", "smoke", "--n-models", "1", "--device", "cpu",
                 "--style", "clean", "--set", "depth=2"]) == 2  # another test set than the training set's
    with pytest.raises(SystemExit):
        main(d + ["--dataset", "colored-digits", "--style", "fancy", "--out", str(tmp_path / "c")])
    assert "--style: invalid choice: 'fancy'" in capsys.readouterr().err


def test_datasets_command_lists_every_dataset_with_its_flags_and_why_it_is_missing(tmp_path, monkeypatch, capsys):
    fx = _file_fixtures()
    fx.write_cifar_python(tmp_path / "files", fx.cifar_arrays(n_train_per_class=2, n_test_per_class=1))
    monkeypatch.setenv("FAIRDD_DATA", str(tmp_path / "files"))
    assert main(["datasets", "--root", str(tmp_path / "files")]) == 0
    out = capsys.readouterr().out.splitlines()
    import fairdd

    rows = {line.split()[0]: line for line in out if line[:1].strip()}
    assert set(rows) == set(fairdd.datasets.DATASETS)
    assert rows["cifar10-s"].split()[1] == "available" and "--skew --severity --format" in rows["cifar10-s"]
    assert rows["colored-digits"].split()[1] == "available" and "--style" in rows["colored-digits"]
    assert rows["bffhq"].split()[1] == "missing"
    reason = out[out.index(rows["bffhq"]) + 1]
    assert "bFFHQ files not found" in reason and str(tmp_path / "files") in reason


def test_reproduce_under_the_paper_preset_needs_no_n_models(tmp_path, monkeypatch, capsys):
    """The paper preset's note names the preset's evaluation models when --n-models is not given."""
    import fairdd.experiments
    from fairdd.config import eval_config

    calls = []
    monkeypatch.setattr(fairdd.experiments, "reproduce", lambda **kw: calls.append(kw) or _empty_frame())
    assert main(["reproduce", "colored-digits", "--preset", "paper", "--targets", "random", "cobra",
                 "--out", str(tmp_path / "rep")]) == 0
    note = capsys.readouterr().err
    assert f"each evaluated with {eval_config(preset='paper', method='dm').n_models} models" in note, note
    assert calls[0]["n_models"] is None and calls[0]["out"] == tmp_path / "rep"  # the library picks the preset's


def _empty_frame():
    import pandas as pd

    from fairdd.experiments.reproduce import TABLE_COLUMNS

    return pd.DataFrame(columns=list(TABLE_COLUMNS) + ["undefined", "n_models"], index=pd.Index([], name="target"))
