"""Fault class: the dashboard fits the screen: every panel draws inside the box the layout gives it.

The presenter layout reached ~100 px below a 1280×720 screen and the normal one ~20 px (a legend wrapped,
an empty chart drew at its default size). The rule (``fairdd.widgets.layout``): the page is split once
into boxes and every panel draws in its own, whatever the mode, the sidebar, the number of runs or the
state of the run. Each test is one case on the kernel side; ``tests/test_browser.py`` measures the boxes
in chromium at 1280×720.
"""
from __future__ import annotations

import itertools

import pytest

from fairdd.widgets import layout

FAST = dict(preset="smoke", proxy_every=2, refresh_every=2, min_refresh_s=0.0, proxy_epochs=2, per_group=6,
            device="cpu", embedding="pca")
MODES = list(itertools.product((False, True), (False, True), (1, 2, 3)))  # presenter, sidebar, runs


@pytest.fixture()
def dash(digits_train, digits_test):
    from fairdd.widgets import Dashboard

    return Dashboard(train=digits_train, test=digits_test, warm_umap=False, **FAST)


def _spec_box(panel) -> tuple[int, int]:
    spec = panel.body.spec
    return spec["width"], spec["height"]


@pytest.mark.parametrize("presenter, sidebar, runs", MODES)
def test_the_boxes_of_every_mode_add_up_within_the_page(presenter, sidebar, runs):
    s = layout.sizes(presenter=presenter, sidebar=sidebar, runs=runs)
    room = layout.PAGE[0] - (layout.SIDEBAR_PX if sidebar else 0)
    assert s["grid"][0] + s["fairness"][0] + 2 * layout.MARGIN <= room
    assert s["embedding"][0] + s["heatmap"][0] + s["loss"][0] + 3 * layout.MARGIN <= room
    line, legend = round(s["text"] * layout.LINE), round(0.85 * s["font"] * layout.LINE) + 2
    text = (44 if presenter else 36) + line * (runs + 2)
    rows = max(s["fairness"][1] + legend, s["grid"][1]) + line + s["embedding"][1] + 2 * line + legend
    assert text + rows <= layout.PAGE[1]
    assert min(v for k, v in s.items() if isinstance(v, tuple) for v in v) > 100  # still charts, not slivers


def test_presenter_text_is_larger_in_every_box():
    normal, big = (layout.sizes(presenter=p, sidebar=False) for p in (False, True))
    assert big["font"] >= 16 and big["text"] >= 16 and normal["font"] < big["font"]


def test_a_bad_number_of_runs_is_refused():
    with pytest.raises(ValueError, match="runs must be at least 1, got 0"):
        layout.sizes(presenter=False, sidebar=True, runs=0)


def test_every_chart_is_drawn_in_its_box_in_presenter_mode(dash):
    dash.step(2)
    dash.presenter_toggle.value = True
    assert not dash.sidebar_shown  # a projector folds the settings away
    for name in ("fairness", "embedding", "heatmap", "loss"):
        assert _spec_box(dash.panels[name]) == dash.sizes[name], name
        assert dash.panels[name].widget.layout.width == f"{dash.sizes[name][0]}px"


def test_the_panels_take_the_room_the_sidebar_leaves(dash):
    dash.step(2)
    with_sidebar = _spec_box(dash.panels["fairness"])[0]
    dash.settings_button.value = False
    assert _spec_box(dash.panels["fairness"])[0] == with_sidebar + layout.SIDEBAR_PX
    dash.settings_button.value = True
    assert _spec_box(dash.panels["fairness"])[0] == with_sidebar


def test_a_panel_with_nothing_yet_keeps_its_box(dash):
    """An empty spec drew the chart at its default 400×300, past the row's height."""
    dash.ctl.set(target="vanilla")  # a restart: the proxy panels wait for their first evaluation
    dash.panels["heatmap"].clear()
    assert _spec_box(dash.panels["heatmap"]) == dash.sizes["heatmap"]
    dash.panels["embedding"].clear()
    assert _spec_box(dash.panels["embedding"]) == dash.sizes["embedding"]


def test_compare_mode_shares_the_images_box(dash):
    dash.controls["compare"].value = ("vanilla", "fairdd")
    box_w, box_h = dash.sizes["grid"]
    widths = [int(img.layout.width[:-2]) for img in dash.panels["grid"].images.values()]
    heights = [int(img.layout.height[:-2]) for img in dash.panels["grid"].images.values()]
    assert len(widths) == 3 and sum(widths) <= box_w and max(heights) <= box_h


@pytest.mark.parametrize("presenter, sidebar, runs", MODES)
def test_a_ten_group_legend_keeps_every_entry_and_half_the_embedding_in_every_mode(presenter, sidebar, runs):
    """The embedding's legend (ten groups, each run's ◆, ✕, ★) as chart.js lays it out beside the view: every entry
    in a cell of its columns, the columns within the chart's height, the view keeping at least half the box (in
    presenter mode with the settings shown two 127 px columns left it 35 %), each column room for a mark and a few
    letters (the rest on hover)."""
    import json

    from chartjs import node_eval

    s = layout.sizes(presenter=presenter, sidebar=sidebar, runs=runs)
    (width, height), font, n = s["embedding"], s["font"], 10 + runs + 2
    spec = {"width": width, "height": height, "font": font, "legend_side": s["legend"],
            "legend": [{"label": f"group {k}", "color": "#000", "shape": "circle"} for k in range(n)]}
    box = node_eval(f"legendBox({json.dumps(spec)})")
    assert box["rows"] * box["cols"] >= n and box["pad"] + box["rows"] * box["lh"] <= height, box
    assert box["side"] == box["cols"] * box["col"] and box["w"] >= width / 2, box
    assert box["col"] - 1.6 * font - 4 >= 4 * 0.6 * 0.85 * font, box  # mark, gap and three letters with "…"


def test_the_embedding_draws_with_its_box_and_legend_column(dash):
    """What the case above lays out is what the panel sends: its box, the layout's legend column, one entry per
    group, per run's ◆, the ✕ and the ★."""
    dash.step(2)
    spec = dash.panels["embedding"].body.spec
    assert (spec["width"], spec["height"]) == dash.sizes["embedding"] and spec["legend_side"] == dash.sizes["legend"]
    assert len(spec["legend"]) == dash.ctl.train.n_groups + len(dash.ctl.runs) + 2
