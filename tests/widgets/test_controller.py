"""Drive the controller and the dashboard from plain Python: clicks, value changes, play/pause,
reset and errors."""
import asyncio

import numpy as np
import pytest
import torch

from fairdd.widgets import DistillController

FAST = dict(preset="smoke", proxy_every=2, refresh_every=2, min_refresh_s=0.0, proxy_epochs=2, per_group=6,
            device="cpu")


@pytest.fixture()
def ctl(digits_train, digits_test):
    return DistillController(train=digits_train, test=digits_test, **FAST)


def test_advance_schedules_proxy_and_embedding(ctl):
    assert ctl.status()["iteration"] == 0 and ctl.status()["eod"] is None
    assert ctl.advance(4) == 4
    st = ctl.status()
    assert st["iteration"] == 4 and st["proxy_iteration"] == 4
    assert [it for it, _ in ctl.reports] == [2, 4]
    assert [f.iteration for f in ctl.frames] == [2, 4]
    assert 0 <= st["eod"] <= 100 and st["loss"] > 0
    assert {"step_ms", "proxy_ms", "embedding_ms"} <= set(st["timings"])
    frame = ctl.frames[-1]
    n_groups_in_view = len(set(frame.real_groups.tolist()))
    assert frame.real_xy.shape == (len(frame.real_groups), 2)
    assert frame.extra_kind.count("synthetic") == ctl.settings.ipc
    assert sum(k.startswith("mean:") for k in frame.extra_kind) == n_groups_in_view


def test_frames_stay_aligned(ctl):
    ctl.advance(2)
    ctl.advance(2)
    a, b = ctl.frames[-2].real_xy, ctl.frames[-1].real_xy
    spread = a.std()
    # Procrustes keeps the layout in place: mean displacement small against the layout's spread
    assert abs(b - a).mean() < 1.5 * spread


def test_throttle_limits_refreshes(digits_train, digits_test):
    ctl = DistillController(train=digits_train, test=digits_test, **{**FAST, "refresh_every": 1,
                                                                   "min_refresh_s": 3600.0})
    ctl.advance(3)
    assert len(ctl.frames) == 1  # the first refresh, then throttled


def test_set_resets_and_validates(ctl):
    ctl.advance(2)
    ctl.set(target="fairdd")
    assert ctl.iteration == 0 and ctl.run.config.target == "fairdd" and not ctl.reports
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['speed'\]"):
        ctl.set(speed=3)
    with pytest.raises(ValueError, match="target must be one of .* got 'best'"):
        ctl.set(target="best")
    assert ctl.settings.target == "fairdd" and ctl.run.config.target == "fairdd"  # last good state kept


def test_error_in_a_step_is_reported_and_state_kept(ctl, monkeypatch):
    ctl.advance(1)
    before = ctl.run.images.detach().clone()

    def boom(*a, **k):
        raise RuntimeError("injected failure")

    monkeypatch.setattr(ctl.run.matcher, "iteration", boom)
    assert ctl.advance(3) == 0
    assert ctl.iteration == 1 and "injected failure" in ctl.status()["error"]
    assert torch.equal(ctl.run.images, before)
    monkeypatch.undo()
    assert ctl.advance(1) == 1 and ctl.status()["error"] is None


def test_replay_lays_out_every_frame(digits_train, digits_test, umap_warm):
    ctl = DistillController(train=digits_train, test=digits_test, **FAST, embedding="umap")
    ctl.advance(6)
    frames = ctl.replay()
    assert len(frames) == 3 and all(f.real_xy.shape == ctl.frames[0].real_xy.shape for f in frames)
    assert "replay_ms" in ctl.timings


