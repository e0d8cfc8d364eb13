"""What compare mode costs per step against one run: the dashboard controller with the primary
target alone, then with one and two extra targets in lockstep. Times the outer step (every run, with
the transactional snapshot) and one proxy evaluation (every run), medians over ``--steps``.

    python benchmarks/dashboard_compare.py [--dataset colored-mnist] [--preset demo] [--steps 10]

Prints one JSON line per configuration and the ratios to the single run.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch


def measure(compare: tuple, args) -> dict:
    from fairdd.widgets import DistillController

    ctl = DistillController(dataset=args.dataset, preset=args.preset, device=args.device, target=args.target,
                            compare=compare, proxy_every=10 ** 6, refresh_every=10 ** 6, seed=0)
    ctl.advance(2)  # warm-up (first network draws, caches)
    steps = []
    for _ in range(args.steps):
        t = time.perf_counter()
        assert ctl.step()
        steps.append(1000 * (time.perf_counter() - t))
    t = time.perf_counter()
    ctl.refresh_proxy(emit=False)
    proxy = 1000 * (time.perf_counter() - t)
    return {"targets": list(ctl.runs), "step_ms": round(statistics.median(steps), 1),
            "proxy_ms": round(proxy, 1), "device": str(ctl.device)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="colored-mnist")
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--target", default="cobra")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = [measure(c, args) for c in ((), ("vanilla",), ("vanilla", "fairdd"))]
    base = rows[0]
    for r in rows:
        r["step_ratio"] = round(r["step_ms"] / base["step_ms"], 2)
        r["proxy_ratio"] = round(r["proxy_ms"] / base["proxy_ms"], 2)
        print(json.dumps({"dataset": args.dataset, "preset": args.preset, **r}))


if __name__ == "__main__":
    main()
