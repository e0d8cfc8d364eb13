"""Accuracy / EOD of every backbone × target on one preset, with each target's per-iteration cost
relative to vanilla under the same backbone (measured in the same process).

    python benchmarks/backbone_table.py [--preset demo] [--n-models 2] [--dc-iterations 20] [--out F]

Prints one JSON line per (method, target) and a markdown table at the end; ``--out`` keeps the rows
(JSON) so a stopped run resumes.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from fairdd.experiments import reproduce
from fairdd.targets import STRATEGIES

MOMENT_TARGETS = ("vanilla", "uniform", "fairdd", "cobra")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="colored-mnist-5k")
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--n-models", type=int, default=2)
    ap.add_argument("--methods", nargs="+", default=["dm", "dc", "dsa", "idc", "cafe"])
    ap.add_argument("--dc-iterations", type=int, default=None, help="override iterations for dc/dsa/idc/cafe")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default="results/backbone_table")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    lines = []
    for method in args.methods:
        targets = list(STRATEGIES) if method == "dm" else list(MOMENT_TARGETS)
        over = {"iterations": args.dc_iterations} if method != "dm" and args.dc_iterations else {}
        table = reproduce(dataset=args.dataset, method=method, targets=targets, preset=args.preset,
                          n_models=args.n_models, device=args.device, out=Path(args.out) / method, **over)
        base = table.loc["vanilla", "ms_per_iteration"]
        for target, row in table.iterrows():
            rec = {"method": method, "target": target, "accuracy": round(row["accuracy"], 2),
                   "eod": round(row["eod"], 2), "deo_a": round(row["deo_a"], 2),
                   "ms_per_iteration": round(row["ms_per_iteration"], 1),
                   "cost_vs_vanilla": round(row["ms_per_iteration"] / base, 2)}
            print(json.dumps(rec), flush=True)
            lines.append(rec)
    print("\n| method | target | accuracy | EOD | DEO_A | ms/iteration | × vanilla |\n|---|---|---|---|---|---|---|")
    for r in lines:
        print(f"| {r['method']} | {r['target']} | {r['accuracy']:.2f} | {r['eod']:.2f} | {r['deo_a']:.2f} | "
              f"{r['ms_per_iteration']:.1f} | {r['cost_vs_vanilla']:.2f} |")


if __name__ == "__main__":
    main()
