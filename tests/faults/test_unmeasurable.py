"""Fault class 5, fairness that cannot be measured is not reported as fair.

The rule (``fairdd.metrics.unmeasurable``): EOD and DEO_A compare the groups of every class, so they
need every class to have test images of every group; worst-group accuracy needs two groups or more,
each with test images. Otherwise the metric is undefined: NaN everywhere (never 0, "perfectly fair"),
with the reason carried in the report and shown as ``"undefined (<why>)"`` in summaries, the CLI and
tables. Group weights that leave a class with no weighted group are refused naming both. Each test
is one case.
"""
from __future__ import annotations

import json
import math

import pytest
import torch

import fairdd
from fairdd.metrics import bootstrap_metrics, group_metrics, metrics_from_hits, unmeasurable
from fairdd.report import FairnessReport, demo_table

CLASSES = [str(i) for i in range(10)]


def _report(groups: torch.Tensor, group_names, *, models: int = 3, seed: int = 0) -> FairnessReport:
    """Three models that get ~70 % of 200 test images (20 per class) right, groups as given."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(10).repeat_interleave(20)
    pred = torch.where(torch.rand(models, 200, generator=g) < 0.7, labels, (labels + 1) % 10)
    return FairnessReport.from_predictions(pred, labels, groups, class_names=CLASSES, group_names=group_names)


def _one_group() -> FairnessReport:
    return _report(torch.zeros(200, dtype=torch.long), ["all"])


def _two_groups() -> torch.Tensor:
    return torch.arange(200) % 2  # every class has 10 test images of each group


def test_one_group_gives_no_eod_not_zero():
    report = _one_group()
    assert math.isnan(report.eod) and math.isnan(report.deo_a) and math.isnan(report.worst_group_accuracy)
    assert report.undefined["eod"] == "1 group in the test set"


def test_one_group_is_shown_as_undefined_in_the_summary():
    text = _one_group().summary()
    assert "eod undefined (1 group in the test set)" in text and "eod 0.00" not in text


def test_one_group_is_shown_as_undefined_in_the_repr():
    assert "eod=undefined (1 group in the test set)" in repr(_one_group())


def test_accuracy_stays_measured_with_one_group():
    report = _one_group()
    assert 50 < report.accuracy < 90 and "accuracy" not in report.undefined


def test_group_metrics_of_one_group_is_undefined():
    labels = torch.arange(10).repeat_interleave(5)
    m = group_metrics(labels, labels, torch.zeros(50, dtype=torch.long), n_classes=10, n_groups=1)
    assert math.isnan(m.eod) and m.accuracy == 100.0 and m.undefined["eod"] == "1 group in the test set"


def test_declared_groups_with_only_one_present_is_undefined():
    report = _report(torch.zeros(200, dtype=torch.long), ["red", "green"])
    assert math.isnan(report.eod) and report.undefined["eod"] == "1 group in the test set"


def test_a_class_with_test_images_of_one_group_is_undefined():
    groups = _two_groups()
    groups[torch.arange(200) // 20 == 3] = 0  # class 3: group 'a' only
    report = _report(groups, ["a", "b"])
    assert math.isnan(report.eod) and math.isnan(report.deo_a)
    assert report.undefined["eod"] == "class '3' has test images of 1 group"
    assert not math.isnan(report.worst_group_accuracy)  # both groups have test images


def test_an_empty_cell_makes_eod_undefined():
    groups = torch.arange(200) % 3
    cls = torch.arange(200) // 20
    groups[(cls == 7) & (groups == 2)] = 0  # cell ('7', 'c') empty; class 7 keeps groups a and b
    report = _report(groups, ["a", "b", "c"])
    assert math.isnan(report.eod) and report.undefined["eod"] == "no test image in cell ('7', 'c')"


def test_a_group_without_test_images_has_no_worst_group_accuracy():
    report = _report(_two_groups(), ["a", "b", "c"])
    assert math.isnan(report.worst_group_accuracy)
    assert report.undefined["worst_group_accuracy"] == "no test image of group 'c'"


def test_a_complete_test_set_is_measured():
    report = _report(_two_groups(), ["a", "b"])
    assert report.undefined == {} and all(math.isfinite(v) for v in report.overall.values())


def test_batched_metrics_are_undefined_in_every_row():
    counts = torch.tensor([[5, 0], [5, 5]])
    hits = torch.tensor([[[5, 0], [1, 5]], [[2, 0], [5, 5]]])  # (2 models, 2 classes, 2 groups)
    values = metrics_from_hits(hits, counts)
    assert values["eod"].isnan().all() and values["deo_a"].isnan().all() and not values["accuracy"].isnan().any()


def test_bootstrap_draws_are_undefined_too():
    correct = torch.ones(1, 20, dtype=torch.bool)
    cells = torch.arange(10).repeat_interleave(2)  # 10 classes, 1 group
    draws = bootstrap_metrics(correct, cells, n_classes=10, n_groups=1, n_boot=5)
    assert draws["eod"].isnan().all()


def test_undefined_metrics_have_no_interval_not_zero_to_hundred():
    report = _one_group()
    for interval in (report.bootstrap()["eod"], report.model_interval()["eod"]):
        assert math.isnan(interval.low) and math.isnan(interval.high) and str(interval) == "—"


def test_undefined_eod_has_no_noise_floor():
    floor = _one_group().noise_floor()
    assert math.isnan(floor["eod"]) and math.isnan(floor["deo_a"])


def test_saved_report_carries_the_reason(tmp_path):
    _one_group().save(tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text())
    assert math.isnan(data["eod"]) and data["undefined"]["eod"] == "1 group in the test set"


def test_demo_table_shows_undefined_and_why():
    text = demo_table([("cobra", _one_group(), 1.0)])
    assert "undefined" in text.splitlines()[1] and "eod undefined: 1 group in the test set" in text
    assert "nan" not in text.lower().replace("undefined", "")


def test_sweep_table_entry_shows_undefined():
    from fairdd.sweeps.table import _entry

    row = dict(accuracy_mean=70.0, accuracy_std=1.0, eod_mean=math.nan, eod_std=math.nan,
               published_accuracy=math.nan, published_eod=math.nan)
    assert _entry(row, True) == "70.00 ± 1.00 / undefined"


def test_latex_table_shows_undefined():
    import pandas as pd

    from fairdd.viz.paper import latex_table

    table = pd.DataFrame({"accuracy": [70.0], "accuracy_std": [1.0], "eod": [math.nan], "eod_std": [math.nan]},
                         index=["cobra"])
    text = latex_table(table, columns=["accuracy", "eod"])
    assert "undefined" in text and "nan" not in text


def test_evaluate_on_a_one_group_test_set_reports_undefined(digits_train, digits_test):
    def one_group(ds):
        return ds._replace(groups=torch.zeros_like(ds.groups), group_names=("all",))

    rnd = fairdd.random_subset(one_group(digits_train), ipc=2)
    report = fairdd.evaluate(rnd, one_group(digits_test), n_models=1, epochs=1, preset="smoke", device="cpu",
                             check_dataset=False)
    assert math.isnan(report.eod) and report.undefined["eod"] == "1 group in the test set"


def test_unmeasurable_counts_without_names_use_ids():
    assert unmeasurable(torch.tensor([[3, 3, 3], [3, 3, 0]]))["eod"] == "no test image in cell (1, 2)"


# ------------------------------------------------------------------------------------ group weights
def _without(train, cls: int, group: int):
    return train.subset(~((train.labels == cls) & (train.groups == group)))


def test_weights_on_a_group_a_class_lacks_are_refused_naming_both(digits_train):
    train = _without(digits_train, 3, 1)
    with pytest.raises(ValueError) as err:
        fairdd.distill(train, target="cobra", group_weights=[0, 1, 0, 0], ipc=1, preset="smoke", device="cpu")
    message = str(err.value)
    assert "class '3'" in message and "['green']" in message and "not be distilled" in message


def test_weights_refused_in_the_distiller_too(digits_train):
    config = fairdd.distill_config(target="cobra-gauss", group_weights=[0, 0, 0, 1], ipc=1, preset="smoke")
    with pytest.raises(ValueError, match="class '5'"):
        fairdd.Distiller(_without(digits_train, 5, 3), config, device="cpu")


def test_weights_that_reach_every_class_are_accepted(digits_train):
    train = _without(digits_train, 3, 1)
    result = fairdd.distill(train, target="cobra", group_weights=[0, 1, 0, 1], ipc=1, iterations=1, preset="smoke",
                            device="cpu")
    assert len(result.labels) == 10


# ------------------------------------------------------------------ where undefined metrics are shown
ONE_CELL_GRID = """
[sweep]
name = "unmeasurable"
preset = "smoke"
seeds = [0]
n_models = 1
device = "cpu"
[grid]
dataset = ["colored-digits"]
target = ["random"]
ipc = [1]
[data]
n_groups = 2
size = 16
[evaluate]
depth = 2
"""


def _sweep_with_one_group_report(folder):
    """A finished one-cell sweep whose cell's ``done.json`` is recorded from a one-group report."""
    from fairdd.sweeps import Sweep, parse_spec
    from fairdd.sweeps.run import _done_record

    sweep = Sweep(parse_spec(ONE_CELL_GRID), folder)
    sweep.run("inline")
    cell = sweep.cells[0]
    done = _done_record(cell, None, _one_group(), torch.device("cpu"), distill_s=0.0, load_s=0.0, seconds=0.0)
    (folder / "cells" / cell.id / "done.json").write_text(json.dumps(done))
    return sweep


