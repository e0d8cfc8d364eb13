"""Fault class: a preset the CLI accepts is valid for that command, or refused in one clear line.

Every command that takes ``--preset`` is run with every preset (``fairdd.config.PRESETS``) and every
method, at tiny settings: the run finishes, or the CLI prints one line naming the preset and exits 2
(``fairdd-paper`` has no IDC/CAFE protocol). No command ends in a traceback (``KeyError: 'fairdd-paper'``
in ``fairdd demo`` was the case that opened the class).
"""
from __future__ import annotations

import pytest

import fairdd
from fairdd.cli import main
from fairdd.config import METHOD_PRESETS, METHODS, PRESETS
from fairdd.experiments import demo

TINY_DISTILL = dict(iterations=1, width=8, depth=2, batch_real=8, warm_start_epochs=0, outer_loop=1, inner_loop=1)
TINY_EVAL = dict(epochs=1, width=8, depth=2)
DATA = ["--dataset", "colored-digits", "--device", "cpu"]


@pytest.fixture
def tiny(monkeypatch):
    """``fairdd.distill`` / ``fairdd.evaluate`` at tiny sizes, keeping the preset the CLI passed."""
    real_distill, real_evaluate = fairdd.distill, fairdd.evaluate

    def distill(*args, **kwargs):
        return real_distill(*args, **{**kwargs, **TINY_DISTILL})

    def evaluate(*args, **kwargs):
        return real_evaluate(*args, **{**kwargs, **TINY_EVAL, "n_models": 1})

    for module in (fairdd, demo):  # the CLI's own calls, and the demo's (fairdd.experiments.demo.run)
        monkeypatch.setattr(module, "distill", distill)
        monkeypatch.setattr(module, "evaluate", evaluate)


def test_every_method_has_every_cli_preset_or_refuses_it_by_name():
    for method in METHODS:
        for preset in PRESETS:
            if _has_protocol(method, preset):
                assert fairdd.eval_config(preset=preset, method=method).n_models >= 1
            else:
                with pytest.raises(ValueError, match=f"preset {preset!r} has no {method!r} protocol"):
                    fairdd.distill_config(method=method, preset=preset)


def _has_protocol(method: str, preset: str) -> bool:
    return preset in METHOD_PRESETS[method].distill


def _check(rc: int, err: str, *, method: str, preset: str) -> None:
    assert "Traceback" not in err and "KeyError" not in err
    if _has_protocol(method, preset):
        assert rc == 0, err
    else:
        assert rc == 2 and f"preset {preset!r} has no {method!r} protocol" in err
        assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1


@pytest.mark.parametrize("preset", ["fairdd-paper"])  # end to end once; every preset below up to its models
def test_demo_runs_under_a_published_preset(preset, tiny, tmp_path, capsys):
    rc = main(["demo", "--preset", preset, *DATA, "--ipc", "1", "--out", str(tmp_path / "demo")])
    assert rc == 0, capsys.readouterr().err
    assert (tmp_path / "demo" / "metrics.json").is_file()
    assert f"preset {preset!r}" in capsys.readouterr().out


@pytest.mark.parametrize("preset", PRESETS)
def test_demo_default_models_are_the_presets_own(preset, monkeypatch, tmp_path):
    seen = {}

    def evaluate(result, test, **kwargs):
        seen["n_models"] = kwargs["n_models"]
        raise KeyboardInterrupt  # stop after the first evaluation: only the count is asked

    monkeypatch.setattr(demo, "evaluate", evaluate)
    assert main(["demo", "--preset", preset, *DATA, "--ipc", "1", "--out", str(tmp_path / "d")]) == 130
    assert seen["n_models"] == fairdd.eval_config(preset=preset, method="dm").n_models


@pytest.mark.parametrize("method", ["dm", "idc"])  # one method every preset has, one that fairdd-paper lacks
@pytest.mark.parametrize("preset", PRESETS)
def test_distill_and_evaluate_take_every_preset_or_refuse_it(preset, method, tiny, tmp_path, capsys):
    out = tmp_path / "r"
    rc = main(["distill", "--preset", preset, "--method", method, "--target", "vanilla", *DATA, "--ipc", "1",
               "--out", str(out)])
    _check(rc, capsys.readouterr().err, method=method, preset=preset)
    if rc == 0:
        for p in PRESETS:  # a saved result is evaluated under any preset: its method's protocol or a refusal
            rc = main(["evaluate", str(out), "--preset", p, "--device", "cpu"])
            _check(rc, capsys.readouterr().err, method=method, preset=p)


@pytest.mark.parametrize("method", ["dm", "idc"])
@pytest.mark.parametrize("preset", PRESETS)
def test_reproduce_takes_every_preset_or_refuses_it(preset, method, tmp_path, capsys):
    rc = main(["reproduce", "colored-digits", "--preset", preset, "--method", method, "--ipc", "1",
               "--device", "cpu", "--n-models", "1", "--targets", "random", "--out", str(tmp_path / "rep"),
               *[a for k, v in TINY_EVAL.items() for a in ("--eval-set", f"{k}={v}")]])
    _check(rc, capsys.readouterr().err, method=method, preset=preset)


@pytest.mark.parametrize("method", ["dm", "cafe"])
@pytest.mark.parametrize("preset", PRESETS)
def test_sweep_file_takes_every_preset_or_refuses_it(preset, method, tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text(f'[sweep]\npreset = "{preset}"\nn_models = 1\n[grid]\ndataset = ["colored-digits"]\n'
                    f'method = ["{method}"]\ntarget = ["random"]\nipc = [1]\n'
                    "[evaluate]\n" + "".join(f"{k} = {v}\n" for k, v in TINY_EVAL.items()))
    rc = main(["sweep", "run", str(spec), "--dir", str(tmp_path / "sw"), "--executor", "inline", "--device", "cpu"])
    _check(rc, capsys.readouterr().err, method=method, preset=preset)
