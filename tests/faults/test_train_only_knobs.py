"""Fault class: the knobs that shape only a training split, listed anywhere but the dataset's record.

A test split is balanced: a training split's bias, skew or group-label noise must not reach it, and a
result's test set is rebuilt from the knobs it records less those. The class opened with the same list
``("bias", "group_noise", "group_labels")`` kept in the CLI, ``reproduce``, the sweep runner and the
evaluator's fingerprint check, and the study's imbalance knob worked out from the names ``bias``/``skew``:
a dataset with its own such knob was tested on a test set built with it, and refused as "not built like"
its training set. Now ``DatasetRecord.train_only`` and ``DatasetRecord.imbalance`` declare them and
``fairdd.datasets.test_set_for(result)`` / ``test_knobs`` read them. The rows: no module lists them, and
``ramp-squares`` (a knob ``tilt`` of its own, train-only) gets the right test set everywhere.
"""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import torch

import fairdd
from fairdd.cli import main
from fairdd.data.dataset import GroupedDataset

PACKAGE = Path(fairdd.__file__).parent
KNOB_NAMES = {"bias", "skew", "group_noise", "group_labels"}
LOADER_MODULES = ("data/colored.py", "data/cifar10s.py", "validate.py")  # the loaders check their own knobs
NAME = "ramp-squares"


