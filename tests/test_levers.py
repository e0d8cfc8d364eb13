"""``precision="auto"`` / ``compile="auto"`` (fairdd.levers): never a lever slower than fp32 eager.

The probe's times are what the choice rests on, so the checks on this machine compare the choice
with the probe's own measurement (no other wall-clock assert); the decision rules are checked on
given times; the AVX2-only class of CPU is checked by emulating it in a subprocess.
"""
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from fairdd import levers
from fairdd.config import distill_config, eval_config
from fairdd.levers import LONG_RUN, MARGIN, choose_levers

ROOT = Path(__file__).resolve().parents[1]
AVX2 = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Each test its own probe cache."""
    monkeypatch.setenv("FAIRDD_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "levers.json"


def _fake_times(monkeypatch, times: dict, compile_s: float = 0.0) -> list:
    """The probe reports ``times`` (ms per variant; compiled ones first take ``compile_s`` more) instead of
    measuring; returns the variants asked for."""
    asked = []

    def measure(device, workload, variants, budget_s):
        variants = [variants] if isinstance(variants, str) else variants
        asked.extend(variants)
        return {v: {"ms": [times[v]] * levers.PROBE_BLOCKS, "fp32_ms": [times["fp32"]] * levers.PROBE_BLOCKS,
                    "first_ms": times[v] + (1000 * compile_s if "compile" in v else 0.0)}
                for v in variants if v in times}
    monkeypatch.setattr(levers, "_measure", measure)
    monkeypatch.setattr(levers, "_measure_apart", measure)  # compiled variants: measured in a child process
    return asked


def _hardware(monkeypatch, *, bf16: bool, compile: bool):
    monkeypatch.setattr(levers, "bf16_support", lambda device: (bf16, "bf16 units" if bf16 else "no bf16 units"))
    monkeypatch.setattr(levers, "compile_support", lambda device: (compile, "compiler" if compile else "none"))


def _consistent(lv) -> None:
    """The chosen variant is fp32 eager, or the one whose predicted run (recomputed here from the probe's
    times) is shortest and at least MARGIN × shorter than fp32 eager's."""
    ms, speedup, compile_s = lv.probe["ms"], lv.probe["speedup"], lv.probe.get("compile_s", {})
    run = {v: compile_s.get(v, 0.0) + LONG_RUN * ms["fp32"] / 1000 / r for v, r in speedup.items()}
    chosen = levers._variant_name(lv.precision, lv.compile, lv.channels_last)
    if chosen != "fp32":
        assert run["fp32"] / run[chosen] >= MARGIN and lv.gain() == pytest.approx(run["fp32"] / run[chosen]), lv
        assert all(run[chosen] <= run[v] for v in run), lv  # the shortest predicted run
    else:
        assert all(run["fp32"] / t < MARGIN for v, t in run.items() if v != "fp32"), lv


def test_auto_on_this_machine_picks_only_what_its_probe_measured_faster():
    """The CI check: whatever ``auto`` picks here, its own probe measured it ≥ MARGIN × faster than fp32.

    Compilation is left out (its probe compiles for 10–40 s); its rule is checked on given times below.
    """
    lv = choose_levers("cpu", precision="auto", compile=False, channels_last="auto",
                       workload=levers.Workload(width=32, n_real=64, n_syn=20, steps=LONG_RUN))
    _consistent(lv)
    if lv.precision == "bf16":
        assert levers.bf16_support("cpu")[0]


@pytest.mark.parametrize("times,pick", [
    ({"fp32": 10.0, "bf16": 20.0, "compile": 12.0, "compile+bf16": 30.0}, ("fp32", False)),  # nothing wins
    ({"fp32": 10.0, "bf16": 9.0, "compile": 9.5, "compile+bf16": 8.5}, ("fp32", False)),  # wins below the margin
    ({"fp32": 10.0, "bf16": 4.0, "compile": 6.0, "compile+bf16": 2.0}, ("bf16", True)),  # the fastest by far
    ({"fp32": 10.0, "bf16": 12.0, "compile": 6.0, "compile+bf16": 7.0}, ("fp32", True)),  # compile only
    ({"fp32": 10.0, "bf16": 5.0}, ("bf16", False)),  # compilation failed on this machine: not measured
])
def test_auto_picks_the_fastest_variant_only_past_the_margin(monkeypatch, times, pick):
    _hardware(monkeypatch, bf16=True, compile=True)
    _fake_times(monkeypatch, times)
    lv = choose_levers("cpu", width=64, steps=LONG_RUN)
    assert (lv.precision, lv.compile) == pick
    assert lv.gain() is None or lv.gain() >= MARGIN or pick == ("fp32", False)
    assert "predicted over 500 steps vs fp32 eager" in lv.reason


