"""The sweep's CPU time estimate against measured times: fit its constants, then check it on real cells.

    python benchmarks/estimate_accuracy.py --calibrate   # fit CPU_COST from ConvNet passes timed here
    python benchmarks/estimate_accuracy.py               # estimate / measured for a few real cells

``--calibrate`` times forward and training passes of ConvNets of several widths, depths, image sizes
and batches (the least disturbed of a few repeats) and fits, by non-negative least squares, the seconds
per FLOP, per activation element and per layer pass of ``fairdd.sweeps.estimate.CPU_COST``, then times
a tiny distillation (the cost per step) and DSA's augmentation (per image element); it prints one JSON
line per pass and the fitted constants. Without it, every cell of ``CELLS`` (smoke and demo DM, DC,
the random baseline) runs inline in a temporary sweep, and one JSON line per cell gives the estimate
(``estimate_cell(device="cpu")``), the measured seconds (``done.json``) and their ratio for the
distillation, the evaluation and the whole cell. Both run in one process on this machine's threads.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch

GRIDS = {
    "smoke-dm": ('preset = "smoke"\nn_models = 1', 'target = ["vanilla", "cobra"]\nipc = [1]', "size = 16\nn_groups = 4", ""),
    "demo-dm": ('preset = "demo"', 'target = ["vanilla", "cobra"]\nipc = [10]', "", "[overrides]\niterations = 60"),
    "demo-dm-ipc50": ('preset = "demo"\nn_models = 1', 'target = ["vanilla"]\nipc = [50]', "",
                      "[overrides]\niterations = 20\n[evaluate]\nepochs = 20"),
    "demo-dc": ('preset = "demo"\nn_models = 1', 'target = ["vanilla"]\nmethod = ["dc"]\nipc = [1, 10]', "",
                "[overrides]\niterations = 4\n[evaluate]\nepochs = 30"),
    "demo-random": ('preset = "demo"', 'target = ["random"]\nipc = [10]', "", ""),
}


def _grid(sweep: str, axes: str, data: str, rest: str) -> str:
    return (f'[sweep]\nseeds = [0]\ndevice = "cpu"\n{sweep}\n[grid]\ndataset = ["colored-digits"]\n{axes}\n'
            f"[data]\n{data}\n{rest}\n")


def cells() -> list[dict]:
    """Run every grid of ``GRIDS`` inline; one row per cell: estimate, measured, ratio."""
    from fairdd.sweeps import Sweep, estimate_cell, parse_spec

    rows = []
    for name, parts in GRIDS.items():
        sweep = Sweep(parse_spec(_grid(*parts)), tempfile.mkdtemp(prefix="fairdd-estimate-"))
        sweep.run("inline")
        for c in sweep.cells:
            done = sweep.dir.read(c.id, "done.json")
            est = estimate_cell(c, device="cpu")
            measured = {"distill": done["distill_s"], "eval": done["eval_s"], "cell": done["seconds"]}
            estimate = {"distill": est.distill_s, "eval": est.eval_s, "cell": est.hours * 3600}
            rows.append({"grid": name, "cell": c.id, **{f"{k}_measured_s": round(v, 2) for k, v in measured.items()},
                         **{f"{k}_estimate_s": round(v, 2) for k, v in estimate.items()},
                         **{f"{k}_ratio": round(estimate[k] / measured[k], 2) if measured[k] > 0.05 else None
                            for k in measured}})
            print(json.dumps(rows[-1]), flush=True)
    return rows


PASSES = [(n, w, d, s, train) for n, w, d, s in [(8, 8, 2, 16), (64, 8, 2, 16), (256, 8, 3, 32), (32, 16, 3, 32),
                                                 (128, 16, 3, 32), (256, 32, 3, 32), (64, 64, 3, 32), (16, 128, 3, 32),
                                                 (100, 128, 3, 32), (8, 32, 4, 64)]
          for train in (False, True)]


def _time_pass(n: int, width: int, depth: int, size: int, train: bool, repeats: int = 5) -> float:
    from fairdd.models import ConvNet

    net = ConvNet(in_channels=3, n_classes=10, width=width, depth=depth, image_size=size)
    x = torch.randn(n, 3, size, size, requires_grad=train)
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        if train:
            net(x).sum().backward()
        else:
            with torch.no_grad():
                net.embed(x)
        times.append(time.perf_counter() - t0)
    return min(times[1:])  # the least disturbed by other load; the first pass warms the allocator


def calibrate() -> dict:
    """Fit the forward and training costs per FLOP and per element, and the cost per layer pass, to
    timed passes (relative errors: each pass weighs alike, however long it takes)."""
    from scipy.optimize import nnls

    from fairdd.sweeps.estimate import TRAIN_PASS, _Net

    design, seconds = [], []
    for n, w, d, s, train in PASSES:
        net = _Net(channels=3, size=s, width=w, depth=d)
        t = _time_pass(n, w, d, s, train)
        work = [n * net.flops(), n * net.elements()]
        design.append([0, 0, *work, TRAIN_PASS * d] if train else [*work, 0, 0, d])
        seconds.append(t)
        print(json.dumps({"images": n, "width": w, "depth": d, "size": s, "train": train, "ms": round(1000 * t, 3)}),
              flush=True)
    coef, _ = nnls([[v / t for v in row] for row, t in zip(design, seconds)], [1.0] * len(seconds))
    names = ("s_per_flop", "s_per_element", "s_per_flop_train", "s_per_element_train", "s_per_layer_pass")
    fitted = dict(zip(names, (float(f"{c:.2g}") for c in coef)))
    fit_ratio = [sum(c * v for c, v in zip(coef, row)) / t for row, t in zip(design, seconds)]
    fitted["s_per_step"] = float(f"{_step_overhead():.2g}")
    fitted["s_per_aug_element"] = float(f"{_aug_cost():.2g}")
    print(json.dumps({"fitted": fitted, "fit_over_measured": [round(r, 2) for r in fit_ratio]}))
    return fitted


def _aug_cost(repeats: int = 5) -> float:
    """Seconds per image element (channels × pixels) of DSA's forward pass: the mean over 16 and 32 px
    batches of 256 images, each the least disturbed of ``repeats`` timings."""
    from fairdd.augment import apply, sample_params

    gen, per = torch.Generator().manual_seed(0), []
    for size in (16, 32):
        x = torch.randn(256, 3, size, size)
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            apply(x, sample_params(256, generator=gen))
            best = min(best, time.perf_counter() - t0)
        per.append(best / x.numel())
    return sum(per) / len(per)


def _step_overhead(iterations: int = 40) -> float:
    """Seconds a DM iteration costs beyond its passes, per step of the model (2 per iteration): a tiny
    distillation (width 4, one image per class, 4 real images per class, 8 px) is almost nothing else."""
    from fairdd import datasets
    from fairdd.distill import distill

    train = datasets.load("colored-digits", split="train", size=8, n_groups=2)
    kw = dict(method="dm", target="vanilla", ipc=1, preset="smoke", seed=0, device="cpu", width=4, depth=1,
              batch_real=4, dsa=False)
    distill(train, iterations=3, **kw)  # warm-up
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        distill(train, iterations=iterations, **kw)
        best = min(best, (time.perf_counter() - t0) / iterations / 2)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calibrate", action="store_true", help="fit CPU_COST from timed ConvNet passes")
    args = parser.parse_args()
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads()}))
    if args.calibrate:
        calibrate()
    else:
        cells()


if __name__ == "__main__":
    main()
