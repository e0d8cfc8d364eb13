"""The matcher interface: *how* a synthetic set is pulled toward a strategy's targets."""
from __future__ import annotations

from typing import Callable, Protocol

import torch

from ..targets import Strategy

__all__ = ["Matcher", "RealBatch"]


class RealBatch(Protocol):
    images: torch.Tensor  # (M, C, H, W), sorted by class
    labels: torch.Tensor  # (M,)
    groups: torch.Tensor  # (M,)


class Matcher(Protocol):
    """One outer iteration of a matching method.

    ``iteration`` may update any network it owns, must update ``syn`` through ``optimizer`` and
    returns the detached matching loss (a 0-d tensor, not synchronised with the host).
    A matcher never looks inside a strategy: it hands per-sample real statistics to ``strategy`` and
    matches the returned ``Targets`` with its own distance, so new strategies need no matcher change.
    """

    name: str

    def iteration(self, syn: torch.Tensor, syn_labels: torch.Tensor, optimizer: torch.optim.Optimizer,
                  sample_real: Callable[[], RealBatch], strategy: Strategy,
                  generator: torch.Generator) -> torch.Tensor: ...
