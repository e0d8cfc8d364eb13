"""Fault class 4, types at the boundary: a wrong type is refused by name, never coerced or crashed on.

The rule: every value that enters fairdd goes through one checker of its kind (``fairdd.validate``:
``check_int``, ``check_real``, ``check_seed``, ``check_bool``, ``check_choice``, ``check_dtype``,
``check_callbacks``, ``check_group_weights``), at the place it enters (a config's field table, a
``GroupedDataset`` / ``DistillResult``, ``datasets.load``, a sweep file's cell). A checker returns the
plain Python value (``np.int64(3)`` -> ``3``), so NumPy scalars are accepted as the numbers they are,
and ``True`` is never an integer. Each test is one case.
"""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch

import fairdd
from fairdd.cli import main
from fairdd.sweeps.grid import Cell, grid_size, parse_spec
from fairdd.validate import MAX_SEED, numpy_seed, stream_seed

SMOKE = dict(preset="smoke", device="cpu", ipc=1, iterations=1)
HEAD = '[sweep]\npreset = "smoke"\n[grid]\ndataset = ["colored-digits"]\ntarget = ["vanilla"]\n'


def _refused(call, *needles, exc=ValueError):
    with pytest.raises(exc) as err:
        call()
    message = str(err.value)
    for needle in needles:
        assert needle in message, f"{message!r} does not name {needle!r}"
    return message


# ------------------------------------------------------------------ tensors of a data set or result
def test_float64_images_are_refused_by_name(digits_train):
    _refused(lambda: digits_train._replace(images=digits_train.images.double()), "images", "float64", "float32")


def test_float16_images_are_refused_not_distilled_in_half_precision(digits_train):
    _refused(lambda: digits_train._replace(images=digits_train.images.half()), "images", "float16")


def test_float_labels_are_refused_by_name(digits_train):
    _refused(lambda: digits_train._replace(labels=digits_train.labels.float()), "labels", "float32", "long()")


def test_int32_labels_are_refused_with_the_fix(digits_train):
    _refused(lambda: digits_train._replace(labels=digits_train.labels.int()), "labels", "int32", "int64")


def test_float_groups_are_refused_by_name(digits_train):
    _refused(lambda: digits_train._replace(groups=digits_train.groups.float()), "groups", "float32")


def test_known_mask_of_ints_is_refused(digits_train):
    _refused(lambda: digits_train._replace(known=torch.ones(len(digits_train), dtype=torch.long)), "known", "bool")


def test_float64_result_images_are_refused_before_evaluation(digits_train):
    rnd = fairdd.random_subset(digits_train, ipc=1)
    _refused(lambda: fairdd.DistillResult(rnd.images.double(), rnd.labels, dataset=rnd.dataset), "images", "float64")


# ------------------------------------------------------------------------------------ callbacks
def test_callbacks_int_is_refused_by_name(digits_train):
    _refused(lambda: fairdd.distill(digits_train, callbacks=5, **SMOKE), "callbacks", "5 (int)")


def test_callbacks_string_is_refused_not_iterated(digits_train):
    _refused(lambda: fairdd.distill(digits_train, callbacks="print", **SMOKE), "callbacks", "'print' (str)")


def test_a_single_callable_is_a_callback(digits_train):
    seen = []
    fairdd.distill(digits_train, callbacks=lambda run, info: seen.append(info.iteration), **SMOKE)
    assert seen == [1]


def test_a_callback_of_the_wrong_arity_is_refused_before_any_work(digits_train):
    calls = []
    _refused(lambda: fairdd.distill(digits_train, callbacks=[lambda info: calls.append(info)], **SMOKE),
             "callbacks[0]", "two arguments")
    assert calls == []


def test_a_tuple_of_callbacks_is_accepted(digits_train):
    seen = []
    fairdd.distill(digits_train, callbacks=(lambda r, i: seen.append(1), lambda r, i: seen.append(2)), **SMOKE)
    assert seen == [1, 2]


# ------------------------------------------------------------------------------ numbers and bools
def test_config_keeps_numpy_ints_as_python_ints():
    config = fairdd.DistillConfig(ipc=np.int64(3), iterations=np.int32(5), lr_img=np.float32(0.5))
    assert (config.ipc, config.iterations) == (3, 5) and type(config.ipc) is int and type(config.lr_img) is float


def test_bool_is_not_an_integer_in_eval_config():
    _refused(lambda: fairdd.eval_config(batch_size=True), "batch_size", "True (bool)")


def test_load_takes_numpy_ints_and_floats():
    ds = fairdd.datasets.load("colored-digits", split="test", n_groups=np.int64(4), size=np.int64(16),
                              bias=np.float32(0.9), seed=np.uint32(1))
    assert ds.n_groups == 4 and ds.image_shape == (3, 16, 16) and ds.info["seed"] == 1


