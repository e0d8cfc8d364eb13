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

On a CPU (``device="cpu"``) the time comes from a cost model of the cell's own config instead:
the convolutions' FLOPs and activations per image (image size², channels, the network's width and
depth), times the images each step pushes through (real batch, C · IPC · factor² synthetic images,
warm start or inner loop on S, evaluation epochs × batches × models, the test set), DSA's augmentation
per image element, plus a fixed cost per layer pass, per step and per cell, priced by ``CPU_COST``: constants fitted to step times measured
on a CPU by ``benchmarks/estimate_accuracy.py``, which also prints this estimate over the measured time
of real cells. It is an fp32, eager estimate: compile or bf16 (``fairdd.levers``) only shorten a cell.

DM cells (every target) rest on these measurements; a COBRA warm start adds K · ⌈C·IPC/256⌉ network
steps per iteration. DC, DSA, IDC and CAFE steps were **not** measured on a GPU: their per-iteration
time is a model built from the same constants (``outer_loop`` matching steps, each
⌈C·batch_real/256⌉ per-sample-gradient chunks at two network steps each, plus ``inner_loop`` epochs of
network steps on S). Each estimate says which of the two it is.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..data.record import find
from .grid import Cell

__all__ = ["CellEstimate", "estimate_cell", "TIMINGS", "CPU_COST", "cpu_distill_s", "cpu_eval_s"]

TIMINGS = {
    "device": "NVIDIA H100 80GB HBM3",
    "dm_step_ms": {10: 20.5, 50: 25.8, 100: 33.6},  # batch_real 256, no warm start, 10 classes
    "real_image_ms": 3.5e-3,  # one more real image through the embedding (forward only)
    "net_step_ms": 5.95,  # one SGD step of the network on ≤ 256 synthetic images (with DSA)
    "eval_batched_ms": 3.7,  # per model, epoch and batch of 256, models trained together
    "eval_sequential_ms": 17.5,  # the same, one model after another
}


def _dataset_size(dataset: str) -> tuple[int, int]:
    """Return the classes and training images of ``dataset``, from its record.

    10 and 60000 where it has none: your own folder, or a record that leaves the size to the user's files.
    """
    entry = find(dataset)
    if entry is None:
        return 10, 60000
    return entry.n_classes, entry.train_size or 60000


@dataclass(frozen=True)
class CellEstimate:
    """Seconds of a cell (one H100, or a CPU); ``measured`` is False where the step time comes from the model."""

    distill_s: float
    eval_s: float
    measured: bool
    setup_s: float = 0.0  # the cell's fixed cost (CPU model: data, files, report)

    @property
    def hours(self) -> float:
        """Distillation, evaluation and the cell's setup together, in hours."""
        return (self.distill_s + self.eval_s + self.setup_s) / 3600


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

    On one H100 (from its measured step times), or with ``device="cpu"`` on a CPU (the cost model of
    ``CPU_COST``; see the module docstring).
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
        n_train = n_classes * cfg.ipc * cfg.factor ** 2
        measured = cfg.method == "dm"
        if device == "cpu":
            return CellEstimate(distill_s=cpu_distill_s(cell, n_classes), eval_s=cpu_eval_s(cell, n_train, n_classes),
                                measured=measured, setup_s=CPU_COST["s_per_cell"])
        ms, measured = ms_per_iteration(cell, n_classes)
        distill_s = cfg.iterations * ms / 1000
    if device == "cpu":
        return CellEstimate(distill_s=distill_s, eval_s=cpu_eval_s(cell, n_train, n_classes), measured=measured,
                            setup_s=CPU_COST["s_per_cell"])
    batched = cell.n_models > 1 and ecfg.norm != "batchnorm"
    per = TIMINGS["eval_batched_ms"] if batched else TIMINGS["eval_sequential_ms"]
    eval_s = cell.n_models * ecfg.epochs * math.ceil(n_train / ecfg.batch_size) * per / 1000
    return CellEstimate(distill_s=distill_s, eval_s=eval_s, measured=measured)


# ------------------------------------------------------------------ the CPU cost model
# A cell's CPU time is counted in work its config fixes, then priced by constants fitted to step times
# measured on a CPU (``python benchmarks/estimate_accuracy.py --calibrate`` fits and prints them; the same
# script prints this model's estimate over the measured time of real cells). Eager fp32: a lever
# (compile, bf16) chosen for a long run only makes the cell faster than estimated.
CPU_COST = {
    "s_per_flop": 3.5e-11,  # forward pass: per FLOP of the convolutions (one multiply-add = 2 FLOPs)
    "s_per_element": 5.4e-10,  # forward pass: per activation element written (conv, norm, ReLU, pool)
    "s_per_flop_train": 4.5e-11,  # training pass (forward, backward to weights and inputs): per FLOP
    "s_per_element_train": 1.0e-8,  # training pass: per activation element (norm backward dominates)
    "s_per_aug_element": 1.5e-8,  # DSA: per image element (channels × pixels) augmented, forward (2× with backward)
    "s_per_layer_pass": 4.8e-5,  # fixed cost of one block in one pass (3× that in a training pass)
    "s_per_step": 1.5e-3,  # an optimiser step, a target, an augmentation draw: what any step costs
    "s_per_cell": 1.0,  # the cell's own setup: its data build or cache look-up, files, the report
}
TRAIN_PASS = 3.0  # a training pass's fixed cost over a forward pass's (three sweeps over the layers)
DOUBLE_BACKWARD = 5 / 3  # DC-style matching of S (gradients of the gradient) over a training pass


