"""GPU-hour estimates for sweep cells, from per-iteration times measured on one H100.

    hours(cell) = [iterations · ms_per_iteration(cell) + n_models · epochs · batches · ms_per_model_epoch] / 3.6e6

Measured on an NVIDIA H100 80GB HBM3 (torch 2.11, CUDA 13), ConvNet-3 width 128, 32 px, 10 classes,
fp32, no compile; files under ``benchmarks/results/``:

==========================  ========  ===============================================================
quantity                    value     source
==========================  ========  ===============================================================
DM step, IPC 10, batch 256  20.5 ms   protocol_cfmnist_h100_2026-11-27.json: median step, vanilla
                                      20.72 / fairdd 20.29 ms (1500 iterations, C-FMNIST FG)
DM step, IPC 50 / 100       25.8 /    gpu_check_h100_2026-11-27_b.txt, dm_step.py: 18.49 / 24.13 ms,
                            33.6 ms   scaled by 20.5 / 14.71 (full step / micro-benchmark at IPC 10)
extra real image (forward)  3.5 µs    same dm_step rows: (24.13 − 14.71) ms / (10 · 90 · 3) image passes
network SGD step on S       5.95 ms   cobra 79.78 − fairdd 20.29 ms per step in the protocol run, over
                                      its K = 10 warm-start steps (100 images: one batch per epoch)
evaluation, per model-epoch 3.7 ms    gpu_check_h100_2026-11-27_b.txt: 5 models × 100 epochs in 1.86 s
-batch (models batched)               (the reproduce run: 5 × 1000 epochs in 18 s → 3.6 ms)
the same, one at a time     17.5 ms   ibid.: 8.73 s
==========================  ========  ===============================================================

On a CPU (``device="cpu"``) every time is the H100's times ``CPU_SLOWDOWN``: the DM step (IPC 10,
batch 256, vanilla) took 2760 ms on a 2-core Xeon (benchmarks/results/cpu_levers_2026-11-27.txt,
eager fp32) against 20.5 ms on the H100, a ratio of 135; a wall-time guess for CPU jobs, not a
measurement of every step.

DM cells (every target) rest on these measurements; a COBRA warm start adds K · ⌈C·IPC/256⌉ network
steps per iteration. DC, DSA, IDC and CAFE steps were **not** measured on a GPU: their per-iteration
time is a model built from the same constants (``outer_loop`` matching steps, each
⌈C·batch_real/256⌉ per-sample-gradient chunks at two network steps each, plus ``inner_loop`` epochs of
network steps on S). Each estimate says which of the two it is.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .grid import Cell

__all__ = ["CellEstimate", "estimate_cell", "TIMINGS"]

TIMINGS = {
    "device": "NVIDIA H100 80GB HBM3",
    "dm_step_ms": {10: 20.5, 50: 25.8, 100: 33.6},  # batch_real 256, no warm start, 10 classes
    "real_image_ms": 3.5e-3,  # one more real image through the embedding (forward only)
    "net_step_ms": 5.95,  # one SGD step of the network on ≤ 256 synthetic images (with DSA)
    "eval_batched_ms": 3.7,  # per model, epoch and batch of 256, models trained together
    "eval_sequential_ms": 17.5,  # the same, one model after another
}
CPU_SLOWDOWN = 2760 / 20.5  # a 2-core Xeon's DM step over the H100's (see the module docstring)


def _dataset_size(dataset: str) -> tuple[int, int]:
    """Return the classes and training images of ``dataset``, from its record.

    10 and 60000 where it has none: your own folder, or a record that leaves the size to the user's files. The
    faces are 64 px: their steps cost more than these 32 px timings, which the estimate does not model.
    """
    from ..data.record import DATASETS, record

    if dataset not in DATASETS:
        return 10, 60000
    entry = record(dataset)
    return entry.n_classes, entry.train_size or 60000


@dataclass(frozen=True)
class CellEstimate:
    """Seconds on one H100 for a cell; ``measured`` is False where the step time comes from the model."""

    distill_s: float
    eval_s: float
    measured: bool

    @property
    def hours(self) -> float:
        """Distillation and evaluation together, in hours."""
        return (self.distill_s + self.eval_s) / 3600


def _dm_step_ms(ipc: int) -> float:
    table = TIMINGS["dm_step_ms"]
    keys = sorted(table)
    if ipc <= keys[0]:
        return table[keys[0]]
    if ipc >= keys[-1]:
        lo, hi = keys[-2], keys[-1]
    else:
        lo = max(k for k in keys if k <= ipc)
        hi = min(k for k in keys if k >= ipc)
        if lo == hi:
            return table[lo]
    return table[lo] + (table[hi] - table[lo]) * (ipc - lo) / (hi - lo)  # linear (extrapolated past 100)


def ms_per_iteration(cell: Cell, n_classes: int = 10) -> tuple[float, bool]:
    """Estimate the milliseconds per outer iteration of ``cell`` on one H100.

    Also returns whether the estimate rests on a measurement of that method (DM) or on the model (DC family).
    """
    cfg = cell.distill_config()
    net = TIMINGS["net_step_ms"]
    syn_batches = math.ceil(n_classes * cfg.ipc * cfg.factor ** 2 / 256)
    real_extra = n_classes * (cfg.batch_real - 256) * TIMINGS["real_image_ms"]
    if cfg.method == "dm":
        warm = cfg.warm_start_epochs * syn_batches * net
        step = _dm_step_ms(cfg.ipc)
        # refresh_every k: the network, warm start and real batch are paid once per k iterations; the
        # synthetic forward/backward (taken as 10 % of a step, its CPU share) every iteration
        return 0.1 * step + (0.9 * step + real_extra + warm) / cfg.refresh_every, True
    real_chunks = math.ceil(n_classes * cfg.batch_real / 256)
    if cfg.method == "cafe":
        match = _dm_step_ms(cfg.ipc) + real_extra  # one feature pass of the real batch, one of S with backward
    else:
        match = (real_chunks + 1) * 2 * net  # per-sample gradients of the real batch, then of S
    return cfg.outer_loop * (match + cfg.inner_loop * syn_batches * net), False


def estimate_cell(cell: Cell, *, n_classes: int | None = None, device: str = "cuda") -> CellEstimate:
    """Estimate the seconds of distillation and evaluation for ``cell``.

    On one H100, or on a 2-core CPU with ``device="cpu"`` (``CPU_SLOWDOWN`` times longer; see the module
    docstring).
    """
    if device not in ("cuda", "cpu", "auto"):
        raise ValueError(f"device must be 'cuda', 'cpu' or 'auto'; got {device!r}")
    classes, whole = _dataset_size(cell.dataset)
    n_classes = n_classes or classes
    ecfg = cell.eval_config()
    if cell.target == "random":
        distill_s, measured, n_train = 0.0, True, n_classes * cell.ipc
    elif cell.target == "whole":
        distill_s, measured, n_train = 0.0, True, whole
    else:
        cfg = cell.distill_config()
        ms, measured = ms_per_iteration(cell, n_classes)
        distill_s = cfg.iterations * ms / 1000
        n_train = n_classes * cfg.ipc * cfg.factor ** 2
    batched = cell.n_models > 1 and ecfg.norm != "batchnorm"
    per = TIMINGS["eval_batched_ms"] if batched else TIMINGS["eval_sequential_ms"]
    eval_s = cell.n_models * ecfg.epochs * math.ceil(n_train / ecfg.batch_size) * per / 1000
    scale = CPU_SLOWDOWN if device == "cpu" else 1.0
    return CellEstimate(distill_s=distill_s * scale, eval_s=eval_s * scale, measured=measured)