def test_reproduce_table_md_shows_undefined_and_why_not_nan(tmp_path, monkeypatch, capsys):
    import fairdd.experiments
    from fairdd.cli import main
    from fairdd.experiments.reproduce import reproduce_frame, save_tables

    sweep = _sweep_with_one_group_report(tmp_path / "cells-of")

    def one_group_reproduce(*, callback, out, **_):  # the protocol's run, replaced by the one-group cell
        frame = reproduce_frame(sweep)
        for target, row in frame.to_dict(orient="index").items():
            callback({"target": target, **row})
        save_tables(frame, out)  # as reproduce(out=...) ends
        return frame

    monkeypatch.setattr(fairdd.experiments, "reproduce", one_group_reproduce)
    out = tmp_path / "rep"
    assert main(["reproduce", "colored-digits", "--preset", "smoke", "--targets", "random", "--out", str(out)]) == 0
    text = (out / "table.md").read_text()
    assert "undefined (1 group in the test set)" in text and "nan" not in text.lower(), text
    assert "EOD undefined (1 group in the test set)" in capsys.readouterr().out
    assert "undefined" in (out / "table.tex").read_text()


def test_sweep_table_note_says_why_eod_is_undefined(tmp_path):
    from fairdd.sweeps import load_table

    _sweep_with_one_group_report(tmp_path / "sweep")
    text = load_table(tmp_path / "sweep").markdown()
    assert "/ undefined" in text and "EOD undefined (1 group in the test set)" in text


