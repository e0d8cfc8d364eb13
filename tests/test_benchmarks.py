"""CPU correctness of the benchmark baselines (timings are reported by benchmarks/, not tested)."""
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("distance,target", [("l1", "cobra"), ("l2", "cobra"), ("l2", "fairdd"), ("l2", "vanilla")])
def test_loop_baseline_gives_the_same_loss(distance, target):
    import torch

    bench = _load("dm_step")
    net, real, syn, syn_labels, params = bench.make_inputs(ipc=3, batch_real=12, width=8, size=16)
    kw = dict(n_classes=10, distance=distance, target=target)
    ref = bench.loop_loss(net, real, syn, syn_labels, params, **kw)
    new = bench.fairdd_loss(net, real, syn, syn_labels, params, n_groups=10, **kw)
    assert float(new) == pytest.approx(float(ref), rel=1e-5)
    g_ref = torch.autograd.grad(ref, syn)[0]
    g_new = torch.autograd.grad(bench.fairdd_loss(net, real, syn, syn_labels, params, n_groups=10, **kw), syn)[0]
    assert torch.allclose(g_ref, g_new, rtol=1e-4, atol=1e-6)


def test_launch_counts_compare_like_with_like():
    """The launch-count benchmark's rows: fairdd's paths launch fewer kernels than the reference
    structure and never wait for the host, while the reference loop does (per-group masks)."""
    bench = _load("launch_counts")
    rows = {r["part"]: r for r in bench.dm_rows(2, width=4, timed=False)}
    rows["evaluation_epoch"] = bench.eval_row(2, models=3, width=4, timed=False, epochs=2)
    for part, r in rows.items():
        assert r["fairdd_syncs"] == 0 and r["launch_ratio"] > 1, (part, r)
    assert rows["dm_step"]["baseline_syncs"] > 0
    assert rows["evaluation_epoch"]["launch_ratio_vs_fairdd_sequential"] > 2  # 3 models for the kernels of ~1


@pytest.mark.parametrize("variant", ["channels_last"])
def test_fp32_levers_give_the_loop_baselines_loss(variant):
    """The fp32 levers (the AVX2-only CPU's speed-up) change the speed, not the loss: same to 1e-5."""
    import torch

    bench = _load("dm_step")
    net, real, syn, syn_labels, params = bench.make_inputs(ipc=3, batch_real=12, width=8, size=16)
    kw = dict(n_classes=10, distance="l1", target="cobra")
    ref = bench.loop_loss(net, real, syn, syn_labels, params, **kw)
    opts = bench.VARIANTS[variant]
    model = net.to(memory_format=torch.channels_last) if opts.get("channels_last") else net
    new = bench.fairdd_loss(model, real, syn, syn_labels, params, n_groups=10, **kw, **opts)
    assert float(new) == pytest.approx(float(ref), rel=1e-5)
    g_ref = torch.autograd.grad(ref, syn)[0]
    g_new = torch.autograd.grad(bench.fairdd_loss(model, real, syn, syn_labels, params, n_groups=10, **kw, **opts),
                                syn)[0]
    assert torch.allclose(g_ref, g_new, rtol=1e-4, atol=1e-6)


def test_race_reports_a_variant_over_its_limit_as_skipped_and_keeps_the_others():
    """A variant past its time limit (in its warm-up, or later) is reported, never waited for."""
    import time

    timing = _load("timing")
    slow_after = iter([0.0] + [5.0] * 10)
    out = timing.race({"loop": lambda: time.sleep(0.01), "quick": lambda: None,
                       "hangs": lambda: time.sleep(60), "slows_down": lambda: time.sleep(next(slow_after)),
                       "fails": lambda: 1 / 0},
                      reps=3, limit_s=0.5, must_finish=("loop",))
    assert out["loop"]["reps"] == 3 and out["quick"]["reps"] == 3 and out["quick"]["min_ms"] < out["loop"]["ms"] + 1
    assert out["hangs"]["skipped"] == "over 0.5 s" and "warm-up" in out["hangs"]["stopped_in"]
    assert out["slows_down"]["skipped"] == "over 0.5 s" and out["slows_down"]["stopped_in"] == "the first timed call"
    assert out["fails"]["error"].startswith("ZeroDivisionError")


def test_race_sees_a_limit_hit_inside_torch_compile():
    """torch.compile re-raises the alarm as its own error: still reported as skipped, not as a failure."""
    timing = _load("timing")

    def wrapped():
        try:
            raise timing.OverLimit
        except timing.OverLimit as exc:
            raise RuntimeError("BackendCompilerFailed: backend='inductor' raised: OverLimit") from exc
    assert timing.race({"loop": lambda: None, "compile": wrapped}, reps=1, limit_s=5,
                       must_finish=("loop",))["compile"]["skipped"] == "over 5 s"


def test_a_variant_whose_process_dies_or_hangs_is_reported_not_fatal(monkeypatch):
    """Each variant runs in a process of its own: torch 2.13's Inductor aborting there is one row's error."""
    import subprocess

    bench = _load("dm_step")
    monkeypatch.setattr(bench.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(
        a, -6, "", "compiling...\nmalloc(): unaligned tcache chunk detected\n"))
    opts = dict(ipc=1, device="cpu", width=4, reps=1, batch_real=2, target="cobra")
    got = bench._child("compile", timeout_s=5, limit_s=1, **opts)
    assert got == {"error": "its process ended with signal SIGABRT: malloc(): unaligned tcache chunk detected"}

    def hang(*a, timeout, **k):
        raise subprocess.TimeoutExpired(a, timeout)
    monkeypatch.setattr(bench.subprocess, "run", hang)
    assert bench._child("bf16", timeout_s=7, limit_s=1, **opts)["skipped"] == "over 7 s"


