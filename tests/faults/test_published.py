"""Fault class: a comparison that cannot be mislabelled.

A published number stands beside a run only when every knob of the run equals the published
setting: the dataset's construction (every loader knob and the data draw) and the whole protocol
(the preset's own values: no distillation or evaluation override, the preset's number of models).
Each case changes one knob of a published setting and checks that the number is withheld with the
knob named; the published settings themselves get their number.
"""
from __future__ import annotations

import math

import pytest

from fairdd.data import options
from fairdd.experiments import PUBLISHED, compare, run_setting
from fairdd.published import HOW_LOADED
from fairdd.sweeps import make_spec

CIFAR = dict(dataset="cifar10-s", method="dm", target="vanilla", ipc=100, preset="paper")  # COBRA Table 1
CFMNIST = dict(dataset="colored-fashion-mnist", method="dm", target="fairdd", ipc=10, preset="fairdd-paper")


@pytest.mark.parametrize("row", PUBLISHED, ids=lambda p: f"{p.dataset}-{p.method}-{p.ipc}-{p.target}-{p.preset}")
def test_a_run_at_the_published_setting_gets_the_number(row):
    got = compare(run_setting(dataset=row.dataset, method=row.method, target=row.target, ipc=row.ipc,
                              preset=row.preset))  # the loaders' defaults, the preset's own protocol
    assert got.matched and (got.accuracy, got.eod, got.source) == (row.accuracy, row.eod, row.source)


@pytest.mark.parametrize("row", PUBLISHED, ids=lambda p: f"{p.dataset}-{p.method}-{p.ipc}-{p.target}-{p.preset}")
def test_every_published_row_spells_out_every_construction_knob(row):
    knobs = {k for k in options(row.dataset) if k not in HOW_LOADED}
    if "seed" in options(row.dataset):
        knobs.add("data_seed")
    assert set(row.data) == knobs


# (setting, a changed knob as run_setting's keyword, the text naming it in the reason)
CHANGED = [
    (CIFAR, {"data": {"skew": 0.5}}, "skew=0.5 (published 0.9)"),
    (CIFAR, {"data": {"severity": 3}}, "severity=3 (published None)"),
    (CIFAR, {"data_seed": 7}, "data_seed=7 (published 0)"),
    (CIFAR, {"distill": {"iterations": 2}}, "overrides={'iterations': 2} (published {})"),
    (CIFAR, {"evaluate": {"epochs": 300}}, "eval overrides={'epochs': 300} (published {})"),
    (CIFAR, {"n_models": 1}, "n_models=1 (published 5)"),
    (CIFAR, {"ipc": 50}, "ipc=50 (published 100)"),
    (CIFAR, {"preset": "demo"}, "preset='demo' (published 'paper')"),
    (CFMNIST, {"data": {"mode": "background"}}, "mode='background' (published 'foreground')"),
    (CFMNIST, {"data": {"bias": 0.8}}, "bias=0.8 (published 0.9)"),
    (CFMNIST, {"data": {"style": "clean"}}, "style='clean' (published 'official')"),
    (CFMNIST, {"data": {"n_groups": 5}}, "n_groups=5 (published 10)"),
    (CFMNIST, {"data": {"size": 28}}, "size=28 (published 32)"),
    (CFMNIST, {"data": {"severity": 1}}, "severity=1 (published 0)"),
    (CFMNIST, {"data": {"groups": [0, 1]}}, "groups=[0, 1] (published None)"),
    (CFMNIST, {"data": {"group_noise": 0.1}}, "group_noise=0.1 (published 0.0)"),
    (CFMNIST, {"data": {"group_labels": 0.5}}, "group_labels=0.5 (published 1.0)"),
    (CFMNIST, {"data_seed": 15}, "data_seed=15 (published the authors' draw)"),
    (CFMNIST, {"method": "idc", "preset": "paper"}, "method='idc' (published 'dm')"),
    (CFMNIST, {"evaluate": {"dsa": False}}, "eval overrides={'dsa': False} (published {})"),
]


@pytest.mark.parametrize(("base", "change", "named"), CHANGED, ids=[c[2].split("=")[0] + f"-{i}"
                                                                   for i, c in enumerate(CHANGED)])
def test_a_run_with_one_changed_knob_gets_no_published_number(base, change, named):
    got = compare(run_setting(**{**base, **change}))
    assert not got.matched and math.isnan(got.accuracy) and math.isnan(got.eod)
    assert got.source.startswith("no published number for these settings") and named in got.reason


def test_the_same_setting_asked_another_way_still_matches():
    """Knobs spelt as their defaults or aliases (mode 'fg', style None, data seed 0 for cifar10-s)."""
    for setting in (run_setting(**CFMNIST, data={"mode": "fg", "style": None, "bias": 0.9, "n_groups": 10}),
                    run_setting(**CIFAR, data={"skew": 0.9, "format": "python", "root": "/somewhere"}, data_seed=0),
                    run_setting(**CIFAR, n_models=5),
                    run_setting(**CIFAR, distill={"iterations": 2600}, evaluate={"epochs": 1501})):  # the preset's
        assert compare(setting).matched


def test_a_flag_is_not_a_number():
    setting = run_setting(**CFMNIST)
    assert compare({**setting, "n_models": True}).reason  # True == 1 in Python, but not as a setting
    assert not compare({**setting, "size": 32.0}).reason  # an int spelt as a float is the same size


def test_a_two_iteration_cifar10s_run_gets_no_cobra_number_in_a_sweep():
    """Skew 0.5, severity 3 and 2 iterations: no COBRA Table 1 number (45.4) stands beside the cell."""
    from fairdd.published import cell_comparison

    spec = make_spec(preset="paper", n_models=5, grid={"dataset": ["cifar10-s"], "method": ["dm"],
                                                       "target": ["vanilla"], "ipc": [100]},
                     data={"skew": 0.5, "severity": 3}, overrides={"iterations": 2})
    got = cell_comparison(spec.cells()[0])
    assert not got.matched and "COBRA" not in got.source
    assert all(k in got.reason for k in ("skew=0.5", "severity=3", "'iterations': 2"))
    clean = make_spec(preset="paper", n_models=5, grid={"dataset": ["cifar10-s"], "method": ["dm"],
                                                        "target": ["vanilla"], "ipc": [100]})
    assert cell_comparison(clean.cells()[0]).accuracy == 45.4


def test_a_sweep_entry_over_seeds_of_other_data_draws_gets_no_number():
    from fairdd.published import cell_comparison

    spec = make_spec(preset="paper", n_models=5, seeds=[0, 1], grid={
        "dataset": ["cifar10-s"], "method": ["dm"], "target": ["vanilla"], "ipc": [100], "data_seed": [0, 3]})
    got = {c.data_seed: cell_comparison(c) for c in spec.cells()}
    assert got[0].matched and not got[3].matched and "data_seed=3" in got[3].reason


def test_a_dataset_no_paper_reports_says_so():
    got = compare(run_setting(dataset="celeba", method="dm", target="cobra", ipc=10, preset="paper",
                              data={"group": "Young"}))
    assert not got.matched and not got.near_miss and "no paper reports cobra on celeba" in got.reason