def test_load_takes_a_numpy_array_of_group_ids():
    ds = fairdd.datasets.load("colored-digits", split="test", size=16, groups=np.array([0, 2]))
    assert ds.group_names == ("red", "blue")


def test_an_integer_too_large_for_a_float_is_refused_by_name():
    _refused(lambda: fairdd.datasets.load("colored-digits", bias=10**400), "bias", "too large")


def test_lr_img_halvings_take_numpy_ints_and_refuse_a_string():
    assert fairdd.DistillConfig(lr_img_halvings=[np.int64(30), 10]).lr_img_halvings == (10, 30)
    _refused(lambda: fairdd.DistillConfig(lr_img_halvings="12"), "lr_img_halvings", "str")


# ---------------------------------------------------------------------------------- group weights
def test_group_weights_whose_sum_overflows_are_refused(digits_train):
    _refused(lambda: fairdd.distill(digits_train, target="cobra", group_weights=[1e308] * 4, **SMOKE),
             "group_weights", "overflow")


def test_group_weights_beyond_float_range_are_refused_by_name():
    _refused(lambda: fairdd.distill_config(group_weights=[10**400, 1, 1, 1]), "group_weights[0]", "too large")


def test_group_weights_as_a_numpy_array_are_read_as_numbers():
    config = fairdd.distill_config(group_weights=np.array([1.0, 2.0, 0.0, 1.0]))
    assert config.group_weights == [1.0, 2.0, 0.0, 1.0] and config.to_dict()["group_weights"] == [1.0, 2.0, 0.0, 1.0]


# ------------------------------------------------------------------------------------------ seeds
def test_evaluate_takes_the_largest_documented_seed(digits_train, digits_test):
    rnd = fairdd.random_subset(digits_train, ipc=1, seed=MAX_SEED)
    report = fairdd.evaluate(rnd, digits_test, n_models=1, epochs=1, preset="smoke", device="cpu", seed=MAX_SEED)
    assert 0 <= report.accuracy <= 100


def test_official_colouring_takes_the_largest_documented_seed():
    ds = fairdd.datasets.load("colored-digits", split="test", n_groups=4, size=16, style="official", seed=MAX_SEED)
    assert ds.info["seed"] == MAX_SEED and len(ds) > 0


def test_derived_seeds_keep_small_seeds_and_stay_in_range():
    assert stream_seed(7, 3, 1000) == 7003 and numpy_seed(15 * 2 + 1) == 31  # the authors' draws unchanged
    assert 0 <= stream_seed(MAX_SEED, 999, 1000) < 2**64
    big = numpy_seed(stream_seed(MAX_SEED, 1, 2))
    np.random.RandomState(big)  # accepted
    assert big != numpy_seed(stream_seed(MAX_SEED - 1, 1, 2))


def test_seed_above_the_range_names_the_range():
    _refused(lambda: fairdd.distill_config(seed=MAX_SEED + 1), "seed", str(MAX_SEED))


def test_cifar10s_seed_float_is_refused_before_looking_for_files(tmp_path):
    _refused(lambda: fairdd.datasets.load("cifar10-s", seed=1.5, root=tmp_path), "seed", "1.5")


def test_cifar10s_skew_bool_is_refused(tmp_path):
    _refused(lambda: fairdd.datasets.load("cifar10-s", skew=True, root=tmp_path), "skew", "True (bool)")


def test_celeba_seed_string_is_refused_before_looking_for_files(tmp_path):
    _refused(lambda: fairdd.datasets.load("celeba", seed="0", root=tmp_path), "seed", "'0' (str)")


# ------------------------------------------------------------------------------------ sweep grids
def test_grid_ipc_float_is_refused_not_truncated():
    _refused(lambda: parse_spec(HEAD + "ipc = [2.5]"), "ipc", "2.5 (float)")


def test_grid_ipc_string_is_refused_by_name():
    message = _refused(lambda: parse_spec(HEAD + 'ipc = ["a"]'), "ipc", "'a' (str)")
    assert "invalid literal" not in message


def test_grid_ipc_bool_is_refused():
    _refused(lambda: parse_spec(HEAD + "ipc = [true]"), "ipc", "True (bool)")


def test_grid_seed_float_is_refused():
    _refused(lambda: parse_spec(HEAD + "seed = [2.5]"), "seed", "2.5")


def test_grid_n_models_float_is_refused():
    _refused(lambda: parse_spec(HEAD + "[evaluate]\nn_models = 2.5\n"), "n_models", "2.5")


def test_grid_data_knob_of_the_wrong_type_is_refused_when_read():
    _refused(lambda: parse_spec(HEAD + 'bias = ["high"]'), "bias", "colored-digits", "'high' (str)")


def test_grid_device_must_be_a_string():
    _refused(lambda: parse_spec(HEAD.replace('preset = "smoke"', 'preset = "smoke"\ndevice = 0')), "device", "0 (int)")


