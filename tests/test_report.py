import dataclasses
import json
import math

import pytest
import torch

import fairdd
from fairdd.metrics import group_metrics, noise_floor
from fairdd.report import FairnessReport, demo_table, footnote

from conftest import SMOKE

# the hand-computed table of test_metrics: 2 classes × 2 groups, 4 samples per cell
LABELS = torch.tensor([0] * 8 + [1] * 8)
GROUPS = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1] * 2)


def _hand_predictions() -> torch.Tensor:
    first = LABELS.clone()
    first[[0]] = 1  # class 0: group 0 3/4, group 1 1/4 after the next line
    first[[4, 5, 6]] = 1
    first[[8, 9]] = 0  # class 1: group 0 2/4, group 1 4/4
    second = LABELS.clone()
    second[[4]] = 1  # class 0: 4/4, 3/4; class 1: 4/4, 4/4
    return torch.stack([first, second])  # (2 models, 16)


def _report(**meta) -> FairnessReport:
    return FairnessReport.from_predictions(_hand_predictions(), LABELS, GROUPS, class_names=("zero", "one"),
                                           group_names=("red", "blue"), **meta)


def test_overall_and_per_model_recompute_the_hand_table():
    report = _report()
    m0 = group_metrics(_hand_predictions()[0], LABELS, GROUPS, n_classes=2, n_groups=2)
    m1 = group_metrics(_hand_predictions()[1], LABELS, GROUPS, n_classes=2, n_groups=2)
    # model 0: EOD 50, DEO_A 50, accuracy 10/16; model 1: gaps 25 and 0 → EOD 25, DEO_A 12.5, accuracy 15/16
    assert report.per_model[0] == {"accuracy": 62.5, "eod": 50.0, "deo_a": 50.0, "worst_group_accuracy": 62.5}
    assert report.per_model[1]["eod"] == pytest.approx(25.0) and report.per_model[1]["deo_a"] == pytest.approx(12.5)
    assert report.per_model[1]["accuracy"] == pytest.approx(m1.accuracy)
    assert report.eod == pytest.approx((m0.eod + m1.eod) / 2) == report.overall["eod"]
    assert report.accuracy == pytest.approx(100 * (10 + 15) / 32)
    assert report.std["eod"] == pytest.approx(12.5)  # population std of (50, 25)
    assert report.tpr[0].tolist() == [[0.75, 0.25], [0.5, 1.0]]
    assert report.counts.tolist() == [[4, 4], [4, 4]] and report.n_models == 2
    table = report.per_model_table()
    assert list(table.columns) == ["accuracy", "eod", "deo_a", "worst_group_accuracy"] and len(table) == 2


def test_by_group_is_typed_and_fairlearn_style_aggregates():
    report = _report()
    table = report.by_group
    assert list(table.columns) == ["class", "group", "accuracy", "accuracy_std", "count"]
    assert {str(t) for t in table.dtypes} == {"category", "float64", "int64"}
    assert table["class"].tolist() == ["zero", "zero", "one", "one"] and table["group"].tolist() == ["red", "blue"] * 2
    # mean over models per cell: (75 + 100) / 2, (25 + 75) / 2, (50 + 100) / 2, 100
    assert table["accuracy"].tolist() == [87.5, 50.0, 75.0, 100.0]
    assert table["accuracy_std"].tolist() == [12.5, 25.0, 25.0, 0.0]
    assert report.group_min().tolist() == [50.0, 75.0] and report.group_max().tolist() == [87.5, 100.0]
    assert report.difference().tolist() == [37.5, 25.0]
    assert report.ratio().tolist() == pytest.approx([50 / 87.5, 0.75])
    # one model's table: its difference's max is its EOD, its mean its DEO_A
    for k in range(2):
        diff = report.difference(model=k)
        assert diff.max() == pytest.approx(report.per_model[k]["eod"])
        assert diff.mean() == pytest.approx(report.per_model[k]["deo_a"])
    assert list(report.difference().index) == ["zero", "one"]
    with pytest.raises(ValueError, match=r"model must be None .* in \[0, 2\); got 2"):
        report.difference(model=2)


def test_report_is_frozen_and_checks_its_input():
    report = _report()
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.seconds = 1.0
    with pytest.raises(ValueError, match="correct must be a .* bool tensor"):
        FairnessReport(correct=torch.ones(2, 3), cells=torch.zeros(3, dtype=torch.long), class_names=("a",),
                       group_names=("x",))
    with pytest.raises(ValueError, match=r"cells must lie in \[0, 2\)"):
        FairnessReport(correct=torch.ones(1, 3, dtype=torch.bool), cells=torch.tensor([0, 1, 5]),
                       class_names=("a",), group_names=("x", "y"))
    with pytest.raises(ValueError, match=r"level must lie in \(0, 1\)"):
        report.bootstrap(level=95)


def test_model_interval_is_the_t_interval_over_models():
    report = _report()
    low, high = report.model_interval()["eod"]
    # mean 37.5, s = 17.678 (ddof 1), t_{0.975, 1} = 12.7062, half-width 12.7062 · 17.678 / √2 = 158.8 → clipped
    assert (low, high) == (0.0, 100.0)
    acc = report.model_interval(level=0.5)["accuracy"]  # t_{0.75, 1} = 1
    s = math.sqrt(((62.5 - 78.125) ** 2 + (93.75 - 78.125) ** 2) / 1)
    assert acc.low == pytest.approx(78.125 - s / math.sqrt(2)) and acc.high == pytest.approx(78.125 + s / math.sqrt(2))
    single = FairnessReport.from_predictions(_hand_predictions()[:1], LABELS, GROUPS, class_names=("a", "b"),
                                             group_names=("x", "y"))
    assert all(math.isnan(v.low) for v in single.model_interval().values())


