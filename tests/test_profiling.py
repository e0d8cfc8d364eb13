"""Launch and host-sync accounting (fairdd.profiling) and what it says about the hot paths.

On a GPU a DM iteration and an evaluation epoch are bound by kernel launches and host round-trips;
both are counted here on the CPU, so these properties hold wherever the tests run.
"""
import pytest
import torch

import fairdd
from fairdd.config import distill_config
from fairdd.data import GroupedDataset
from fairdd.distill import Distiller
from fairdd.models import ConvNet, reset_parameters
from fairdd.profiling import count_ops
from fairdd.train import train_classifier, train_classifiers_batched


def test_count_ops_flags_what_would_stall_a_gpu_and_nothing_else():
    x = torch.arange(6.0)
    with count_ops() as quiet:
        y = (x * 2 + 1).relu()
        torch.arange(3).repeat_interleave(2)
        y.view(2, 3).t()
    assert quiet.kernels == 5 and not quiet.syncs  # mul, add, relu, arange, repeat_interleave; views are free
    with count_ops() as loud:
        float(y.sum())
        x[x > 2]
        torch.bincount(torch.arange(3), minlength=4)
        torch.arange(3).repeat_interleave(torch.arange(3))
        torch.tensor([1.0, 2.0])
    assert set(loud.syncs) == {"_local_scalar_dense", "index", "bincount", "repeat_interleave", "lift_fresh"}
    assert any("test_profiling.py" in site for site in loud.sync_sites), loud.sync_sites
    assert "host syncs: none" in quiet.summary() and "bincount 1" in loud.summary()


def _random_set(n_classes, n_groups, per_class=24, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n_classes).repeat_interleave(per_class)
    groups = torch.arange(len(labels)) % n_groups
    return GroupedDataset(torch.randn(len(labels), 3, size, size, generator=g), labels, groups,
                          tuple(f"c{i}" for i in range(n_classes)), tuple(f"g{i}" for i in range(n_groups)))


def _step_profile(train, method, target, **over):
    cfg = distill_config(method=method, target=target, ipc=2, preset="smoke", depth=2, **over)
    d = Distiller(train, cfg, device="cpu")
    d.step()  # the first step works out the batch sampler (once per dataset)
    with count_ops() as prof:
        d.step()
    return prof


@pytest.mark.parametrize("method,target", [("dm", "vanilla"), ("dm", "uniform"), ("dm", "fairdd"), ("dm", "cobra"),
                                           ("dc", "fairdd"), ("dc", "cobra"), ("idc", "cobra")])
def test_a_distillation_iteration_never_waits_for_the_host(method, target):
    prof = _step_profile(_random_set(4, 3), method, target)
    assert not prof.syncs, prof.sync_sites


@pytest.mark.parametrize("target", ["fairdd", "cobra", "uniform"])
def test_dm_iteration_launches_as_many_kernels_whatever_the_number_of_groups_and_classes(target):
    """One forward pass for all classes, segment reductions over groups: no Python loop in the step."""
    counts = {(c, g): _step_profile(_random_set(c, g), "dm", target, batch_real=12).kernels
              for c, g in ((4, 2), (4, 6), (9, 2))}
    assert len(set(counts.values())) == 1, counts


def _nets(k):
    return [reset_parameters(ConvNet(in_channels=3, n_classes=4, width=8, depth=2, image_size=16),
                             torch.Generator().manual_seed(i)) for i in range(k)]


def test_models_trained_together_launch_as_many_kernels_per_epoch_as_one_model():
    train = _random_set(4, 2)
    per_epoch = {}
    for k in (2, 5):  # (one network alone skips a few layout copies, so compare two counts above one)
        nets = _nets(k)
        for epochs in (2, 4):
            with count_ops() as prof:
                train_classifiers_batched(nets, train.images, train.labels, generator=torch.Generator().manual_seed(0),
                                          epochs=epochs, batch_size=32)
            per_epoch[k, epochs] = prof.kernels
    slope = {k: (per_epoch[k, 4] - per_epoch[k, 2]) / 2 for k in (2, 5)}
    assert slope[2] == slope[5], slope
    # and one model alone launches about as many per epoch: K models together cost ~1/K of K models in turn
    net = _nets(1)[0]
    alone = {}
    for epochs in (2, 4):
        with count_ops() as prof:
            train_classifier(net, train.images, train.labels, epochs=epochs, batch_size=32,
                             generator=torch.Generator().manual_seed(0))
        alone[epochs] = prof.kernels
    assert 5 * (alone[4] - alone[2]) / 2 > 4 * slope[5], (alone, slope)


def test_augmentation_is_drawn_and_applied_once_per_block_of_epochs():
    """The warm start and the evaluation draw and apply augmentations for many epochs in one go, so
    an epoch on a small synthetic set is little more than the forward/backward and the update."""
    train = _random_set(4, 2)
    net = _nets(1)[0]
    with count_ops() as prof:
        train_classifier(net, train.images, train.labels, epochs=10, batch_size=256, lr_decay=False,
                         generator=torch.Generator().manual_seed(0))
    assert prof.ops["grid_sampler_2d"] == 1 and prof.ops["rand"] == 2  # one augmentation pass, 2 draws
    assert prof.ops["convolution"] == 10 * 2  # 10 epochs × 1 batch × 2 layers
    assert not prof.syncs, prof.sync_sites