def test_the_variants_share_the_budget_and_each_is_reported(monkeypatch):
    """Every variant gets a row within ``budget_s``: its share of what is left (compiled 2, auto 3 shares)."""
    bench = _load("dm_step")
    given, clock = [], [0.0]
    monkeypatch.setattr(bench.time, "monotonic", lambda: clock[0])

    def child(name, *, timeout_s, limit_s, **opts):  # the worst case: each child runs until it is stopped
        given.append((name, timeout_s, limit_s))
        clock[0] += timeout_s if name != "loop" else 10.0
        if name == "loop" and len(given) > 1:  # the second benchmark: the loop does not finish
            return {"skipped": f"over {timeout_s:.0f} s"}
        base = {"min_ms": 1000.0, "loss_rel_diff": 0.0, "speedup_vs_fairdd_eager": 1.0}
        return {"fairdd": {"min_ms": 1000.0}, name: base}
    monkeypatch.setattr(bench, "_child", child)
    out = bench.bench(1, device=torch_cpu(), levers=True, budget_s=300, limit_s=60, reps=1,
                      variants=("channels_last", "compile", "auto", "bf16"))
    assert set(out["variants"]) == {"channels_last", "compile", "auto", "bf16"}
    assert given[0][0] == "loop" and given[0][2] is None
    fixed = bench.STARTUP_S + (1 + 1) * 2 * 1.0  # start-up and fairdd eager's calls beside each variant (1 s each)
    shares = {name: t - fixed for name, t, _ in given[1:]}  # what each gets beyond its fixed cost: by weight
    assert 10 + sum(shares.values()) + 4 * fixed <= 300 + 1e-6
    assert shares["auto"] == pytest.approx(3 * shares["channels_last"], rel=0.01)
    assert shares["compile"] == pytest.approx(2 * shares["channels_last"], rel=0.01)
    assert all(lim <= 60 for _, _, lim in given[1:])
    tight = bench.bench(1, device=torch_cpu(), levers=True, budget_s=30, limit_s=60, reps=1, variants=("bf16",))
    assert tight["variants"]["bf16"]["skipped"].startswith("over") and "budget" in tight["variants"]["bf16"]["why"]
    assert tight["baseline"]["skipped"].startswith("over") and tight["speedup"] is None  # reported, not fatal


def test_a_slow_eager_step_still_leaves_every_variant_its_time(monkeypatch):
    """On a slow CPU (emulated AVX2: 3.2 s a step) fairdd eager's calls beside a variant took the whole weight-1
    share, and channels_last was reported "skipped: over 0 s" although the run ended 4 minutes early."""
    bench = _load("dm_step")
    given, clock = [], [0.0]
    monkeypatch.setattr(bench.time, "monotonic", lambda: clock[0])

    def child(name, *, timeout_s, limit_s, **opts):
        given.append((name, limit_s))
        clock[0] += 60.0 if name == "loop" else 40.0  # what each took there
        return {"fairdd": {"min_ms": 3200.0}, name: {"min_ms": 3000.0, "loss_rel_diff": 0.0, "speedup_vs_fairdd_eager": 1.0}}
    monkeypatch.setattr(bench, "_child", child)
    out = bench.bench(10, device=torch_cpu(), levers=True, budget_s=540, limit_s=60, reps=3)
    assert not [v for v, row in out["variants"].items() if "skipped" in row], out["variants"]
    assert all(lim >= 1.0 for name, lim in given[1:])


def torch_cpu():
    import torch

    return torch.device("cpu")


def test_the_benchmark_times_a_variant_in_its_own_process():
    """End to end on tiny shapes: the child times fairdd eager and NHWC in turns; same loss to 1e-5."""
    bench = _load("dm_step")
    out = bench.bench(1, device=torch_cpu(), width=4, batch_real=2, reps=1, levers=True, budget_s=240,
                      variants=("channels_last",))
    row = out["variants"]["channels_last"]
    assert row["speedup_vs_fairdd_eager"] > 0 and row["loss_rel_diff"] < 1e-5 and row["grad_cosine"] > 0.9999
    assert out["loss_rel_diff"] < 1e-5 and out["baseline_ms"] > 0


def test_the_chart_candidates_draw_one_scene():
    """benchmarks/dashboard_candidates.py compares libraries on the same data: the scene is deterministic
    and holds the 1532 embedding points the docs' table describes."""
    import numpy as np

    bench = _load("dashboard_candidates")
    a, b = bench.scene(3), bench.scene(3)
    assert np.array_equal(a["real"], b["real"])
    n = a["real"].shape[0] * a["real"].shape[1] + sum(len(v) for v in a["syn"].values()) + len(a["means"]) + 2
    assert n == 1532 and not np.array_equal(a["real"], bench.scene(4)["real"])  # an update moves the points
    assert set(bench.CANDIDATES) == set(bench.BUILDERS)