def test_bootstrap_interval_brackets_the_resamples_and_is_cached():
    report = _report()
    ci = report.bootstrap(n_boot=400)
    assert set(ci) == {"accuracy", "eod", "deo_a", "worst_group_accuracy"}
    assert all(0 <= v.low <= v.high <= 100 for v in ci.values())
    assert ci["accuracy"].low <= report.accuracy <= ci["accuracy"].high
    assert report.bootstrap(n_boot=400) is ci  # the report is frozen: computed once
    assert report.bootstrap(n_boot=400, seed=1) is not ci
    # normal: the measured value ± 1.96 · the resamples' std; percentile: the resamples' 2.5 % and 97.5 % points
    from fairdd.metrics import bootstrap_metrics

    draws = bootstrap_metrics(report.correct, report.cells, n_classes=2, n_groups=2, n_boot=400)["deo_a"].mean(0)
    half = 1.959964 * float(draws.std())
    assert ci["deo_a"].low == pytest.approx(max(0.0, report.deo_a - half), abs=1e-4)
    assert ci["deo_a"].high == pytest.approx(min(100.0, report.deo_a + half), abs=1e-4)
    pct = report.bootstrap(n_boot=400, kind="percentile")["deo_a"]
    assert (pct.low, pct.high) == pytest.approx((float(draws.quantile(0.025)), float(draws.quantile(0.975))))
    with pytest.raises(ValueError, match="unknown kind 'bca'"):
        report.bootstrap(kind="bca")


def test_noise_floor_uses_each_models_per_class_accuracy():
    report = _report()
    hits = report.hits.double()
    per_class = hits.sum(2) / 8  # (2 models, 2 classes)
    expected = noise_floor(report.counts, per_class)
    assert report.noise_floor()["eod"] == pytest.approx(float(expected["eod"].mean()))
    overall = noise_floor(report.counts, torch.tensor([[10 / 16], [15 / 16]], dtype=torch.float64))
    assert report.noise_floor(basis="overall")["deo_a"] == pytest.approx(float(overall["deo_a"].mean()))
    with pytest.raises(ValueError, match="unknown basis 'group'"):
        report.noise_floor(basis="group")
    table = report.uncertainty(n_boot=200)
    assert list(table.index) == ["accuracy", "eod", "deo_a", "worst_group_accuracy"]
    assert table.loc["eod", "noise_floor"] == pytest.approx(report.noise_floor()["eod"])
    assert math.isnan(table.loc["accuracy", "noise_floor"]) and all(str(t) == "float64" for t in table.dtypes)


def test_summary_repr_save_and_the_demo_table(tmp_path):
    report = _report(config={"epochs": 3}, source={"kind": "synthetic"}, seconds=1.5)
    floor = report.noise_floor()
    assert f"(floor {floor['eod']:.1f})" in report.summary() and "± std over 2 models" in report.summary()
    assert repr(report).startswith("FairnessReport(accuracy=78.12, eod=37.50") and "eod_noise_floor" in repr(report)
    saved = json.loads(report.save(tmp_path / "r.json").read_text())
    assert saved["eod"] == 37.5 and saved["by_group"][0] == {"class": "zero", "group": "red", "accuracy": 87.5,
                                                             "accuracy_std": 12.5, "count": 4}
    assert saved["noise_floor"]["eod"] == pytest.approx(floor["eod"])
    assert saved["intervals"]["bootstrap95"]["eod"] == list(report.bootstrap()["eod"])
    table = demo_table([("random", report, 2.0), ("cobra", report, 3.25)]).splitlines()
    assert table[0].split()[:4] == ["strategy", "accuracy", "EOD", "EOD"] and "floor" in table[0]
    assert table[1].startswith("random") and "78.12 ± 15.62" in table[1] and f"{floor['eod']:.1f}" in table[1]
    assert table[2].endswith("3.2") or table[2].endswith("3.3")
    note = footnote([report, report])
    assert "2 evaluation models" in note and "4 test images per (class, group) cell" in note
    assert f"EOD {floor['eod']:.1f} " in note
    assert r"$\pm$" in footnote(report, latex=True)
    with pytest.raises(ValueError, match="at least one report"):
        footnote([])


def test_train_models_then_score_is_evaluate(digits_train, digits_test):
    rnd = fairdd.random_subset(digits_train, ipc=2, seed=0)
    kw = dict(n_models=2, epochs=2, seed=4, **SMOKE)
    trained = fairdd.train_models(rnd, digits_test, **kw)
    assert len(trained.nets) == 2 and trained.config["epochs"] == 2 and trained.source["kind"] == "synthetic"
    report = fairdd.score(trained, digits_test)
    assert report.per_model == fairdd.evaluate(rnd, digits_test, **kw).per_model
    assert report.models == ()  # the networks stay out of the report
    with pytest.warns(DeprecationWarning, match="train_models"):
        kept = fairdd.evaluate(rnd, digits_test, keep_models=True, **kw)
    assert len(kept.models) == 2 and kept.per_model == report.per_model