def test_channels_last_is_tried_beside_an_auto_lever(monkeypatch):
    _hardware(monkeypatch, bf16=False, compile=False)
    _fake_times(monkeypatch, {"fp32": 10.0, "channels_last": 6.0})
    lv = choose_levers("cpu", channels_last="auto", steps=LONG_RUN)
    assert (lv.precision, lv.compile, lv.channels_last) == ("fp32", False, True)
    assert not choose_levers("cpu", precision="fp32", compile=False, channels_last="auto", steps=LONG_RUN).channels_last


def test_compiled_nhwc_is_offered_like_any_compiled_variant(monkeypatch):
    """Its crash (torch 2.13, double free) came from Inductor's cache shared across ISA settings: like every
    compiled variant it is a candidate once its child process ran to completion, and not if it died."""
    _hardware(monkeypatch, bf16=False, compile=True)
    asked = _fake_times(monkeypatch, {"fp32": 10.0, "compile": 7.0, "channels_last": 8.0, "compile+channels_last": 5.0})
    lv = choose_levers("cpu", channels_last="auto", steps=LONG_RUN)
    assert (lv.compile, lv.channels_last) == (True, True) and "compile+channels_last" in asked


def test_auto_does_not_even_try_bf16_where_the_hardware_lacks_it(monkeypatch):
    _hardware(monkeypatch, bf16=False, compile=True)
    asked = _fake_times(monkeypatch, {"fp32": 10.0, "bf16": 1.0, "compile": 20.0, "compile+bf16": 1.0})
    lv = choose_levers("cpu", width=128, steps=10 * LONG_RUN)
    assert (lv.precision, lv.compile) == ("fp32", False)
    assert "bf16" not in asked and "compile+bf16" not in asked and "no bf16 units" in lv.reason


def test_short_runs_keep_fp32_eager_without_a_probe(monkeypatch):
    _hardware(monkeypatch, bf16=True, compile=True)
    asked = _fake_times(monkeypatch, {"fp32": 10.0, "bf16": 1.0, "compile": 1.0, "compile+bf16": 1.0})
    lv = choose_levers("cpu", width=128, steps=LONG_RUN - 1)
    assert (lv.precision, lv.compile, lv.probe) == ("fp32", False, {}) and not asked
    assert "short run" in lv.reason


def test_a_lever_set_by_hand_is_kept_and_only_the_other_is_chosen(monkeypatch):
    _hardware(monkeypatch, bf16=True, compile=True)
    _fake_times(monkeypatch, {"fp32": 10.0, "bf16": 4.0, "compile": 5.0, "compile+bf16": 2.0})
    assert (choose_levers("cpu", precision="fp32", steps=LONG_RUN).precision,
            choose_levers("cpu", precision="fp32", steps=LONG_RUN).compile) == ("fp32", True)
    lv = choose_levers("cpu", compile="reduce-overhead", steps=LONG_RUN)
    assert (lv.precision, lv.compile) == ("bf16", "reduce-overhead")
    assert choose_levers("cpu", precision="fp32", compile=False, steps=LONG_RUN).reason == "set by hand"


