"""Measure the live dashboard's costs: one distillation step, a proxy evaluation, an embedding
refresh (UMAP + Procrustes) and each panel render, on the demo preset. Drives the controller and the
same plot functions the dashboard uses (no ipywidgets needed, so it runs on a bare GPU machine).

    python benchmarks/dashboard_timing.py [--dataset colored-mnist-5k] [--device auto] [--steps 30]

Prints one JSON line with median milliseconds per operation.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch


def _ms(fn) -> float:
    t = time.perf_counter()
    fn()
    return 1000 * (time.perf_counter() - t)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="colored-mnist-5k")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    import matplotlib

    matplotlib.use("Agg")
    from fairdd.viz import plots
    from fairdd.viz.embedding import warm_up_umap
    from fairdd.widgets import DistillController

    warm_s = warm_up_umap()
    t0 = time.perf_counter()
    ctl = DistillController(dataset=args.dataset, preset=args.preset, device=args.device, proxy_every=10,
                            refresh_every=10, min_refresh_s=0.0, embedding="umap")
    startup = time.perf_counter() - t0
    samples: dict[str, list] = {}
    for _ in range(args.steps):
        ctl.advance(1)
        for k, v in ctl.timings.items():
            samples.setdefault(k, []).append(v)

    def render(draw, w=4, h=3):
        fig, ax = plots.new_figure(w, h)
        draw(ax)
        plots.fig_to_png(fig)

    run = ctl.run
    renders = {
        "render_loss_ms": _ms(lambda: render(lambda ax: plots.plot_loss(ax, run.history))),
        "render_grid_ms": _ms(lambda: render(lambda ax: plots.plot_images(
            ax, ctl.train.display(run.images.detach().cpu()), run.labels.cpu()), 4, 4)),
        "render_embedding_ms": _ms(lambda: render(lambda ax: plots.plot_embedding(ax, ctl.frames[-1],
                                                                                  ctl.train.group_names))),
        "render_heatmap_ms": _ms(lambda: render(lambda ax: plots.plot_group_heatmap(ax, ctl.report.by_group))),
    }
    med = {k: round(statistics.median(v), 1) for k, v in samples.items()}
    print(json.dumps({"device": str(ctl.device), "dataset": args.dataset, "preset": args.preset,
                      "umap_warmup_s": round(warm_s, 1), "startup_s": round(startup, 1), **med,
                      **{k: round(v, 1) for k, v in renders.items()}}))


if __name__ == "__main__":
    main()
