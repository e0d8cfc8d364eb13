"""Fault class: the data draw and the run seed are separate.

The default data draw is the authors' (the coloured sets: one NumPy stream seeded 30 colours the
training split, then the test split, as the COBRA code's ``get_dataset`` does); a run seed (``--seed``,
a sweep's ``seeds``) changes the run, never the data; ``data_seed`` changes the data when asked, and
both are recorded with the results.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

import fairdd
from fairdd.cli import main
from fairdd.sweeps import Sweep, make_spec


def _authors_groups(train_labels: np.ndarray, test_labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The authors' BiasedMNIST colouring, written from their code: np.random.seed(30) once, then per
    split and class a shuffle of the class's samples and of the other colours (a list), then a shuffle
    of the whole split; rho 0.9 for training, 0.1 for test."""
    np.random.seed(30)
    out = []
    for y, rho in ((train_labels, 0.9), (test_labels, 0.1)):
        group = np.empty(len(y), dtype=np.int64)
        for label in range(10):
            idx = np.where(y == label)[0]
            np.random.shuffle(idx)
            n_corr = int(len(idx) * rho)
            per = int(np.ceil((len(idx) - n_corr) / 9))
            group[idx[:n_corr]] = label
            others = [c % 10 for c in range(label + 1, label + 10)]
            np.random.shuffle(others)
            for k, start in enumerate(range(n_corr, len(idx), per)):
                group[idx[start:start + per]] = others[k]
        np.random.shuffle(np.arange(len(y)))
        out.append(group)
    return out[0], out[1]


def test_the_default_coloured_draw_is_the_authors_for_both_splits():
    train = fairdd.datasets.load("colored-mnist-5k", split="train")
    test = fairdd.datasets.load("colored-mnist-5k", split="test")
    want_train, want_test = _authors_groups(train.labels.numpy(), test.labels.numpy())
    assert np.array_equal(train.groups.numpy(), want_train)
    assert np.array_equal(test.groups.numpy(), want_test)
    assert train.info["seed"] is None and test.info["seed"] is None  # recorded: the authors' draw


def test_an_explicit_data_seed_keeps_its_old_draw():
    """seed=s is fairdd's per-split draw as before: s = 15 gives the authors' training split, not their test."""
    a = fairdd.datasets.load("colored-mnist-5k", split="train", seed=15)
    b = fairdd.datasets.load("colored-mnist-5k", split="train")
    assert np.array_equal(a.groups.numpy(), b.groups.numpy()) and a.info["seed"] == 15
    t15 = fairdd.datasets.load("colored-mnist-5k", split="test", seed=15)
    assert not np.array_equal(t15.groups.numpy(), fairdd.datasets.load("colored-mnist-5k", split="test").groups.numpy())


def test_cifar10s_and_clean_style_defaults_are_unchanged():
    import inspect

    from fairdd.data.cifar10s import load_cifar10s

    assert inspect.signature(load_cifar10s).parameters["seed"].default == 0  # the authors' seed
    a = fairdd.datasets.load("colored-digits", split="train")
    b = fairdd.datasets.load("colored-digits", split="train", seed=0)
    assert np.array_equal(a.groups.numpy(), b.groups.numpy())


def _sweep(tmp_path, **grid):
    spec = make_spec(preset="smoke", n_models=1, seeds=grid.pop("seeds", [0]), evaluate={"epochs": 1, "width": 8},
                     grid={"dataset": ["colored-digits"], "method": ["dm"], "target": ["random"], "ipc": [1], **grid})
    sweep = Sweep(spec, tmp_path / "sw")
    sweep.run("inline", device="cpu")
    return [(c, json.loads((tmp_path / "sw" / "cells" / c.id / "cell.json").read_text())) for c in sweep.cells], sweep


def test_a_multi_seed_sweep_varies_the_run_not_the_data(tmp_path):
    cells, sweep = _sweep(tmp_path, seeds=[0, 1])
    prints = [rec["dataset"]["train"]["fingerprint"] for _, rec in cells]
    assert len(cells) == 2 and prints[0] == prints[1]
    done = [sweep.dir.read(c.id, "done.json") for c, _ in cells]
    assert [(d["seed"], d["data_seed"]) for d in done] == [(0, None), (1, None)]  # both recorded


def test_a_data_seed_axis_varies_the_data(tmp_path):
    cells, _ = _sweep(tmp_path, data_seed=[1, 2])
    prints = {c.data_seed: rec["dataset"]["train"]["fingerprint"] for c, rec in cells}
    assert set(prints) == {1, 2} and prints[1] != prints[2]
    assert {rec["dataset"]["train"]["info"]["seed"] for _, rec in cells} == {1, 2}


def test_a_data_seed_for_a_fixed_split_is_refused_by_name():
    with pytest.raises(ValueError, match="dataset 'bffhq' has a fixed split: it takes no data_seed; got 3"):
        make_spec(preset="smoke", grid={"dataset": ["bffhq"], "target": ["random"], "data_seed": [3]})
    with pytest.raises(ValueError, match="data_seed"):
        make_spec(preset="smoke", grid={"dataset": ["colored-digits"], "target": ["random"], "data_seed": [-1]})


def test_the_cli_run_seed_leaves_the_data_and_data_seed_changes_it(tmp_path, capsys):
    base = ["distill", "--dataset", "colored-digits", "--preset", "smoke", "--device", "cpu", "--ipc", "1",
            "--target", "vanilla", "--set", "iterations=1", "--set", "depth=2"]
    assert main(base + ["--seed", "3", "--out", str(tmp_path / "a")]) == 0
    assert main(base + ["--seed", "4", "--out", str(tmp_path / "b")]) == 0
    assert main(base + ["--seed", "3", "--data-seed", "5", "--out", str(tmp_path / "c")]) == 0
    a, b, c = (fairdd.load_result(tmp_path / n) for n in "abc")
    assert a.dataset == b.dataset and a.config["seed"] == 3 and b.config["seed"] == 4
    assert c.dataset != a.dataset and c.dataset["info"]["seed"] == 5
    # evaluate rebuilds the test split with the draw the result records (no --any-test-set needed)
    assert main(["evaluate", str(tmp_path / "c"), "--preset", "smoke", "--n-models", "1", "--device", "cpu",
                 "--set", "epochs=1", "--set", "depth=2"]) == 0
    assert main(["distill", "--dataset", "bffhq", "--data-seed", "1", "--out", str(tmp_path / "d")]) == 2
    assert "--data-seed 1 does not apply to dataset 'bffhq'" in capsys.readouterr().err


def test_a_data_seed_in_the_data_table_and_in_reproduce_reaches_every_cell():
    from fairdd.experiments.reproduce import reproduce_spec
    from fairdd.sweeps import parse_spec

    spec = parse_spec('[sweep]\npreset = "smoke"\nseeds = [0, 1]\n[grid]\ndataset = ["colored-digits"]\n'
                      'target = ["random"]\n[data]\ndata_seed = 4\n')
    assert [(c.seed, c.data_seed, c.data) for c in spec.cells()] == [(0, 4, {}), (1, 4, {})]
    cells = reproduce_spec(dataset="colored-digits", preset="smoke", seed=2, data_seed=3, targets=["random"]).cells()
    assert [(c.seed, c.data_seed) for c in cells] == [(2, 3)]
