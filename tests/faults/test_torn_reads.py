"""Fault class: a panel reads the runs while the step thread changes them (torn reads during Play).

The image grid, the loss chart, the status line and the embedding read ``run.images``, ``run.history``
and ``run.iteration`` live: during Play a step in the step thread updates them in place, so a panel could
draw half-updated images, a compared run a step behind the main one, or a step that Pause then undid.
The rule that closes it: at the end of each finished step the controller publishes a detached copy
(``DistillController.published``: iteration, each run's images and number of recorded losses, in one
assignment), and everything outside the step reads only that. The rows hold a step half-way (the main
run's images, iteration and loss already changed) and read every view. The same rule for the view's points:
an embedding reads ``view_index`` once and takes the class from those points.
"""
from __future__ import annotations

import threading

import pytest
import torch

FAST = dict(preset="smoke", proxy_every=50, refresh_every=50, min_refresh_s=0.0, proxy_epochs=2, proxy_models=2,
            per_group=4, device="cpu", embedding="pca")


@pytest.fixture()
def dash(digits_train, digits_test):
    from fairdd.widgets import Dashboard

    return Dashboard(train=digits_train, test=digits_test, warm_umap=False, compare=("vanilla",), **FAST)


class HalfStep:
    """Make the main run's next step change its images, iteration and loss, then wait half-way."""

    def __init__(self, run) -> None:
        self.run, self.real = run, run.step
        self.inside, self.release = threading.Event(), threading.Event()

    def __call__(self):  # noqa: D102
        info = self.real()
        with torch.no_grad():
            self.run.images.fill_(0.123)  # a step still writing
        self.inside.set()
        assert self.release.wait(30)
        return info

    def __enter__(self):
        self.run.step = self
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        del self.run.step


def _in_flight(dash):
    half = HalfStep(dash.ctl.run)
    thread = threading.Thread(target=dash.ctl.step)
    return half, thread


def test_the_grid_draws_the_last_finished_step_not_the_one_in_flight(dash, monkeypatch):
    from fairdd.viz import plots

    dash.step(1)
    before = {t: r.images.detach().clone() for t, r in dash.ctl.runs.items()}
    drawn = {}
    real = plots.grid_png
    monkeypatch.setattr(plots, "grid_png", lambda images, labels, **kw: drawn.setdefault(len(drawn), images)
                        is not None and real(images, labels, **kw))
    half, thread = _in_flight(dash)
    with half:
        thread.start()
        assert half.inside.wait(30)
        dash.panels["grid"].draw()
        caption = dash.panels["grid"].caption.value
    thread.join(30)
    for k, target in enumerate(dash.ctl.runs):
        assert torch.allclose(drawn[k], dash.ctl.train.display(before[target])), target
    assert "@ 1" in caption


def test_the_status_line_and_loss_show_the_last_finished_step(dash):
    dash.step(1)
    st = dash.ctl.status()
    half, thread = _in_flight(dash)
    with half:
        thread.start()
        assert half.inside.wait(30)
        during = dash.ctl.status()
        dash.panels["loss"].draw()
        loss_caption = dash.panels["loss"].caption.value
    thread.join(30)
    assert during["iteration"] == 1 and during["loss"] == st["loss"]
    assert {t: r["iteration"] for t, r in during["runs"].items()} == {"cobra": 1, "vanilla": 1}
    assert "@ 1" in loss_caption


def test_the_embedding_and_a_picked_image_use_the_published_images(dash):
    dash.step(1)
    published = dash.ctl.published
    half, thread = _in_flight(dash)
    with half:
        thread.start()
        assert half.inside.wait(30)
        image = dash.ctl.synthetic_image(0)
        frame = dash.ctl.refresh_embedding(emit=False)
    thread.join(30)
    syn = published.images["cobra"][dash.ctl.run.labels.cpu() == dash.ctl.settings.view_class]
    assert torch.allclose(image, dash.ctl.train.display(syn[:1])[0])
    assert frame.iteration == 1 and dash.ctl.image_history[-1][1]["cobra"] is published.images["cobra"]


def test_a_step_undone_by_pause_is_never_published(dash):
    dash.step(1)
    published = dash.ctl.published
    half, thread = _in_flight(dash)
    with half:
        thread.start()
        assert half.inside.wait(30)
        dash.ctl.cancel_step = True
    thread.join(30)
    dash.ctl.cancel_step = False
    assert dash.ctl.published is published and dash.ctl.iteration == 1


def test_a_finished_step_publishes_copies_the_next_step_cannot_change(dash):
    dash.step(1)
    published = dash.ctl.published
    kept = {t: x.clone() for t, x in published.images.items()}
    dash.step(1)
    assert dash.ctl.published.serial > published.serial and dash.ctl.iteration == 2
    assert all(torch.equal(published.images[t], kept[t]) for t in kept)


def test_an_embedding_refresh_reads_the_view_points_once_while_a_view_change_swaps_them(dash, monkeypatch):
    # a view change (per_group 4 → 2) from the API while the step thread embedded the view's points: the
    # embeddings came from the old points and their groups from the new ones (index_add_: 20 indices, 250 rows)
    from fairdd.widgets import controller as module

    dash.step(1)
    ctl, real_embed, swapped = dash.ctl, module.embed_real, []

    def embed_then_swap(net, images, *args):
        out = real_embed(net, images, *args)
        if not swapped:  # the UI thread changes the view between the two reads of the step thread
            swapped.append(ctl.view_index)
            ctl.view_index = ctl.view_index[::2].clone()
        return out
    monkeypatch.setattr(module, "embed_real", embed_then_swap)
    ctl._real_cache = None
    frame = ctl.refresh_embedding(emit=False)
    n = len(swapped[0])
    assert len(frame.real_groups) == n and frame.high_dim.shape[0] > n and ctl.error is None
    assert (frame.real_groups == ctl.train.groups[swapped[0]].numpy()).all()  # the groups of the points embedded
