"""A small SVG chart widget (anywidget): the kernel sends data, the browser draws it.

A redraw is one JSON message of plain lists (a few kB) instead of a matplotlib PNG (~1 s of kernel time
per panel on a loaded 2-core machine); hover tooltips are drawn in the browser from each mark's
``tips`` (no round trip), clicks come back as ``{"name", "index", "row", "col"}``. The JavaScript is
``chart.js`` next to this file, shipped in the package: nothing is fetched from the network, so it works
offline under Voila and in JupyterLab (anywidget's front end is part of its wheel).

Nothing is cut for good: every text the chart draws (titles, axis labels, category names, legend entries) is cut
to its pixel budget with "…" by one helper, the whole text kept as an SVG ``<title>`` or a legend entry's
``title`` (shown on hover); and whatever the dashboard's CSS cuts (one-line captions and status lines, a group's
name beside its checkbox) gets its whole text as a ``title`` from one watcher of the page, in the same script.

The spec::

    {"width": px, "height": px, "font": px, "key": "what is shown (for tests)",
     "panels": [{"title", "xlabel", "ylabel", "xlim", "ylim", "cats": {"x": [...], "y": [...]},
                 "layers": [layer, ...]}, ...],           # side by side
     "legend": [{"label", "color", "shape" | "dash" | "band"}]}

with layers ``{"kind": "points", "x", "y", "color", "size", "shape", "tips", "name", "text"}``,
``{"kind": "line", "x", "y", "color", "dash", "tips", "name"}``, ``{"kind": "band", "x", "lo", "hi",
"color", "tip"}`` and ``{"kind": "cells", "values" (rows × cols, None = empty), "tips", "outline": [[r, c]],
"name"}`` (a heatmap; rows top to bottom). Marks are drawn in layer order: the last layer is on top.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import anywidget
import traitlets

__all__ = ["Chart", "clean", "css_colour"]


def css_colour(colour) -> str:
    """Return a CSS colour from a palette entry: a string as is, an RGB(A) tuple in [0, 1] as ``#rrggbb``."""
    if isinstance(colour, str):
        return colour
    return "#" + "".join(f"{round(255 * float(c)):02x}" for c in tuple(colour)[:3])


def clean(values) -> list:
    """Plain floats for JSON, ``None`` for NaN/inf (drawn as gaps or empty cells)."""
    out = []
    for v in values:
        if isinstance(v, (list, tuple)):
            out.append(clean(v))
        else:
            f = float(v)
            out.append(f if math.isfinite(f) else None)
    return out


class Chart(anywidget.AnyWidget):
    """``Chart(spec)``: ``chart.spec = {...}`` redraws; ``chart.on_click(callback)`` gets each click."""

    _esm = Path(__file__).with_name("chart.js")
    spec = traitlets.Dict().tag(sync=True)
    version = traitlets.Int(0).tag(sync=True)  # bumped with each spec: the page says what it painted

    def __init__(self, spec: dict | None = None, **kwargs) -> None:
        super().__init__(spec=spec or {}, **kwargs)
        self._click: list[Callable[[dict], None]] = []
        self.on_msg(self._on_msg)

    def show(self, spec: dict) -> None:
        """Replace the spec (one message to the browser)."""
        with self.hold_sync():
            self.version += 1
            self.spec = spec

    def on_click(self, callback: Callable[[dict], None]) -> None:
        """Call ``callback`` with the click message (a dict) whenever the chart is clicked."""
        self._click.append(callback)

    def _on_msg(self, _widget, content, _buffers) -> None:
        if isinstance(content, dict) and content.get("event") == "click":
            for cb in self._click:
                cb(content)
