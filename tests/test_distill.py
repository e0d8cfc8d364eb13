import pytest
import torch

import fairdd
from fairdd import Distiller, distill_config

from conftest import SMOKE


def test_same_seed_same_images_and_other_seed_differs(digits_train):
    a = fairdd.distill(digits_train, target="cobra", ipc=2, seed=5, iterations=4, **SMOKE)
    b = fairdd.distill(digits_train, target="cobra", ipc=2, seed=5, iterations=4, **SMOKE)
    c = fairdd.distill(digits_train, target="cobra", ipc=2, seed=6, iterations=4, **SMOKE)
    assert torch.equal(a.images, b.images)
    assert not torch.equal(a.images, c.images)
    assert a.images.shape == (20, 3, 16, 16) and a.labels.tolist() == sorted(a.labels.tolist())
    assert [h["iteration"] for h in a.history] == [1, 2, 3, 4]


@pytest.mark.parametrize("target", ["vanilla", "uniform", "fairdd", "cobra"])
def test_every_target_moves_the_images_and_records_config(digits_train, target):
    run = Distiller(digits_train, distill_config(target=target, ipc=1, iterations=3, **{k: v for k, v in SMOKE.items()
                                                                                       if k != "device"}),
                    device="cpu")
    start = run.images.detach().clone()
    infos = list(run)
    assert len(infos) == 3 and all(i.loss > 0 for i in infos)
    assert not torch.equal(run.images, start)
    result = run.result()
    assert result.config["target"] == target and result.config["preset"] == "smoke"
    assert result.dataset["group_names"] == ["red", "green", "blue", "yellow"]


def test_resume_equals_uninterrupted(digits_train, tmp_path):
    full = fairdd.distill(digits_train, target="cobra", ipc=2, iterations=6, seed=1, **SMOKE)
    ckpt = tmp_path / "run.ckpt"
    fairdd.distill(digits_train, target="cobra", ipc=2, iterations=3, seed=1, checkpoint=ckpt, **SMOKE)
    resumed = fairdd.distill(digits_train, target="cobra", ipc=2, iterations=6, seed=1, resume=ckpt, **SMOKE)
    assert torch.equal(full.images, resumed.images)
    assert [h["iteration"] for h in resumed.history] == list(range(1, 7))
    assert [h["loss"] for h in resumed.history] == pytest.approx([h["loss"] for h in full.history])


def test_periodic_checkpoints_are_written(digits_train, tmp_path):
    ckpt = tmp_path / "c.ckpt"
    seen = []
    fairdd.distill(digits_train, target="vanilla", ipc=1, iterations=4, checkpoint_every=2, checkpoint=ckpt,
                   callbacks=[lambda run, info: seen.append((info.iteration, ckpt.exists()))], **SMOKE)
    assert seen == [(1, False), (2, False), (3, True), (4, True)]
    assert not list(tmp_path.glob(".*tmp"))  # no half-written files left


def test_resume_with_other_config_is_refused(digits_train, tmp_path):
    ckpt = tmp_path / "r.ckpt"
    fairdd.distill(digits_train, target="cobra", ipc=1, iterations=2, checkpoint=ckpt, **SMOKE)
    with pytest.raises(ValueError, match="different config: .*target='cobra' \\(now 'fairdd'\\)"):
        fairdd.distill(digits_train, target="fairdd", ipc=1, iterations=4, resume=ckpt, **SMOKE)
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable fairdd checkpoint"):
        fairdd.distill(digits_train, target="cobra", ipc=1, iterations=2, resume=bad, **SMOKE)


def test_step_past_the_end_and_defaults(digits_train):
    run = Distiller(digits_train, distill_config(target="fairdd", ipc=1, preset="smoke", iterations=1), device="cpu")
    run.step()
    assert run.done
    run.step()  # a dashboard may keep stepping
    assert run.iteration == 2


def test_bad_device(digits_train):
    with pytest.raises(ValueError, match="unknown device 'gpu0'"):
        fairdd.distill(digits_train, preset="smoke", device="gpu0")


def test_speed_levers_keep_the_loss(digits_train):
    """bf16 autocast, channels_last and torch.compile (embedding and warm start) change the arithmetic,
    not the objective."""
    base = fairdd.distill(digits_train, target="cobra", ipc=1, iterations=1, **SMOKE)
    assert base.config["warm_start_epochs"] == 1  # the compiled warm start is exercised too
    fast = fairdd.distill(digits_train, target="cobra", ipc=1, iterations=1, precision="bf16", channels_last=True,
                          compile=True, **SMOKE)
    assert fast.history[0]["loss"] == pytest.approx(base.history[0]["loss"], rel=0.05)
    assert fast.config["precision"] == "bf16" and fast.config["compile"] and torch.isfinite(fast.images).all()
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        distill_config(precision="fp8")


def test_refresh_every_holds_network_and_targets_for_k_iterations(digits_train):
    run = fairdd.Distiller(digits_train, distill_config(target="cobra", ipc=2, refresh_every=3, preset="smoke", depth=2),
                           device="cpu")
    seen = []
    for _ in range(4):
        run.step()
        seen.append((id(run.matcher._held["targets"]), run.matcher.net.features[0].weight.sum().item()))
    assert seen[0] == seen[1] == seen[2] and seen[3][0] != seen[0][0] and seen[3][1] != seen[0][1]
    with pytest.raises(ValueError, match="refresh_every=2 needs method='dm'"):
        distill_config(method="dc", refresh_every=2)


@pytest.mark.parametrize("target", ["cobra", "cobra-gauss"])
def test_resume_inside_a_refresh_block_equals_uninterrupted(digits_train, tmp_path, target):
    kw = dict(target=target, ipc=2, seed=1, refresh_every=4, **SMOKE)
    full = fairdd.distill(digits_train, iterations=6, **kw)
    ckpt = tmp_path / "run.ckpt"
    fairdd.distill(digits_train, iterations=3, checkpoint=ckpt, **kw)  # stops one iteration into the block
    resumed = fairdd.distill(digits_train, iterations=6, resume=ckpt, **kw)
    assert torch.equal(full.images, resumed.images)
