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
