"""Fairness over time.

Accuracy and worst group (left), EOD and DEO_A with the fair-model noise band (right), one colour per run, each
point with its numbers on hover.
"""
from __future__ import annotations

from . import Panel

NOISE = ("Shaded: the EOD a perfectly fair model of the same accuracy shows on this test set by chance "
         "(5–95 %, 400 draws); a curve inside the band is as fair as can be measured.")


class FairnessPanel(Panel):
    """Accuracy, EOD, worst group and DEO_A of each run over the proxy evaluations, with the noise band."""

    name, title, slot, order = "fairness", "fairness over time", "top", 1
    inputs = frozenset({"reset", "step", "proxy"})

    def build(self):
        """Create the chart."""
        from ..chart import Chart

        self._floors: dict = {}
        chart = Chart()
        chart.add_class("fairdd-fairness")
        return chart

    def source(self) -> tuple | None:
        """Return (iteration, quick) of the last proxy evaluation (``None`` before the first).

        A quick one refined at the same iteration is new data.
        """
        reports = self.ctl.reports
        return (reports[-1][0], reports[-1][0] in self.ctl.quick) if reports else None

    def when(self) -> str:
        """"proxy @ N" (or "quick proxy @ N"): the evaluation its numbers are from."""
        it, quick = self.source()
        return f"{'quick ' if quick else ''}proxy @ {it}"

    def _floor(self, target: str, it: int, report) -> tuple[float, float]:
        from ...viz.noise_floor import report_noise_floor

        # keyed by what it is computed from, the report object itself held (an id() is reused once its object is freed:
        # a refined report then got the quick one's band)
        held = self._floors.get((target, it))
        if held is None or held[0] is not report:
            held = self._floors[(target, it)] = (report, report_noise_floor(report, n_draws=400, seed=it).eod_band)
        return held[1]

    def _layers(self) -> tuple[list, list, list]:
        from ...viz.plots import strategy_colour

        left, right, legend = [], [], []
        for i, (target, reports) in enumerate(self.ctl.reports_by.items()):
            colour, its = strategy_colour(target, i), [it for it, _ in reports]
            bands = [self._floor(target, it, r) for it, r in reports]
            right.append({"kind": "band", "x": its, "lo": [b[0] for b in bands], "hi": [b[1] for b in bands],
                          "color": colour, "tip": f"{target}: fair-model noise band (EOD)"})
            for layers, key, label, dash in ((left, "accuracy", "accuracy", None),
                                             (left, "worst_group_accuracy", "worst group", "2,3"),
                                             (right, "eod", "EOD", None), (right, "deo_a", "DEO_A", "6,3")):
                ys = [getattr(r, key) for _, r in reports]
                tips = [f"{target} @ {it}: {label} {y:.1f}" + (f" (noise band {b[0]:.1f}–{b[1]:.1f} pp)"
                                                               if key == "eod" else "")
                        for it, y, b in zip(its, ys, bands)]
                layers.append({"kind": "line", "x": its, "y": ys, "color": colour, "dash": dash, "tips": tips})
            legend.append({"label": f"{target}", "color": colour})
        return left, right, legend

    def draw(self) -> None:
        """Draw the metric curves of every run and their noise bands."""
        left, right, legend = self._layers()
        legend += [{"label": "accuracy / EOD", "color": "#555"}, {"label": "worst group", "color": "#555", "dash": "2,3"},
                   {"label": "DEO_A", "color": "#555", "dash": "6,3"}, {"label": "noise band", "color": "#555",
                                                                          "band": True}]
        w, h = self.dash.sizes["fairness"]
        it = self.source()[0]
        self.body.show({"width": w, "height": h, "font": self.font, "key": f"fairness@{it}", "legend": legend,
                        "panels": [{"title": "accuracy %", "xlabel": "iteration", "ylim": [-2, 102], "layers": left},
                                   {"title": "gap (pp)", "xlabel": "iteration", "ylim": [-2, 102], "layers": right}]})
        names = " vs ".join(self.ctl.runs)
        self.caption.value = (f"<b>fairness over time</b> ({names}), {self.when()} "
                              f"<small style='color:#555'>(<abbr title=\"{NOISE}\">shaded: fair-model noise</abbr>; "
                              "hover a point for its numbers)</small>")
