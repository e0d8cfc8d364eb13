"""What is matched: target strategies (vanilla, uniform, fairdd, cobra)."""
from .moments import STRATEGIES, Cobra, FairDD, Strategy, Targets, Uniform, Vanilla, cell_means, get_strategy

__all__ = ["Targets", "Strategy", "Vanilla", "Uniform", "FairDD", "Cobra", "STRATEGIES", "get_strategy", "cell_means"]
