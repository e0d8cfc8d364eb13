"""How far the paper preset moves the synthetic set: ‖ΔS‖ / ‖S‖ per method.

A matcher whose loss is scaled far from the one its lr_img was tuned for barely moves S (or blows it
up); this prints the relative change of S after the first synthetic update of the ``paper`` preset
(``--outer 1``: one step of DC-style methods, i.e. ``outer_loop=1``) or after one full outer
iteration (``--outer 0``, the preset's own outer_loop), on Colored Fashion-MNIST (foreground,
IPC 10, cobra target), for each method given.

    PYTHONPATH=$PWD python benchmarks/relative_step.py --outer 1 dm cafe idc
"""
from __future__ import annotations

import sys
import time

import torch


def relative_step(method: str, train, *, target: str = "cobra", ipc: int = 10, seed: int = 0,
                  outer: int = 0) -> tuple[float, float]:
    """(‖S₁ − S₀‖ / ‖S₀‖, seconds) for the first iteration of the paper preset (``outer`` > 0:
    with that many outer steps)."""
    from fairdd.config import distill_config
    from fairdd.distill import Distiller

    over = {"outer_loop": outer} if outer and method != "dm" else {}
    run = Distiller(train, distill_config(method=method, target=target, ipc=ipc, preset="paper", seed=seed, **over),
                    device="cpu")
    before = run.images.detach().clone()
    t0 = time.perf_counter()
    run.step()
    after = run.images.detach()
    return float((after - before).norm() / before.norm()), time.perf_counter() - t0


def main(argv: list[str]) -> None:
    from fairdd import datasets

    outer = 0
    if argv[:1] == ["--outer"]:
        outer, argv = int(argv[1]), argv[2:]
    torch.set_num_threads(1)
    train = datasets.load("colored-fashion-mnist", split="train", mode="foreground", seed=0)
    what = f"{outer} outer step(s)" if outer else "one full iteration"
    for method in argv or ["dm", "cafe", "idc"]:
        rel, sec = relative_step(method, train, outer=outer)
        print(f"{method:5s} relative change of S, paper preset, {what}: {rel:.3e}  ({sec:.1f} s)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