def test_dashboard_buttons_and_controls(digits_train, digits_test):
    from fairdd.widgets import Dashboard

    dash = Dashboard(train=digits_train, test=digits_test, warm_umap=False, **FAST)
    first_umap = dash.panels["embedding"].body.spec
    assert "iteration 0" in dash.iteration.value and "EOD" in dash.readout.value
    dash.buttons["step"].click()
    dash.buttons["step"].click()
    assert "iteration 2" in dash.iteration.value
    assert dash.panels["embedding"].body.spec != first_umap
    dash.buttons["step10"].click()
    assert dash.ctl.iteration == 12
    dash.controls["target"].value = "uniform"
    assert dash.ctl.run.config.target == "uniform" and "iteration 0" in dash.iteration.value
    dash.controls["ipc"].value = 2
    assert dash.ctl.run.images.shape[0] == 20
    # play until paused from a callback (as a click on Pause would, between two steps)
    dash.ctl.on_change(lambda c, what: dash.pause() if c.iteration >= 3 else None)
    assert asyncio.run(dash.play_async()) == 3 and not dash.ctl.playing
    dash.buttons["reset"].click()
    assert dash.ctl.iteration == 0
    dash.buttons["replay"].click()  # one frame only: the error is shown, nothing breaks
    assert "replay" in dash.error.value
    assert all(k in dash.timing.value for k in ("step_ms", "proxy_ms", "render_embedding_ms"))
    assert dash.ctl.error is not None and "replay" in dash.ctl.error  # until a replay succeeds


def test_proxy_nets_are_kept_by_the_controller_not_the_report(ctl):
    """The embedding view projects through the primary run's last proxy networks, held by the controller;
    the report's deprecated ``models`` field stays empty."""
    ctl.advance(2)
    assert len(ctl.proxy_nets) == ctl.settings.proxy_models and ctl.report.models == ()
    ctl.reset()
    assert ctl.proxy_nets == ()


def test_the_real_points_are_embedded_once_per_proxy_network_and_view(digits_train, digits_test, monkeypatch):
    ctl = DistillController(train=digits_train, test=digits_test, **{**FAST, "proxy_every": 4, "refresh_every": 1})
    calls = []
    real = ctl._embed_real_now
    monkeypatch.setattr(ctl, "_embed_real_now", lambda net, index: calls.append(net) or real(net, index))
    ctl.ensure_views()  # the proxy networks and the frame of iteration 0
    ctl.advance(4)  # refreshes at 1, 2, 3 under iteration 0's networks; a new proxy at 4
    assert [f.iteration for f in ctl.frames] == [0, 1, 2, 3, 4] and len(calls) == 2 and calls[0] is not calls[1]
    before = ctl.frames[-1]
    ctl.set(view_class=1)  # a new view: embedded again
    assert len(calls) == 3 and ctl.frames[-1].high_dim.shape[1] == before.high_dim.shape[1]
    points = ctl.view_index
    ctl.set(embedding="umap")  # the same points, laid out anew: no image embedded again
    ctl.set(embedding="pca")
    assert len(calls) == 3 and ctl.view_index is points
    ctl.set(per_group=4)  # other points
    assert len(calls) == 4 and len(ctl.view_index) < len(points)


