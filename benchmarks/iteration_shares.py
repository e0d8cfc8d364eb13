"""Where a COBRA-DM iteration spends its time, eager fp32 vs the speed levers (torch.compile + bf16).

One iteration of the published COBRA-DM recipe = warm start (K SGD epochs of the freshly drawn
ConvNet on the synthetic set) + embedding of the augmented real batch + synthetic forward/backward
with the barycenter target. Each part is timed separately (same network, data and draws), in one
process, for each lever setting; the ratio is against eager fp32 measured in the same run.

    python benchmarks/iteration_shares.py [--device cpu|cuda] [--ipc 10] [--width 128] [--reps 3]

Prints one JSON line per setting: ms per part, each part's share of the iteration, and the speed-up.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dm_step import make_inputs, time_ms  # noqa: E402
from timing import OverLimit, limit, preload_compiler  # noqa: E402

from fairdd.augment import apply  # noqa: E402
from fairdd.matching.dm import dm_loss, embed, embed_real  # noqa: E402
from fairdd.models import reset_parameters  # noqa: E402
from fairdd.targets import Cobra  # noqa: E402
from fairdd.train import train_classifier  # noqa: E402

SETTINGS = {"eager fp32": {}, "compile": {"compile": True}, "compile+bf16": {"compile": True, "precision": "bf16"},
            "compile-graphs": {"compile": "reduce-overhead"}}  # CUDA graphs on a GPU; plain Inductor on a CPU


def parts(ipc: int, *, device, width=128, batch_real=256, reps=3, warm_epochs=None, **levers) -> dict:
    """Milliseconds of each part of one COBRA-DM iteration under ``levers``."""
    net, real, syn, syn_labels, params = make_inputs(ipc=ipc, width=width, device=device, batch_real=batch_real)
    g = torch.Generator(device=device).manual_seed(1)
    epochs = ipc if warm_epochs is None else warm_epochs  # published: K = IPC

    def warm():
        reset_parameters(net, g)
        net.requires_grad_(True)
        train_classifier(net, syn, syn_labels, epochs=epochs, lr=0.01, momentum=0.5, lr_decay=False, generator=g,
                         **levers)
        net.requires_grad_(False)

    def real_embed():
        return embed_real(net, real.images, params, real.labels, **levers)

    emb_real = real_embed()

    def syn_step():
        syn.grad = None
        es = embed(net, apply(syn, params, syn_labels), **levers)
        dm_loss(emb_real, real.labels, real.groups, es, strategy=Cobra(), n_classes=10, n_groups=10,
                distance="l1").backward()

    return {"warm_start": time_ms(warm, reps, device), "real_embedding": time_ms(real_embed, reps, device),
            "synthetic_step": time_ms(syn_step, reps, device)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--ipc", type=int, nargs="+", default=[10])
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--batch-real", type=int, default=256)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    ap.add_argument("--limit", type=float, default=300.0, help="seconds per setting; past it: skipped")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    preload_compiler()
    from fairdd.distill import resolve_device

    device = resolve_device(args.device)
    for ipc in args.ipc:
        base = None
        for name in args.settings:
            try:  # a lever this machine can't run, or one past its time limit, is reported, not fatal
                with limit(args.limit):
                    ms = parts(ipc, device=device, width=args.width, batch_real=args.batch_real, reps=args.reps,
                               **SETTINGS[name])
            except OverLimit:
                print(json.dumps({"device": str(device), "ipc": ipc, "setting": name,
                                  "skipped": f"over {args.limit:g} s"}), flush=True)
                continue
            except Exception as exc:  # noqa: BLE001 - any failure of an optional lever
                print(json.dumps({"device": str(device), "ipc": ipc, "setting": name,
                                  "error": f"{type(exc).__name__}: {str(exc)[:200]}"}), flush=True)
                continue
            total = sum(ms.values())
            base = total if base is None else base
            print(json.dumps({"device": str(device), "ipc": ipc, "setting": name, "total_ms": round(total, 1),
                              "speedup_vs_first": round(base / total, 2),
                              "ms": {k: round(v, 1) for k, v in ms.items()},
                              "share": {k: round(v / total, 2) for k, v in ms.items()}}), flush=True)


if __name__ == "__main__":
    main()
