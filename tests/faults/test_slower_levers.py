"""Fault class: a speed lever chosen by ``"auto"`` that makes the run slower than fp32 eager.

The rule (``fairdd.levers``): ``auto`` times the run's own step (``Workload``: its network on its
real and synthetic batches), warm-up apart, and ``decide`` predicts each variant's whole run with its
compilation included; fp32 eager stays unless a variant's predicted run is ``MARGIN`` × shorter. A
compiled variant is a candidate only after its probe ran to completion in a child process. Each test
is one case: the measured numbers of issue #27 and of ``docs/performance.md``, runs too short for a
compilation to pay, crashes and time-outs of the compiler, and one real probe on this machine.
"""
from __future__ import annotations

import json
import random

import pytest
import torch

from fairdd import levers
from fairdd.levers import LONG_RUN, MARGIN, Workload, choose_levers, decide


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Each test its own probe cache."""
    monkeypatch.setenv("FAIRDD_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "levers.json"


def _measured(step_ms: dict, compile_s: float = 0.0) -> dict:
    """``probe``'s numbers for whole-step times in ms (fp32 eager's included)."""
    return {"ms": step_ms, "speedup": {v: step_ms["fp32"] / t for v, t in step_ms.items()},
            "compile_s": {v: compile_s for v in step_ms if "compile" in v}}


def _run_s(measured: dict, variant: str, steps: int, compilations: int = 1) -> float:
    """A variant's run by hand: its compilations, then every step at its measured time."""
    step = measured["ms"]["fp32"] / measured["speedup"][variant] / 1000
    return compilations * measured["compile_s"].get(variant, 0.0) + steps * step


def test_bf16_machine_picks_compile_with_bf16_where_the_block_probe_picked_bf16_eager():
    """docs/performance.md, the 2-core Xeon (AMX): the DM + COBRA step took fp32 3.15 s, bf16 2.20 s,
    compile 1.69 s, compile + bf16 0.69 s; the old block probe picked bf16 eager (1.46×)."""
    m = _measured({"fp32": 3150.0, "bf16": 2200.0, "compile": 1690.0, "compile+bf16": 690.0}, compile_s=40.0)
    chosen, gain = decide(m, steps=LONG_RUN)
    assert chosen == "compile+bf16" and gain[chosen] == pytest.approx(_run_s(m, "fp32", LONG_RUN)
                                                                      / _run_s(m, chosen, LONG_RUN))


def test_avx2_only_machine_picks_fp32_compilation():
    """docs/performance.md, AVX2-only (emulated): fairdd eager 43.2 s, channels_last 32.6 s, compile 27.2 s."""
    m = _measured({"fp32": 43200.0, "channels_last": 32600.0, "compile": 27200.0}, compile_s=60.0)
    assert decide(m, steps=LONG_RUN)[0] == "compile"


def test_a_compilation_longer_than_the_run_saves_is_not_chosen():
    """compile 1.6× on the step, but 500 steps of 10 ms save 1.9 s and compiling takes 30 s."""
    m = _measured({"fp32": 10.0, "compile": 6.25, "channels_last": 8.0}, compile_s=30.0)
    chosen, gain = decide(m, steps=LONG_RUN)
    assert chosen == "channels_last" and gain["compile"] < 1 and _run_s(m, "compile", LONG_RUN) > _run_s(m, "fp32", LONG_RUN)


def test_evaluation_pays_one_compilation_per_model():
    """Evaluation compiles each of its models: ten compilations can outweigh what one would have saved."""
    m = _measured({"fp32": 100.0, "compile": 50.0}, compile_s=5.0)  # 500 steps: 50 s eager, 25 s compiled
    assert decide(m, steps=LONG_RUN, compilations=1)[0] == "compile"  # 5 s to save 25 s
    assert decide(m, steps=LONG_RUN, compilations=10)[0] == "fp32"  # 50 s to save 25 s


