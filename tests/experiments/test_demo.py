"""``fairdd.experiments.demo``: the demo as a library function (what ``fairdd demo`` calls and prints)."""
import json

import pytest

import fairdd
from fairdd.experiments import demo
from fairdd.ownership import write_owned

FAST = dict(ipc=2, preset="smoke", device="cpu", seed=3, depth=2, eval_overrides=dict(depth=2))


def test_run_returns_one_typed_row_per_strategy_in_order_and_prints_nothing(digits_train, digits_test, capsys):
    seen = []
    result = demo.run(digits_train, digits_test, strategies=("random", "cobra"), callbacks=seen.append, **FAST)
    assert isinstance(result, demo.DemoResult)
    assert [r.name for r in result.rows] == ["random", "cobra"]
    assert seen == list(result.rows)  # progress: one call per strategy, as it finishes
    assert all(isinstance(r.report, fairdd.FairnessReport) and r.seconds > 0 for r in result.rows)
    assert result.n_models == fairdd.eval_config(preset="smoke", method="dm").n_models
    assert result.out is None and capsys.readouterr() == ("", "")


def test_rows_are_the_library_pipeline_run_by_hand(digits_train, digits_test):
    result = demo.run(digits_train, digits_test, strategies=("random", "fairdd"), n_models=1, **FAST)
    common = dict(preset="smoke", device="cpu", seed=3)
    by_hand = {
        "random": fairdd.random_subset(digits_train, ipc=2, seed=3),
        "fairdd": fairdd.distill(digits_train, method="dm", target="fairdd", ipc=2, depth=2, **common),
    }
    for row in result.rows:
        report = fairdd.evaluate(by_hand[row.name], digits_test, n_models=1, depth=2, **common)
        assert row.report.overall == report.overall, row.name
    assert result.table().splitlines()[1].startswith("random")


def test_out_holds_each_result_and_the_metrics_of_the_result(digits_train, digits_test, tmp_path):
    result = demo.run(digits_train, digits_test, strategies=("uniform",), out=tmp_path / "d", **FAST)
    assert result.out == tmp_path / "d"
    saved = fairdd.load_result(tmp_path / "d" / "uniform")
    assert saved.config["target"] == "uniform" and saved.images.shape[0] == 2 * 10
    metrics = json.loads((tmp_path / "d" / "metrics.json").read_text())
    assert metrics == json.loads(json.dumps(result.metrics()))
    assert set(metrics["uniform"]) >= {"accuracy", "eod", "std", "noise_floor", "bootstrap95", "seconds"}


def test_a_file_that_is_not_fairdds_stops_the_demo_before_any_work(digits_train, digits_test, tmp_path):
    (tmp_path / "metrics.json").write_text("mine\n")
    calls = []
    with pytest.raises(FileExistsError, match="metrics.json"):
        demo.run(digits_train, digits_test, strategies=("random",), out=tmp_path, callbacks=calls.append, **FAST)
    assert calls == [] and not (tmp_path / "random").exists()
    assert (tmp_path / "metrics.json").read_text() == "mine\n"


def test_its_own_metrics_file_is_replaced(digits_train, digits_test, tmp_path):
    write_owned(tmp_path / "metrics.json", lambda p: p.write_text("{}\n"), what="metrics file")
    demo.run(digits_train, digits_test, strategies=("random",), out=tmp_path, **FAST)
    assert list(json.loads((tmp_path / "metrics.json").read_text())) == ["random"]


@pytest.mark.parametrize("strategies, match", [
    (("random", "nope"), r"unknown strategies \['nope'\]"),
    ("cobra", "strategies must be a non-empty list"),
    ((), "strategies must be a non-empty list"),
    (("cobra", "cobra"), "repeats a name"),
])
def test_bad_strategies_are_named(digits_train, digits_test, strategies, match):
    with pytest.raises(ValueError, match=match):
        demo.run(digits_train, digits_test, strategies=strategies, **FAST)


@pytest.mark.parametrize("callbacks, match", [
    ("print", "callbacks must be a callable f\\(row\\)"),
    ([print, 3], "callbacks must be a callable f\\(row\\)"),
    (lambda a, b: None, r"callbacks\[0\] must take one argument"),
])
def test_bad_callbacks_are_named(digits_train, digits_test, callbacks, match):
    with pytest.raises(ValueError, match=match):
        demo.run(digits_train, digits_test, strategies=("random",), callbacks=callbacks, **FAST)


def test_a_test_set_that_is_not_a_dataset_is_named(digits_train):
    with pytest.raises(ValueError, match="test must be a fairdd GroupedDataset"):
        demo.run(digits_train, [1, 2], strategies=("random",), **FAST)


@pytest.mark.parametrize("bad, match", [
    (dict(eval_overrides=dict(epochz=3)), "epochz"),
    (dict(eval_overrides="epochs=3"), "eval_overrides must be a dict"),
    (dict(iterationz=3), "iterationz"),
])
def test_bad_overrides_stop_the_demo_before_any_work(digits_train, digits_test, tmp_path, bad, match):
    calls = []
    with pytest.raises(ValueError, match=match):
        demo.run(digits_train, digits_test, strategies=("random", "cobra"), out=tmp_path / "d",
                 callbacks=calls.append, **{**FAST, **bad})
    assert calls == [] and not (tmp_path / "d").exists()
