import pytest
import torch

import fairdd

from conftest import SMOKE


def test_report_fields_and_by_group_table(digits_train, digits_test):
    result = fairdd.distill(digits_train, target="cobra", ipc=2, iterations=2, **SMOKE)
    report = fairdd.evaluate(result, digits_test, n_models=2, epochs=3, **SMOKE)
    for key in ("accuracy", "eod", "deo_a", "worst_group_accuracy"):
        value = getattr(report, key)
        assert isinstance(value, float) and 0.0 <= value <= 100.0
        assert report.std[key] >= 0.0
    assert len(report.per_model) == 2
    table = report.by_group
    assert list(table.columns) == ["class", "group", "accuracy", "accuracy_std", "count"]
    assert len(table) == 10 * 4 and table["count"].sum() == len(digits_test)
    # the report's EOD is the mean over models of each model's max-class gap, recomputed from its table
    tpr = report.tpr  # (models, C, G)
    per_model_eod = 100 * (tpr.amax(2) - tpr.amin(2)).amax(1)
    assert report.eod == pytest.approx(float(per_model_eod.mean()), abs=1e-4)
    assert report.config["epochs"] == 3


def test_baselines_random_subset_and_whole_data(digits_train, digits_test):
    rnd = fairdd.random_subset(digits_train, ipc=3, seed=0)
    assert torch.bincount(rnd.labels).tolist() == [3] * 10
    r1 = fairdd.evaluate(rnd, digits_test, n_models=1, epochs=2, **SMOKE)
    whole = fairdd.evaluate(digits_train, digits_test, n_models=1, epochs=1, **SMOKE)
    assert r1.source["kind"] == "synthetic" and whole.source["kind"] == "real"


def test_same_seed_same_report(digits_train, digits_test):
    rnd = fairdd.random_subset(digits_train, ipc=2, seed=0)
    a = fairdd.evaluate(rnd, digits_test, n_models=1, epochs=2, seed=3, **SMOKE)
    b = fairdd.evaluate(rnd, digits_test, n_models=1, epochs=2, seed=3, **SMOKE)
    assert a.per_model == b.per_model


def test_bad_evaluation_input(digits_train, digits_test, mnist_test):
    rnd = fairdd.random_subset(digits_train, ipc=1)
    with pytest.raises(ValueError, match=r"n_models must be an integer in \[1, 1000\]; got 0"):
        fairdd.evaluate(rnd, digits_test, n_models=0, **SMOKE)
    with pytest.raises(ValueError, match="not built like.*name 'colored-digits' \\(now 'colored-mnist-5k'\\)"):
        fairdd.evaluate(rnd, mnist_test, n_models=1, **SMOKE)
    with pytest.raises(ValueError, match="differ in shape"):
        fairdd.evaluate(rnd, mnist_test, n_models=1, check_dataset=False, **SMOKE)
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['epoch'\]"):
        fairdd.evaluate(rnd, digits_test, n_models=1, epoch=3, **SMOKE)
    with pytest.raises(ValueError, match="source must be a DistillResult or GroupedDataset"):
        fairdd.evaluate("results/x", digits_test, **SMOKE)


def test_batched_evaluation_agrees_with_sequential_within_noise(digits_train, digits_test):
    rnd = fairdd.random_subset(digits_train, ipc=3, seed=1)
    kw = dict(n_models=4, epochs=30, batch_size=16, seed=2, **SMOKE)
    seq = fairdd.evaluate(rnd, digits_test, batched=False, **kw)
    bat = fairdd.evaluate(rnd, digits_test, batched=True, **kw)
    assert bat.batched and not seq.batched
    spread = max(seq.std["accuracy"], bat.std["accuracy"], 1.0)
    assert abs(seq.accuracy - bat.accuracy) < 3 * spread, (seq.summary(), bat.summary())
    assert bat.accuracy > 20  # 10 classes: trained, not chance


def test_compiled_evaluation_trains_the_same_models_and_levers_are_recorded(digits_train, digits_test):
    rnd = fairdd.random_subset(digits_train, ipc=3, seed=1)
    kw = dict(n_models=2, epochs=3, batch_size=16, seed=2, keep_models=True, **SMOKE)
    eager = fairdd.evaluate(rnd, digits_test, **kw)
    comp = fairdd.evaluate(rnd, digits_test, compile=True, **kw)
    for a, b in zip(eager.models, comp.models):
        for (name, p), q in zip(a.named_parameters(), b.parameters()):
            assert torch.allclose(p, q, rtol=1e-3, atol=1e-4), name
    fast = fairdd.evaluate(rnd, digits_test, precision="bf16", **kw)
    assert fast.config["precision"] == "bf16" and not fast.batched and 0 <= fast.accuracy <= 100
    # the models trained together take the same levers: compiled, they train what eager training does
    together = fairdd.evaluate(rnd, digits_test, batched=True, **kw)
    together_comp = fairdd.evaluate(rnd, digits_test, batched=True, compile=True, **kw)
    assert together_comp.batched and together_comp.config["compile"]
    for a, b in zip(together.models, together_comp.models):
        for (name, p), q in zip(a.named_parameters(), b.parameters()):
            assert torch.allclose(p, q, rtol=1e-3, atol=1e-4), name
    together_bf16 = fairdd.evaluate(rnd, digits_test, batched=True, precision="bf16", **kw)
    assert together_bf16.batched and 0 <= together_bf16.accuracy <= 100
    with pytest.raises(ValueError, match="unknown precision 'fp16'"):
        fairdd.evaluate(rnd, digits_test, precision="fp16", **kw)


def test_a_part_of_the_models_is_the_same_networks_as_the_whole_run(digits_train, digits_test):
    """``train_models(models=[k])`` trains model k of the full run (how a sweep resumes its evaluation)."""
    from fairdd.evaluate import train_models
    from fairdd.train import predict

    src = fairdd.random_subset(digits_train, ipc=2, seed=0)
    kw = dict(n_models=3, preset="smoke", seed=4, device="cpu", batched=False)
    whole = train_models(src, digits_test, **kw)
    part = train_models(src, digits_test, models=[2, 0], **kw)
    for net, k in zip(part.nets, (2, 0)):
        assert torch.equal(predict(net, digits_test.images), predict(whole.nets[k], digits_test.images))
    for bad, err in (([3], ValueError), ([0, 0], ValueError), ([], ValueError), (["0"], TypeError), ("01", TypeError)):
        with pytest.raises(err, match="models must be"):
            train_models(src, digits_test, models=bad, **{**kw, "batched": "auto"})
    with pytest.raises(ValueError, match="cannot be batched=True"):
        train_models(src, digits_test, models=[0], **{**kw, "batched": True})