def test_a_rebuilt_view_embeds_every_recorded_set_as_its_refresh_did(digits_train, digits_test, monkeypatch):
    # the frames of a view change are embedded together, in cache-sized chunks (a long session's replay holds
    # thousands of images): the same points as one refresh per set
    import fairdd.matching.dm as dm

    ctl = DistillController(train=digits_train, test=digits_test, **{**FAST, "proxy_every": 50, "refresh_every": 1},
                            compare=["vanilla"])
    ctl.ensure_views()
    ctl.advance(3)
    before = [(f.iteration, f.high_dim, f.extra_kind) for f in ctl.frames]
    sizes, real_embed = [], type(ctl.proxy_nets[-1]).embed
    monkeypatch.setattr(dm, "cpu_chunk", lambda net, size: 3)
    monkeypatch.setattr(type(ctl.proxy_nets[-1]), "embed", lambda net, x: sizes.append(len(x)) or real_embed(net, x))
    ctl.set(view_class=1)
    ctl.set(view_class=0)  # frames the set on screen now, the others for a replay
    assert [f.iteration for f in ctl.frames] == [3] and ctl._frames_behind == 3
    assert len(ctl.replay()) == 4 and ctl._frames_behind == 0
    assert sizes and max(sizes) <= 3
    after = [(f.iteration, f.high_dim, f.extra_kind) for f in ctl.frames]
    assert [a[0] for a in after] == [b[0] for b in before] == [0, 1, 2, 3]
    assert "synthetic:vanilla" in after[-1][2]
    for (_, b, bk), (_, a, ak) in zip(before, after):
        assert ak == bk
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert not np.allclose(after[0][1], after[-1][1])  # each frame its own set
    from fairdd.viz.embedding import PCAProjector

    for f in ctl.frames:  # PCA: all frames placed by one map (the real points are the same), as each alone would be
        n = len(f.real_groups)
        real_xy, extra_xy = PCAProjector().project(f.high_dim[:n], f.high_dim[n:])
        np.testing.assert_allclose(f.real_xy, real_xy, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(f.extra_xy, extra_xy, rtol=1e-4, atol=1e-4)


def test_the_pooled_mean_is_the_group_means_weighted_by_the_class_s_group_sizes(ctl):
    ctl.advance(2)
    f, train = ctl.frames[-1], ctl.train
    n, kinds = len(f.real_groups), list(f.extra_kind)
    extra = f.high_dim[n:]
    names = [k.split(":", 1)[1] for k in kinds if k.startswith("mean:")]
    means = np.stack([extra[kinds.index(f"mean:{g}")] for g in names])
    for g, mean in zip(names, means):  # each group mean is the mean of that group's view points
        np.testing.assert_allclose(mean, f.high_dim[:n][f.real_groups == train.group_names.index(g)].mean(0), atol=1e-5)
    c = ctl.settings.view_class
    size = np.array([int(((train.labels == c) & (train.groups == train.group_names.index(g))).sum()) for g in names])
    assert len(set(size.tolist())) > 1  # unequal sizes: pooled and barycenter differ
    np.testing.assert_allclose(extra[kinds.index("pooled")], size @ means / size.sum(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(extra[kinds.index("barycenter")], means.mean(0), rtol=1e-5, atol=1e-6)


def test_a_replay_before_the_first_proxy_networks_says_the_sets_are_kept(digits_train, digits_test):
    from concurrent.futures import Future

    class Busy:  # a worker still on its first evaluation (idle-class workers wait while the steps run)
        def submit(self, *args, **kwargs):
            return Future()

    ctl = DistillController(train=digits_train, test=digits_test, **{**FAST, "proxy_every": 50, "refresh_every": 1})
    ctl.background = Busy()
    ctl.ensure_views()
    ctl.advance(3)
    with pytest.raises(ValueError, match=r"got 0 \(4 synthetic sets are kept and become frames when this run's first"):
        ctl.replay()


def test_new_proxy_networks_re_embed_the_current_iteration_in_place(digits_train, digits_test):
    # a proxy that finished after Play had refreshed the view at its iteration left that frame under older networks
    import concurrent.futures

    ctl = DistillController(train=digits_train, test=digits_test, **{**FAST, "proxy_every": 50, "refresh_every": 1})
    ctl.background = concurrent.futures.ThreadPoolExecutor(1)
    ctl.ensure_views()
    while ctl.evaluating is not None:  # the quick evaluation of 0, then its refinement
        ctl._pending[2].result()
        ctl.collect()
    ctl.advance(2)
    before = ctl.frames[-1]
    assert [f.iteration for f in ctl.frames] == [0, 1, 2]
    assert ctl._start_proxy()
    ctl._pending[2].result()
    assert ctl.collect()
    assert [f.iteration for f in ctl.frames] == [0, 1, 2] and ctl.frames[-1].serial != before.serial
    assert not np.allclose(ctl.frames[-1].high_dim, before.high_dim)  # embedded by the new networks
