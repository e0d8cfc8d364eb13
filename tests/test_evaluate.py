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


def test_batched_training_equals_training_each_model_alone_on_its_batches(digits_train):
    """Training the models together (one grouped network, one update for all) gives each model the weights that
    torch.optim.SGD gives it trained alone on the batches ``epoch_batches`` handed it."""
    from fairdd.models import ConvNet, reset_parameters
    from fairdd.train import epoch_batches, epoch_lr, train_classifiers_batched

    x, y = digits_train.images[:40], digits_train.labels[:40]
    k, epochs, bs = 3, 4, 16

    def nets():
        return [reset_parameters(ConvNet(in_channels=3, n_classes=10, width=8, depth=2, image_size=16),
                                 torch.Generator().manual_seed(i)) for i in range(k)]

    together = train_classifiers_batched(nets(), x, y, generator=torch.Generator().manual_seed(7), epochs=epochs,
                                         batch_size=bs)
    batches = list(epoch_batches(x, y, models=k, epochs=epochs, batch_size=bs, dsa=True,
                                 generator=torch.Generator().manual_seed(7)))
    assert len(batches) == epochs * 3 and batches[-1][1].shape[:2] == (k, 8)
    for m, (net, ref) in enumerate(zip(nets(), together)):
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        for epoch, xb, yb in batches:
            if epoch_lr(0.01, epoch, epochs, True) != opt.param_groups[0]["lr"]:  # the decay: a new optimiser
                opt = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9, weight_decay=5e-4)
            loss = torch.nn.functional.cross_entropy(net(xb[m]), yb[m])
            opt.zero_grad()
            loss.backward()
            opt.step()
        for (name, p), q in zip(net.named_parameters(), ref.parameters()):
            assert torch.allclose(p, q, rtol=1e-3, atol=1e-4), (m, name)
    assert not torch.allclose(together[0].classifier.weight, together[1].classifier.weight)


@pytest.mark.parametrize("n", [40, 5000])  # 5000 · 2 models > AUG_BLOCK: gathered and augmented batch by batch
def test_epoch_batches_visit_every_image_once_per_epoch_with_its_own_draw(n):
    from fairdd.train import AUG_BLOCK, epoch_batches

    x = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 4, 4).contiguous()
    y = torch.arange(n)
    seen = {}
    for epoch, xb, yb in epoch_batches(x, y, models=2, epochs=3, batch_size=512, dsa=False,
                                       generator=torch.Generator().manual_seed(0)):
        assert torch.equal(xb[:, :, 0, 0, 0].long(), yb)  # images travel with their labels
        seen.setdefault(epoch, []).append(yb)
    for epoch, ys in seen.items():
        per_model = torch.cat(ys, 1)  # (2, n)
        assert all(torch.equal(row.sort().values, y) for row in per_model)  # a permutation per model and epoch
        assert not torch.equal(per_model[0], per_model[1])  # the models' orders differ
    assert (2 * n > AUG_BLOCK) == (n == 5000)
    # with augmentation: a block augmented in one pass gives the batches that batch-by-batch augmentation gives
    def stream(block):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("fairdd.train.AUG_BLOCK", block)
            return [(xb, yb) for _, xb, yb in epoch_batches(x, y, models=2, epochs=1, batch_size=512, dsa=True,
                                                            generator=torch.Generator().manual_seed(1))]

    whole, by_batch = stream(10**6), stream(1)
    assert all(torch.equal(p[1], q[1]) and torch.allclose(p[0], q[0], atol=1e-5) for p, q in zip(whole, by_batch))
    xb, yb = whole[0]
    assert not torch.allclose(xb, x[yb])  # and it did augment


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


def test_evaluation_dsa_draws_one_op_family_per_batch(monkeypatch):
    """As the reference's DiffAugment outside distillation: one family per batch, each image its own parameters."""
    import fairdd.train as train

    seen = []
    original = train.sample_params

    def spy(n, **kw):
        seen.append(kw["op"])
        return original(n, **kw)

    monkeypatch.setattr(train, "sample_params", spy)
    x, y = torch.randn(50, 3, 8, 8), torch.arange(50) % 10
    batches = list(train.epoch_batches(x, y, models=2, epochs=3, batch_size=16,
                                       dsa=True, generator=torch.Generator().manual_seed(0)))
    op = seen[0].view(3, 2, 50)  # (epoch, model, position in the epoch's order)
    per_batch = [op[..., s:s + 16] for s in range(0, 50, 16)]
    assert all(bool((b == b[..., :1]).all()) for b in per_batch)  # one family inside a batch
    assert len(torch.cat([b[..., 0].flatten() for b in per_batch]).unique()) > 1  # batches differ
    assert len(batches) == 3 * 4


def test_sequential_training_restarts_momentum_at_the_decay_epoch(digits_train):
    from fairdd.models import ConvNet, reset_parameters
    from fairdd.train import epoch_batches, train_classifier

    x, y = digits_train.images[:20], digits_train.labels[:20]

    def net():
        return reset_parameters(ConvNet(in_channels=3, n_classes=10, width=4, depth=2, image_size=16),
                                torch.Generator().manual_seed(0))

    ours = train_classifier(net(), x, y, epochs=4, decay_epoch=3, batch_size=8, dsa=False,
                            generator=torch.Generator().manual_seed(1))
    ref = net()
    opt = torch.optim.SGD(ref.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    for epoch, xb, yb in epoch_batches(x, y, models=1, epochs=4, batch_size=8, dsa=False,
                                       generator=torch.Generator().manual_seed(1)):
        if epoch == 3 and opt.param_groups[0]["lr"] == 0.01:  # evaluate_synset: a new optimiser at lr × 0.1
            opt = torch.optim.SGD(ref.parameters(), lr=0.001, momentum=0.9, weight_decay=5e-4)
        loss = torch.nn.functional.cross_entropy(ref(xb[0]), yb[0])
        opt.zero_grad()
        loss.backward()
        opt.step()
    for p, q in zip(ours.parameters(), ref.parameters()):
        assert torch.allclose(p, q, atol=1e-6)


def test_paper_evaluation_follows_the_method():
    from fairdd.config import eval_config

    dm, dc, idc, cafe = (eval_config(method=m) for m in ("dm", "dc", "idc", "cafe"))
    assert (dm.epochs, dm.decay_at, dm.dsa, dm.n_models) == (1501, 752, True, 5)  # train_dm.py, run_dm.sh
    assert [(c.epochs, c.decay_at, c.dsa) for c in (dc, idc, cafe)] == [(1001, 502, False)] * 3
    assert [c.n_models for c in (dc, idc, cafe)] == [5, 3, 2]  # run_dc.sh, run_idc.sh, run_cafe.sh
    fair = eval_config(preset="fairdd-paper", method="dc")  # FairDD main_DC.py, main_DC.sh
    assert (fair.epochs, fair.decay_at, fair.dsa, fair.n_models) == (301, 152, False, 10)
