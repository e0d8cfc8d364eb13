"""Per-iteration cost of every (method, target) relative to vanilla with the same method, measured
in one process on one device with the same data and settings.

    python benchmarks/targets_cost.py [--device cpu] [--preset demo] [--steps 5]

Prints one JSON line per (method, target): ms per iteration and the ratio to vanilla.
"""
from __future__ import annotations

import argparse
import json
import statistics

import torch

import fairdd
from fairdd.targets import STRATEGIES


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="colored-mnist-5k")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--methods", nargs="+", default=["dm", "dsa"])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    train = fairdd.datasets.load(args.dataset, split="train")
    for method in args.methods:
        base = None
        for target in STRATEGIES:
            if method != "dm" and STRATEGIES[target].kind == "cloud":
                continue
            run = fairdd.Distiller(train, fairdd.distill_config(method=method, target=target, preset=args.preset),
                                   device=args.device)
            run.step()  # warm-up
            ms = statistics.median(1000 * run.step().seconds for _ in range(args.steps))
            base = ms if target == "vanilla" else base
            print(json.dumps({"device": str(run.device), "method": method, "target": target, "preset": args.preset,
                              "ms_per_iteration": round(ms, 1), "vs_vanilla": round(ms / base, 2)}), flush=True)


if __name__ == "__main__":
    main()
