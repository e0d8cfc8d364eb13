"""The strategy interface: *what* the synthetic statistic of each class is pulled toward.

A strategy turns per-sample real statistics φ_i (embeddings for DM, gradients for DC, ...) with
their class and group ids into ``Targets``: references ``refs`` ``(C, K, *F)`` and weights (C, K). A
matcher then minimises

    L = Σ_c Σ_k w_{c,k} · D_kind(refs_{c,k}, Φ_{S_c})

with the distance D of the targets' ``kind`` ("moments": K statistics compared with the synthetic
class statistic; "cloud", "gaussian", ...: a distribution per class). This module is all a matcher
may import from ``fairdd.targets``: it never looks inside a concrete strategy.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, Mapping

import torch

from ..ops import cell_index, segment_mean
from ..validate import check_group_weights  # noqa: F401 (re-exported: one check, in validate)
from .protocol import VANILLA_PROTOCOL, Protocol

__all__ = ["Targets", "Strategy", "MomentStrategy", "cell_means", "check_group_weights", "group_weight_matrix"]


@dataclass(frozen=True)
class Targets:
    """What a strategy hands to a matcher.

    Attributes
    ----------
    refs : Tensor, shape ``(C, K, *F)``
        Reference statistics. ``kind="moments"``: K references per class, each compared with the
        synthetic class statistic. ``kind="cloud"``: (C, S, d), one point cloud per class (K = S).
        ``kind="gaussian"``: (C, 1, k) barycenter means in a projection.
    weights : Tensor, shape (C, K)
        Weight of each reference distance (``(C, 1)`` for one distribution per class).
    kind : str
        Which distance compares them (``fairdd.matching.distances.DISTANCES``).
    extra : dict or None
        Kind-specific tensors, e.g. ``"cov"`` (C, k, k) and ``"proj"`` (d, k) for ``"gaussian"``.
    """

    refs: torch.Tensor
    weights: torch.Tensor
    kind: str = "moments"
    extra: dict | None = None


@dataclass(frozen=True)
class Strategy:
    r"""A target strategy: real statistics with class and group ids → ``Targets``.

    .. math::
        (\mathrm{refs}, w) = \mathcal{T}\big(\{(\phi_i, y_i, a_i)\}_{i=1}^N\big),\qquad
        L(S) = \sum_c \sum_k w_{c,k}\, D_{\mathrm{kind}}(\mathrm{refs}_{c,k}, \Phi_{S_c})

    where :math:`\phi_i` is sample i's statistic, :math:`y_i` its class, :math:`a_i` its group, and
    :math:`D_{\mathrm{kind}}` the matcher's distance for this strategy's ``kind``.

    Subclasses set the class variables and implement ``__call__``; strategies of kind
    ``"moments"`` subclass ``MomentStrategy`` instead (any matcher can use them).

    Attributes
    ----------
    name : str (class variable)
        The registry key (``fairdd.targets.STRATEGIES``).
    kind : str (class variable)
        The kind of ``Targets`` returned; a matcher runs the strategy only if it supports the kind.
    sampling : {"pooled", "groups"} (class variable)
        How the real batch is drawn: as the data come, or equally per group.
    config_fields : dict (class variable)
        Strategy field → the ``DistillConfig`` field it is built from (``from_config``).
    protocol : Protocol (class variable)
        The reference run mode whose preset values (DM distance, warm start, CAFE loss) it runs with
        (``fairdd.targets.protocol``); default ``VANILLA_PROTOCOL``, the methods as published.
    """

    name: ClassVar[str] = "base"
    kind: ClassVar[str] = ""
    sampling: ClassVar[Literal["pooled", "groups"]] = "pooled"
    config_fields: ClassVar[Mapping[str, str]] = {}
    protocol: ClassVar[Protocol] = VANILLA_PROTOCOL

    def __call__(self, stats: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor,
                 n_classes: int, n_groups: int) -> Targets:
        """Targets from per-sample statistics.

        Parameters
        ----------
        stats : Tensor, shape ``(N, *F)``
            Per-sample real statistics.
        labels, groups : Tensor, shape (N,), int64
            Class in ``[0, n_classes)`` and group in ``[0, n_groups)`` of each sample.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement __call__")

    @classmethod
    def from_config(cls, config) -> "Strategy":
        """Build the strategy from the ``DistillConfig`` fields named in ``config_fields``."""
        return cls(**{field: getattr(config, source) for field, source in cls.config_fields.items()})

    @classmethod
    def reads(cls, config_field: str) -> bool:
        """Whether the strategy is built from ``DistillConfig.<config_field>``."""
        return config_field in cls.config_fields.values()


@dataclass(frozen=True)
class MomentStrategy(Strategy):
    r"""A strategy of kind "moments": references are weighted means of per-(class, group) means.

    .. math::
        \bar\phi_{c,a} = \frac{1}{n_{c,a}} \sum_{i: y_i = c, a_i = a} \phi_i,\qquad
        (\mathrm{refs}, w) = \mathcal{T}(\bar\phi, n)

    Because the references depend on the statistics only through the cell means
    :math:`\bar\phi` ``(C, G, *F)`` and counts :math:`n` (C, G), a matcher that reduces per-sample
    statistics itself (DC: per-sample gradients in chunks) calls ``from_cells`` directly.
    """

    kind: ClassVar[str] = "moments"

    def __call__(self, stats, labels, groups, n_classes, n_groups) -> Targets:
        """Targets from per-sample statistics (N, *F), through the cell means and counts."""
        return self.from_cells(*cell_means(stats, labels, groups, n_classes, n_groups))

    def from_cells(self, mean: torch.Tensor, count: torch.Tensor) -> Targets:
        """Targets from per-(class, group) means ``(C, G, *F)`` and sample counts (C, G)."""
        raise NotImplementedError(f"{type(self).__name__} must implement from_cells")


def cell_means(stats, labels, groups, n_classes, n_groups) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-(class, group) means ``(C, G, *F)`` and counts (C, G) in one segment reduction."""
    cell = cell_index(labels, groups, n_groups)  # (N,)
    mean, count = segment_mean(stats, cell, n_classes * n_groups)  # (C*G, *F), (C*G,)
    return mean.view(n_classes, n_groups, *stats.shape[1:]), count.view(n_classes, n_groups)


def group_weight_matrix(spec, count: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Per-class group weights (C, G) from a spec and batch counts (C, G); absent groups get 0.

    "uniform": 1 per present group (group size never enters); "proportional": the counts (= pooled);
    a list of G floats: those weights on the present groups.
    """
    present = (count > 0).to(dtype)
    if spec == "uniform":
        return present
    if spec == "proportional":
        return count.to(dtype)
    given = torch.as_tensor(list(spec), dtype=dtype, device=count.device)
    if given.numel() != count.shape[1]:
        raise ValueError(f"group_weights has {given.numel()} entries; the data has {count.shape[1]} groups")
    return given.unsqueeze(0) * present
