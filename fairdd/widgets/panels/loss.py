"""Matching loss panel: each run's loss against iteration."""
from __future__ import annotations

from . import Panel

MAX_POINTS = 300  # a long run is thinned for drawing (every k-th step)


class LossPanel(Panel):
    """The matching loss of each run over the iterations."""

    name, title, slot, order = "loss", "matching loss", "bottom", 2
    inputs = frozenset({"reset", "step"})
    throttle = True

    def build(self):
        """Create the chart."""
        from ..chart import Chart

        chart = Chart()
        chart.add_class("fairdd-loss")
        return chart

    def draw(self) -> None:
        """Draw each run's loss curve."""
        from ...viz.plots import strategy_colour
        from ..chart import clean

        layers, legend = [], []
        pub = self.ctl.published  # the losses up to the last finished step (never one of a step being undone)
        for i, (target, run) in enumerate(self.ctl.runs.items()):
            n = pub.history_len[target]
            hist = run.history[:n:max(1, n // MAX_POINTS)]
            x, y = [h.iteration for h in hist], clean(h.loss for h in hist)
            colour = strategy_colour(target, i)
            layers.append({"kind": "line", "x": x, "y": y, "color": colour, "markers": len(x) < 60, "size": 2,
                           "tips": [f"{target} @ {a}: loss {b:.4g}" if b is not None else "" for a, b in zip(x, y)]})
            legend.append({"label": target, "color": colour})
        w, h = self.dash.sizes["loss"]
        self.body.show({"width": w, "height": h, "font": self.font, "key": f"loss@{self.ctl.iteration}",
                        "panels": [{"xlabel": "iteration", "layers": layers}],
                        "legend": legend if len(legend) > 1 else []})
        self.caption.value = f"<b><abbr title='matching loss'>loss</abbr></b> ({self.ctl.settings.method}) @ {self.ctl.iteration}"
