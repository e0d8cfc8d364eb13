"""ConvNet's 2×2 average pooling: PyTorch's CPU ``avg_pool2d`` against ``fairdd.models.pool2x2`` (same bits).

Two measurements, each interleaved in one process: the pooling alone at the shapes a demo step meets
(forward without autograd; forward + backward), and a whole DM + COBRA step of the dashboard's demo run
with its network's pooling layers swapped between the two.

    python benchmarks/pool2x2.py [--repeats 12]

Prints Markdown tables: median (min) ms and the ratio to ``avg_pool2d``.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import time

import torch
import torch.nn.functional as F
from torch import nn

from fairdd.models import Pool2x2, pool2x2

SHAPES = [(128, 16, 32, 32), (128, 16, 16, 16), (100, 16, 32, 32), (16, 128, 32, 32), (256, 128, 16, 16)]


def _ms(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(1000 * (time.perf_counter() - t0))
    return out


def ops(repeats: int) -> None:
    """The pooling alone: forward (no autograd) and forward + backward, per shape."""
    print("| shape (N, C, H, W) | pass | avg_pool2d ms | pool2x2 ms | ratio |\n|---|---|---:|---:|---:|")
    for shape in SHAPES:
        x = torch.randn(shape)
        xg = x.clone().requires_grad_()
        for what in ("forward", "forward + backward"):
            times = {}
            for name, pool in (("avg_pool2d", lambda t: F.avg_pool2d(t, 2)), ("pool2x2", pool2x2)):
                if what == "forward":
                    with torch.no_grad():
                        if not torch.equal(pool(x), F.avg_pool2d(x, 2)):
                            raise SystemExit(f"{shape}: pool2x2 gives other bits")
                        times[name] = _ms(lambda: [pool(x) for _ in range(10)], repeats)
                else:
                    times[name] = _ms(lambda: [pool(xg).sum().backward() for _ in range(10)], repeats)
            a, b = (statistics.median(times[k]) / 10 for k in ("avg_pool2d", "pool2x2"))
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
    times = {"avg_pool2d": [], "pool2x2": []}
    for _ in range(repeats):
        for kind in times:
            use(kind)
            times[kind] += [t / 3 for t in _ms(lambda: [ctl.step() for _ in range(3)], 1)]
    a, b = (statistics.median(times[k]) for k in times)
    print(f"\n| demo DM + COBRA step | avg_pool2d | pool2x2 | ratio |\n|---|---:|---:|---:|\n"
          f"| median (min) ms | {a:.1f} ({min(times['avg_pool2d']):.1f}) | {b:.1f} ({min(times['pool2x2']):.1f}) "
          f"| {b / a:.2f} |")


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
