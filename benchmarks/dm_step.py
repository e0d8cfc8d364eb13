"""Time one DM step (cobra by default; ``--targets`` for the others): fairdd's vectorised step vs a
per-class, per-group loop.

The baseline below is the straightforward structure of the reference code: for every class, augment
and embed its real batch and its synthetic images separately, then loop over the groups present to
form the group means and their barycenter. Both compute the same loss (checked on their first calls)
on the same network, batch and augmentation draws, in the same process on the same device.

    python benchmarks/dm_step.py [--device cpu|cuda] [--ipc 10 50] [--targets cobra fairdd] [--levers]
                                 [--limit 60] [--budget 540]

Prints one JSON line per IPC: {"device", "ipc", "baseline_ms", "fairdd_ms", "speedup", ...}. Each
variant runs in a process of its own (a compiler that crashes kills only it), timed in turns with
fairdd's eager step there (``timing.race``), under ``--limit`` seconds and its share of ``--budget``:
one past it is reported as ``"skipped": "over N s"``, one that dies as ``"error"``. ``--levers`` also
reports what ``precision="auto", compile="auto"`` picks here.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import signal
import subprocess
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


STARTUP_S = 20.0  # seconds a child needs to start, import torch and build its inputs (a loaded 2-core machine)
WEIGHT = {"loop": 3, "auto": 3}  # shares of the budget: eager variants 1, compiled 2, auto 3 (a probe too), the loop 3


def bench(ipc: int, *, device, width=128, reps=3, batch_real=256, levers=False, target="cobra", limit_s=60.0,
          budget_s=540.0, variants=(*VARIANTS, "auto")) -> dict:
    """Time the loop baseline, fairdd's eager step and (``levers``) each lever variant, each in its own process.

    The first child times the loop and fairdd's eager step in turns (and checks their losses agree);
    every variant's child times fairdd's eager step and the variant in turns, so each ratio to fairdd
    eager is measured in one process; the ratio to the loop is chained through the first child. A
    variant runs under ``limit_s`` seconds (warm-up and compilation included) and under its share of
    what is left of ``budget_s``; a child past that is stopped and reported as ``{"skipped": "over N s"}``,
    one that crashes (torch 2.13's Inductor aborted with a double free) as ``{"error": how it died}``.
    """
    deadline = time.monotonic() + budget_s
    opts = dict(ipc=ipc, device=device, width=width, reps=reps, batch_real=batch_real, target=target)
    names = ["loop", *([v for v in variants if v in VARIANTS or v == "auto"] if levers else [])]
    weights = [WEIGHT[n] if n in WEIGHT else 2 if VARIANTS[n].get("compile") else 1 for n in names]
    rows, fairdd_s = {}, None
    for i, name in enumerate(names):
        left = deadline - time.monotonic()
        if fairdd_s is None:  # the loop's child, first: its part of what is left
            share = left * weights[i] / sum(weights[i:])
            eager_s = share / 2
        else:  # each child's fixed cost (start-up, fairdd eager's calls beside it) first, the rest by weight: on a slow
            eager_s = (reps + 1) * 2 * fairdd_s  # CPU the eager steps alone took the whole weight-1 share (skipped)
            fixed = STARTUP_S + eager_s
            share = fixed + max(left - fixed * (len(names) - i), 0.0) * weights[i] / sum(weights[i:])
        own = None if name == "loop" else min(limit_s, share - STARTUP_S - eager_s)
        if own is not None and own < 1.0:
            rows[name] = {"skipped": f"over {max(own, 0):.0f} s", "why": f"the benchmark's {budget_s:g} s budget"}
            continue
        rows[name] = _child(name, timeout_s=max(share, 1.0), limit_s=own, **opts)
        if rows[name].get(name, {}).get("loss_rel_diff", 0.0) > 1e-4 and name == "loop":
            raise SystemExit(f"loss mismatch between the loop baseline and fairdd: {rows[name]}")
        fairdd_s = fairdd_s or rows[name].get("fairdd", {}).get("min_ms", 0) / 1000 or None
    return _report(rows.pop("loop"), rows, device=device, ipc=ipc, width=width, batch_real=batch_real, target=target)


def _child(name: str, *, timeout_s: float, limit_s: float | None, ipc, device, width, reps, batch_real, target) -> dict:
    """Run ``--child name`` in a process of its own; its JSON line, or how it was stopped or died."""
    args = [sys.executable, str(Path(__file__).resolve()), "--child", name, "--ipc", str(ipc), "--device", str(device),
            "--width", str(width), "--reps", str(reps), "--batch-real", str(batch_real), "--targets", target,
            "--threads", str(torch.get_num_threads()), "--limit", str(limit_s or 0)]
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])}
    try:
        out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"skipped": f"over {timeout_s:.0f} s", "stopped_in": "its process (stopped from outside)"}
    lines = out.stdout.strip().splitlines()
    if out.returncode == 0 and lines:
        return json.loads(lines[-1])
    how = f"signal {signal.Signals(-out.returncode).name}" if out.returncode < 0 else f"exit status {out.returncode}"
    last = next((line.strip() for line in reversed(out.stderr.splitlines()) if line.strip()), "")
    return {"error": f"its process ended with {how}: {last[:300]}"}


def child(name: str, *, ipc, device, width, reps, batch_real, target, limit_s) -> dict:
    """In the child: time fairdd's eager step and ``name`` ("loop", "auto" or a lever variant) in turns."""
    net, real, syn, syn_labels, params = make_inputs(ipc=ipc, width=width, device=device, batch_real=batch_real)
    kw = dict(n_classes=10, distance="l1", target=target)
    net_cl = copy.deepcopy(net).to(memory_format=torch.channels_last)  # same weights, NHWC (before any compile)
    seen = {}  # variant -> (loss, gradient) of its first call

    def step(label, loss_fn, **opts):
        def call():
            syn.grad = None
            loss = loss_fn(net_cl if opts.get("channels_last") else net, real, syn, syn_labels, params, **kw, **opts)
            loss.backward()
            if label not in seen:
                seen[label] = (float(loss.detach()), syn.grad.flatten().clone())
        return call

    preload_compiler()
    calls, auto = {"fairdd": step("fairdd", fairdd_loss, n_groups=10)}, None
    if name == "loop":
        calls["loop"] = step("loop", loop_loss)
    elif name == "auto":
        t0 = time.perf_counter()
        auto = _auto_levers(device, width=width, ipc=ipc, batch_real=batch_real, limit_s=limit_s)
        limit_s = limit_s - (time.perf_counter() - t0)
        if "choice" in auto:
            calls["auto"] = step("auto", fairdd_loss, n_groups=10, **auto.pop("opts"))
    else:
        calls[name] = step(name, fairdd_loss, n_groups=10, **VARIANTS[name])
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    timed = race(calls, reps=reps, limit_s=max(limit_s, 0.001), sync=sync,
                 must_finish=("fairdd", "loop") if name == "loop" else ("fairdd",))
    return _child_row(name, timed, seen, auto)


def _child_row(name, timed, seen, auto) -> dict:
    """The child's JSON: fairdd eager's times and the variant's, with their ratio and the variant's loss and gradient."""
    row = {**(auto or {}), **timed.get(name, {})}
    if "min_ms" in row:
        (ref_loss, ref_grad), (loss, grad) = seen["fairdd"], seen[name]
        row.update(speedup_vs_fairdd_eager=round(timed["fairdd"]["min_ms"] / row["min_ms"], 2),
                   loss_rel_diff=abs(loss - ref_loss) / abs(ref_loss),
                   grad_cosine=round(float(torch.nn.functional.cosine_similarity(grad, ref_grad, 0)), 6))
    return {"fairdd": timed["fairdd"], name: row}


def _auto_levers(device, *, width, ipc, batch_real, limit_s) -> dict:
    """What ``precision="auto", compile="auto"`` picks for a long DM run of this shape (probe cached per machine)."""
    from fairdd.levers import LONG_RUN, Workload, choose_levers

    t0 = time.perf_counter()
    work = Workload(width=width, image_size=32, steps=LONG_RUN, n_real=batch_real * 10, n_syn=ipc * 10)
    try:
        with limit(limit_s):
            lv = choose_levers(device, channels_last="auto", workload=work)
    except OverLimit:
        return {"skipped": f"over {limit_s:.0f} s (the probe)"}
    opts = {k: v for k, v in (("precision", lv.precision), ("compile", lv.compile), ("channels_last", lv.channels_last))
            if v not in ("fp32", False)}
    choice = next((n for n, o in VARIANTS.items() if o == opts), "fairdd eager") if opts else "fairdd eager"
    return {"choice": choice, "opts": opts, "reason": lv.reason, "predicted_gain": lv.gain(),
            "probe_cached": lv.probe.get("cached"), "probe_s": round(time.perf_counter() - t0, 2)}


def _report(base, rows, *, device, ipc, width, batch_real, target) -> dict:
    """One JSON row: the baselines, then each variant with its in-process ratio to fairdd eager and one
    chained to the loop (the loop's ratio to fairdd eager in the first child × the variant's in its own)."""
    loop, fairdd = base.get("loop", {}), base.get("fairdd", {})
    chain = loop["min_ms"] / fairdd["min_ms"] if "min_ms" in loop and "min_ms" in fairdd else None
    out = {"device": str(device), "target": target, "ipc": ipc, "width": width, "batch_real": batch_real,
           "baseline_ms": loop.get("min_ms"), "fairdd_ms": fairdd.get("min_ms"),
           "speedup": chain and round(chain, 2), "loss_rel_diff": loop.get("loss_rel_diff"),
           "cpu_capability": _capability(device),
           "timing": "fastest call; each variant in its own process, in turns with fairdd eager there; "
                     "speedup_vs_baseline chained through the loop's process"}
    if chain is None:
        out["baseline"] = base  # skipped or failed: the variants' ratios to fairdd eager still stand
    variants = {}
    for name, got in rows.items():
        row = got.get(name, got)
        if "speedup_vs_fairdd_eager" in row:
            row = {**row, "fairdd_ms_here": got["fairdd"]["min_ms"]}
            if chain:
                row["speedup_vs_baseline"] = round(chain * got["fairdd"]["min_ms"] / row["min_ms"], 2)
        variants[name] = row
    if variants:
        out["variants"] = variants
    if device.type == "cuda":
        out["gpu"] = torch.cuda.get_device_name(device)
    return out


def _capability(device) -> str:
    env = " ".join(f"{k}={os.environ[k]}" for k in ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY") if os.environ.get(k))
    return torch.backends.cpu.get_cpu_capability() + (f" (emulated: {env})" if env else "")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--ipc", type=int, nargs="+", default=[10, 50])
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--batch-real", type=int, default=256)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--levers", action="store_true", help="also time channels_last / bf16 / compile variants")
    ap.add_argument("--variants", nargs="+", default=[*VARIANTS, "auto"], choices=[*VARIANTS, "auto"],
                    help="with --levers: which variants to time ('auto': what choose_levers picks here)")
    ap.add_argument("--limit", type=float, default=60.0,
                    help="seconds per variant (warm-up, compilation and timed calls); past it: skipped")
    ap.add_argument("--budget", type=float, default=540.0,
                    help="seconds for the whole benchmark, shared by its rows and variants; past it: skipped")
    ap.add_argument("--targets", nargs="+", default=["cobra"], choices=["vanilla", "uniform", "fairdd", "cobra"])
    ap.add_argument("--child", choices=["loop", *VARIANTS, "auto"], help=argparse.SUPPRESS)  # one variant's process
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from fairdd.distill import resolve_device

    device = resolve_device(args.device)
    opts = dict(device=device, width=args.width, reps=args.reps, batch_real=args.batch_real)
    if args.child:
        print(json.dumps(child(args.child, ipc=args.ipc[0], target=args.targets[0], limit_s=args.limit, **opts)))
        return
    rows = [(target, ipc) for target in args.targets for ipc in args.ipc]
    deadline = time.monotonic() + args.budget
    for i, (target, ipc) in enumerate(rows):
        share = (deadline - time.monotonic()) / (len(rows) - i)
        print(json.dumps(bench(ipc, levers=args.levers, target=target, limit_s=args.limit, budget_s=share,
                               variants=tuple(args.variants), **opts)), flush=True)


if __name__ == "__main__":
    main()
