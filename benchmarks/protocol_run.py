"""Distil and evaluate several targets under one protocol and print a results table.

    python benchmarks/protocol_run.py --dataset colored-fashion-mnist --preset paper \
        --iterations 2000 --n-models 3 --targets vanilla fairdd cobra --out results/run

Writes ``OUT/table.json`` (one row per target: accuracy, EOD, DEO_A, worst group, stds, seconds,
per-iteration ms and peak GPU memory) and prints one JSON line per row.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import fairdd
from fairdd.distill import resolve_device
from fairdd.io import write_json


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="colored-fashion-mnist")
    ap.add_argument("--mode", default="foreground")
    ap.add_argument("--preset", default="paper")
    ap.add_argument("--ipc", type=int, default=10)
    ap.add_argument("--iterations", type=int, default=None)
    ap.add_argument("--n-models", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--targets", nargs="+", default=["random", "vanilla", "fairdd", "cobra"])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--root", default=None)
    ap.add_argument("--out", default="results/protocol_run")
    args = ap.parse_args(argv)
    train = fairdd.datasets.load(args.dataset, split="train", mode=args.mode, root=args.root)
    test = fairdd.datasets.load(args.dataset, split="test", mode=args.mode, root=args.root)
    over = {"iterations": args.iterations} if args.iterations else {}
    eval_over = {"epochs": args.epochs} if args.epochs else {}
    dev = resolve_device(args.device)
    rows = {}
    for target in args.targets:
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        t0 = time.perf_counter()
        if target == "random":
            result = fairdd.random_subset(train, ipc=args.ipc)
        else:
            result = fairdd.distill(train, target=target, ipc=args.ipc, preset=args.preset, device=dev, **over)
        t1 = time.perf_counter()
        report = fairdd.evaluate(result, test, n_models=args.n_models, preset=args.preset, device=dev, **eval_over)
        t2 = time.perf_counter()
        n_it = len(result.history)
        rows[target] = {**report.overall, "std": report.std, "distill_s": round(t1 - t0, 1),
                        "eval_s": round(t2 - t1, 1), "iterations": n_it,
                        "ms_per_iteration": round(1000 * (t1 - t0) / n_it, 2) if n_it else None,
                        "peak_mem_gb": round(torch.cuda.max_memory_allocated(dev) / 2**30, 2) if dev.type == "cuda" else None}
        print(json.dumps({"target": target, **rows[target]}), flush=True)
    write_json(Path(args.out) / "table.json", {"args": vars(args), "device": str(dev), "rows": rows})


if __name__ == "__main__":
    main()
