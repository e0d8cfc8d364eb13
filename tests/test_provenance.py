"""Provenance and finiteness: results and checkpoints know their training set; NaN never passes."""
import json

import pytest
import torch

import fairdd
from fairdd.cli import main
from fairdd.results import DistillResult
from fairdd.validate import NonFiniteError

from conftest import SMOKE


def _with_images(ds, images):
    return ds._replace(images=images)


def test_fingerprint_names_the_build_and_sees_content(digits_train):
    fp = digits_train.fingerprint()
    assert (fp["name"], fp["split"], fp["n"], fp["n_groups"]) == ("colored-digits", "train", len(digits_train), 4)
    assert fp["build"]["bias"] == 0.75 and sum(fp["cell_counts"]) == len(digits_train)
    images = digits_train.images.clone()
    images[0, 0, 0, 0] += 0.5  # one pixel of the first (hashed) image
    assert _with_images(digits_train, images).fingerprint()["content_sha256"] != fp["content_sha256"]
    again = fairdd.datasets.load("colored-digits", split="train", n_groups=4, bias=0.75, size=16, seed=0)
    assert again.fingerprint() == fp  # rebuilt the same way: the same fingerprint


def test_resume_refuses_another_training_set(digits_train, tmp_path):
    ckpt = tmp_path / "run.pt"
    fairdd.distill(digits_train, target="fairdd", ipc=1, iterations=2, checkpoint=ckpt, **SMOKE)
    other = fairdd.datasets.load("colored-digits", split="train", n_groups=4, bias=0.5, size=16, seed=0)
    with pytest.raises(ValueError, match=r"another training set: .*build.bias 0.75 \(now 0.5\)"):
        fairdd.distill(other, target="fairdd", ipc=1, iterations=3, resume=ckpt, **SMOKE)
    fewer = fairdd.datasets.load("colored-digits", split="train", n_groups=2, bias=0.75, size=16, seed=0)
    with pytest.raises(ValueError, match=r"another training set: .*n_groups 4 \(now 2\)"):
        fairdd.distill(fewer, target="fairdd", ipc=1, iterations=3, resume=ckpt, **SMOKE)
    # the same set resumes
    assert len(fairdd.distill(digits_train, target="fairdd", ipc=1, iterations=3, resume=ckpt, **SMOKE).history) == 3


def test_evaluate_refuses_a_test_set_built_otherwise(digits_train, digits_test):
    rnd = fairdd.random_subset(digits_train, ipc=1)
    corrupted = fairdd.datasets.load("colored-digits", split="test", n_groups=4, size=16, seed=0, severity=3)
    with pytest.raises(ValueError, match=r"not built like.*build.severity 0 \(now 3\)"):
        fairdd.evaluate(rnd, corrupted, n_models=1, epochs=1, **SMOKE)
    bg = fairdd.datasets.load("colored-digits", split="test", n_groups=4, size=16, seed=0, mode="background")
    with pytest.raises(ValueError, match=r"build.mode 'foreground' \(now 'background'\)"):
        fairdd.evaluate(rnd, bg, n_models=1, epochs=1, **SMOKE)
    # bias and seed may differ (the test split is balanced); asked to, evaluate scores any set
    other_seed = fairdd.datasets.load("colored-digits", split="test", n_groups=4, size=16, seed=5)
    assert fairdd.evaluate(rnd, other_seed, n_models=1, epochs=1, **SMOKE).accuracy >= 0
    assert fairdd.evaluate(rnd, corrupted, n_models=1, epochs=1, check_dataset=False, **SMOKE).accuracy >= 0


