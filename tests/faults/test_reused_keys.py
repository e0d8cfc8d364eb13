"""Fault class: a panel keyed on something that repeats, so new data looks already drawn.

The embedding panel keyed its redraw on ``id(frame)`` and the fairness panel cached noise bands by
``id(report)``: once the old object is freed CPython may give its address to the next one (a view
switch's rebuilt frame, a quick report's refined one), and the panel kept showing the old class or the
old band. It failed now and then under load (memory churn decides whether the address is reused). The
rule that closes it: panels key on what never repeats: a serial the controller gives every frame and
publication, or the object itself held by the cache. The rows make the reuse certain by giving every
object the same ``id()`` in the panel modules.
"""
from __future__ import annotations

import types

import pytest

FAST = dict(preset="smoke", proxy_every=2, refresh_every=2, min_refresh_s=0.0, proxy_epochs=2, per_group=6,
            device="cpu", embedding="pca")


@pytest.fixture()
def dash(digits_train, digits_test):
    from fairdd.widgets import Dashboard

    return Dashboard(train=digits_train, test=digits_test, warm_umap=False, **FAST)


def _reuse_every_id(monkeypatch, module: str) -> None:
    import importlib

    monkeypatch.setattr(importlib.import_module(module), "id", lambda obj: 1, raising=False)


def test_a_view_switch_redraws_even_where_the_new_frame_reuses_the_old_ones_id(dash, monkeypatch):
    _reuse_every_id(monkeypatch, "fairdd.widgets.panels.embedding")
    dash.step(2)
    for cls in (2, 0, 2, 1):
        dash.controls["view_class"].value = cls
        assert f"class '{cls}' @ 2" in dash.panels["embedding"].caption.value


def test_many_class_switches_at_one_iteration_each_redraw(dash):
    dash.step(2)
    for cls in (3, 0, 3, 0, 3, 0):  # many rebuilt frames at one iteration: none is taken for the one before
        dash.controls["view_class"].value = cls
        assert f"class '{cls}' @ 2" in dash.panels["embedding"].caption.value


def test_frames_and_publications_get_serials_that_never_repeat(dash):
    ctl = dash.ctl
    dash.step(2)
    ctl.set(view_class=1)
    ctl.set(view_class=0)
    frames = list(ctl.frames)
    ctl.set(view_class=1)  # rebuilt at the same iterations: new frames
    serials = [f.serial for f in frames + ctl.frames] + [ctl.published.serial]
    assert len(set(serials)) == len(serials) and 0 not in serials


def test_a_refined_report_gets_its_own_noise_band_where_it_reuses_the_quick_ones_id(dash, monkeypatch):
    import fairdd.viz.noise_floor as noise_floor

    _reuse_every_id(monkeypatch, "fairdd.widgets.panels.fairness")
    bands = {}
    monkeypatch.setattr(noise_floor, "report_noise_floor",
                        lambda report, **kw: types.SimpleNamespace(eod_band=bands[report.tag]))
    quick, refined = types.SimpleNamespace(tag="quick"), types.SimpleNamespace(tag="refined")
    bands.update(quick=(1.0, 2.0), refined=(3.0, 4.0))
    panel = dash.panels["fairness"]
    assert panel._floor("cobra", 7, quick) == (1.0, 2.0)
    assert panel._floor("cobra", 7, refined) == (3.0, 4.0)
