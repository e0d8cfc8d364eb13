"""Time one DM step (cobra by default; ``--targets`` for the others): fairdd's vectorised step vs a
per-class, per-group loop.

The baseline below is the straightforward structure of the reference code: for every class, augment
and embed its real batch and its synthetic images separately, then loop over the groups present to
form the group means and their barycenter. Both compute the same loss (checked before timing) on
the same network, batch and augmentation draws, in the same process on the same device.

    python benchmarks/dm_step.py [--device cpu|cuda] [--ipc 10 50] [--targets cobra fairdd] [--levers]

Prints one JSON line per IPC: {"device", "ipc", "baseline_ms", "fairdd_ms", "speedup", ...}.
"""
from __future__ import annotations

import argparse
import json
import time
from types import SimpleNamespace

import torch

from fairdd.augment import AugmentParams, apply, sample_params
from fairdd.matching.dm import dm_loss, embed, embed_real
from fairdd.models import ConvNet, reset_parameters
from fairdd.targets import get_strategy


def _rows(params: AugmentParams, c: int) -> AugmentParams:
    return AugmentParams(*(getattr(params, f)[c:c + 1] for f in params.__dataclass_fields__))


def loop_loss(net, real, syn, syn_labels, params, *, n_classes, distance="l2", target="cobra"):
    """Reference structure: one forward pass per class, a Python loop over groups.

    ``target``: cobra (distance to the mean of the group means), fairdd (one distance per group,
    summed) or vanilla/uniform (distance to the pooled mean; uniform differs only in how the batch
    is drawn, which is not part of the step).
    """
    loss = syn.new_zeros(())
    for c in range(n_classes):
        p = _rows(params, c)
        xr = real.images[real.labels == c]
        gr = real.groups[real.labels == c]
        with torch.no_grad():
            er = net.embed(apply(xr, p, torch.zeros(len(xr), dtype=torch.long, device=xr.device)))
        xs = syn[syn_labels == c]
        es = net.embed(apply(xs, p, torch.zeros(len(xs), dtype=torch.long, device=xs.device))).mean(0)
        if target in ("vanilla", "uniform"):
            refs = [er.mean(0)]
        else:
            means = [er[gr == g].mean(0) for g in gr.unique().tolist()]
            refs = means if target == "fairdd" else [torch.stack(means).mean(0)]
        for ref in refs:
            loss = loss + ((ref - es).abs().sum() if distance == "l1" else (ref - es).pow(2).sum())
    return loss


def fairdd_loss(net, real, syn, syn_labels, params, *, n_classes, n_groups, distance="l2", target="cobra", **fast):
    er = embed_real(net, real.images, params, real.labels, **fast)
    es = embed(net, apply(syn, params, syn_labels), **fast)
    return dm_loss(er, real.labels, real.groups, es, strategy=get_strategy(target), n_classes=n_classes,
                   n_groups=n_groups, distance=distance)


def make_inputs(*, ipc, batch_real=256, n_classes=10, n_groups=10, size=32, width=128, device="cpu", seed=0):
    """Random CMNIST-shaped data: a real batch of ``batch_real`` per class (90 % majority colour)."""
    g = torch.Generator(device=device).manual_seed(seed)
    labels = torch.arange(n_classes, device=device).repeat_interleave(batch_real)
    own = labels % n_groups
    other = torch.randint(0, n_groups, labels.shape, generator=g, device=device)
    groups = torch.where(torch.rand(labels.shape, generator=g, device=device) < 0.9, own, other)
    real = SimpleNamespace(images=torch.randn(len(labels), 3, size, size, generator=g, device=device),
                           labels=labels, groups=groups)
    syn_labels = torch.arange(n_classes, device=device).repeat_interleave(ipc)
    syn = torch.randn(len(syn_labels), 3, size, size, generator=g, device=device).requires_grad_(True)
    net = reset_parameters(ConvNet(width=width, n_classes=n_classes, image_size=size).to(device), g)
    net.requires_grad_(False)
    params = sample_params(n_classes, generator=g, device=device)
    return net, real, syn, syn_labels, params


