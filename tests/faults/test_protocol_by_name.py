"""Fault class: a preset gives a strategy its protocol by the strategy's name.

The presets once tested ``target == "cobra"`` for DM's L1 distance and warm start, so any other
strategy of COBRA's family (``cobra-w2``, ``cobra-gauss``, a user's own) silently ran without them.
The rule that closes the class: a strategy declares a ``fairdd.targets.Protocol`` and the presets read
only that, so ``distill_config`` depends on the target through its protocol alone. Each test is one case.
"""
from __future__ import annotations

import ast
import dataclasses
import inspect
from dataclasses import dataclass
from typing import ClassVar

import pytest
import torch

import fairdd
from fairdd import config as config_module
from fairdd.config import METHOD_PRESETS, DistillConfig, distill_config
from fairdd.targets import (COBRA_PROTOCOL, FAIRDD_PROTOCOL, STRATEGIES, VANILLA_PROTOCOL, Cobra, MomentStrategy,
                            Protocol, Targets, register_strategy)

from conftest import SMOKE


@dataclass(frozen=True)
class Median(MomentStrategy):
    """A toy COBRA-family strategy: per class the coordinate-wise median of the present groups' means."""

    name: ClassVar[str] = "toy-median"
    protocol: ClassVar[Protocol] = COBRA_PROTOCOL

    def from_cells(self, mean, count) -> Targets:
        """Return the median over present groups, (C, 1, *F); absent groups are ignored."""
        present = count > 0  # (C, G)
        filled = torch.where(present.view(*present.shape, *[1] * (mean.dim() - 2)), mean, float("nan"))
        median = filled.nanmedian(1).values.nan_to_num()  # (C, *F)
        return Targets(median.unsqueeze(1), present.any(1, keepdim=True).to(mean.dtype))


MINE = Protocol("mine", distance="l1", warm_start=False, cafe_loss="cafe")


@dataclass(frozen=True)
class Plain(Median):
    """The same toy statistic under a protocol of its own: L1, no warm start, the original CAFE loss."""

    name: ClassVar[str] = "toy-plain"
    protocol: ClassVar[Protocol] = MINE


@dataclass(frozen=True)
class Silent(MomentStrategy):
    """The same toy statistic declaring no protocol."""

    name: ClassVar[str] = "toy-silent"
    from_cells = Median.from_cells


@dataclass(frozen=True)
class Renamed(Cobra):
    """COBRA's strategy under a user's name (no protocol line: it inherits COBRA's)."""

    name: ClassVar[str] = "toy-renamed"


@pytest.fixture
def toys():
    """Register the toy strategies from user code; remove them afterwards."""
    for cls in (Median, Plain, Silent):
        register_strategy(cls)
    yield
    for cls in (Median, Plain, Silent):
        del STRATEGIES[cls.name]


def _settings():
    """Every (method, preset, ipc) a preset defines, at the IPCs where the paper values differ."""
    for method, presets in METHOD_PRESETS.items():
        for preset in presets.distill:
            for ipc in (1, 10, 50, 100):
                try:
                    distill_config(method=method, preset=preset, ipc=ipc, target="vanilla")
                except ValueError:  # loops the reference leaves undefined: not a protocol question
                    continue
                yield method, preset, ipc


def _without_target(config: DistillConfig) -> dict:
    return {k: v for k, v in dataclasses.asdict(config).items() if k != "target"}


def test_a_user_strategy_declaring_cobras_protocol_gets_l1_and_the_warm_start_at_the_paper_preset(toys):
    for ipc, k in ((10, 10), (50, 50), (100, 100)):
        c = distill_config(target="toy-median", ipc=ipc)
        assert (c.target, c.distance, c.warm_start_epochs) == ("toy-median", "l1", k)
    assert distill_config(method="cafe", target="toy-median").cafe_loss == "cobra"


def test_a_user_strategy_gets_the_protocol_it_declares_not_cobras(toys):
    c = distill_config(target="toy-plain", ipc=50)
    assert (c.distance, c.warm_start_epochs) == ("l1", 0)
    assert distill_config(method="cafe", target="toy-plain").cafe_loss == "cafe"
    assert distill_config(target="toy-plain", preset="smoke").warm_start_epochs == 0


