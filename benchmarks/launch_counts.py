"""Kernel launches and host syncs of the hot paths, fairdd vs the reference structure, on any device.

At the paper's sizes a DM iteration and an evaluation epoch are bound by kernel launches on a GPU
(see the speed issue: a vectorised DM step took 35-40 ms on an H200 whatever the precision), so the
launch count is the device-independent measure of what a step costs there. Each row counts the ATen
kernels (views and allocations excluded, ``fairdd.profiling``) of fairdd's path and of the
straightforward structure it replaces, run in the same process on the same inputs, and their ratio:

- ``dm_step``: DM loss + backward; baseline = one forward per class, a Python loop over groups
  (``dm_step.loop_loss``).
- ``warm_start``: COBRA-DM's K = IPC SGD epochs on the synthetic set; baseline = an order draw per
  epoch and an augmentation draw and pass per batch (the reference training loop).
- ``cobra_iteration``: warm start + real embedding + synthetic step, as the two above.
- ``evaluation_epoch``: one epoch of N models; baselines = the reference loop model after model,
  and fairdd's own model-after-model path.

Counts do not depend on the network width, so a narrow network is used (``--width``); ``--time``
adds CPU wall times of the same calls (not launch-bound on a CPU: compare ratios only).

    python benchmarks/launch_counts.py [--ipc 10 50] [--models 10] [--time]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dm_step import loop_loss, make_inputs  # noqa: E402

from fairdd.augment import apply, sample_params  # noqa: E402
from fairdd.matching.dm import dm_loss, embed, embed_real  # noqa: E402
from fairdd.models import ConvNet, reset_parameters  # noqa: E402
from fairdd.profiling import count_ops  # noqa: E402
from fairdd.targets import get_strategy  # noqa: E402
from fairdd.train import epoch_lr, train_classifier, train_classifiers_batched  # noqa: E402


def reference_fit(net, images, labels, *, epochs, lr, momentum, weight_decay=5e-4, batch_size=256, lr_decay=True,
                  generator=None):
    """The reference training loop: per epoch a permutation, per batch an augmentation draw and pass."""
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay, foreach=True)
    n = images.shape[0]
    for epoch in range(epochs):
        opt.param_groups[0]["lr"] = epoch_lr(lr, epoch, epochs, lr_decay)
        order = torch.randperm(n, generator=generator, device=images.device)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            x = apply(images[idx], sample_params(len(idx), generator=generator, device=images.device))
            loss = F.cross_entropy(net(x), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return net


def measure(fn, timed: bool) -> dict:
    with count_ops() as prof:
        fn()
    out = {"kernels": prof.kernels, "syncs": sum(prof.syncs.values())}
    if timed:
        t0 = time.perf_counter()
        fn()
        out["ms"] = round((time.perf_counter() - t0) * 1000, 1)
    return out


def row(part: str, ipc: int, base: dict, new: dict, **extra) -> dict:
    out = {"part": part, "ipc": ipc, **extra, "baseline_kernels": base["kernels"], "fairdd_kernels": new["kernels"],
           "launch_ratio": round(base["kernels"] / new["kernels"], 2), "baseline_syncs": base["syncs"],
           "fairdd_syncs": new["syncs"]}
    if "ms" in new:
        out.update(baseline_cpu_ms=base["ms"], fairdd_cpu_ms=new["ms"], cpu_speedup=round(base["ms"] / new["ms"], 2))
    return out


def dm_rows(ipc: int, *, width: int, timed: bool, target: str = "cobra") -> list[dict]:
    net, real, syn, syn_labels, params = make_inputs(ipc=ipc, width=width)
    kw = dict(n_classes=10, distance="l1", target=target)
    g = torch.Generator().manual_seed(1)

    def step(loss_fn, **extra):
        syn.grad = None
        loss_fn(net, real, syn, syn_labels, params, **kw, **extra).backward()

    def warm(fit):
        def run():
            reset_parameters(net, g)
            net.requires_grad_(True)
            fit(net, syn.detach(), syn_labels, epochs=ipc, lr=0.01, momentum=0.5, lr_decay=False, generator=g)
            net.requires_grad_(False)
        return run

    def fairdd_step():  # the real batch in one pass, as on a GPU (a CPU run embeds it in cache-sized chunks)
        syn.grad = None
        er = embed_real(net, real.images, params, real.labels, chunk=real.images.shape[0])
        es = embed(net, apply(syn, params, syn_labels))
        dm_loss(er, real.labels, real.groups, es, strategy=get_strategy(target), n_classes=10, n_groups=10,
                distance="l1").backward()

    step(loop_loss)  # warm-up
    fairdd_step()
    base_step, new_step = measure(lambda: step(loop_loss), timed), measure(fairdd_step, timed)
    base_warm, new_warm = measure(warm(reference_fit), timed), measure(warm(train_classifier), timed)
    base_iter = {k: base_warm[k] + base_step[k] for k in base_step}  # each step embeds its real batch
    new_iter = {k: new_warm[k] + new_step[k] for k in new_step}
    return [row("dm_step", ipc, base_step, new_step, target=target),
            row("warm_start", ipc, base_warm, new_warm, epochs=ipc),
            row("cobra_iteration", ipc, base_iter, new_iter,
                warm_start_share_of_kernels=round(new_warm["kernels"] / new_iter["kernels"], 2))]


def eval_row(ipc: int, *, models: int, width: int, timed: bool, epochs: int = 4) -> dict:
    g = torch.Generator().manual_seed(0)
    images = torch.randn(10 * ipc, 3, 32, 32, generator=g)
    labels = torch.arange(10).repeat_interleave(ipc)

    def nets():
        return [reset_parameters(ConvNet(width=width, n_classes=10, image_size=32), torch.Generator().manual_seed(i))
                for i in range(models)]

    def per_epoch(fn) -> dict:  # (count at 2·epochs − count at epochs) / epochs: set-up excluded
        a, b = measure(lambda: fn(epochs), timed), measure(lambda: fn(2 * epochs), timed)
        return {k: (b[k] - a[k]) / epochs for k in a}

    def one_by_one(fit):
        def run(e):
            for k, net in enumerate(nets()):
                fit(net, images, labels, epochs=e, lr=0.01, momentum=0.9, generator=torch.Generator().manual_seed(k))
        return run

    def together(e):
        train_classifiers_batched(nets(), images, labels, generator=torch.Generator().manual_seed(0), epochs=e)

    base, seq, bat = per_epoch(one_by_one(reference_fit)), per_epoch(one_by_one(train_classifier)), per_epoch(together)
    out = row("evaluation_epoch", ipc, base, bat, models=models)
    out.update(fairdd_sequential_kernels=seq["kernels"], launch_ratio_vs_fairdd_sequential=round(seq["kernels"] / bat["kernels"], 2))
    if timed:
        out.update(fairdd_sequential_cpu_ms=round(seq["ms"], 1))
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ipc", type=int, nargs="+", default=[10, 50])
    ap.add_argument("--models", type=int, default=10)
    ap.add_argument("--width", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--time", action="store_true", help="also CPU wall times of the same calls")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    for ipc in args.ipc:
        for r in dm_rows(ipc, width=args.width, timed=args.time):
            print(json.dumps(r), flush=True)
        print(json.dumps(eval_row(ipc, models=args.models, width=args.width, timed=args.time)), flush=True)


if __name__ == "__main__":
    main()