def time_ms(fn, reps, device) -> float:
    """Mean milliseconds of ``fn()`` over ``reps`` calls after one warm-up call (GPU synchronised)."""
    fn()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / reps * 1000


VARIANTS = {"channels_last": {"channels_last": True}, "bf16": {"precision": "bf16"},
            "bf16+channels_last": {"precision": "bf16", "channels_last": True},
            "compile": {"compile": True}, "compile+bf16": {"compile": True, "precision": "bf16"},
            "compile-graphs": {"compile": "reduce-overhead"}}


def bench(ipc: int, *, device, width=128, reps=5, batch_real=256, levers=False, target="cobra") -> dict:
    net, real, syn, syn_labels, params = make_inputs(ipc=ipc, width=width, device=device, batch_real=batch_real)
    kw = dict(n_classes=10, distance="l1", target=target)
    ref = loop_loss(net, real, syn, syn_labels, params, **kw)
    new = fairdd_loss(net, real, syn, syn_labels, params, n_groups=10, **kw)
    ref, new = float(ref.detach()), float(new.detach())
    rel = abs(ref - new) / max(abs(ref), 1e-12)
    if rel > 1e-4:
        raise SystemExit(f"loss mismatch: baseline {ref} vs fairdd {new} (rel {rel:.2e})")

    def step(loss_fn, **extra):
        syn.grad = None
        loss_fn(net, real, syn, syn_labels, params, **kw, **extra).backward()

    base = time_ms(lambda: step(loop_loss), reps, device)
    step(fairdd_loss, n_groups=10)
    grad_ref = syn.grad.flatten().clone()  # fp32 eager gradient: what each lever's gradient is compared to
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    fast = time_ms(lambda: step(fairdd_loss, n_groups=10), reps, device)
    variants = {}
    for name, opts in VARIANTS.items() if levers else ():
        if opts.get("channels_last"):
            net.to(memory_format=torch.channels_last)
        try:  # a lever this machine can't run (e.g. torch.compile without a compiler) is reported, not fatal
            value = float(fairdd_loss(net, real, syn, syn_labels, params, n_groups=10, **kw, **opts).detach())
            step(fairdd_loss, n_groups=10, **opts)
            grad = syn.grad.flatten()
            ms = time_ms(lambda: step(fairdd_loss, n_groups=10, **opts), reps, device)
            variants[name] = {"ms": round(ms, 2), "speedup_vs_baseline": round(base / ms, 2),
                              "loss_rel_diff": abs(value - ref) / abs(ref),
                              "grad_cosine": round(float(torch.nn.functional.cosine_similarity(grad, grad_ref, 0)), 6)}
        except Exception as exc:  # noqa: BLE001 - any failure of an optional lever
            variants[name] = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
        net.to(memory_format=torch.contiguous_format)
    out = {"device": str(device), "target": target, "ipc": ipc, "width": width, "batch_real": batch_real,
           "baseline_ms": round(base, 2), "fairdd_ms": round(fast, 2), "speedup": round(base / fast, 2),
           "loss_rel_diff": rel}
    if variants:
        out["variants"] = variants
    if device.type == "cuda":
        out["gpu"] = torch.cuda.get_device_name(device)
        out["fairdd_peak_mem_gb"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 3)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--ipc", type=int, nargs="+", default=[10, 50])
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--batch-real", type=int, default=256)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--levers", action="store_true", help="also time channels_last / bf16 / compile variants")
    ap.add_argument("--targets", nargs="+", default=["cobra"], choices=["vanilla", "uniform", "fairdd", "cobra"])
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from fairdd.distill import resolve_device

    device = resolve_device(args.device)
    for target in args.targets:
        for ipc in args.ipc:
            print(json.dumps(bench(ipc, device=device, width=args.width, reps=args.reps, batch_real=args.batch_real,
                                   levers=args.levers, target=target)), flush=True)


if __name__ == "__main__":
    main()
