"""Accuracy per (class, group).

One heatmap per run (compare mode: side by side), the training majority colour of each class outlined; hover gives
accuracy and count, a click picks the cell.
"""
from __future__ import annotations

from . import Panel


class HeatmapPanel(Panel):
    """Accuracy per (class, group) of each run's last proxy evaluation; a click picks the cell."""

    name, title, slot, order = "heatmap", "accuracy per (class, group)", "bottom", 1
    inputs = frozenset({"reset", "step", "proxy"})

    def build(self):
        """Create the chart (clicks pick a cell)."""
        from ..chart import Chart

        chart = Chart()
        chart.add_class("fairdd-heatmap")
        chart.on_click(self._click)
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

    def _click(self, msg: dict) -> None:
        if msg.get("row") is not None and msg.get("col") is not None:
            self.dash.pick_cell(int(msg["row"]), int(msg["col"]))

    def _panel(self, target: str, it: int, report, majority: list) -> dict:
        table = report.by_group
        acc = table["accuracy"].to_numpy().reshape(report.n_classes, report.n_groups)  # (C, G)
        count = table["count"].to_numpy().reshape(report.n_classes, report.n_groups)  # (C, G)
        classes, groups = list(report.class_names), list(report.group_names)
        tips = [[f"{target} @ {it} · class {classes[c]!r}, group {groups[g]}: accuracy {acc[c, g]:.1f} % "
                 f"of {count[c, g]} test images" + (" (majority colour)" if majority[c] == g else "")
                 for g in range(len(groups))] for c in range(len(classes))]
        values = [[None if n == 0 else float(a) for a, n in zip(ra, rn)] for ra, rn in zip(acc, count)]
        return {"title": f"{target} @ {it}", "cats": {"x": groups, "y": classes},
                "layers": [{"kind": "cells", "values": values, "tips": tips, "name": "cell", "vmin": 0,
                            "vmax": 100, "outline": [[c, g] for c, g in enumerate(majority)]}]}

    def draw(self) -> None:
        """Draw one heatmap per run, majority groups marked."""
        majority = self.ctl.train.cell_counts().argmax(1).tolist()  # (C,)
        panels = [self._panel(t, reports[-1][0], reports[-1][1], majority)
                  for t, reports in self.ctl.reports_by.items() if reports]
        w, h = self.dash.sizes["heatmap"]
        self.body.show({"width": w, "height": h, "font": self.font, "key": f"heatmap@{self.source()[0]}",
                        "panels": panels})
        self.caption.value = (f"<b>accuracy per (class, group) %</b>, {self.when()}<br>"
                              "<small style='color:#555'><abbr title='white box: the class's majority colour in "
                              "training; a bright box in a dark row = the class is learned for its majority colour "
                              "only'>□ majority colour</abbr> · hover: numbers · click: inspect</small>")
