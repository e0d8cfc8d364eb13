"""Evaluation: N models trained together (one grouped network) vs one after another, same process and device.

    python benchmarks/eval_batched.py [--device cuda] [--models 5 10] [--epochs 100] [--width 128] [--levers [--limit 300]]

Prints one JSON line per model count: sequential_s, batched_s, speedup and each path's mean accuracy
and its spread over models (same protocol, different random draws: equal within noise, not to the digit).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

import fairdd
from fairdd.data import GroupedDataset
from fairdd.distill import resolve_device

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import OverLimit, limit, preload_compiler  # noqa: E402


def synthetic_like(*, ipc: int, n_classes: int = 10, size: int = 32, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(n_classes * ipc, 3, size, size, generator=g)
    labels = torch.arange(n_classes).repeat_interleave(ipc)
    return fairdd.DistillResult(images=images, labels=labels)


def test_set(*, n_classes=10, n_groups=10, per_cell=10, size=32, seed=1) -> GroupedDataset:
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n_classes).repeat_interleave(n_groups * per_cell)
    groups = torch.arange(n_groups).repeat_interleave(per_cell).repeat(n_classes)
    return GroupedDataset(torch.randn(len(labels), 3, size, size, generator=g), labels, groups,
                          tuple(map(str, range(n_classes))), tuple(map(str, range(n_groups))))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="auto")
    ap.add_argument("--models", type=int, nargs="+", default=[5, 10])
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--ipc", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--levers", action="store_true",
                    help="also time both paths with compile=True, precision='bf16'")
    ap.add_argument("--limit", type=float, default=300.0,
                    help="seconds for each levers run (warm-up included); past it: skipped")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    dev = resolve_device(args.device)
    preload_compiler()
    result, test = synthetic_like(ipc=args.ipc), test_set()
    kw = dict(preset="paper", epochs=args.epochs, width=args.width, device=dev, precision="fp32",
              compile=False)  # the baseline is fp32 eager, whatever "auto" would pick here
    for mode in (False, True):  # warm-up of both paths (cuDNN autotuning, allocator), not timed
        fairdd.evaluate(result, test, n_models=2, batched=mode, **{**kw, "epochs": 2})
    for n in args.models:
        times, reports = {}, {}
        for mode in (False, True):
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            reports[mode] = fairdd.evaluate(result, test, n_models=n, batched=mode, **kw)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            times[mode] = time.perf_counter() - t0
        row = {"device": str(dev), "n_models": n, "epochs": args.epochs, "width": args.width,
               "ipc": args.ipc, "sequential_s": round(times[False], 2), "batched_s": round(times[True], 2),
               "speedup": round(times[False] / times[True], 2),
               "accuracy": {"sequential": round(reports[False].accuracy, 2), "batched": round(reports[True].accuracy, 2),
                            "std_sequential": round(reports[False].std["accuracy"], 2),
                            "std_batched": round(reports[True].std["accuracy"], 2)}}
        if args.levers:  # first use compiles: warm each path on a 2-epoch run, as the other paths were warmed
            for mode in (False, True):
                row.update(_levers_row(result, test, n, mode, kw, base_s=times[False], limit_s=args.limit))
        print(json.dumps(row), flush=True)


def _levers_row(result, test, n, mode, kw, *, base_s, limit_s) -> dict:
    """Time one path with compile=True, precision='bf16' under ``limit_s`` seconds (warm-up included)."""
    key = "batched_levers" if mode else "levers"
    lever = dict(kw, batched=mode, compile=True, precision="bf16")
    try:
        with limit(limit_s):
            fairdd.evaluate(result, test, n_models=n if mode else 1, **{**lever, "epochs": 2})
            t0 = time.perf_counter()
            fairdd.evaluate(result, test, n_models=n, **lever)
            lever_s = time.perf_counter() - t0
    except OverLimit:
        return {f"{key}_s": f"skipped: over {limit_s:g} s"}
    return {f"{key}_s": round(lever_s, 2), f"{key}_speedup": round(base_s / lever_s, 2)}


if __name__ == "__main__":
    main()
