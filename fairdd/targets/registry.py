"""The strategy registry: every built-in strategy by name, complete from any import of ``fairdd.targets``."""
from __future__ import annotations

from .base import Strategy
from .distributional import CobraGauss, CobraW2
from .moments import Cobra, CobraMix, FairDD, Uniform, Vanilla
from .protocol import Protocol

__all__ = ["STRATEGIES", "get_strategy", "register_strategy"]

STRATEGIES: dict[str, type[Strategy]] = {s.name: s for s in (Vanilla, Uniform, FairDD, Cobra, CobraW2, CobraGauss,
                                                              CobraMix)}


def register_strategy(cls: type[Strategy]) -> type[Strategy]:
    """Add a user strategy to ``STRATEGIES`` under ``cls.name`` (usable as a class decorator).

    A strategy of a new ``kind`` also needs that kind's distance
    (``fairdd.matching.distances.register_distance``); only matchers that support the kind run it.
    The presets give it the values of the ``protocol`` it declares (``fairdd.targets.protocol``:
    e.g. ``COBRA_PROTOCOL`` for DM's L1 distance and warm start), ``VANILLA_PROTOCOL`` if it declares none.
    """
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise ValueError(f"register_strategy needs a Strategy subclass; got {cls!r}")
    if not cls.kind or not isinstance(cls.name, str) or cls.name == Strategy.name:
        raise ValueError(f"{cls.__name__} must set the class variables name and kind; got name={cls.name!r}, "
                         f"kind={cls.kind!r}")
    if not isinstance(cls.protocol, Protocol):
        raise ValueError(f"{cls.__name__}.protocol must be a fairdd.targets.Protocol (e.g. COBRA_PROTOCOL); "
                         f"got {cls.protocol!r}")
    if cls.name in STRATEGIES and STRATEGIES[cls.name] is not cls:
        raise ValueError(f"target {cls.name!r} is already registered ({STRATEGIES[cls.name].__name__})")
    STRATEGIES[cls.name] = cls
    return cls


def get_strategy(target: str | Strategy, **options) -> Strategy:
    """Return the strategy named ``target`` (one of ``STRATEGIES``), built with ``options``."""
    if isinstance(target, Strategy):
        return target
    if target not in STRATEGIES:
        raise ValueError(f"unknown target {target!r}; allowed: {list(STRATEGIES)}")
    return STRATEGIES[target](**options)