def test_forced_bf16_without_bf16_hardware_warns_with_the_measured_slowdown(monkeypatch):
    _hardware(monkeypatch, bf16=False, compile=False)
    _fake_times(monkeypatch, {"fp32": 10.0, "bf16": 310.0})
    with pytest.warns(UserWarning, match=r"measured 31\.0× slower than fp32"):
        lv = choose_levers("cpu", precision="bf16", compile=False)
    assert lv.precision == "bf16"  # kept: the user asked for it
    _hardware(monkeypatch, bf16=True, compile=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        choose_levers("cpu", precision="bf16", compile=False)


def test_probe_times_are_cached_per_machine_and_isa_setting(monkeypatch, cache):
    asked = _fake_times(monkeypatch, {"fp32": 10.0, "bf16": 5.0})
    first = levers.probe("cpu", _w(32))
    again = levers.probe("cpu", _w(32))
    assert asked == ["fp32", "bf16"] and not first["cached"] and again["cached"] and again["ms"] == first["ms"]
    assert first["speedup"] == {"fp32": 1.0, "bf16": 2.0}
    assert json.loads(cache.read_text())[first["key"]]["bf16"] == {"ms": [5.0] * 3, "fp32_ms": [10.0] * 3,
                                                                  "first_ms": 5.0}
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")  # another ISA setting: its own entry, measured anew
    assert not levers.probe("cpu", _w(32))["cached"] and asked == ["fp32", "bf16"] * 2
    assert not levers.probe("cpu", _w(64))["cached"]  # another width too
    assert not levers.probe("cpu", levers.Workload(width=32, n_syn=500))["cached"]  # another batch too
    assert "torch " + torch.__version__ in first["key"]


@pytest.mark.parametrize("damage", [b"{not json", b"[1, 2]", b'{"key": 3}', b"\xff\xfe", b"",
                                    b'{"KEY": {"fp32": {"ms": [1, -2, 3], "fp32_ms": [1, 2, 3]}}}',
                                    b'{"KEY": {"fp32": {"ms": [1, 2], "fp32_ms": [1, 2]}}}'])
def test_a_damaged_cache_is_ignored_and_rewritten(monkeypatch, cache, damage):
    cache.parent.mkdir(parents=True)
    cache.write_bytes(damage.replace(b"KEY", json.dumps(_key(32))[1:-1].encode()))
    _fake_times(monkeypatch, {"fp32": 10.0, "bf16": 5.0})
    out = levers.probe("cpu", _w(32))
    assert out["ms"] == {"fp32": 10.0, "bf16": 5.0} and not out["cached"]
    assert json.loads(cache.read_text())[out["key"]]["fp32"] == {"ms": [10.0] * 3, "fp32_ms": [10.0] * 3,
                                                                "first_ms": 10.0}
    assert sorted(p.name for p in cache.parent.iterdir()) == ["levers.json"]  # atomic: no temporary left


def _w(width):
    return levers.Workload(width=width)


def _key(width):
    return f"{levers.machine_key('cpu')}|{_w(width).key(torch.device('cpu'))}"


def test_a_real_probe_is_short_and_pairs_every_variant_with_fp32(cache):
    out = levers.probe("cpu", levers.Workload(width=16, n_real=32, n_syn=10), variants=("fp32", "channels_last"),
                       budget_s=0.3)
    record = json.loads(cache.read_text())[out["key"]]
    assert record["channels_last"]["fp32_ms"] == record["fp32"]["ms"]  # timed in the same blocks
    assert out["speedup"]["fp32"] == 1.0 and out["key"].endswith("width 16|depth 3|size 32|channels 3|real 32|syn 10|embed")
    assert record["channels_last"]["first_ms"] > 0


def test_a_compilation_that_kills_its_process_is_only_not_a_candidate(monkeypatch):
    """Compiled variants are probed in a child process: one that aborts there leaves the run alive."""
    monkeypatch.setattr(levers, "COMPILE_PROBE_TIMEOUT", 60)
    monkeypatch.setattr(levers.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, -6, "", "double free"))
    got = levers._measure_apart(torch.device("cpu"), levers.Workload(width=8), "compile", 0.1)
    assert got["compile"]["failed"] == "its probe process ended with killed by signal 6 (SIGABRT): double free"


def test_a_probe_taken_on_a_busy_machine_is_taken_again_when_it_is_quiet(monkeypatch):
    asked = _fake_times(monkeypatch, {"fp32": 10.0, "bf16": 5.0})
    monkeypatch.setattr(levers, "_busy", lambda: True)
    busy = {"first_ms": 0.0, "busy": True}
    levers._write_cache(levers.cache_path(), _key(32), {"bf16": {"ms": [20.0] * 3, "fp32_ms": [10.0] * 3, **busy},
                                                         "fp32": {"ms": [10.0] * 3, "fp32_ms": [10.0] * 3, **busy}})
    assert levers.probe("cpu", _w(32))["cached"] and not asked  # still busy: the busy times stand
    monkeypatch.setattr(levers, "_busy", lambda: False)
    again = levers.probe("cpu", _w(32))
    assert not again["cached"] and asked == ["fp32", "bf16"] and again["speedup"]["bf16"] == 2.0


