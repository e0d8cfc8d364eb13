"""Fault class: the dashboard's page says one thing and the widgets do another.

``docs/dashboard.md`` said in one place that a click picks a ◆ or a cell and in another that the points and
cells are picked from drop-downs because the panels cannot be clicked. The rule: the page says how to pick
once, in one table (section "Hover, click and the inspect tab"), and that table is the spec these cases run:
each row's action is done on a real dashboard (a click as the browser sends it, from the chart's own spec),
and what changed is compared with the row — the drop-downs it names (by their description, and the CSS
class the page cites) and whether the inspect tab opens. A row added, dropped or reworded without its check,
or a widget that stops doing what its row says, fails here.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "dashboard.md"
SECTION = "### Hover, click and the inspect tab"
FAST = {"preset": "smoke", "proxy_every": 2, "refresh_every": 2, "min_refresh_s": 0.0, "proxy_epochs": 2,
        "per_group": 6, "device": "cpu", "embedding": "pca"}


def _section(text: str) -> str:
    start = text.index(SECTION)
    end = text.find("\n#", start + len(SECTION))
    return text[start:end if end > 0 else None]


def _rows() -> dict[str, tuple[str, str]]:
    """The table of the section: {what you do: (the drop-down it sets, what you get)}."""
    rows = {}
    for line in _section(PAGE.read_text()).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 3 and cells[0] not in ("you do",) and not cells[0].startswith("---"):
            rows[cells[0]] = (cells[1], cells[2])
    return rows


@pytest.fixture(scope="module")
def dash(digits_train, digits_test):
    from fairdd.widgets import Dashboard

    d = Dashboard(train=digits_train, test=digits_test, compare=("vanilla",), warm_umap=False, **FAST)
    d.step(2)  # a proxy evaluation: the heatmap has cells
    return d


def _click(chart, **msg) -> None:
    chart._on_msg(chart, {"event": "click", **msg}, [])  # what chart.js sends on a click


def _layer(dash, panel: str, name: str) -> dict:
    for p in dash.panels[panel].body.spec["panels"]:
        for layer in p["layers"]:
            if layer.get("name") == name:
                return layer
    raise AssertionError(f"no layer {name!r} in the {panel} chart")


def _clear(dash) -> None:
    for w in dash.inspect.values():
        w.value = None
    dash.tabs.selected_index = 0


def _observe(dash, act) -> tuple[set[str], bool]:
    """Do ``act`` from a clean state; return the descriptions of the drop-downs it set and whether the inspect tab
    opened."""
    _clear(dash)
    act()
    changed = {w.description for w in dash.inspect.values() if w.value is not None}
    return changed, dash.tabs.titles[dash.tabs.selected_index] == "inspect"


def _click_main_diamond(dash) -> None:
    layer = _layer(dash, "embedding", "synthetic")
    assert len(layer["x"]) > 3
    _click(dash.panels["embedding"].body, name="synthetic", index=3, row=None, col=None)


def _click_compared_diamond(dash) -> None:
    assert len(_layer(dash, "embedding", "synthetic:vanilla")["x"]) > 3
    _click(dash.panels["embedding"].body, name="synthetic:vanilla", index=3, row=None, col=None)


def _click_vanillas_cell(dash) -> None:
    panels = dash.panels["heatmap"].body.spec["panels"]
    assert [p["title"].split(" @")[0] for p in panels] == ["cobra", "vanilla"]
    _click(dash.panels["heatmap"].body, name="cell", index=None, row=1, col=2)  # a cell of vanilla's heatmap


def _choose(dash) -> None:
    dash.inspect["point"].value = 3
    dash.inspect["cell_class"].value = 1
    dash.inspect["cell_group"].value = 2


def _click_while_playing(dash) -> None:
    picked = []

    def click(_ctl, what):
        if what == "step":
            _click_main_diamond(dash)
            _click_vanillas_cell(dash)
            picked.append((dash.inspect["point"].value, dash.inspect["cell_class"].value, dash.ctl.playing))

    dash.ctl.on_change(click)
    try:
        assert dash.step(1) == 1
    finally:
        dash.ctl._listeners.remove(click)
    assert picked == [(3, 1, True)]  # clicked while the step ran: picked as when idle


def _click_while_working(dash) -> None:
    with dash._working("a restart"):
        _click_main_diamond(dash)
        _click_vanillas_cell(dash)
        assert dash.inspect["point"].disabled


def _hover(dash) -> None:
    """Nothing goes to the kernel; every mark the row names carries its hover text in the spec."""
    emb, heat, fair = (dash.panels[n].body.spec for n in ("embedding", "heatmap", "fairness"))

    def tips(spec):
        return [t for p in spec["panels"] for layer in p["layers"] for t in (layer.get("tips") or [layer.get("tip")]) if t]

    assert any("group" in t for t in tips(emb)) and any("◆ 3" in t for t in tips(emb))
    assert any("noise band" in t for t in tips(fair))
    assert any("accuracy" in t and "test images" in t for row in tips(heat) for t in row)


CHECKS = {
    "hover a point, a ◆, a curve point or a heatmap cell": _hover,
    "click a ◆ of the main run in the embedding view": _click_main_diamond,
    "click a ◆ of a compared run": _click_compared_diamond,
    "click a cell of a heatmap (either run's, in compare mode)": _click_vanillas_cell,
    "choose in those drop-downs": _choose,
    "click while Play or Step ×10 runs": _click_while_playing,
    "click while \"working…\" shows (a restart, Replay)": _click_while_working,
}


def _named(cell: str) -> set[str]:
    return set(re.findall(r"\*\*(.+?)\*\*", cell))


def test_the_page_has_one_table_of_what_picks_what_and_every_row_has_its_check():
    assert set(_rows()) == set(CHECKS)


def test_outside_that_section_the_page_does_not_say_how_to_pick_again():
    text = PAGE.read_text()
    rest = text.replace(_section(text), "")
    said = [line for line in rest.splitlines() if re.search(r"drop-down|click (a|on|the) |pick it|pick them", line)]
    assert said == []


def test_each_drop_down_the_table_names_is_the_widget_of_the_css_class_it_cites(dash):
    cited = 0
    for did, _ in _rows().values():
        names, classes = re.findall(r"\*\*(.+?)\*\*", did), re.findall(r"`(fairdd-[a-z-]+)`", did)
        assert len(names) == len(classes), did  # each named drop-down with its class, in the same order
        for name, cls in zip(names, classes):
            widget = [w for w in dash.inspect.values() if cls in w._dom_classes]
            assert len(widget) == 1 and widget[0].description == name, (cls, name)
            cited += 1
    assert cited == 3  # inspect ◆, cell: class, group


@pytest.mark.parametrize("row", list(CHECKS))
def test_each_row_of_the_table_is_what_the_widgets_do(dash, row):
    did, got = _rows()[row]
    changed, opened = _observe(dash, lambda: CHECKS[row](dash))
    if did not in ("itself", "as when idle"):  # those two rows' checks assert what they set themselves
        assert changed == _named(did), (row, changed)
    assert opened == ("**inspect** tab opens" in got), (row, opened)
    if "ringed" in got:
        assert any(layer.get("text") == "◆ 3" for layer in dash.panels["embedding"].body.spec["panels"][0]["layers"])
    if "main run's proxy networks" in got:
        assert f", {dash.ctl.settings.target})" in dash.inspect_captions["cell"].value  # "(proxy @ 2, cobra)"


def test_a_click_gives_what_choosing_in_the_drop_downs_gives(dash):
    _observe(dash, lambda: _click_main_diamond(dash) or _click_vanillas_cell(dash))
    clicked = [dash.inspect_captions[k].value for k in ("point", "cell")]
    _observe(dash, lambda: _choose(dash))
    assert [dash.inspect_captions[k].value for k in ("point", "cell")] == clicked


def test_in_presenter_mode_a_click_unfolds_the_settings_on_the_inspect_tab_as_the_page_says(dash):
    assert "a click\nunfolds it on the **inspect** tab, with the image; **settings** folds it again" in PAGE.read_text()
    for click in (_click_main_diamond, _click_vanillas_cell):
        dash.set_presenter(True)
        try:
            assert not dash.sidebar_shown and not dash.settings_button.value
            changed, opened = _observe(dash, lambda: click(dash))
            assert opened and dash.sidebar_shown and dash.settings_button.value, click.__name__
            assert dash.sidebar.layout.display is None
            if click is _click_main_diamond:  # picked: ringed in the view
                assert any(layer.get("text") == "◆ 3" for layer in dash.panels["embedding"].body.spec["panels"][0]["layers"])
            dash.settings_button.value = False  # "settings" folds it again
            assert not dash.sidebar_shown and dash.sidebar.layout.display == "none"
        finally:
            dash.set_presenter(False)
