"""What is matched: target strategies (vanilla, uniform, fairdd, cobra, cobra-w2, cobra-gauss)."""
from .moments import STRATEGIES, Cobra, FairDD, Strategy, Targets, Uniform, Vanilla, cell_means, get_strategy
from .distributional import CobraGauss, CobraW2, bures_barycenters, gaussian_match, sliced_w2, w2_barycenters

STRATEGIES.update({CobraW2.name: CobraW2, CobraGauss.name: CobraGauss})

__all__ = ["Targets", "Strategy", "Vanilla", "Uniform", "FairDD", "Cobra", "STRATEGIES", "get_strategy", "cell_means",
           "CobraW2", "CobraGauss", "w2_barycenters", "sliced_w2", "bures_barycenters", "gaussian_match"]
