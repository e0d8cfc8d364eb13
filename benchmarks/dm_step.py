"""Time one DM step (cobra by default; ``--targets`` for the others): fairdd's vectorised step vs a
per-class, per-group loop.

The baseline below is the straightforward structure of the reference code: for every class, augment
and embed its real batch and its synthetic images separately, then loop over the groups present to
form the group means and their barycenter. Both compute the same loss (checked before timing) on
the same network, batch and augmentation draws, in the same process on the same device.

    python benchmarks/dm_step.py [--device cpu|cuda] [--ipc 10 50] [--targets cobra fairdd] [--levers] [--limit 90]

Prints one JSON line per IPC: {"device", "ipc", "baseline_ms", "fairdd_ms", "speedup", ...}. Variants
are timed in turns (``timing.race``), each under ``--limit`` seconds: one past it is reported as
``"skipped": "over N s"``. ``--levers`` also reports what ``precision="auto", compile="auto"`` picks here.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import torch

from fairdd.augment import AugmentParams, apply, sample_params
from fairdd.matching.dm import dm_loss, embed, embed_real
from fairdd.models import ConvNet, reset_parameters
from fairdd.targets import get_strategy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import OverLimit, limit, preload_compiler, race  # noqa: E402


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


VARIANTS = {"channels_last": {"channels_last": True}, "compile": {"compile": True},
            "compile+channels_last": {"compile": True, "channels_last": True},
            "bf16": {"precision": "bf16"}, "bf16+channels_last": {"precision": "bf16", "channels_last": True},
            "compile+bf16": {"compile": True, "precision": "bf16"}, "compile-graphs": {"compile": "reduce-overhead"}}


# torch 2.13 on CPU aborts the process (double free) in the backward of a compiled NHWC ConvNet block in fp32:
# not timed unless asked for by name (fairdd.levers probes compiled variants in child processes)
CRASHES = ("compile+channels_last",)


def bench(ipc: int, *, device, width=128, reps=5, batch_real=256, levers=False, target="cobra", limit_s=60.0,
          variants=tuple(v for v in VARIANTS if v not in CRASHES)) -> dict:
    """Time the loop baseline, fairdd's eager step and (``levers``) every lever variant in turns.

    Each variant runs under ``limit_s`` seconds (warm-up and compilation included) and is reported
    as ``{"skipped": "over N s"}`` past it; ratios are against the loop baseline's fastest call.
    """
    net, real, syn, syn_labels, params = make_inputs(ipc=ipc, width=width, device=device, batch_real=batch_real)
    kw = dict(n_classes=10, distance="l1", target=target)
    ref = float(loop_loss(net, real, syn, syn_labels, params, **kw).detach())
    new = float(fairdd_loss(net, real, syn, syn_labels, params, n_groups=10, **kw).detach())
    rel = abs(ref - new) / max(abs(ref), 1e-12)
    if rel > 1e-4:
        raise SystemExit(f"loss mismatch: baseline {ref} vs fairdd {new} (rel {rel:.2e})")
    net_cl = copy.deepcopy(net).to(memory_format=torch.channels_last)  # same weights, NHWC (before any compile)
    seen = {}  # variant -> (loss, gradient) of its first call

    def step(name, loss_fn, **opts):
        def call():
            syn.grad = None
            model = net_cl if opts.get("channels_last") else net
            loss = loss_fn(model, real, syn, syn_labels, params, **kw, **opts)
            loss.backward()
            if name not in seen:
                seen[name] = (float(loss.detach()), syn.grad.flatten().clone())
        return call

    if levers:
        preload_compiler()
    calls = {"loop": step("loop", loop_loss), "fairdd": step("fairdd", fairdd_loss, n_groups=10)}
    auto = _auto_levers(device, width=width, limit_s=limit_s) if levers and "auto" in variants else None
    for name in [v for v in variants if v in VARIANTS] if levers else ():
        calls[name] = step(name, fairdd_loss, n_groups=10, **VARIANTS[name])
    if auto and "choice" in auto and auto["choice"] not in calls:
        calls[auto["choice"]] = step(auto["choice"], fairdd_loss, n_groups=10, **auto["opts"])
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    timed = race(calls, reps=reps, limit_s=limit_s, sync=sync, must_finish=("loop", "fairdd"))
    return _report(timed, seen, auto, device=device, ipc=ipc, width=width, batch_real=batch_real, target=target,
                   rel=rel)


def _auto_levers(device, *, width, limit_s) -> dict:
    """What ``precision="auto", compile="auto"`` picks for a long run at this width (probe cached per machine)."""
    from fairdd.levers import LONG_RUN, choose_levers

    t0 = time.perf_counter()
    try:
        with limit(limit_s):
            lv = choose_levers(device, channels_last="auto", width=width, image_size=32, steps=LONG_RUN)
    except OverLimit:
        return {"skipped": f"over {limit_s:g} s (the probe)"}
    opts = {k: v for k, v in (("precision", lv.precision), ("compile", lv.compile), ("channels_last", lv.channels_last))
            if v not in ("fp32", False)}
    name = next((n for n, o in VARIANTS.items() if o == opts), "fairdd") if opts else "fairdd"
    return {"choice": name, "opts": opts, "reason": lv.reason, "probe_speedup": lv.probe.get("speedup", {}),
            "probe_cached": lv.probe.get("cached"), "probe_s": round(time.perf_counter() - t0, 2)}


def _report(timed, seen, auto, *, device, ipc, width, batch_real, target, rel) -> dict:
    base = timed["loop"]["min_ms"]
    ref_loss, ref_grad = seen["fairdd"]  # fp32 eager: what each lever's loss and gradient are compared to
    variants = {}
    for name, row in timed.items():
        if name in ("loop", "fairdd"):
            continue
        if "min_ms" in row:
            loss, grad = seen[name]
            row = {**row, "speedup_vs_baseline": round(base / row["min_ms"], 2),
                   "loss_rel_diff": abs(loss - ref_loss) / abs(ref_loss),
                   "grad_cosine": round(float(torch.nn.functional.cosine_similarity(grad, ref_grad, 0)), 6)}
        variants[name] = row
    out = {"device": str(device), "target": target, "ipc": ipc, "width": width, "batch_real": batch_real,
           "baseline_ms": timed["loop"]["min_ms"], "fairdd_ms": timed["fairdd"]["min_ms"],
           "speedup": round(base / timed["fairdd"]["min_ms"], 2), "loss_rel_diff": rel,
           "timing": "fastest of the timed calls, variants in turns", "cpu_capability": _capability(device)}
    if variants:
        out["variants"] = variants
    if auto:
        chosen = timed.get(auto.get("choice", ""), {})
        out["auto"] = {**{k: v for k, v in auto.items() if k != "opts"},
                       "speedup_vs_fairdd_eager": round(timed["fairdd"]["min_ms"] / chosen["min_ms"], 2)
                       if "min_ms" in chosen else None}
    if device.type == "cuda":
        out["gpu"] = torch.cuda.get_device_name(device)
    return out


def _capability(device) -> str:
    import os

    env = " ".join(f"{k}={os.environ[k]}" for k in ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY") if os.environ.get(k))
    return torch.backends.cpu.get_cpu_capability() + (f" (emulated: {env})" if env else "")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--ipc", type=int, nargs="+", default=[10, 50])
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--batch-real", type=int, default=256)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--levers", action="store_true", help="also time channels_last / bf16 / compile variants")
    ap.add_argument("--variants", nargs="+", default=[v for v in [*VARIANTS, "auto"] if v not in CRASHES],
                    choices=[*VARIANTS, "auto"],
                    help="with --levers: which variants to time ('auto': what choose_levers picks here)")
    ap.add_argument("--limit", type=float, default=60.0,
                    help="seconds per variant (warm-up, compilation and timed calls); past it: skipped")
    ap.add_argument("--targets", nargs="+", default=["cobra"], choices=["vanilla", "uniform", "fairdd", "cobra"])
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from fairdd.distill import resolve_device

    device = resolve_device(args.device)
    for target in args.targets:
        for ipc in args.ipc:
            print(json.dumps(bench(ipc, device=device, width=args.width, reps=args.reps, batch_real=args.batch_real,
                                   levers=args.levers, target=target, limit_s=args.limit,
                                   variants=tuple(args.variants))), flush=True)


if __name__ == "__main__":
    main()
