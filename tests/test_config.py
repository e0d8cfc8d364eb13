"""The configs and their presets (fairdd/config.py)."""
from typing import get_args

import pytest

from fairdd import models
from fairdd.config import (METHOD_PRESETS, METHODS, NORMS, PRESETS, DistillConfig, EvalConfig, Method, Norm, Preset,
                           Target, distill_config, eval_config)
from fairdd.matching import MATCHERS
from fairdd.targets import STRATEGIES


def test_the_method_list_is_written_once_and_every_place_reads_it():
    assert METHODS == get_args(Method) == tuple(METHOD_PRESETS)
    assert set(MATCHERS) == set(METHODS)  # every method has a matcher, and no matcher lacks presets
    assert PRESETS == get_args(Preset) and NORMS == get_args(Norm) == get_args(models.Norm)
    assert Target is str and not get_args(Target)  # targets: the registry's keys, read by validation
    assert {"vanilla", "uniform", "fairdd", "cobra", "cobra-w2", "cobra-gauss", "cobra-mix"} <= set(STRATEGIES)


def test_every_method_has_every_cpu_preset_and_the_paper_one():
    for method, presets in METHOD_PRESETS.items():
        assert {"paper", "demo", "smoke"} <= set(presets.distill) == set(presets.evaluate), method
        assert set(presets.sources) == set(presets.distill) - {"demo", "smoke"}, method
        for preset in presets.distill:
            assert distill_config(method=method, preset=preset).method == method
            assert eval_config(method=method, preset=preset).preset == preset


def test_config_classes_document_every_field():
    import dataclasses

    for cls in (DistillConfig, EvalConfig):
        doc = cls.__doc__
        for f in dataclasses.fields(cls):
            assert f"\n    {f.name} : " in doc, (cls.__name__, f.name)


def test_a_preset_a_method_lacks_is_refused_by_name():
    with pytest.raises(ValueError, match="preset 'fairdd-paper' has no 'cafe' protocol"):
        eval_config(method="cafe", preset="fairdd-paper")


def test_published_cobra_defaults_and_overrides():
    paper = distill_config(target="cobra", ipc=50)  # COBRA's run_dm.sh / train_dm.py
    assert (paper.iterations, paper.distance, paper.warm_start_epochs, paper.batch_real, paper.lr_img) == \
        (2600, "l1", 50, 600, 1.0)
    assert (paper.warm_start_lr, paper.warm_start_momentum, paper.warm_start_weight_decay) == (0.01, 0.0, 0.0)
    assert paper.warm_start_batch == 256  # train_dm.py: batch_train
    assert [distill_config(target="cobra", ipc=i).warm_start_epochs for i in (1, 10, 20, 100)] == [10, 10, 10, 100]
    assert distill_config(target="fairdd", ipc=100).lr_img == 1.0  # COBRA: 1.0 at every IPC
    fair = distill_config(target="fairdd", ipc=100, preset="fairdd-paper")  # FairDD's main_DM.sh
    assert (fair.iterations, fair.batch_real, fair.lr_img, fair.fairdd_reduction) == (20000, 256, 10.0, "sum")
    assert distill_config(target="cobra", distance="l2", warm_start_epochs=0).distance == "l2"


@pytest.mark.parametrize("kw, match", [
    (dict(method="mtt"), r"unknown method 'mtt'; allowed: \['dm', 'dc', 'dsa', 'idc', 'cafe'\]"),
    (dict(target="fair"), "unknown target 'fair'"),
    (dict(preset="huge"), "unknown preset 'huge'; allowed: \\['paper', 'fairdd-paper', 'demo', 'smoke'\\]"),
    (dict(fairdd_reduction="max"), r"unknown fairdd_reduction 'max'; allowed: \['sum', 'mean'\]"),
    (dict(cafe_loss="dm"), r"unknown cafe_loss 'dm'; allowed: \['cafe', 'cobra'\]"),
    (dict(lr_img_halvings=(0,)), r"lr_img_halvings must be a sequence of iterations >= 1; got \(0,\)"),
    (dict(warm_start_momentum=1.0), r"warm_start_momentum must be a finite number in \[0, 1\)"),
    (dict(method="idc", preset="fairdd-paper"), "preset 'fairdd-paper' has no 'idc' protocol"),
    (dict(method="dc", ipc=15), "the reference code defines no outer/inner loops for ipc 15"),
    (dict(ipc=0), "ipc must be an integer >= 1; got 0"),
    (dict(iterations=-5), "iterations must be an integer >= 1; got -5"),
    (dict(lr_image=1.0), r"unknown option\(s\) \['lr_image'\]"),
    (dict(distance="cosine"), "unknown distance 'cosine'"),
    (dict(momentum=1.5), r"momentum must be a finite number in \[0, 1\)"),
    (dict(compile=1), r"compile must be one of \['auto', False, True, 'default', 'reduce-overhead', "
                          r"'max-autotune-no-cudagraphs'\]; got 1"),
    (dict(refresh_every=0), "refresh_every must be an integer >= 1; got 0"),
])
def test_bad_config_is_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        distill_config(**kw)


def test_paper_evaluation_follows_the_method():
    from fairdd.config import eval_config

    dm, dc, idc, cafe = (eval_config(method=m) for m in ("dm", "dc", "idc", "cafe"))
    assert (dm.epochs, dm.decay_at, dm.dsa, dm.n_models) == (1501, 752, True, 5)  # train_dm.py, run_dm.sh
    assert [(c.epochs, c.decay_at, c.dsa) for c in (dc, idc, cafe)] == [(1001, 502, False)] * 3
    assert [c.n_models for c in (dc, idc, cafe)] == [5, 3, 2]  # run_dc.sh, run_idc.sh, run_cafe.sh
    fair = eval_config(preset="fairdd-paper", method="dc")  # FairDD main_DC.py, main_DC.sh
    assert (fair.epochs, fair.decay_at, fair.dsa, fair.n_models) == (301, 152, False, 10)


@pytest.mark.parametrize("kw", [dict(method="dc", preset="fairdd-paper", ipc=5), dict(method="dsa", preset="fairdd-paper", ipc=2),
                                dict(method="cafe", ipc=9), dict(method="dc", ipc=15), dict(method="idc", ipc=15)])
def test_loops_the_reference_leaves_undefined_are_filled_by_overrides(kw):
    cfg = distill_config(**kw, outer_loop=3, inner_loop=4)
    assert (cfg.outer_loop, cfg.inner_loop) == (3, 4)
    with pytest.raises(ValueError, match=f"defines no outer/inner loops for ipc {kw['ipc']}.*outer_loop="):
        distill_config(**kw, inner_loop=4)  # the outer loop is still undefined


def test_a_sweep_cell_with_loop_overrides_runs_where_the_reference_has_none():
    from fairdd.sweeps import make_spec

    cell = make_spec(preset="fairdd-paper", grid={"dataset": "colored-digits", "method": "dc", "target": "fairdd",
                                                  "ipc": 5}, overrides={"outer_loop": 2, "inner_loop": 1}).cells()[0]
    assert (cell.distill_config().outer_loop, cell.distill_config().inner_loop) == (2, 1)
