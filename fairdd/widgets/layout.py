"""The dashboard's pixel budget: every panel gets a box that fits a 1280×720 screen, with no scrolling.

The rule: the screen is split once, here, into fixed boxes — a header line, one status line per run,
one line for errors, one for the panel note, and two rows of panels — and every panel draws inside
its box (its caption on one line, cut with "…" and the whole text on hover; its legend on one line or
in a column beside the chart, each entry cut to its share with its whole text on hover: ``chart.js``). A panel never decides its own size, so a long caption, a second run
in compare mode or ten groups in a legend cannot push the page past the screen.

Two modes, both measured in a real browser at 1280×720 (``tests/test_browser.py``):

===========  =========  ===========  ================  ==========================
mode         page text  chart text   chart tick labels  sidebar (settings)
===========  =========  ===========  ================  ==========================
normal       13 px      12 px        10 px              shown (300 px)
presenter    17 px      17 px        14.5 px            hidden; "settings" shows it
===========  =========  ===========  ================  ==========================
"""
from __future__ import annotations

__all__ = ["CSS", "TEXT_PX", "sizes"]

VIEWPORT = (1280, 720)  # a projector
PAGE = (1250, 690)  # what Voila's lab template leaves inside its margins (15 px left/right, 20 above, 5 below)
SIDEBAR_PX = 300  # the settings sidebar with its margin
TEXT_PX = {False: 13, True: 17}  # page text (captions, status) per mode (presenter: True)
CHART_PX = {False: 12, True: 17}  # chart titles; tick labels and legends are 0.85 of it
LINE = 1.3  # line height, in text sizes
MARGIN = 8  # right margin of each panel


def _heights(presenter: bool, runs: int) -> tuple[int, int]:
    """Chart heights of the two panel rows: what is left of the page after the text lines."""
    line = round(TEXT_PX[presenter] * LINE)
    legend = round(0.85 * CHART_PX[presenter] * LINE) + 2
    header = 44 if presenter else 36
    text = header + line * (runs + 2)  # one status line per run, the error line, the panel note
    rows = line + legend + 2 * line + legend + 24  # captions (1 and 2 lines), legends, the rows' gaps
    left = PAGE[1] - text - rows
    top = round(0.43 * left)
    return top, left - top


def sizes(*, presenter: bool, sidebar: bool, runs: int = 1) -> dict:
    """Each panel's box in pixels, ``(width, height)`` of its chart, for this mode and number of runs.

    ``grid`` is the box all synthetic-image grids share (each run's grid is scaled into its share);
    ``legend`` the width of the embedding view's legend column; ``font`` the chart text size.
    """
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs!r}")
    width = PAGE[0] - (SIDEBAR_PX if sidebar else 0)
    top, bottom = _heights(presenter, runs)
    grid_w = min(round(0.34 * width), runs * (top + 20))
    fair_w = width - grid_w - 2 * MARGIN
    emb_w, heat_w = round(0.42 * width), round(0.36 * width)
    loss_w = width - emb_w - heat_w - 3 * MARGIN
    font = CHART_PX[presenter]
    return {"grid": (grid_w, top + 20), "fairness": (fair_w, top), "embedding": (emb_w - MARGIN, bottom),
            "heatmap": (heat_w - MARGIN, bottom), "loss": (loss_w, bottom), "legend": round(7.5 * font),
            "font": font, "text": TEXT_PX[presenter]}


CSS = """<style>
.fairdd-dashboard { --fairdd-text: NORMALpx; font-size: var(--fairdd-text); line-height: 1.3; }
.fairdd-dashboard.fairdd-presenter { --fairdd-text: PRESENTERpx; }
.fairdd-dashboard .widget-html-content, .fairdd-dashboard .widget-label { line-height: 1.3; font-size: var(--fairdd-text); }
.fairdd-dashboard .fairdd-line .widget-html-content, .fairdd-dashboard .fairdd-line {
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; min-width: 0; max-width: 100%; }
.fairdd-dashboard .fairdd-line .widget-html-content > div {
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.fairdd-dashboard .fairdd-sidebar { width: 292px; min-width: 292px; }
.fairdd-dashboard .fairdd-sidebar .widget-inline-hbox { max-width: calc(100% - 2 * var(--jp-widgets-margin, 2px)); min-width: 0; }
.fairdd-dashboard .fairdd-sidebar .widget-html-content { overflow-wrap: anywhere; }
.fairdd-dashboard .fairdd-sidebar .lm-TabBar-tab { flex: 1 1 0; min-width: 0; padding: 0 4px; }
.fairdd-presenter .fairdd-sidebar .lm-TabBar-tab { font-size: 14px; }
.fairdd-presenter .fairdd-sidebar .widget-label { white-space: normal; line-height: 1.1; }
.fairdd-dashboard .fairdd-sidebar .widget-checkbox .widget-label-basic { min-width: 0; }
.fairdd-dashboard .fairdd-sidebar .widget-hslider .slider-container { flex: 1 1 0; min-width: 0; }
.fairdd-dashboard .fairdd-sidebar .widget-hslider .widget-readout { flex: 0 0 auto; overflow: visible; }
.fairdd-dashboard .fairdd-sidebar .widget-tab-contents { overflow-y: auto; max-height: calc(100vh - 190px); }
.fairdd-dashboard .fairdd-panel { margin: 0 8px 0 0; }
.fairdd-dashboard img.fairdd-grid { image-rendering: pixelated; }
.fairdd-dashboard .fairdd-cell-examples { display: flex; flex-wrap: wrap; gap: 4px; }
.fairdd-dashboard .fairdd-cell-example { margin: 0; width: 58px; text-align: center; font-size: 0.85em;
  line-height: 1.15; overflow-wrap: anywhere; }
.fairdd-dashboard .fairdd-cell-example img { width: 56px; height: 56px; image-rendering: pixelated; }
.fairdd-dashboard .fairdd-header { align-items: center; }
.fairdd-dashboard .fairdd-header .fairdd-busy { flex: 1 1 0; min-width: 0; }
.fairdd-presenter { --jp-widgets-font-size: 17px; --jp-widgets-inline-height: 34px; }
.fairdd-presenter .fairdd-title { display: none; }
.fairdd-presenter small { font-size: 15px; }
</style>""".replace("NORMAL", str(TEXT_PX[False])).replace("PRESENTER", str(TEXT_PX[True]))