def _huge_grid() -> str:
    axis = list(range(1, 101))
    return HEAD + f"ipc = {axis}\niterations = {axis}\nbatch_real = {axis}\n"


def test_a_million_cell_grid_is_refused_before_any_cell_is_built(monkeypatch):
    built = []
    monkeypatch.setattr(Cell, "distill_config", lambda self: built.append(self))
    assert grid_size(_huge_grid())[0] == 10**6
    _refused(lambda: parse_spec(_huge_grid()), "1,000,000 cells", "--max-cells")
    assert built == []


def test_the_cell_limit_is_raised_by_argument_or_by_the_file():
    two = HEAD + "ipc = [1, 2]"
    _refused(lambda: parse_spec(two, max_cells=1), "2 cells")
    assert len(parse_spec(two, max_cells=2).cells()) == 2
    assert len(parse_spec(two.replace('preset = "smoke"', 'preset = "smoke"\nmax_cells = 5'), max_cells=1).cells()) == 2


def test_cli_sweep_reports_the_cell_count_and_refuses_a_huge_grid(tmp_path, capsys):
    (tmp_path / "g.toml").write_text(_huge_grid())
    t0 = time.perf_counter()
    assert main(["sweep", "run", str(tmp_path / "g.toml"), "--dir", str(tmp_path / "d"), "--dry-run"]) == 2
    out, err = capsys.readouterr()
    assert "1,000,000 cells" in out and len(err.splitlines()) == 1
    assert err.startswith("error: ") and "--max-cells" in err
    assert not (tmp_path / "d").exists()
    assert time.perf_counter() - t0 < 60  # a bound on hanging, not a timing: it built for 25 min before


def test_cli_max_cells_must_be_a_positive_integer(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", "run", "g.toml", "--dir", str(tmp_path), "--max-cells", "0"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "--max-cells: must be an integer >= 1; got '0'" in err


def test_cli_set_float_for_an_integer_field_is_one_line(tmp_path, capsys):
    argv = ["distill", "--dataset", "colored-digits", "--preset", "smoke", "--device", "cpu", "--ipc", "1",
            "--out", str(tmp_path / "r"), "--set", "iterations=2.5"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "iterations" in err[0] and "2.5" in err[0]


# --------------------------------------------------------------------------- report accessors
def _small_report():
    labels = torch.arange(4).repeat_interleave(6)
    groups = torch.arange(24) % 2
    pred = torch.stack([labels, (labels + torch.arange(24) % 3 // 2) % 4])
    return fairdd.FairnessReport.from_predictions(pred, labels, groups, class_names=["a", "b", "c", "d"],
                                                  group_names=["x", "y"])


def test_report_bootstrap_takes_numpy_ints():
    assert set(_small_report().bootstrap(n_boot=np.int64(20))) == {"accuracy", "eod", "deo_a", "worst_group_accuracy"}


def test_report_bootstrap_seed_negative_is_refused_not_wrapped():
    _refused(lambda: _small_report().bootstrap(n_boot=10, seed=-1), "seed", "-1")


def test_report_bootstrap_seed_float_is_refused_by_name():
    _refused(lambda: _small_report().bootstrap(n_boot=10, seed=1.5), "seed", "1.5 (float)")


def test_report_level_string_is_refused_by_name():
    _refused(lambda: _small_report().model_interval(level="0.9"), "level", "'0.9' (str)")


def test_report_model_index_bool_is_refused():
    _refused(lambda: _small_report().difference(model=True), "model", "True (bool)")


def test_report_float_predictions_are_refused():
    labels = torch.arange(4)
    _refused(lambda: fairdd.FairnessReport.from_predictions(labels.float(), labels, labels % 2, class_names="abcd",
                                                            group_names=("x", "y")), "pred", "float32")


def test_report_names_as_one_string_are_refused_not_split_into_letters():
    labels = torch.arange(4)
    _refused(lambda: fairdd.FairnessReport.from_predictions(labels, labels, labels % 2, class_names="abcd",
                                                            group_names=("x", "y")), "class_names", "'abcd' (str)")


@pytest.mark.parametrize("bad", [0, -3, True, 1.5])
def test_the_parallel_budget_is_refused_before_any_plan_unless_an_integer_at_least_1(bad):
    from fairdd.sweeps.run import split_parallel

    _refused(lambda: split_parallel([4, 4], bad), "max_parallel must be an integer >= 1", repr(bad))


def test_cli_slurm_dry_run_refuses_max_parallel_0_in_one_line(tmp_path, capsys):
    from pathlib import Path

    grid = Path(fairdd.__file__).resolve().parents[1] / "benchmarks" / "grids" / "smoke.toml"
    argv = ["sweep", "run", str(grid), "--dir", str(tmp_path / "d"), "--executor", "slurm", "--dry-run",
            "--max-parallel", "0"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "max_parallel must be an integer >= 1 or None; got 0" in err and "#SBATCH" not in err
