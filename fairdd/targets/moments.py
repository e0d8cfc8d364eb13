"""Target strategies: what the synthetic statistic of each class is pulled toward.

A strategy turns per-sample real statistics φ_i (embeddings for DM, gradients for DC, ...) with
their class and group ids into *references* ``refs`` (C, K, *F) and *weights* (C, K). A matcher
then minimises

    L = Σ_c Σ_k w_{c,k} · D(refs_{c,k}, Φ_{S_c})

with its own distance D. Groups absent from a class batch get weight 0 (``fairdd``) or no share
of the barycenter (``cobra``); a class with no real sample in the batch gets weight 0.

============  ===========================================================  ========
strategy      references for class c                                       sampling
============  ===========================================================  ========
vanilla       pooled mean  Φ_{T_c}                    (K = 1)               pooled
uniform       pooled mean of a batch drawn equally per group (K = 1)       groups
fairdd        every group mean Φ_{T_{a|c}}, weight 1 if present (K = G)    pooled
cobra         barycenter Σ_a w_a Φ_{T_{a|c}} / Σ_a w_a over present groups pooled
              (w_a = 1/|𝒜| uniform by default; size-proportional = vanilla)
============  ===========================================================  ========
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, Sequence

import torch

from ..ops import segment_mean

__all__ = ["Targets", "Strategy", "Vanilla", "Uniform", "FairDD", "Cobra", "STRATEGIES", "get_strategy", "cell_means",
           "check_group_weights", "group_weight_matrix"]


@dataclass(frozen=True)
class Targets:
    """refs (C, K, *F) reference statistics; weights (C, K) per reference distance.

    ``kind="moments"``: K references, each compared with the synthetic class statistic.
    ``kind="cloud"``: refs (C, S, d) is one point cloud per class (weights (C, 1)), compared with the
    synthetic class's cloud by a distributional distance. ``kind="gaussian"``: refs (C, 1, k) are
    barycenter means in a projection, with ``extra["cov"]`` (C, k, k) and ``extra["proj"]`` (d, k).
    """

    refs: torch.Tensor
    weights: torch.Tensor
    kind: str = "moments"
    extra: dict | None = None  # kind-specific tensors (e.g. "cov" and "proj" for kind="gaussian")


@dataclass(frozen=True)
class Strategy:
    """Base class. ``sampling`` says how the real batch is drawn ("pooled" or "groups")."""

    name: ClassVar[str] = "base"
    sampling: ClassVar[Literal["pooled", "groups"]] = "pooled"
    kind: ClassVar[str] = "moments"

    def __call__(self, stats: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor,
                 n_classes: int, n_groups: int) -> Targets:
        """From per-sample statistics (N, *F) with class and group ids (N,)."""
        return self.from_cells(*cell_means(stats, labels, groups, n_classes, n_groups))

    def from_cells(self, mean: torch.Tensor, count: torch.Tensor) -> Targets:
        """From per-(class, group) means (C, G, *F) and sample counts (C, G): matchers that reduce
        their statistics themselves (e.g. per-sample gradients in chunks) call this directly."""
        raise NotImplementedError


def cell_means(stats, labels, groups, n_classes, n_groups) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-(class, group) means (C, G, *F) and counts (C, G) in one segment reduction."""
    cell = labels * n_groups + groups  # (N,)
    mean, count = segment_mean(stats, cell, n_classes * n_groups)  # (C*G, *F), (C*G,)
    return mean.view(n_classes, n_groups, *stats.shape[1:]), count.view(n_classes, n_groups)


def check_group_weights(spec) -> None:
    """Validate a group-weight spec: "uniform", "proportional" or a list of non-negative floats."""
    if isinstance(spec, str):
        if spec not in ("uniform", "proportional"):
            raise ValueError(f"group_weights must be 'uniform', 'proportional' or a list of floats; got {spec!r}")
    elif any(float(v) < 0 for v in spec) or not any(float(v) > 0 for v in spec):
        raise ValueError(f"group_weights must be non-negative with a positive entry; got {list(spec)}")


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


def _weighted(mean: torch.Tensor, w: torch.Tensor) -> Targets:
    """One reference per class: Σ_a w_a mean_a / Σ_a w_a over (C, G) weights; weight 0 if Σ w = 0."""
    total = w.sum(1, keepdim=True)  # (C, 1)
    share = w / total.clamp(min=1e-12)  # (C, G)
    ref = torch.einsum("cg,cg...->c...", share, mean)  # (C, *F)
    return Targets(ref.unsqueeze(1), (total > 0).to(mean.dtype))


@dataclass(frozen=True)
class Vanilla(Strategy):
    """Pooled class statistic: converges to the majority group's pattern."""

    name: ClassVar[str] = "vanilla"

    def from_cells(self, mean, count) -> Targets:
        return _weighted(mean, count.to(mean.dtype))  # size-weighted = the pooled mean


@dataclass(frozen=True)
class Uniform(Vanilla):
    """Uniform DD: vanilla target on a batch drawn equally per group (fixes sample size only)."""

    name: ClassVar[str] = "uniform"
    sampling: ClassVar[Literal["pooled", "groups"]] = "groups"


@dataclass(frozen=True)
class FairDD(Strategy):
    """FairDD synchronized matching: one distance per present group, summed (``reduction="sum"``,
    FairDD's code) or averaged over the groups present in the class batch (``"mean"``, how COBRA's
    code runs the FairDD baseline for DC and IDC)."""

    name: ClassVar[str] = "fairdd"
    reduction: Literal["sum", "mean"] = "sum"

    def __post_init__(self) -> None:
        if self.reduction not in ("sum", "mean"):
            raise ValueError(f"unknown reduction {self.reduction!r}; allowed: ['sum', 'mean']")

    def from_cells(self, mean, count) -> Targets:
        present = (count > 0).to(mean.dtype)  # (C, G)
        if self.reduction == "mean":
            present = present / present.sum(1, keepdim=True).clamp(min=1)
        return Targets(mean, present)


@dataclass(frozen=True)
class Cobra(Strategy):
    """Cross-group barycenter: weighted mean of the present groups' statistics, matched once.

    ``group_weights``: "uniform" (w_a = 1/|𝒜|, group size never enters: COBRA), "proportional"
    (w_a ∝ batch count: reproduces vanilla), or a sequence of G non-negative weights.
    """

    name: ClassVar[str] = "cobra"
    group_weights: str | Sequence[float] = "uniform"

    def __post_init__(self) -> None:
        check_group_weights(self.group_weights)

    def from_cells(self, mean, count) -> Targets:
        return _weighted(mean, group_weight_matrix(self.group_weights, count, mean.dtype))


STRATEGIES: dict[str, type[Strategy]] = {s.name: s for s in (Vanilla, Uniform, FairDD, Cobra)}



def get_strategy(target: str | Strategy, **options) -> Strategy:
    """The strategy named ``target`` (one of ``STRATEGIES``), built with ``options``."""
    if isinstance(target, Strategy):
        return target
    if target not in STRATEGIES:
        raise ValueError(f"unknown target {target!r}; allowed: {list(STRATEGIES)}")
    return STRATEGIES[target](**options)
