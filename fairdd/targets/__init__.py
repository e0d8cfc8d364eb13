"""What is matched: target strategies (vanilla, uniform, fairdd, cobra, cobra-w2, cobra-gauss, cobra-mix).

``base`` is the interface (``Strategy``, ``MomentStrategy``, ``Targets``) and the only module a
matcher imports; ``protocol`` what a strategy declares to the presets (``Protocol``); ``moments`` and
``distributional`` hold the strategies; ``registry`` names them all.
"""
from ..barycenter import bures_barycenters, w2_barycenters
from .base import MomentStrategy, Strategy, Targets, cell_means
from .distributional import CobraGauss, CobraW2
from .moments import Cobra, CobraMix, FairDD, Uniform, Vanilla
from .protocol import COBRA_PROTOCOL, FAIRDD_PROTOCOL, VANILLA_PROTOCOL, Protocol
from .registry import STRATEGIES, get_strategy, register_strategy

__all__ = ["Targets", "Strategy", "MomentStrategy", "Vanilla", "Uniform", "FairDD", "Cobra", "CobraMix", "STRATEGIES",
           "get_strategy", "register_strategy", "cell_means", "CobraW2", "CobraGauss", "w2_barycenters",
           "bures_barycenters", "Protocol", "VANILLA_PROTOCOL", "FAIRDD_PROTOCOL", "COBRA_PROTOCOL"]