def test_a_bigger_real_batch_than_the_probe_counts_its_saving_in_full(monkeypatch):
    """The probe caps the real batch (PROBE_REAL); the run's saving scales with the run's batch."""
    w = Workload(n_real=10 * levers.PROBE_REAL["cpu"], n_syn=10)
    assert w.scale(torch.device("cpu")) == pytest.approx((w.n_real + 30) / (levers.PROBE_REAL["cpu"] + 30))
    m = _measured({"fp32": 100.0, "compile": 50.0}, compile_s=60.0)  # 25 s saved per 500 probe steps
    assert decide(m, steps=LONG_RUN)[0] == "fp32"
    assert decide(m, steps=LONG_RUN, scale=w.scale(torch.device("cpu")))[0] == "compile"


@pytest.mark.parametrize("seed", range(5))
def test_no_measured_numbers_make_decide_pick_a_slower_run(seed):
    """Random step times, speedups below and above 1 and compilation times: the pick is never slower."""
    rng = random.Random(seed)
    for _ in range(200):
        names = rng.sample(["bf16", "compile", "channels_last", "compile+bf16", "bf16+channels_last"], 3)
        m = _measured({"fp32": rng.uniform(1, 5000), **{v: rng.uniform(1, 5000) for v in names}})
        m["compile_s"] = {v: rng.uniform(0, 120) for v in names if "compile" in v}
        steps, k = rng.choice([LONG_RUN, 2000, 20000]), rng.choice([1, 3])
        chosen, _ = decide(m, steps=steps, compilations=k)
        assert _run_s(m, chosen, steps, k) * (MARGIN if chosen != "fp32" else 1) <= _run_s(m, "fp32", steps, k) + 1e-9
        assert all(_run_s(m, chosen, steps, k) <= _run_s(m, v, steps, k) + 1e-9 for v in names) or chosen == "fp32"


def _compiler(monkeypatch, tmp_path, body: str) -> None:
    """Compiled variants' child processes run ``body`` first (a sitecustomize on their PYTHONPATH)."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(body)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))
    monkeypatch.setattr(levers, "compile_support", lambda device: (True, "compiler"))
    monkeypatch.setattr(levers, "bf16_support", lambda device: (False, "no bf16 units"))


def test_a_compiler_that_aborts_its_process_is_recorded_and_the_run_lives_on(monkeypatch, tmp_path, cache):
    """torch 2.13's Inductor aborted with a double free: the child really dies of SIGABRT here."""
    _compiler(monkeypatch, tmp_path, "import os, sys\nsys.stderr.write('double free or corruption\\n')\nos.abort()\n")
    work = Workload(width=8, image_size=16, n_real=16, n_syn=4)
    lv = choose_levers("cpu", precision="fp32", workload=work)
    assert lv.compile is False and "compile not a candidate" in lv.reason and "SIGABRT" in lv.reason
    assert "double free" in lv.probe["failed"]["compile"]
    record = json.loads(cache.read_text())[lv.probe["key"]]["compile"]
    assert "SIGABRT" in record["failed"]  # kept: the next run does not crash a child again
    assert choose_levers("cpu", precision="fp32", workload=work).probe["cached"]


def test_a_compiler_that_segfaults_is_recorded(monkeypatch, tmp_path):
    _compiler(monkeypatch, tmp_path, "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n")
    lv = choose_levers("cpu", precision="fp32", workload=Workload(width=8, image_size=16, n_real=16, n_syn=4))
    assert lv.compile is False and "SIGSEGV" in lv.probe["failed"]["compile"]


def test_a_compiler_past_its_time_limit_is_not_chosen_and_tried_again_when_the_machine_is_quiet(
        monkeypatch, tmp_path, cache):
    """Under load (here 13-19 on 2 cores) a compilation can run past the probe's limit: not chosen, and
    kept only while the machine stays busy (a probe per run would cost minutes each time)."""
    _compiler(monkeypatch, tmp_path, "import time\ntime.sleep(30)\n")
    monkeypatch.setattr(levers, "COMPILE_PROBE_TIMEOUT", 1)
    monkeypatch.setattr(levers, "_busy", lambda: True)
    work = Workload(width=8, image_size=16, n_real=16, n_syn=4)
    lv = choose_levers("cpu", precision="fp32", workload=work)
    assert lv.compile is False and "ran past 1 s" in lv.probe["failed"]["compile"]
    assert json.loads(cache.read_text())[lv.probe["key"]]["compile"]["busy"] is True
    assert choose_levers("cpu", precision="fp32", workload=work).probe["cached"]  # still busy: not again
    monkeypatch.setattr(levers, "_busy", lambda: False)
    assert not choose_levers("cpu", precision="fp32", workload=work).probe["cached"]  # quiet: probed again


