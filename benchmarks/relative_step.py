"""How far one paper-preset iteration moves the synthetic set: ‖ΔS‖ / ‖S‖ per method.

A matcher whose loss is scaled far from the one its lr_img was tuned for barely moves S (or blows it
up); this prints the relative change of one full outer iteration of the ``paper`` preset, on
Colored Fashion-MNIST (foreground, IPC 10, cobra target), for each method given.

    PYTHONPATH=$PWD python benchmarks/relative_step.py dm cafe idc
"""
from __future__ import annotations

import sys
import time

import torch


def relative_step(method: str, train, *, target: str = "cobra", ipc: int = 10, seed: int = 0) -> tuple[float, float]:
    """(‖S₁ − S₀‖ / ‖S₀‖, seconds) for the first iteration of the paper preset."""
    from fairdd.config import distill_config
    from fairdd.distill import Distiller

    run = Distiller(train, distill_config(method=method, target=target, ipc=ipc, preset="paper", seed=seed),
                    device="cpu")
    before = run.images.detach().clone()
    t0 = time.perf_counter()
    run.step()
    after = run.images.detach()
    return float((after - before).norm() / before.norm()), time.perf_counter() - t0


def main(methods: list[str]) -> None:
    from fairdd import datasets

    torch.set_num_threads(1)
    train = datasets.load("colored-fashion-mnist", split="train", mode="foreground", seed=0)
    for method in methods:
        rel, sec = relative_step(method, train)
        print(f"{method:5s} relative change of S in one paper iteration: {rel:.3e}  ({sec:.1f} s)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or ["dm", "cafe", "idc"])
