"""Redraw cost of the dashboard's panels: today's matplotlib PNGs against plotly ``FigureWidget``s.

One process, the same data for both: a Dashboard on colored-digits (10 colour groups, majority share
0.9, IPC 10, cobra compared with vanilla, smoke preset with a proxy evaluation and an embedding refresh
every step) is stepped ``--steps`` times; then each panel is redrawn ``--repeats`` times.

- PNG: the dashboard's own render methods (figure, draw, PNG encode: what a refresh costs the kernel).
- plotly: a ``FigureWidget`` per panel with the same traces, built once; a redraw sets every trace's
  data in one ``batch_update`` and encodes the figure's data as JSON (the state the kernel sends; with
  no front-end attached here, the widget itself sends nothing, so the JSON encode stands in for it).

Kernel side only: the browser's own drawing (an <img> decode against plotly.js laying out SVG/WebGL)
is not in these numbers. plotly and anywidget are not fairdd dependencies; install them anywhere and
pass ``--site`` (appended to sys.path, so fairdd's environment keeps its own packages):

    pip install --target /tmp/plotly-site plotly anywidget
    python benchmarks/dashboard_render.py --site /tmp/plotly-site [--steps 10 --repeats 5]

Prints a table: median ms per redraw for each panel, the ratio PNG / plotly and the payload bytes.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time


def _median_ms(fn, repeats: int) -> float:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(1000 * (time.perf_counter() - t0))
    return statistics.median(out)


def make_dashboard(steps: int):
    import fairdd
    from fairdd.widgets import Dashboard

    kw = {"n_groups": 10, "size": 16, "seed": 0}
    train = fairdd.datasets.load("colored-digits", split="train", bias=0.9, **kw)
    test = fairdd.datasets.load("colored-digits", split="test", **kw)
    dash = Dashboard(train=train, test=test, warm_umap=False, preset="smoke", target="cobra", compare=("vanilla",),
                     proxy_every=1, refresh_every=1, min_refresh_s=0.0, proxy_epochs=2, per_group=25, device="cpu")
    dash.ctl.advance(steps)
    return dash


def png_panels(dash) -> dict:
    frame = dash.ctl.frames[-1]
    return {"embedding": lambda: dash._render_embedding(frame), "fairness": dash._render_fairness,
            "heatmap": dash._render_heatmap, "loss": dash._render_loss}


def plotly_panels(dash) -> dict:
    """One FigureWidget per panel, the same traces as the PNGs; returns {panel: (widget, redraw)}."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots
    from plotly.utils import PlotlyJSONEncoder

    ctl, names = dash.ctl, dash.ctl.train.group_names

    def encode(fw):
        return len(json.dumps(fw.to_dict()["data"], cls=PlotlyJSONEncoder))

    emb = go.FigureWidget(data=[go.Scatter(mode="markers", name=n) for n in names]
                          + [go.Scatter(mode="markers", name=k) for k in ("means", "barycenter", "pooled", "synthetic")])

    def embedding():
        f = ctl.frames[-1]
        with emb.batch_update():
            for a in range(len(names)):
                m = f.real_groups == a
                emb.data[a].x, emb.data[a].y = f.real_xy[m, 0], f.real_xy[m, 1]
            for j, k in enumerate(("mean:", "barycenter", "pooled", "synthetic")):
                m = [kind.startswith(k) for kind in f.extra_kind]
                emb.data[len(names) + j].x, emb.data[len(names) + j].y = f.extra_xy[m, 0], f.extra_xy[m, 1]
        return encode(emb)

    keys = ("accuracy", "worst_group_accuracy", "eod", "deo_a")
    fair = go.FigureWidget(make_subplots(rows=1, cols=2))
    for t in ctl.runs:
        for i, k in enumerate(keys):
            fair.add_scatter(mode="lines+markers", name=f"{t} {k}", row=1, col=1 + i // 2)
        fair.add_scatter(fill="toself", name=f"{t} noise", row=1, col=2)

    def fairness():
        curves, floors = ctl.curves(), dash._floors()
        with fair.batch_update():
            for ti, t in enumerate(ctl.runs):
                for i, k in enumerate(keys):
                    fair.data[5 * ti + i].x, fair.data[5 * ti + i].y = curves[t]["iteration"], curves[t][k]
                its, lo, hi = floors[t]
                fair.data[5 * ti + 4].x, fair.data[5 * ti + 4].y = list(its) + list(its)[::-1], list(lo) + list(hi)[::-1]
        return encode(fair)

    heat = go.FigureWidget(data=[go.Heatmap()])

    def heatmap():
        bg = ctl.report.by_group
        z = bg["accuracy"].to_numpy().reshape(ctl.train.n_classes, ctl.train.n_groups)
        with heat.batch_update():
            heat.data[0].z, heat.data[0].x, heat.data[0].y = z, list(names), list(ctl.train.class_names)
            heat.data[0].text = [[f"{v:.0f}" for v in row] for row in z]
        return encode(heat)

    loss = go.FigureWidget(data=[go.Scatter(mode="lines", name=t) for t in ctl.runs])

    def loss_panel():
        with loss.batch_update():
            for i, run in enumerate(ctl.runs.values()):
                loss.data[i].x = [h.iteration for h in run.history]
                loss.data[i].y = [h.loss for h in run.history]
        return encode(loss)

    return {"embedding": embedding, "fairness": fairness, "heatmap": heatmap, "loss": loss_panel}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--site", default=None, help="a folder holding plotly and anywidget (appended to sys.path)")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    if args.site:
        sys.path.append(args.site)
    t0 = time.perf_counter()
    dash = make_dashboard(args.steps)
    print(f"setup ({args.steps} steps with proxy evaluations): {time.perf_counter() - t0:.1f} s", flush=True)
    png = png_panels(dash)
    t0 = time.perf_counter()
    fig = plotly_panels(dash)
    for redraw in fig.values():
        redraw()  # first fill (plotly's validators load lazily)
    print(f"plotly widgets built and filled once: {time.perf_counter() - t0:.1f} s", flush=True)
    print("| panel | PNG ms | PNG bytes | plotly ms | plotly JSON bytes | PNG / plotly |")
    print("|---|---:|---:|---:|---:|---:|")
    images = {"embedding": "embedding", "fairness": "fairness", "heatmap": "heatmap", "loss": "loss"}
    for name in png:
        a = _median_ms(png[name], args.repeats)
        b = _median_ms(fig[name], args.repeats)
        print(f"| {name} | {a:.1f} | {len(dash.images[images[name]].value)} | {b:.1f} | {fig[name]()} | "
              f"{a / b:.1f} |", flush=True)


if __name__ == "__main__":
    main()
