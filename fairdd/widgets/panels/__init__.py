"""The dashboard's panels: each declares the controller events it follows and draws itself.

``Panel`` is the whole contract: ``inputs`` (which ``DistillController`` events redraw it), ``source()``
(the iteration its data is from), ``draw()`` (render into ``self.body``) and ``slot``/``order`` (where
it sits). The dashboard is the list ``panels()``: every module of this package that defines a
``Panel`` subclass is one panel, so adding a panel touches one new file.
"""
from __future__ import annotations

import importlib
import pkgutil
import time
from typing import ClassVar

__all__ = ["Panel", "panels"]


class Panel:
    """A view of the controller's state.

    Subclasses set ``name``, ``title``, ``slot`` ("top" or "bottom"), ``order``, ``inputs``, and implement
    ``build()`` (the body widget), ``source()`` and ``draw()``.

    ``throttle``: while playing, redraw at most every ``Dashboard.min_render_s`` (panels may skip
    frames; they never show data older than the last draw plus that period).
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    slot: ClassVar[str] = "bottom"
    order: ClassVar[int] = 0
    inputs: ClassVar[frozenset] = frozenset()
    throttle: ClassVar[bool] = False

    def __init__(self, dash) -> None:
        W = dash.W
        self.dash, self.ctl = dash, dash.ctl
        self.shown: int | None = None  # the iteration the panel shows
        self.caption = W.HTML()
        self.caption.add_class(f"fairdd-caption-{self.name}")
        self.caption.add_class("fairdd-line")  # each caption line stays one line (cut with "…")
        self.body = self.build()
        self.widget = W.VBox([self.caption, self.body])
        self.widget.add_class(f"fairdd-panel-{self.name}")
        self.widget.add_class("fairdd-panel")
        self.ms = 0.0  # kernel time of the last draw
        self.fit()

    def fit(self) -> None:
        """Set the panel's width to its box's (``fairdd.widgets.layout``): a long caption is cut, never widens the row."""
        size = self.dash.sizes.get(self.name)
        if size is not None:
            self.widget.layout.width = f"{size[0]}px"

    def build(self):
        """Create the panel's widget (the body under the caption); each panel implements it."""
        raise NotImplementedError

    def source(self) -> int | None:
        """Return the iteration of the data this panel would show now (``None``: nothing to show yet)."""
        return self.ctl.iteration

    def draw(self) -> None:
        """Draw the current data into the body; each panel implements it."""
        raise NotImplementedError

    def update(self, *, force: bool = False) -> bool:
        """Draw if the data moved on since the last draw (or ``force``); returns whether it drew."""
        src = self.source()
        if src is None:  # nothing yet (a new run before its first proxy evaluation): say so, show nothing old
            if force or self.shown is not None:
                self.clear()
                self.shown = None
            return False
        if not force and src == self.shown:
            return False
        t0 = time.perf_counter()
        self.fit()  # the box follows the mode (presenter, sidebar) and the number of runs
        self.draw()
        self.shown = src
        self.ms = 1000 * (time.perf_counter() - t0)
        return True

    def clear(self) -> None:
        """Show that there is nothing yet (the default: an empty chart, a caption saying what it waits for)."""
        if hasattr(self.body, "show"):
            self.body.show(self.empty())
        self.caption.value = f"<b>{self.title}</b>: waiting for the first proxy evaluation…"

    def empty(self) -> dict:
        """Return an empty chart that keeps the panel's box (an empty spec would draw at the chart's default size)."""
        self.fit()
        size = self.dash.sizes.get(self.name)
        return {"width": size[0], "height": size[1]} if isinstance(size, tuple) else {}

    @property
    def font(self) -> int:
        """The dashboard's font size in px."""
        return self.dash.font


def panels() -> list[type[Panel]]:
    """Every panel class of this package, by slot and order."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    found = {cls.name: cls for cls in _subclasses(Panel) if cls.name}
    return sorted(found.values(), key=lambda c: (c.slot, c.order))


def _subclasses(cls) -> list:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out
