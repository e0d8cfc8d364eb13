"""The matcher base: *how* a synthetic set is pulled toward a strategy's targets.

A matcher owns the distillation ConvNet (built here, once) and performs one outer iteration per
``iteration`` call. It never looks inside a strategy: it hands per-sample real statistics to the
strategy and matches the returned ``Targets`` with its own distance, so a new strategy of a kind the
matcher supports (``supports``) needs no matcher change.
"""
from __future__ import annotations

from typing import Callable, ClassVar, NamedTuple

import torch

from ..config import DistillConfig
from ..models import ConvNet
from ..targets.base import Strategy

__all__ = ["Matcher", "RealBatch"]


class RealBatch(NamedTuple):
    """A real batch drawn by the loop, sorted by class."""

    images: torch.Tensor  # (M, C, H, W)
    labels: torch.Tensor  # (M,) long
    groups: torch.Tensor  # (M,) long


class Matcher:
    """Base of every matcher: holds the config, the class/group counts and the ConvNet.

    Parameters
    ----------
    config : DistillConfig
        The run's settings (network ``width``/``depth``/``norm`` and the matcher's own fields).
    in_channels, n_classes, n_groups, image_size : int
        The training set's shape: images (in_channels, image_size, image_size), class and group counts.
    device : torch.device
        Where the network lives.

    Attributes
    ----------
    name : str (class variable)
        The method name (``fairdd.matching.MATCHERS`` key).
    target_kinds : frozenset of str (class variable)
        The ``Targets`` kinds this matcher has a distance for (``supports``).
    """

    name: ClassVar[str]
    target_kinds: ClassVar[frozenset[str]] = frozenset({"moments"})

    def __init__(self, config: DistillConfig, *, in_channels: int, n_classes: int, n_groups: int,
                 image_size: int, device: torch.device) -> None:
        self.config = config
        self.n_classes, self.n_groups = n_classes, n_groups
        self.net = ConvNet(in_channels=in_channels, n_classes=n_classes, width=config.width,
                           depth=config.depth, norm=config.norm, image_size=image_size).to(device)

    @classmethod
    def supports(cls, kind: str) -> bool:
        """Whether strategies whose targets are of ``kind`` can be matched by this matcher."""
        return kind in cls.target_kinds

    def iteration(self, syn: torch.Tensor, syn_labels: torch.Tensor, optimizer: torch.optim.Optimizer,
                  sample_real: Callable[[], RealBatch], strategy: Strategy,
                  generator: torch.Generator) -> torch.Tensor:
        """Run one outer iteration.

        Updates ``syn`` (C · ipc, c, H, W) through ``optimizer`` and returns the detached matching
        loss (a 0-d tensor, not synchronised with the host).
        """
        raise NotImplementedError(f"{type(self).__name__} must implement iteration")

    def state_dict(self) -> dict:
        """Return what the matcher holds between iterations (checkpointed so a resumed run is exact)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore ``state_dict()``; matchers that hold nothing between iterations ignore an empty one."""
        if state:
            raise ValueError(f"{type(self).__name__} holds no state between iterations; got {sorted(state)}")
