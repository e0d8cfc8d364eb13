"""Synthetic images panel: each run's synthetic set, one row per class (PNG with square pixels)."""
from __future__ import annotations

from . import Panel


class GridPanel(Panel):
    """The synthetic images of each run, one grid per run."""

    name, title, slot, order = "grid", "synthetic images", "top", 0
    inputs = frozenset({"reset", "step"})
    throttle = True

    def build(self):
        """Create the box holding one image per run."""
        W = self.dash.W
        self.images: dict = {}
        box = W.HBox(layout=W.Layout(flex_flow="row nowrap"))
        box.add_class("fairdd-grids")
        return box

    def _rebuild(self) -> None:
        W = self.dash.W
        targets = list(self.ctl.runs)
        if list(self.images) == targets:
            return
        self.images = {t: W.Image(format="png", layout=W.Layout(object_fit="contain"))
                       for t in targets}
        self.labels = {t: W.HTML() for t in targets}
        for label in self.labels.values():
            label.add_class("fairdd-line")
        for img in self.images.values():
            img.add_class("fairdd-grid")
        self.body.children = [W.VBox([self.labels[t], self.images[t]]) for t in targets]

    def draw(self) -> None:
        """Draw each run's synthetic images as a grid."""
        from ...viz import plots

        self._rebuild()
        s, runs, pub = self.ctl.settings, self.ctl.runs, self.ctl.published  # the last finished step's copies
        box_w, box_h = self.dash.sizes["grid"]
        width, height = box_w // len(runs) - 6, box_h - round(1.4 * self.dash.sizes["text"])  # each run's share
        for target, run in runs.items():
            png, w, h = plots.grid_png(self.ctl.train.display(pub.images[target]), run.labels.cpu(),
                                       target_width=width)
            scale = min(width / w, height / h)  # the whole grid inside the box, square pixels kept
            self.images[target].value = png
            self.images[target].layout.width = f"{int(w * scale)}px"
            self.images[target].layout.height = f"{int(h * scale)}px"
            more = f", first 10 of {s.ipc} per class" if s.ipc > 10 else ""
            self.labels[target].value = f"<b>{target}</b> @ {pub.iteration}{more}"
        self.caption.value = f"<b><abbr title='one row per class'>synthetic images</abbr></b> @ {pub.iteration}"
