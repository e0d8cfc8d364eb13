"""What is matched: target strategies (vanilla, uniform, fairdd, cobra, cobra-w2)."""
from .moments import STRATEGIES, Cobra, FairDD, Strategy, Targets, Uniform, Vanilla, cell_means, get_strategy
from .distributional import CobraW2, sliced_w2, w2_barycenters

STRATEGIES[CobraW2.name] = CobraW2

__all__ = ["Targets", "Strategy", "Vanilla", "Uniform", "FairDD", "Cobra", "STRATEGIES", "get_strategy", "cell_means",
           "CobraW2", "w2_barycenters", "sliced_w2"]
