"""Per-(class, group) mean gradients: one batched per-sample-gradient pass (fairdd) vs one backward
pass per cell (the straightforward way), same network, batch and device; checked equal first.

    python benchmarks/group_gradients.py [--device cpu] [--width 32] [--per-class 64] [--groups 10]

Prints one JSON line: baseline_ms, fairdd_ms, speedup, max_abs_diff.
"""
from __future__ import annotations

import argparse
import json

import torch
import torch.nn.functional as F

from dm_step import time_ms  # benchmarks/ is on sys.path when run as a script
from fairdd.distill import resolve_device
from fairdd.matching.dc import matched_parameters, real_cell_gradients
from fairdd.models import ConvNet, reset_parameters


def per_cell_backward(net, names, x, labels, groups, n_classes, n_groups):
    params = dict(net.named_parameters())
    out = torch.zeros(n_classes, n_groups, sum(params[n].numel() for n in names), device=x.device)
    for c in range(n_classes):
        for a in range(n_groups):
            m = (labels == c) & (groups == a)
            if m.any():
                loss = F.cross_entropy(net(x[m]), labels[m])
                out[c, a] = torch.cat([g.flatten() for g in torch.autograd.grad(loss, [params[n] for n in names])])
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="auto")
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--per-class", type=int, default=64)
    ap.add_argument("--groups", type=int, default=10)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    dev = resolve_device(args.device)
    g = torch.Generator(device=dev).manual_seed(0)
    net = reset_parameters(ConvNet(width=args.width).to(dev), g)
    names = matched_parameters(net)
    labels = torch.arange(10, device=dev).repeat_interleave(args.per_class)
    own = labels % args.groups
    groups = torch.where(torch.rand(labels.shape, generator=g, device=dev) < 0.9, own,
                         torch.randint(0, args.groups, labels.shape, generator=g, device=dev))
    x = torch.randn(len(labels), 3, 32, 32, generator=g, device=dev)
    ref = per_cell_backward(net, names, x, labels, groups, 10, args.groups)
    new, _ = real_cell_gradients(net, names, x, labels, groups, 10, args.groups)
    diff = float((ref - new).abs().max())

    base = time_ms(lambda: per_cell_backward(net, names, x, labels, groups, 10, args.groups), args.reps, dev)
    fast = time_ms(lambda: real_cell_gradients(net, names, x, labels, groups, 10, args.groups), args.reps, dev)
    cells = int(torch.unique(labels * args.groups + groups).numel())
    print(json.dumps({"device": str(dev), "width": args.width, "batch": len(labels), "cells": cells,
                      "baseline_ms": round(base, 1), "fairdd_ms": round(fast, 1), "speedup": round(base / fast, 2),
                      "max_abs_diff": diff}))


if __name__ == "__main__":
    main()