def test_dashboard_readout_shows_undefined_not_nan():
    pytest.importorskip("ipywidgets")
    from fairdd.widgets.dashboard import Dashboard

    report = _one_group()
    run = {"loss": 0.5, "proxy_iteration": 10, "undefined": dict(report.undefined),
           **{k: report.overall[k] for k in ("accuracy", "eod", "deo_a", "worst_group_accuracy")}}
    html = Dashboard.__new__(Dashboard)._readout({"runs": {"cobra": run}, "evaluating": None})
    assert "EOD</abbr> undefined (1 group in the test set)" in html and "nan" not in html.lower()


def _tradeoff_rows(eod, undefined):
    """Trade-off rows at λ = 0, 0.5, 1 (IPC 1) with these EODs and ``undefined`` entries."""
    import pandas as pd

    return pd.DataFrame({"mix": [0.0, 0.5, 1.0], "ipc": [1, 1, 1], "target": ["vanilla", "cobra-mix", "cobra"],
                         "accuracy": [60.0, 55.0, 50.0], "eod": eod, "undefined": undefined})


def _tradeoff_axes(df):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fairdd.widgets.tradeoff import plot_tradeoff

    fig, ax = plt.subplots()
    plot_tradeoff(ax, df)
    plt.close(fig)
    return ax


