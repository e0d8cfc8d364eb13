"""fairdd.sweeps.estimate on a CPU: the cost model follows the cell's config, and SLURM's --time from it.

Truths of the model, not timings (those are in benchmarks/estimate_accuracy.py): twice the iterations
cost twice the distillation, every knob that adds work (image size, width, depth, real batch, IPC,
warm start, inner loops, epochs, models) costs more, and a smoke grid asks for minutes, not days.
"""

import pytest

from fairdd.sweeps import Sweep, estimate_cell, make_spec, parse_spec
from fairdd.sweeps.run import MAX_TIMEOUT_MIN, MIN_TIMEOUT_MIN, split_parallel
from fairdd.sweeps.slurm import time_limit_min

SMOKE = """
[sweep]
preset = "smoke"
seeds = [0, 1]
n_models = 1
device = "cpu"
[grid]
dataset = ["colored-digits"]
target = ["vanilla", "cobra"]
ipc = [1]
[data]
n_groups = 4
size = 16
[overrides]
iterations = 3000
"""


def _cell(method="dm", target="vanilla", ipc=10, preset="demo", data=None, evaluate=None, n_models=None, **overrides):
    spec = make_spec(preset=preset, grid={"dataset": "colored-mnist", "method": method, "target": target, "ipc": ipc},
                     data=data or {}, overrides=overrides, evaluate=evaluate or {},
                     **({"n_models": n_models} if n_models else {}))
    return spec.cells()[0]


def _cpu(cell):
    return estimate_cell(cell, device="cpu")


def test_twice_the_iterations_is_twice_the_distillation():
    one, two = _cpu(_cell(iterations=100)), _cpu(_cell(iterations=200))
    assert two.distill_s == pytest.approx(2 * one.distill_s) and two.eval_s == one.eval_s
    dc1, dc2 = _cpu(_cell(method="dc", iterations=10)), _cpu(_cell(method="dc", iterations=20))
    assert dc2.distill_s == pytest.approx(2 * dc1.distill_s)


@pytest.mark.parametrize("small,big,factor", [
    (dict(data={"size": 32}), dict(data={"size": 64}), 3.0),  # image size²
    (dict(width=16), dict(width=128), 3.0),
    (dict(depth=2), dict(depth=3), 1.05),  # the third block works on 8 × 8 maps: a little more
    (dict(batch_real=64), dict(batch_real=256), 1.2),
    (dict(ipc=10), dict(ipc=100), 1.2),
    (dict(target="vanilla"), dict(target="cobra"), 1.2),  # the warm start's network steps
    (dict(method="dc", inner_loop=1), dict(method="dc", inner_loop=10), 1.2),
    (dict(method="dc", outer_loop=2), dict(method="dc", outer_loop=10), 1.2),
    (dict(refresh_every=4), dict(refresh_every=1), 1.2),
])
def test_a_knob_that_adds_work_makes_the_distillation_longer(small, big, factor):
    assert _cpu(_cell(**big)).distill_s > factor * _cpu(_cell(**small)).distill_s


@pytest.mark.parametrize("small,big,factor", [
    (dict(evaluate={"epochs": 50}), dict(evaluate={"epochs": 100}), 1.5),  # the test set is scored once either way
    (dict(n_models=1), dict(n_models=3), 2.9),
    (dict(ipc=10), dict(ipc=100), 2.0),  # ten times the images per epoch
    (dict(evaluate={"width": 16}), dict(evaluate={"width": 128}), 2.0),
])
def test_evaluation_grows_with_epochs_models_images_and_width(small, big, factor):
    assert _cpu(_cell(**big)).eval_s > factor * _cpu(_cell(**small)).eval_s


def test_a_paper_cell_costs_far_more_than_a_demo_cell_and_the_gpu_far_less():
    paper, demo = _cell(preset="paper", target="cobra"), _cell(preset="demo", target="cobra")
    assert _cpu(paper).hours > 100 * _cpu(demo).hours
    assert estimate_cell(paper, device="cuda").hours < _cpu(paper).hours / 10


def test_a_smoke_grid_asks_slurm_for_minutes_not_days(tmp_path):
    """#22: 3000 smoke iterations on the CPU asked for --time of 13 days (the H100's time × 135)."""
    sweep = Sweep(parse_spec(SMOKE), tmp_path)
    plan = sweep.plan(device="cpu")
    minutes = sweep._timeout_min(plan, plan.jobs)
    assert MIN_TIMEOUT_MIN <= minutes <= 60, minutes
    per_cell = max(_cpu(c).hours for c in sweep.cells) * 3600
    assert per_cell < 10 * 60, per_cell  # tiny networks: seconds to minutes a cell


def test_the_time_limit_is_floored_and_capped_by_the_partition(tmp_path):
    sweep = Sweep(parse_spec(SMOKE.replace("iterations = 3000", "iterations = 2")), tmp_path / "a")
    plan = sweep.plan(device="cpu")
    assert sweep._timeout_min(plan, plan.jobs) == MIN_TIMEOUT_MIN
    huge = Sweep(parse_spec(SMOKE.replace('preset = "smoke"', 'preset = "paper"').replace(
        "iterations = 3000", "iterations = 900000")), tmp_path / "b")
    plan = huge.plan(device="cpu")
    assert huge._timeout_min(plan, plan.jobs) == MAX_TIMEOUT_MIN
    assert huge._timeout_min(plan, plan.jobs, {"max_min": 2880}) == 2880  # the partition's 2-00:00:00


@pytest.mark.parametrize("text,minutes", [("2-00:00:00", 2880), ("12:00:00", 720), ("30:00", 30), ("45", 45),
                                          ("1-12", 2160), ("3-04:05", 4565), ("infinite", None), ("UNLIMITED", None)])
def test_slurm_time_limits_are_read_in_every_form(text, minutes):
    assert time_limit_min(text) == minutes


@pytest.mark.parametrize("sizes,cap", [([4, 1], 3), ([10, 10, 10], 2), ([8, 2], 4), ([1, 1], 8), ([3, 5, 7], 6),
                                       ([2] * 5, 5), ([100], 1)])
def test_max_parallel_is_one_budget_across_the_arrays(sizes, cap):
    """#22.5: the arrays of one run never run more than ``max_parallel`` tasks together."""
    shares = split_parallel(sizes, cap)
    assert len(shares) == len(sizes) and all(s >= 1 for s, _ in shares)
    waiting = [i for i, (_, after) in enumerate(shares) if after is not None]
    if waiting:  # more arrays than the budget: one task each, array i after array i - cap
        assert all(s == 1 for s, _ in shares) and all(shares[i][1] == i - cap for i in waiting)
        assert len(sizes) - len(waiting) == cap
    else:
        assert sum(min(s, n) for (s, _), n in zip(shares, sizes)) <= cap
        assert all(s <= n for (s, _), n in zip(shares, sizes))
    assert split_parallel(sizes, None) == [(None, None)] * len(sizes)