def test_a_user_strategy_declaring_nothing_runs_as_the_published_methods(toys):
    assert Silent.protocol == VANILLA_PROTOCOL
    for method, preset, ipc in _settings():
        assert _without_target(distill_config(method=method, preset=preset, ipc=ipc, target="toy-silent")) == \
            _without_target(distill_config(method=method, preset=preset, ipc=ipc, target="vanilla"))


def test_a_config_depends_on_the_target_only_through_its_declared_protocol(toys):
    """Any two registered strategies with equal protocols get equal configs, at every preset, method, IPC."""
    by_protocol = {}
    for name, cls in STRATEGIES.items():
        by_protocol.setdefault(cls.protocol, []).append(name)
    assert {"cobra", "cobra-w2", "cobra-gauss", "cobra-mix", "toy-median"} <= set(by_protocol[COBRA_PROTOCOL])
    for method, preset, ipc in _settings():
        for names in by_protocol.values():
            configs = [_without_target(distill_config(method=method, preset=preset, ipc=ipc, target=n)) for n in names]
            assert all(c == configs[0] for c in configs), (method, preset, ipc, names)


def test_cobra_with_another_barycenter_takes_cobras_protocol():
    for name in ("cobra-w2", "cobra-gauss", "cobra-mix"):
        assert STRATEGIES[name].protocol == STRATEGIES["cobra"].protocol == COBRA_PROTOCOL
        c = distill_config(target=name, ipc=50)
        assert (c.distance, c.warm_start_epochs) == ("l1", 50)
    assert STRATEGIES["fairdd"].protocol == FAIRDD_PROTOCOL
    assert STRATEGIES["vanilla"].protocol == STRATEGIES["uniform"].protocol == VANILLA_PROTOCOL


def test_a_renamed_subclass_of_cobra_keeps_cobras_protocol():
    register_strategy(Renamed)
    try:
        c = distill_config(target="toy-renamed", preset="demo")
        assert (c.distance, c.warm_start_epochs) == ("l1", 2)
    finally:
        del STRATEGIES["toy-renamed"]


def test_the_distilled_run_uses_the_declared_protocol(toys, digits_train):
    r = fairdd.distill(digits_train, target="toy-median", ipc=1, seed=0, **SMOKE)
    assert (r.config["target"], r.config["distance"], r.config["warm_start_epochs"]) == ("toy-median", "l1", 1)
    assert torch.isfinite(r.images).all()


def test_a_user_strategy_is_a_valid_target_of_a_hand_built_config(toys):
    assert DistillConfig(target="toy-plain").target == "toy-plain"
    assert not hasattr(config_module.Target, "__args__")  # not a Literal restating the registry
    with pytest.raises(ValueError, match="unknown target 'toy-unregistered'"):
        DistillConfig(target="toy-unregistered")
    with pytest.raises(ValueError, match="unknown target 'toy-unregistered'"):
        distill_config(target="toy-unregistered")


def test_a_protocol_that_is_not_a_protocol_is_refused_at_registration():
    bad = type("Bad", (Median,), {"name": "toy-bad", "protocol": "cobra"})
    with pytest.raises(ValueError, match=r"Bad.protocol must be a fairdd.targets.Protocol .*got 'cobra'"):
        register_strategy(bad)
    assert "toy-bad" not in STRATEGIES


@pytest.mark.parametrize("kw, match", [
    (dict(distance="cosine"), r"unknown Protocol distance 'cosine'; allowed: \['l1', 'l2'\]"),
    (dict(cafe_loss="dm"), r"unknown Protocol cafe_loss 'dm'; allowed: \['cafe', 'cobra'\]"),
    (dict(warm_start=1), "Protocol warm_start must be True or False; got 1"),
    (dict(family=""), "Protocol family must be a non-empty string; got ''"),
])
def test_a_protocol_with_a_value_the_presets_cannot_use_is_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        Protocol(**{"family": "x", **kw})


def test_no_preset_compares_the_target_with_a_name():
    """The source of fairdd/config.py holds no ``target == "..."`` or ``target in (...)`` test."""
    tree = ast.parse(inspect.getsource(config_module))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        names = {getattr(s, "id", getattr(s, "attr", None)) for s in sides}
        strings = [s for s in ast.walk(node) if isinstance(s, ast.Constant) and isinstance(s.value, str)]
        if names & {"target", "as_target"} and strings:
            found.append(ast.unparse(node))
    assert not found, f"presets must read the strategy's protocol, not its name: {found}"