def test_the_probe_is_short():
    out = levers.probe("cpu", levers.Workload(width=128, n_real=64, n_syn=10), variants=("fp32",), budget_s=0.5)
    assert out["ms"]["fp32"] > 0


def _emulated(code: str) -> dict:
    env = {**os.environ, **AVX2, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_auto_picks_fp32_on_an_avx2_only_cpu_without_measuring_bf16():
    """``ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2`` emulates an AVX2-only CPU (bf16 there is 30–80× slower)."""
    got = _emulated("import json, torch; torch.set_num_threads(2); from fairdd import levers\n"
                    "lv = levers.choose_levers('cpu', compile=False, channels_last='auto',"
                    " workload=levers.Workload(width=64, n_real=64, n_syn=20))\n"
                    "print(json.dumps({'bf16': levers.bf16_support('cpu')[0], **lv.as_dict()}))")
    assert got.pop("bf16") is False and got["precision"] == "fp32"
    assert not any("bf16" in v for v in got["probe"]["ms"]) and "ONEDNN_MAX_CPU_ISA=AVX2" in got["reason"]
    _consistent(levers.Levers(**got))


def test_auto_is_the_default_and_runs_record_what_it_chose(digits_train, digits_test):
    import fairdd

    assert distill_config(preset="smoke").precision == "auto" and distill_config(preset="smoke").compile == "auto"
    assert eval_config(preset="smoke").precision == "auto"
    result = fairdd.distill(digits_train, preset="smoke", device="cpu", depth=2)
    lv = result.config["levers"]
    assert (lv["precision"], lv["compile"]) == ("fp32", False) and "short run" in lv["reason"]
    trained = fairdd.train_models(result, digits_test, preset="smoke", device="cpu")
    assert trained.config["levers"]["precision"] == "fp32"


@pytest.mark.parametrize("kw", [dict(precision="fp16"), dict(precision=None), dict(compile="fast"), dict(compile=1)])
def test_bad_lever_values_are_refused(kw):
    with pytest.raises(ValueError, match="precision|compile"):
        choose_levers("cpu", **kw)
    with pytest.raises(ValueError, match="precision|compile"):
        distill_config(preset="smoke", **kw)
    with pytest.raises(ValueError, match="precision|compile"):
        eval_config(preset="smoke", **kw)


def test_choose_levers_refuses_a_bad_layout():
    with pytest.raises(ValueError, match="channels_last must be True, False or 'auto'; got 'yes'"):
        choose_levers("cpu", channels_last="yes")


def test_a_checkpoint_from_before_auto_resumes_under_auto(digits_train, tmp_path):
    """The levers say how fast, not what: a run checkpointed with fp32 / no compile resumes under "auto"."""
    import fairdd

    ckpt = tmp_path / "old.ckpt"
    kw = dict(target="cobra", ipc=1, preset="smoke", device="cpu", depth=2, seed=3)
    full = fairdd.distill(digits_train, iterations=4, precision="fp32", compile=False, **kw)
    fairdd.distill(digits_train, iterations=2, precision="fp32", compile=False, checkpoint=ckpt, **kw)
    resumed = fairdd.distill(digits_train, iterations=4, resume=ckpt, **kw)  # precision / compile "auto"
    assert torch.equal(full.images, resumed.images)


@pytest.mark.parametrize("kw,field", [({"width": 0}, "width"), ({"steps": True}, "steps"), ({"n_real": -1}, "n_real"),
                                      ({"n_syn": 2.5}, "n_syn"), ({"train": "yes"}, "train"),
                                      ({"compilations": 0}, "compilations")])
def test_a_bad_workload_is_refused_naming_the_field(kw, field):
    with pytest.raises(ValueError, match=rf"Workload\.{field} must be"):
        levers.Workload(**kw)


def test_choose_levers_takes_a_workload_or_its_parts_not_both():
    with pytest.raises(ValueError, match="either workload= or width="):
        choose_levers("cpu", workload=levers.Workload(), width=64)
    with pytest.raises(ValueError, match="workload must be a fairdd.levers.Workload; got dict"):
        choose_levers("cpu", workload={"width": 64})
