"""Training the evaluation models (fairdd/train.py): grouped training, batches, the optimiser."""
import pytest
import torch


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


@pytest.mark.parametrize("together", [False, True])
def test_training_under_stop_when_stops_before_the_batch_after_its_check_turns_true(digits_train, together):
    # the dashboard's background evaluations stop this way once their result is no longer wanted
    from fairdd.models import ConvNet, reset_parameters
    from fairdd.train import Stopped, stop_when, train_classifier, train_classifiers_batched

    x, y = digits_train.images[:40], digits_train.labels[:40]
    net = reset_parameters(ConvNet(in_channels=3, n_classes=10, width=8, depth=2, image_size=16),
                           torch.Generator().manual_seed(0))
    calls = []

    def train():
        if together:
            return train_classifiers_batched([net], x, y, generator=torch.Generator().manual_seed(1), epochs=50,
                                             batch_size=16)
        return train_classifier(net, x, y, epochs=50, batch_size=16, generator=torch.Generator().manual_seed(1))

    with stop_when(lambda: calls.append(1) or len(calls) > 4):  # 3 batches an epoch: stops in the second
        with pytest.raises(Stopped, match="before epoch 1"):
            train()
    assert len(calls) == 5  # four batches trained, stopped before the fifth
    trained = train()  # outside the block: no check, every epoch
    assert len(calls) == 5 and trained is not None