def test_cli_evaluate_builds_the_test_set_from_the_record(tmp_path, capsys):
    res = tmp_path / "res"
    assert main(["distill", "--dataset", "colored-digits", "--severity", "2", "--target", "vanilla", "--ipc", "1",
                 "--preset", "smoke", "--device", "cpu", "--out", str(res), "--set", "iterations=1"]) == 0
    ev = ["evaluate", str(res), "--preset", "smoke", "--n-models", "1", "--device", "cpu", "--set", "epochs=1"]
    assert main(ev + ["--out", str(tmp_path / "r.json")]) == 0  # no --dataset: from the record
    assert json.loads((tmp_path / "r.json").read_text())["source"]["target"] == "vanilla"
    capsys.readouterr()
    assert main(ev + ["--severity", "0"]) == 2
    err = capsys.readouterr().err
    assert "build.severity 2 (now 0)" in err and len(err.strip().splitlines()) == 1
    assert main(ev + ["--severity", "0", "--any-test-set"]) == 0


def test_nan_in_training_data_is_refused_before_work(digits_train):
    images = digits_train.images.clone()
    images[7, 1, 3, 3] = float("nan")
    bad = _with_images(digits_train, images)
    with pytest.raises(NonFiniteError, match="training images: NaN or infinite values in 1 of .* index 7"):
        fairdd.distill(bad, target="cobra", ipc=1, **SMOKE)
    with pytest.raises(NonFiniteError, match="index 7"):
        fairdd.random_subset(bad, ipc=1)


def test_non_finite_run_stops_naming_the_iteration_and_keeps_the_last_good_state(digits_train, tmp_path):
    ckpt = tmp_path / "run.pt"

    def poison(run, info):
        if info.iteration == 3:
            with torch.no_grad():
                run.images[0, 0, 0, 0] = float("inf")

    with pytest.raises(NonFiniteError, match="at iteration 3 .*put back to iteration 2.*run.pt holds that state") as err:
        fairdd.distill(digits_train, target="vanilla", ipc=1, iterations=5, checkpoint=ckpt, callbacks=[poison],
                       **SMOKE)
    assert err.value.iteration == 3 and len(err.value.last_good.history) == 2
    assert torch.isfinite(err.value.last_good.images).all()
    state = torch.load(ckpt, weights_only=True)
    assert int(state["iteration"]) == 2 and torch.isfinite(state["images"]).all()
    # the run continues from the kept state
    resumed = fairdd.distill(digits_train, target="vanilla", ipc=1, iterations=5, resume=ckpt, **SMOKE)
    assert len(resumed.history) == 5
    # a learning rate that blows the loss up is caught too
    with pytest.raises(NonFiniteError, match="at iteration [0-9]+"):
        fairdd.distill(digits_train, target="vanilla", ipc=1, iterations=5, lr_img=1e38, **SMOKE)


def test_evaluate_refuses_non_finite_images(digits_train, digits_test):
    rnd = fairdd.random_subset(digits_train, ipc=1)
    nan = DistillResult(torch.full_like(rnd.images, float("nan")), rnd.labels, config=rnd.config, dataset=rnd.dataset)
    with pytest.raises(NonFiniteError, match="source .synthetic. images: NaN"):
        fairdd.evaluate(nan, digits_test, n_models=1, **SMOKE)


def test_deferred_finite_checks_find_the_first_bad_iteration(digits_train, tmp_path):
    """The GPU schedule (a check every k steps, no host sync per step), run on the CPU: the error names
    the first bad iteration, not the one where it was found, and the state goes back to the last check."""
    from fairdd.distill import Distiller

    run = Distiller(digits_train, fairdd.distill_config(target="vanilla", ipc=1, preset="smoke", iterations=12,
                                                        depth=2), device="cpu")
    run.finite_check_every = 4

    def poison(r, info):
        if info.iteration == 6:
            with torch.no_grad():
                r.images.fill_(float("nan"))  # the loss of iteration 7 is NaN; 6's was finite

    with pytest.raises(NonFiniteError, match="at iteration 7 .*put back to iteration 4") as err:
        run.run(callbacks=[poison], checkpoint=tmp_path / "c.pt")
    assert run.iteration == 4 and len(run.history) == 4 and torch.isfinite(run.images).all()
    assert int(torch.load(tmp_path / "c.pt", weights_only=True)["iteration"]) == 4
    assert err.value.iteration == 7
