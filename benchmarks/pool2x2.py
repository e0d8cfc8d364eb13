"""ConvNet's 2×2 average pooling: PyTorch's CPU ``avg_pool2d`` against ``fairdd.models.pool2x2`` (same bits).

Two measurements, each interleaved in one process: the pooling alone at the shapes a demo step meets
(forward without autograd; forward + backward), and a whole DM + COBRA step of the dashboard's demo run
with its network's pooling layers swapped between the two.

    python benchmarks/pool2x2.py [--repeats 12]

Prints Markdown tables: median (min) ms and the ratio to ``avg_pool2d``.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from fairdd.models import Pool2x2, pool2x2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import race  # noqa: E402  (interleaved rounds: a slow moment of the machine hits both alike)

SHAPES = [(128, 16, 32, 32), (128, 16, 16, 16), (100, 16, 32, 32), (16, 128, 32, 32), (256, 128, 16, 16)]


def _race(variants: dict, repeats: int) -> dict:
    """Median and fastest ms of each variant, timed in turns (no time limit)."""
    return race(variants, reps=repeats, limit_s=float("inf"), must_finish=tuple(variants))


def ops(repeats: int) -> None:
    """The pooling alone: forward (no autograd) and forward + backward, per shape."""
    print("| shape (N, C, H, W) | pass | avg_pool2d ms | pool2x2 ms | ratio |\n|---|---|---:|---:|---:|")
    for shape in SHAPES:
        x = torch.randn(shape)
        xg = x.clone().requires_grad_()
        pools = {"avg_pool2d": lambda t: F.avg_pool2d(t, 2), "pool2x2": pool2x2}
        with torch.no_grad():
            if not torch.equal(pool2x2(x), F.avg_pool2d(x, 2)):
                raise SystemExit(f"{shape}: pool2x2 gives other bits")
            forward = _race({k: (lambda p=p: [p(x) for _ in range(10)]) for k, p in pools.items()}, repeats)
        both = _race({k: (lambda p=p: [p(xg).sum().backward() for _ in range(10)]) for k, p in pools.items()}, repeats)
        for what, times in (("forward", forward), ("forward + backward", both)):
            a, b = (times[k]["ms"] / 10 for k in pools)
            print(f"| {shape} | {what} | {a:.2f} | {b:.2f} | {b / a:.2f} |")


def step(repeats: int) -> None:
    """A demo DM + COBRA step (dashboard controller) with the network's pooling swapped, interleaved."""
    from fairdd.widgets.controller import DistillController

    ctl = DistillController(dataset="colored-mnist-5k", target="cobra", preset="demo")
    net = ctl.run.matcher.net

    def use(kind: str) -> None:
        for i, m in enumerate(net.features):
            if isinstance(m, nn.AvgPool2d):
                net.features[i] = nn.AvgPool2d(2) if kind == "avg_pool2d" else Pool2x2()

    for _ in range(3):
        ctl.step()
    times = _race({k: (lambda k=k: (use(k), [ctl.step() for _ in range(3)])) for k in ("avg_pool2d", "pool2x2")},
                  repeats)
    (a, a_min), (b, b_min) = ((times[k]["ms"] / 3, times[k]["min_ms"] / 3) for k in ("avg_pool2d", "pool2x2"))
    print(f"\n| demo DM + COBRA step | avg_pool2d | pool2x2 | ratio |\n|---|---:|---:|---:|\n"
          f"| median (min) ms | {a:.1f} ({a_min:.1f}) | {b:.1f} ({b_min:.1f}) | {b / a:.2f} |")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=12)
    args = ap.parse_args(argv)
    uptime = lambda: subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()  # noqa: E731
    print(f"torch threads {torch.get_num_threads()}; load: {uptime()}")
    ops(max(3, args.repeats // 2))
    step(args.repeats)
    print(f"load after: {uptime()}")


if __name__ == "__main__":
    main()
