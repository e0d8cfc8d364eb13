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
    builtin = {name for name, s in STRATEGIES.items() if getattr(s, "__module__", "").startswith("fairdd.")}
    assert set(get_args(Target)) == builtin


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