def test_tradeoff_plot_title_says_why_eod_is_undefined_at_every_point():
    pytest.importorskip("matplotlib")
    why = {"eod": "1 group in the test set", "deo_a": "1 group in the test set"}
    ax = _tradeoff_axes(_tradeoff_rows([math.nan] * 3, [why] * 3))
    assert "EOD undefined (1 group in the test set) at every point: not drawn" in ax.get_title()
    front = next(line for line in ax.get_lines() if line.get_label() == "Pareto front")
    assert len(front.get_xdata()) == 0 and not ax.texts  # no point placed, none labelled


def test_tradeoff_plot_names_the_points_whose_eod_is_undefined():
    pytest.importorskip("matplotlib")
    why = "class '3' has test images of 1 group"
    ax = _tradeoff_axes(_tradeoff_rows([math.nan, 20.0, 30.0], [{"eod": why}, {}, {}]))
    assert f"EOD undefined ({why}) at λ=0 IPC 1: not drawn" in ax.get_title()
    front = next(line for line in ax.get_lines() if line.get_label() == "Pareto front")
    assert front.get_xdata().tolist() == [55.0]  # (60, undefined) is on no front; (50, 30) is beaten


def test_tradeoff_plot_of_an_old_cache_says_undefined_without_a_reason():
    pytest.importorskip("matplotlib")
    df = _tradeoff_rows([math.nan, 20.0, 30.0], [None, None, None]).drop(columns="undefined")
    assert "EOD undefined (not recorded) at λ=0 IPC 1: not drawn" in _tradeoff_axes(df).get_title()


def test_tradeoff_title_is_plain_when_every_metric_is_measured():
    pytest.importorskip("matplotlib")
    ax = _tradeoff_axes(_tradeoff_rows([40.0, 20.0, 30.0], [{}, {}, {}]))
    assert "undefined" not in ax.get_title()


def test_pareto_front_leaves_out_an_undefined_point():
    from fairdd.widgets.tradeoff import pareto_front

    assert pareto_front([70.0, 60.0, 50.0], [math.nan, 10.0, 5.0]).tolist() == [2, 1]
    assert pareto_front([math.nan, 60.0], [1.0, 10.0]).tolist() == [1]


def test_tradeoff_sweep_records_why_a_metric_is_undefined(digits_train, digits_test):
    from fairdd.widgets.tradeoff import tradeoff_sweep

    def one_group(ds):
        return ds._replace(groups=torch.zeros_like(ds.groups), group_names=("all",))

    df, points = tradeoff_sweep(one_group(digits_train), one_group(digits_test), mixes=(1.0,), ipcs=(1,),
                                preset="smoke", n_models=1, device="cpu")
    assert math.isnan(df["eod"].iloc[0]) and df["undefined"].iloc[0]["eod"] == "1 group in the test set"
    assert points["mix1.0000-ipc1"].row["undefined"]["eod"] == "1 group in the test set"


def test_tradeoff_point_view_says_why_eod_is_undefined(digits_train):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from fairdd.widgets.tradeoff import TradeoffPoint, plot_point

    row = {"mix": 1.0, "ipc": 1, "accuracy": 50.0, "eod": math.nan, "undefined": {"eod": "1 group in the test set"}}
    by_group = pd.DataFrame({"class": [0, 1], "group": [0, 0], "accuracy": [50.0, 50.0], "count": [5, 5]})
    point = TradeoffPoint(row, digits_train.images[:2], digits_train.labels[:2], by_group)
    fig = plot_point(point, digits_train)
    assert "EOD undefined (1 group in the test set)" in fig.axes[0].get_title()
    plt.close(fig)