@dataclass(frozen=True)
class _Net:
    """A ConvNet's shape: what one image costs in one forward pass."""

    channels: int
    size: int
    width: int
    depth: int

    def flops(self) -> float:
        """FLOPs of one image's forward pass: 2 · 9 · c_in · width · (size / 2^l)² per 3×3 convolution."""
        return sum(2 * 9 * (self.channels if layer == 0 else self.width) * self.width * (self.size / 2 ** layer) ** 2
                   for layer in range(self.depth))

    def elements(self) -> float:
        """Activations one image writes in a forward pass: 3 maps (conv, norm, ReLU) + the pooled one per block."""
        return sum(3.25 * self.width * (self.size / 2 ** layer) ** 2 for layer in range(self.depth))

    def seconds(self, images: float, passes: float = 1.0, *, train: float = 0.0, dsa: bool = False) -> float:
        """Return the CPU seconds of ``images`` images in all, through ``passes`` passes.

        Forward only (``train`` 0) or training passes (``train`` 1; ``DOUBLE_BACKWARD`` for a gradient of
        a gradient); ``dsa``: each image augmented first.
        """
        c = CPU_COST
        if train:
            per_image = train * (self.flops() * c["s_per_flop_train"] + self.elements() * c["s_per_element_train"])
        else:
            per_image = self.flops() * c["s_per_flop"] + self.elements() * c["s_per_element"]
        fixed = passes * self.depth * c["s_per_layer_pass"] * (TRAIN_PASS * train if train else 1.0)
        aug = (2 if train else 1) * self.channels * self.size ** 2 * c["s_per_aug_element"] if dsa else 0.0
        return images * (per_image + aug) + fixed


def _net(cell: Cell, width: int, depth: int) -> _Net:
    entry = find(cell.dataset)
    size = int(cell.data.get("size", entry.image_size if entry else 32))
    channels = int(cell.data.get("channels", entry.channels if entry else 3))
    return _Net(channels=channels, size=size, width=width, depth=depth)


def cpu_distill_s(cell: Cell, n_classes: int) -> float:
    """Return the CPU seconds of the cell's distillation.

    Per outer iteration: the real batch through the network (forward), S through it (training pass:
    backward to the pixels), the warm start's or inner loop's network steps on S; DC-style methods repeat
    their matching ``outer_loop`` times.
    """
    cfg = cell.distill_config()
    net = _net(cell, cfg.width, cfg.depth)
    n_syn = n_classes * cfg.ipc * cfg.factor ** 2  # images S decodes into
    real = n_classes * cfg.batch_real
    step = CPU_COST["s_per_step"]
    if cfg.method == "dm":
        warm_steps = cfg.warm_start_epochs * math.ceil(n_syn / cfg.warm_start_batch)
        warm = net.seconds(cfg.warm_start_epochs * n_syn, warm_steps, train=1, dsa=cfg.dsa) + warm_steps * step
        # a new network and real batch (in passes of 256) every refresh_every iterations
        fresh = net.seconds(real, math.ceil(real / 256), dsa=cfg.dsa) + warm
        per_iteration = net.seconds(n_syn, train=1, dsa=cfg.dsa) + 2 * step + fresh / cfg.refresh_every
    else:
        if cfg.method == "cafe":  # layer features of the real batch, S trained through them
            match = net.seconds(real, dsa=cfg.dsa) + net.seconds(n_syn, train=1, dsa=cfg.dsa)
        else:  # per-class gradients of the real batch, then of S through a double backward
            match = (net.seconds(real, train=1, dsa=cfg.dsa)
                     + net.seconds(n_syn, train=DOUBLE_BACKWARD, dsa=cfg.dsa))
        inner_steps = cfg.inner_loop * math.ceil(n_syn / 256)
        inner = net.seconds(cfg.inner_loop * n_syn, inner_steps, train=1) + inner_steps * step
        per_iteration = cfg.outer_loop * (match + 2 * step + inner)
    return cfg.iterations * per_iteration


def cpu_eval_s(cell: Cell, n_train: int, n_classes: int) -> float:
    """Return the CPU seconds of the evaluation.

    ``n_models`` networks, each ``epochs`` epochs of training steps over the ``n_train`` images, then one
    forward pass over the test set.
    """
    ecfg = cell.eval_config()
    net = _net(cell, ecfg.width, ecfg.depth)
    steps = ecfg.epochs * math.ceil(n_train / ecfg.batch_size)
    train = net.seconds(ecfg.epochs * n_train, steps, train=1, dsa=ecfg.dsa) + steps * CPU_COST["s_per_step"]
    entry = find(cell.dataset)
    n_test = (entry.test_size if entry else None) or 10000
    return cell.n_models * (train + net.seconds(n_test, math.ceil(n_test / 256)))
