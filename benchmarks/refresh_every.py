"""What holding the DM network and targets for k iterations (``refresh_every=k``) saves and costs.

For each k: distil with the preset (only ``refresh_every`` changed), evaluate, and report the distillation
time relative to k = 1 (DM's protocol) measured in the same process, with accuracy / EOD / DEO_A.

    python benchmarks/refresh_every.py [--dataset colored-mnist-5k] [--preset demo] [--k 1 5 10 20]

Prints one JSON line per (target, k).
"""
from __future__ import annotations

import argparse
import json
import time

import torch

import fairdd


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="colored-mnist-5k")
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--targets", nargs="+", default=["cobra"])
    ap.add_argument("--k", type=int, nargs="+", default=[1, 5, 10, 20])
    ap.add_argument("--iterations", type=int, default=None, help="override the preset's iterations")
    ap.add_argument("--n-models", type=int, default=3)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    train = fairdd.datasets.load(args.dataset, split="train")
    test = fairdd.datasets.load(args.dataset, split="test")
    extra = {"iterations": args.iterations} if args.iterations else {}
    for target in args.targets:
        base = None
        for k in args.k:
            t0 = time.perf_counter()
            result = fairdd.distill(train, target=target, preset=args.preset, refresh_every=k, device=args.device,
                                    **extra)
            seconds = time.perf_counter() - t0
            base = seconds if base is None else base
            report = fairdd.evaluate(result, test, preset=args.preset, n_models=args.n_models, device=args.device)
            print(json.dumps({"dataset": args.dataset, "preset": args.preset, "target": target, "refresh_every": k,
                              "distill_s": round(seconds, 1), "speedup_vs_first": round(base / seconds, 2),
                              **{m: round(v, 2) for m, v in report.overall.items()},
                              "std": {m: round(v, 2) for m, v in report.std.items()}}), flush=True)


if __name__ == "__main__":
    main()