def load_ramp_squares(*, split: str = "train", tilt: float = 0.8, shade: float = 0.5, severity: int = 0,
                      seed: int = 0) -> GroupedDataset:
    """A square left (class 0) or right (class 1), red or blue (group); ``tilt`` (train only) is the share of
    a class in its own colour, ``shade`` how strongly the group colours the square (both splits);
    ``severity`` is recorded only (the study's separation axis)."""
    rng = np.random.RandomState(2 * seed + (split == "test"))
    n = 40 if split == "train" else 16
    labels = np.arange(n) % 2
    own = rng.rand(n) < tilt
    groups = np.where(own, labels, 1 - labels) if split == "train" else (np.arange(n) // 2) % 2
    x = rng.rand(n, 3, 16, 16).astype(np.float32) * 0.2
    for i in range(n):
        x[i, 0 if groups[i] == 0 else 2, 5:11, slice(2, 7) if labels[i] == 0 else slice(9, 14)] += shade
    return GroupedDataset(images=torch.from_numpy((x - 0.5) / 0.5), labels=torch.from_numpy(labels),
                          groups=torch.from_numpy(groups.astype(np.int64)), class_names=("left", "right"),
                          group_names=("red", "blue"),
                          info=dict(name=NAME, split=split, tilt=tilt if split == "train" else None, shade=shade,
                                    severity=severity, seed=seed))


RECORD = fairdd.datasets.DatasetRecord(
    name=NAME, loader=load_ramp_squares, classes=("left", "right"), group_attribute="colour",
    groups=("red", "blue"), image_size=16, train_size=40, train_only=("tilt",), imbalance="tilt")


@pytest.fixture
def ramp():
    """``ramp-squares`` registered for one test, then removed."""
    fairdd.datasets.register(RECORD)
    try:
        yield RECORD
    finally:
        fairdd.datasets.unregister(NAME)


def _distilled(**knobs):
    train = fairdd.datasets.load(NAME, split="train", **knobs)
    return fairdd.distill(train, method="dm", target="vanilla", ipc=1, preset="smoke", device="cpu", depth=2,
                          iterations=1)


def _listed_knobs(path: Path) -> list[str]:
    """Lines of ``path`` where a tuple, list or set names two or more train-only knobs."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            names = {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
            if len(names & KNOB_NAMES) >= 2:
                out.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    return out


def test_no_module_outside_the_catalog_and_the_loaders_lists_train_only_knobs():
    files = [p for p in sorted(PACKAGE.rglob("*.py")) if "catalog" not in p.parts
             and str(p.relative_to(PACKAGE)) not in LOADER_MODULES]
    listed = [hit for path in files for hit in _listed_knobs(path)]
    assert not listed, f"train-only knobs listed outside their records: {listed}"


def test_the_test_set_of_a_result_leaves_out_its_own_train_only_knob(ramp):
    result = _distilled(tilt=0.6, shade=0.3, seed=2)
    test = fairdd.datasets.test_set_for(result)
    expected = fairdd.datasets.load(NAME, split="test", shade=0.3, seed=2)
    assert test.info == expected.info and test.fingerprint() == expected.fingerprint()
    assert fairdd.datasets.test_knobs(NAME, {"tilt": 0.6, "shade": 0.3}) == {"shade": 0.3}


def test_given_knobs_and_data_seed_replace_the_recorded_ones_but_not_a_train_only_one(ramp):
    test = fairdd.datasets.test_set_for(_distilled(shade=0.3), data_seed=5, shade=0.9, tilt=0.1)
    assert (test.info["shade"], test.info["seed"], test.info["tilt"]) == (0.9, 5, None)


def test_evaluate_accepts_its_test_set_and_still_names_another_difference(ramp):
    from fairdd.evaluate import test_set_differences

    result = _distilled(tilt=0.6, shade=0.3)
    assert test_set_differences(result.dataset, fairdd.datasets.test_set_for(result)) == []
    other = fairdd.datasets.load(NAME, split="test", shade=0.7)
    assert [d.split(" ")[0] for d in test_set_differences(result.dataset, other)] == ["build.shade"]


def test_the_cli_evaluates_a_result_on_the_test_set_without_its_train_only_knob(ramp, tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["distill", "--dataset", NAME, "--knob", "tilt=0.6", "--knob", "shade=0.3", "--ipc", "1",
                 "--preset", "smoke", "--device", "cpu", "--out", str(out), "--set", "iterations=1",
                 "--set", "depth=2"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out), "--preset", "smoke", "--n-models", "1", "--device", "cpu",
                 "--set", "epochs=1", "--set", "depth=2"]) == 0, capsys.readouterr().err
    assert "accuracy" in capsys.readouterr().out.lower()


def test_the_study_reads_its_imbalance_knob_from_the_record(ramp):
    from fairdd.experiments.study import imbalance_knob, study_spec

    assert imbalance_knob(NAME) == "tilt"
    spec = study_spec(dataset=NAME, targets=("vanilla",), imbalances=(0.6, 0.9), severities=(0,), mode=None)
    assert "tilt" in spec.grid and "bias" not in spec.grid


def test_a_dataset_without_an_imbalance_knob_is_refused_by_name():
    with pytest.raises(ValueError, match="dataset 'bffhq' has no imbalance knob.*'colored-mnist'"):
        fairdd.datasets.imbalance_knob("bffhq")


@pytest.mark.parametrize("name, knob", [("colored-mnist-5k", "bias"), ("cifar10-s", "skew")])
def test_the_shipped_sets_declare_their_imbalance_knob_as_train_only(name, knob):
    entry = fairdd.datasets.record(name)
    assert entry.imbalance == knob and knob in entry.train_only


def test_the_shipped_coloured_test_set_is_built_as_before():
    """Before the records declared them, the CLI left out bias, group_noise and group_labels."""
    train = fairdd.datasets.load("colored-mnist-5k", split="train", mode="background", bias=0.7, group_noise=0.1)
    result = fairdd.distill(train, method="dm", target="vanilla", ipc=1, preset="smoke", device="cpu", depth=2,
                            iterations=1)
    before = fairdd.datasets.load("colored-mnist-5k", split="test", mode="background",
                                  **{k: v for k, v in train.info.items() if k in ("severity", "n_groups", "style")})
    assert fairdd.datasets.test_set_for(result).fingerprint() == before.fingerprint()


def test_a_record_naming_a_knob_its_loader_lacks_is_refused():
    with pytest.raises(ValueError, match=r"names \['skew'\] in train_only/imbalance.*its knobs: \['tilt'"):
        fairdd.datasets.DatasetRecord(name="bad-squares", loader=load_ramp_squares, classes=("a", "b"),
                                      group_attribute="g", groups=("x", "y"), image_size=16, train_only=("skew",))


@pytest.mark.parametrize("source, kw, error, match", [
    ({"info": {"name": "folder:/no/such/folder"}}, {}, FileNotFoundError, "folder '/no/such/folder'.*not found"),
    ({"info": {}}, {}, ValueError, "records no dataset it was built from; pass dataset="),
    ({"info": {"name": "bffhq"}}, {"data_seed": 3}, ValueError, "data_seed 3 does not apply to dataset 'bffhq'"),
    ({"info": {"name": "colored-digits"}}, {"tint": 1}, ValueError, r"does not take \['tint'\]; it takes: \['mode'"),
])
def test_test_set_for_refuses_what_it_cannot_build_by_name(source, kw, error, match):
    with pytest.raises(error, match=match):
        fairdd.datasets.test_set_for(source, **kw)


def test_the_dashboards_majority_share_sets_the_records_imbalance_knob(ramp):
    """The dashboard passed its majority share as ``bias`` only: ``tilt`` (and cifar10-s's ``skew``) stayed at
    the loader's default whatever the slider said."""
    from fairdd.widgets import DistillController

    ctl = DistillController(dataset=NAME, bias=0.6, preset="smoke", device="cpu")
    assert ctl.train.info["tilt"] == 0.6
    ctl.set(bias=0.7)
    assert ctl.train.info["tilt"] == 0.7 and ctl.test.info["tilt"] is None  # train-only: the test split stays balanced