def test_a_compiled_variant_that_printed_garbage_is_not_chosen(monkeypatch, tmp_path):
    """A child that exits 0 without its times (a broken install, a stray print) is a failure, not a win."""
    _compiler(monkeypatch, tmp_path, "import os\nos._exit(0)\n")
    lv = choose_levers("cpu", precision="fp32", workload=Workload(width=8, image_size=16, n_real=16, n_syn=4))
    assert lv.compile is False and "exit status 0" in lv.probe["failed"]["compile"]


def test_the_probe_times_the_runs_own_step(monkeypatch):
    """The probe embeds the run's batches with the run's network (the old probe: one block, 8 images), the real
    batch in the chunks a run's ``embed_real`` takes."""
    from fairdd.models import cpu_chunk

    seen = []
    monkeypatch.setattr(levers, "_step", lambda fn, net, real, syn, precision, chunk: seen.append(
        (len(net.features), tuple(real.shape), tuple(syn.shape), syn.requires_grad, chunk, cpu_chunk(net, 16))))
    for width in (8, 256):
        levers._measure(torch.device("cpu"), Workload(width=width, depth=2, image_size=16, n_real=1000, n_syn=30,
                                                      in_channels=1), ["fp32"], 0.0)
    assert seen[0][:4] == (8, (levers.PROBE_REAL["cpu"], 1, 16, 16), (30, 1, 16, 16), True)
    assert [s[4] for s in seen] == [s[5] for s in seen] and seen[-1][4] == 32  # 256 wide at 16 px: 32 a pass


def test_a_real_probe_on_this_machine_never_picks_a_slower_run():
    """The CI check: a real (small) probe here, compilation left out (10–40 s); the pick is recomputed by hand."""
    lv = choose_levers("cpu", compile=False, channels_last="auto",
                       workload=Workload(width=16, image_size=16, n_real=32, n_syn=8, steps=LONG_RUN))
    m = lv.probe
    runs = {v: _run_s(m, v, LONG_RUN) for v in m["speedup"]}
    chosen = levers._variant_name(lv.precision, lv.compile, lv.channels_last)
    assert runs[chosen] * (MARGIN if chosen != "fp32" else 1) <= runs["fp32"]
    assert chosen != "fp32" or all(runs["fp32"] / t < MARGIN for t in runs.values())


def test_each_isa_setting_compiles_into_its_own_inductor_cache(monkeypatch, tmp_path):
    """torch 2.13 keys Inductor's cache without the ISA: code compiled under ATEN_CPU_CAPABILITY=avx2 and
    loaded by a process without it aborted (free(): invalid pointer). Each setting gets its own folder."""
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    native = levers.inductor_cache_dir()
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    emulated = levers.inductor_cache_dir()
    assert native != emulated and native.parent == emulated.parent == tmp_path / "inductor"
    assert levers.inductor_cache_dir() == emulated  # called again (or in a child): not nested
    assert emulated.name == "fairdd-isa-avx2-onednn-avx2"


def test_every_compilation_goes_through_the_per_isa_cache(monkeypatch, tmp_path):
    """``compiled`` (DM, the probe) and training's compiled plan set the folder before torch.compile."""
    from fairdd import train
    from fairdd.models import ConvNet

    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    levers.compiled(ConvNet(width=4, image_size=8, depth=1), "embed")  # torch.compile is lazy: nothing compiles
    assert levers.os.environ["TORCHINDUCTOR_CACHE_DIR"].startswith(str(tmp_path / "inductor" / "fairdd-isa-"))
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "other"))
    train._compiled_plan.cache_clear()
    train._compiled_plan(True)
    assert levers.os.environ["TORCHINDUCTOR_CACHE_DIR"].startswith(str(tmp_path / "other" / "fairdd-isa-"))
    train._compiled_plan.cache_clear()
