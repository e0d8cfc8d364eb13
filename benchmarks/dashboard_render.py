"""Kernel-side redraw cost of the dashboard's panels: matplotlib PNGs (the dashboard before issue 23)
against the SVG chart panels (``fairdd.widgets.panels``: the kernel sends a JSON spec, the browser draws).

One process, the same data for both: a Dashboard on colored-digits (10 colour groups, majority share 0.9,
IPC 10, cobra compared with vanilla, smoke preset with a proxy evaluation and an embedding refresh every
step) is stepped ``--steps`` times; then each panel is redrawn ``--repeats`` times.

- PNG: ``fairdd.viz.plots`` draws the panel as the old dashboard did (figure, draw, PNG encode).
- chart: the panel's own ``draw()`` (the spec built and set on the widget) plus its JSON encoding (what
  is sent; with no front end attached the widget itself sends nothing).

The browser's share (the chart's SVG build, ``data-paint-ms``) is printed by ``dashboard_latency.py``.

    python benchmarks/dashboard_render.py [--steps 10 --repeats 5]

Prints a table: median kernel ms per redraw and bytes sent, per panel, and the ratio PNG / chart.
"""
from __future__ import annotations

import argparse
import json
import statistics
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
    """The old dashboard's PNG redraws, each returning its PNG bytes."""
    import matplotlib.pyplot as plt

    from fairdd.viz import plots
    from fairdd.viz.noise_floor import report_noise_floor

    ctl = dash.ctl

    def embedding():
        fig, ax = plots.new_figure(4.8, 3.6)
        plots.plot_embedding(ax, ctl.frames[-1], ctl.train.group_names)
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1, 0.5))
        return plots.fig_to_png(fig)

    floors = {t: ([it for it, _ in rs], *zip(*[report_noise_floor(r, n_draws=400, seed=it).eod_band
                                                for it, r in rs])) for t, rs in ctl.reports_by.items()}

    def fairness():  # the noise bands cached, as both dashboards do
        fig, axes = plt.subplots(1, 2, figsize=(7.4, 3.4))
        plots.plot_fairness(axes, ctl.curves(), floors=floors)
        return plots.fig_to_png(fig)

    def heatmap():
        fig, ax = plots.new_figure(4.8, 3.8)
        plots.plot_group_heatmap(ax, ctl.report.by_group, majority=ctl.train.cell_counts().argmax(1).tolist())
        return plots.fig_to_png(fig)

    def loss():
        fig, ax = plots.new_figure(4.2, 2.8)
        for i, (t, run) in enumerate(ctl.runs.items()):
            plots.plot_loss(ax, run.history, label=t, color=plots.strategy_colour(t, i))
        return plots.fig_to_png(fig)

    return {"embedding": embedding, "fairness": fairness, "heatmap": heatmap, "loss": loss}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    dash = make_dashboard(args.steps)
    print(f"setup ({args.steps} steps with proxy evaluations): {time.perf_counter() - t0:.1f} s", flush=True)
    png = png_panels(dash)
    print("| panel | PNG ms | PNG bytes | chart ms | chart JSON bytes | PNG / chart |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, draw in png.items():
        panel = dash.panels[name]
        a = _median_ms(draw, args.repeats)
        b = _median_ms(lambda: (panel.update(force=True), json.dumps(panel.body.spec)), args.repeats)
        print(f"| {name} | {a:.1f} | {len(draw())} | {b:.2f} | {len(json.dumps(panel.body.spec))} | {a / b:.0f} |",
              flush=True)


if __name__ == "__main__":
    main()
