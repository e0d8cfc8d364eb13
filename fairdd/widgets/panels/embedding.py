"""Embedding view.

The real points of one class by group, the group means, the barycenter ★ (drawn last, on top), the pooled mean ✕ and
each run's synthetic points ◆ (the main run black, a compared run in its colour). Hover names a point, a click on a
main-run ◆ picks it (its image in "inspect").
"""
from __future__ import annotations

import numpy as np

from . import Panel

CAPTION = {
    "pca": "PCA (linear): means and the barycenter sit where they belong among the points.",
    "umap": "UMAP (non-linear): neighbourhoods are kept, distances are not; means placed approximately.",
}
SHORT = {"pca": "PCA (linear)", "umap": "UMAP (non-linear)"}
STAR = "★ = mean of the group means, equal weights"  # one short line: never cut at 1280×720
STAR_TIP = "the barycenter ★ averages the group means with every group weighted equally: COBRA's target"


class EmbeddingPanel(Panel):
    """The embedding view: real points by group, group means, barycenter and the synthetic ◆ of each run."""

    name, title, slot, order = "embedding", "embedding view", "bottom", 0
    inputs = frozenset({"reset", "step", "proxy", "view", "replay", "pick"})

    def build(self):
        """Create the chart (clicks pick a point)."""
        from ..chart import Chart

        chart = Chart()
        chart.add_class("fairdd-umap")
        chart.on_click(self._click)
        return chart

    def frame(self):
        """Return the frame to show: the replay slider's, else the latest (``None`` before the first)."""
        d, ctl = self.dash, self.ctl
        if d.replay_index is not None and 0 <= d.replay_index < len(ctl.replay_frames):
            return ctl.replay_frames[d.replay_index]
        return ctl.frames[-1] if ctl.frames else None

    def source(self):
        """Return what the panel shows: frame, replay position and picked point (``None``: nothing yet)."""
        f = self.frame()
        # a view change rebuilds the frames: a new frame at the same iteration is new data. Its serial, never its
        # id(): a freed frame's id is reused by the next one, which then looked already drawn
        return None if f is None else (f.iteration, f.serial, self.dash.replay_index, self.dash.picked_point)

    def clear(self) -> None:
        """Nothing to draw yet (the first proxy evaluation still runs): an empty view that names its class."""
        self.body.show(self.empty())
        cls = self.ctl.train.class_names[self.ctl.settings.view_class]
        self.caption.value = (f"<b>embedding view</b>, class {cls!r}: waiting for the first proxy evaluation "
                              "(its networks embed the points)…")

    def _click(self, msg: dict) -> None:
        if msg.get("name") == "synthetic" and msg.get("index") is not None:
            self.dash.pick_point(int(msg["index"]))

    def _layers(self, f) -> tuple[list, list]:
        from ...viz.plots import STRATEGY_COLOURS, strategy_colour
        from ..chart import css_colour

        def group_colour(name, a):
            from ...viz.plots import group_colour as colour

            return css_colour(colour(name, a))

        names, kinds = list(self.ctl.train.group_names), np.array(f.extra_kind)
        real = [{"kind": "points", "x": f.real_xy[f.real_groups == a, 0].tolist(),
                 "y": f.real_xy[f.real_groups == a, 1].tolist(), "color": group_colour(n, a), "size": 3.5,
                 "opacity": 0.7, "stroke_width": 0.3, "tips": [f"real image, group {n}"] * int((f.real_groups == a).sum())}
                for a, n in enumerate(names) if (f.real_groups == a).any()]
        means = [k[5:] for k in kinds if k.startswith("mean:")]
        xy = f.extra_xy
        layers = real + [{"kind": "points", "x": xy[kinds == f"mean:{n}", 0].tolist(), "y": xy[kinds == f"mean:{n}", 1].tolist(),
                          "color": group_colour(n, names.index(n)), "size": 7, "stroke_width": 1.5,
                          "tips": [f"mean of group {n}"]} for n in means]
        legend = [{"label": n, "color": group_colour(n, a), "shape": "circle"} for a, n in enumerate(names)]
        for i, target in enumerate(self.ctl.runs):
            kind = "synthetic" if target == self.ctl.settings.target else f"synthetic:{target}"
            m = kinds == kind
            if not m.any():
                continue
            colour = "#000" if kind == "synthetic" else strategy_colour(target, i)
            layers.append({"kind": "points", "shape": "diamond", "x": xy[m, 0].tolist(), "y": xy[m, 1].tolist(),
                           "color": colour, "size": 5, "stroke": "#fff", "name": kind,
                           "tips": [f"◆ {j} ({target}): synthetic image {j}" + (" — click to see it" if
                                                                                  kind == "synthetic" else "")
                                    for j in range(int(m.sum()))]})
            legend.append({"label": f"{target} ◆", "color": colour, "shape": "diamond"})
        layers += self._ring(xy[kinds == "synthetic"])
        for kind, shape, colour, size, tip in (
                ("pooled", "cross", STRATEGY_COLOURS["vanilla"], 8, "✕ pooled mean of the class (vanilla's target)"),
                ("barycenter", "star", STRATEGY_COLOURS["cobra"], 11, STAR_TIP)):
            m = kinds == kind
            layers.append({"kind": "points", "shape": shape, "x": xy[m, 0].tolist(), "y": xy[m, 1].tolist(),
                           "color": colour, "size": size, "stroke": "#000", "stroke_width": 1.2, "tips": [tip]})
        legend += [{"label": "pooled mean", "color": STRATEGY_COLOURS["vanilla"], "shape": "cross"},
                   {"label": "barycenter", "color": STRATEGY_COLOURS["cobra"], "shape": "star"}]
        return layers, legend

    def _ring(self, syn: np.ndarray) -> list:
        i = self.dash.picked_point
        if i is None or i >= len(syn):
            return []
        return [{"kind": "points", "x": [float(syn[i, 0])], "y": [float(syn[i, 1])], "color": "none", "size": 11,
                 "stroke": "#D55E00", "stroke_width": 2.2, "text": f"◆ {i}"}]

    def draw(self) -> None:
        """Draw the frame's layers, in replay or live mode."""
        f, d = self.frame(), self.dash
        layers, legend = self._layers(f)
        w, h = d.sizes["embedding"]
        replay = d.replay_index is not None
        title = ("replay: " if replay else "") + f"{f.kind.upper()} @ {f.iteration}"
        self.body.show({"width": w, "height": h, "font": self.font, "key": f"embedding@{f.iteration}",
                        "panels": [{"title": title, "axes": False, "layers": layers}], "legend": legend,
                        "legend_side": d.sizes["legend"]})
        cls = self.ctl.train.class_names[self.ctl.settings.view_class]
        dist = ""
        if f.distances:
            dd = f.distances
            dist = (f" · ◆→★ <b>{dd['barycenter']:.2f}</b> ◆→✕ <b>{dd['pooled']:.2f}</b> "
                    f"(spread {dd['spread']:.2f})")
        nets = self.ctl.reports[-1][0] if self.ctl.reports else f.iteration
        head = (f"<b>embedding</b>, class {cls!r} @ {f.iteration}"
                f"<abbr title='embedded by the networks of proxy @ {nets}'> (nets @ {nets})</abbr>")
        kind = f"<abbr title=\"{CAPTION[f.kind]}\">{SHORT[f.kind]}</abbr>"
        self.caption.value = (("<b style='color:#a60'>replay</b> (slider) — " if replay else "") + head
                              + f"<small>{dist} · {kind}</small><br><small class='fairdd-star' style='color:#555' "
                              f"title=\"{STAR_TIP}\">{STAR}</small>")
