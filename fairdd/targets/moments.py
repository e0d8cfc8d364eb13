"""Moment strategies: each class's references are weighted means of its groups' mean statistics.

============  ===========================================================  ========
strategy      references for class c                                       sampling
============  ===========================================================  ========
vanilla       pooled mean  Φ_{T_c}                    (K = 1)               pooled
uniform       pooled mean of a batch drawn equally per group (K = 1)       groups
fairdd        every group mean Φ_{T_{a|c}}, weight 1 if present (K = G)    pooled
cobra         barycenter Σ_a w_a Φ_{T_{a|c}} / Σ_a w_a over present groups pooled
              (w_a = 1/|𝒜| uniform by default; size-proportional = vanilla)
============  ===========================================================  ========

Groups absent from a class batch get weight 0 (``fairdd``) or no share of the barycenter
(``cobra``); a class with no real sample in the batch gets weight 0. The interface they implement
(``MomentStrategy``, ``Targets``) is in ``fairdd.targets.base``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, Sequence

import torch

from .base import MomentStrategy, Strategy, Targets, cell_means, check_group_weights, group_weight_matrix
from .protocol import COBRA_PROTOCOL, FAIRDD_PROTOCOL, Protocol

__all__ = ["Targets", "Strategy", "MomentStrategy", "Vanilla", "Uniform", "FairDD", "Cobra", "cell_means",
           "check_group_weights", "group_weight_matrix"]


def _weighted(mean: torch.Tensor, w: torch.Tensor) -> Targets:
    """One reference per class: Σ_a w_a mean_a / Σ_a w_a over (C, G) weights; weight 0 if Σ w = 0."""
    total = w.sum(1, keepdim=True)  # (C, 1)
    share = w / total.clamp(min=1e-12)  # (C, G)
    ref = torch.einsum("cg,cg...->c...", share, mean)  # (C, *F)
    return Targets(ref.unsqueeze(1), (total > 0).to(mean.dtype))


@dataclass(frozen=True)
class Vanilla(MomentStrategy):
    r"""Pooled class statistic: converges to the majority group's pattern.

    .. math::
        \mathrm{ref}_c = \frac{\sum_a n_{c,a}\,\bar\phi_{c,a}}{\sum_a n_{c,a}}
                       = \frac{1}{|T_c|}\sum_{i \in T_c} \phi_i,\qquad K = 1,\quad w_c = [n_c > 0]

    ``from_cells(mean, count)`` takes cell means ``(C, G, *F)`` and counts (C, G) and returns refs
    ``(C, 1, *F)`` and weights (C, 1); the strategy has no options.

    References
    ----------
    [1] Zhao & Bilen, "Dataset Condensation with Distribution Matching", WACV 2023.
    """

    name: ClassVar[str] = "vanilla"

    def from_cells(self, mean, count) -> Targets:
        """Return the size-weighted mean of the cell means, (C, 1, *F)."""
        return _weighted(mean, count.to(mean.dtype))  # size-weighted = the pooled mean


@dataclass(frozen=True)
class Uniform(Vanilla):
    r"""Uniform DD: the vanilla target on a real batch drawn equally per group.

    .. math::
        \mathrm{ref}_c = \frac{1}{|B_c|}\sum_{i \in B_c} \phi_i,\qquad
        B_c \text{ holds } \approx M / |\mathcal{A}_c| \text{ samples of each present group}

    It fixes the sample sizes only: the reference is still one pooled mean (K = 1).
    """

    name: ClassVar[str] = "uniform"
    sampling: ClassVar[Literal["pooled", "groups"]] = "groups"


@dataclass(frozen=True)
class FairDD(MomentStrategy):
    r"""FairDD synchronised matching: one distance per present group.

    .. math::
        \mathrm{refs}_{c,a} = \bar\phi_{c,a},\qquad
        w_{c,a} = [n_{c,a} > 0] \;\; (\text{"sum"}) \quad\text{or}\quad
        w_{c,a} = \frac{[n_{c,a} > 0]}{|\mathcal{A}_c|} \;\; (\text{"mean"}),\qquad K = G

    Parameters
    ----------
    reduction : {"sum", "mean"}, default "sum"
        "sum": per-group distances summed (FairDD's code); "mean": averaged over the groups present
        in the class batch (how COBRA's code runs the FairDD baseline for DC and IDC). Built from
        ``DistillConfig.fairdd_reduction``.

    References
    ----------
    [1] Zhou et al., "FairDD: Fair Dataset Distillation", NeurIPS 2025;
    code zqhang/FairDD.
    """

    name: ClassVar[str] = "fairdd"
    protocol: ClassVar[Protocol] = FAIRDD_PROTOCOL
    config_fields: ClassVar[dict] = {"reduction": "fairdd_reduction"}
    reduction: Literal["sum", "mean"] = "sum"

    def __post_init__(self) -> None:
        """Check the reduction."""
        if self.reduction not in ("sum", "mean"):
            raise ValueError(f"unknown reduction {self.reduction!r}; allowed: ['sum', 'mean']")

    def from_cells(self, mean, count) -> Targets:
        """Return every group mean as a reference, (C, G, *F), weighted by presence."""
        present = (count > 0).to(mean.dtype)  # (C, G)
        if self.reduction == "mean":
            present = present / present.sum(1, keepdim=True).clamp(min=1)
        return Targets(mean, present)


@dataclass(frozen=True)
class Cobra(MomentStrategy):
    r"""COBRA cross-group barycenter: the weighted mean of the present groups' statistics, matched once.

    .. math::
        \mathrm{ref}_c = \operatorname*{argmin}_m \sum_{a \in \mathcal{A}_c} w_a \|\bar\phi_{c,a} - m\|^2
                       = \frac{\sum_{a \in \mathcal{A}_c} w_a \bar\phi_{c,a}}{\sum_{a \in \mathcal{A}_c} w_a},
        \qquad K = 1

    where :math:`\mathcal{A}_c` are the groups present in class c's batch.

    Parameters
    ----------
    group_weights : "uniform", "proportional" or sequence of G floats, default "uniform"
        "uniform": :math:`w_a = 1/|\mathcal{A}_c|`, group size never enters (COBRA);
        "proportional": :math:`w_a \propto n_{c,a}`, reproduces vanilla; G numbers: those weights
        on the present groups. Built from ``DistillConfig.group_weights``.

    References
    ----------
    [1] Moslemi et al., "Fair Dataset Distillation via Cross-Group Barycenter Alignment",
    arXiv 2605.00185 (ICML 2026); code mhmoslemi/COBRA.
    """

    name: ClassVar[str] = "cobra"
    protocol: ClassVar[Protocol] = COBRA_PROTOCOL
    config_fields: ClassVar[dict] = {"group_weights": "group_weights"}
    group_weights: str | Sequence[float] = "uniform"

    def __post_init__(self) -> None:
        """Check the group weights."""
        check_group_weights(self.group_weights)

    def from_cells(self, mean, count) -> Targets:
        """Return the group-weighted barycenter of the present groups' means, (C, 1, *F)."""
        return _weighted(mean, group_weight_matrix(self.group_weights, count, mean.dtype))


@dataclass(frozen=True)
class CobraMix(Cobra):
    r"""COBRA's barycenter with group weights mixed between size-proportional (λ = 0) and uniform (λ = 1).

    .. math::
        w_{c,a} = (1 - \lambda) \frac{n_{c,a}}{\sum_{a'} n_{c,a'}} + \lambda \frac{1}{|\mathcal{A}_c|},
        \qquad a \in \mathcal{A}_c

    (:math:`n_{c,a}`: the group's count in class c's real batch). λ = 0 is the pooled mean (vanilla's
    target), λ = 1 COBRA's uniform barycenter. Runs with COBRA's protocol (inherited from ``Cobra``);
    the trade-off explorer runs it between its two ends.

    Parameters
    ----------
    mix : float in [0, 1], default 1.0
        λ. Built from ``DistillConfig.mix``.
    """

    name: ClassVar[str] = "cobra-mix"
    config_fields: ClassVar[dict] = {"mix": "mix"}
    mix: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.mix, bool) or not isinstance(self.mix, (int, float)) or not 0.0 <= self.mix <= 1.0:
            raise ValueError(f"mix must be a number in [0, 1]; got {self.mix!r}")

    def from_cells(self, mean, count) -> Targets:
        """Return the λ-mixed weighted mean of the present groups' means, (C, 1, *F)."""
        c = count.to(mean.dtype)  # (C, G)
        present = (c > 0).to(mean.dtype)
        prop = c / c.sum(1, keepdim=True).clamp(min=1e-12)  # (C, G)
        unif = present / present.sum(1, keepdim=True).clamp(min=1e-12)  # (C, G)
        return _weighted(mean, (1.0 - self.mix) * prop + self.mix * unif)
