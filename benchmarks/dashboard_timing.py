"""Measure the live dashboard's costs: one distillation step, a proxy evaluation, an embedding
refresh (UMAP + Procrustes) and the panel renders, on the demo preset.

    python benchmarks/dashboard_timing.py [--dataset colored-mnist] [--device auto] [--steps 30]

Prints one JSON line with median milliseconds per operation.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="colored-mnist")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from fairdd.widgets import Dashboard

    t0 = time.perf_counter()
    dash = Dashboard(dataset=args.dataset, preset=args.preset, device=args.device, proxy_every=10,
                     refresh_every=10, min_refresh_s=0.0)
    startup = time.perf_counter() - t0
    samples: dict[str, list] = {}
    dash.ctl.on_change(lambda c, what: [samples.setdefault(k, []).append(v)
                                        for k, v in {**c.timings, **dash.timings}.items()])
    step_ms = []
    for _ in range(args.steps):
        t = time.perf_counter()
        dash.step(1)
        step_ms.append(1000 * (time.perf_counter() - t))
    med = {k: round(statistics.median(v), 1) for k, v in samples.items()}
    print(json.dumps({"device": str(dash.ctl.device), "dataset": args.dataset, "preset": args.preset,
                      "startup_s": round(startup, 1), "ui_step_ms_median": round(statistics.median(step_ms), 1),
                      **med}))


if __name__ == "__main__":
    main()
