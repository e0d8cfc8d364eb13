"""A 2-D toy of why distillation is unfair, and where each target lands (docs/method.md).

Each class y has one cloud per group a, centred at μ_{a|y}; the majority group (a = y mod G) holds a
share ``majority`` of the class (the imbalance knob) and the minority groups split the rest;
``separation`` is the distance between group centres (the separation knob). For a target t_y the group residual is
Δ_{a|y} = μ_{a|y} − t_y and, for vanilla, ‖Δ_{a|y}‖ ≤ Σ_{a'≠a} π_{a'|y} ‖μ_{a|y} − μ_{a'|y}‖:
bias = imbalance × separation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .ops import cell_counts, cell_index
from .targets import get_strategy

__all__ = ["ToyData", "make_toy", "toy_targets", "toy_residuals", "bias_bound", "residual_table"]


@dataclass(frozen=True)
class ToyData:
    points: torch.Tensor  # (N, 2)
    labels: torch.Tensor  # (N,)
    groups: torch.Tensor  # (N,)
    centres: torch.Tensor  # (C, G, 2) true group centres
    n_classes: int
    n_groups: int


def make_toy(*, majority: float = 0.9, separation: float = 2.0, n_classes: int = 2, n_groups: int = 2,
             n_per_class: int = 400, spread: float = 0.35, seed: int = 0) -> ToyData:
    """Gaussian clouds: class centres on a circle of radius 4, group centres of a class on a small
    circle of diameter ``separation`` around it; a share ``majority`` of each class is in group
    y mod G, the rest split evenly over the other groups."""
    if not 0 < majority <= 1:
        raise ValueError(f"majority must be in (0, 1]; got {majority!r}")
    if separation < 0:
        raise ValueError(f"separation must be >= 0; got {separation!r}")
    if n_groups < 2 or n_classes < 1:
        raise ValueError(f"need n_groups >= 2 and n_classes >= 1; got {n_groups}, {n_classes}")
    g = torch.Generator().manual_seed(seed)
    cls_angle = torch.arange(n_classes) * 2 * math.pi / n_classes
    cls_centre = 4 * torch.stack([torch.cos(cls_angle), torch.sin(cls_angle)], 1)  # (C, 2)
    grp_angle = torch.arange(n_groups) * 2 * math.pi / n_groups
    offset = separation / 2 * torch.stack([torch.cos(grp_angle), torch.sin(grp_angle)], 1)  # (G, 2)
    centres = cls_centre[:, None] + offset[None]  # (C, G, 2)
    labels = torch.arange(n_classes).repeat_interleave(n_per_class)  # (N,)
    own = labels % n_groups
    u = torch.rand(labels.shape, generator=g)
    other = (own + 1 + (torch.rand(labels.shape, generator=g) * (n_groups - 1)).long()) % n_groups
    groups = torch.where(u < majority, own, other)
    points = centres[labels, groups] + spread * torch.randn(len(labels), 2, generator=g)
    return ToyData(points, labels, groups, centres, n_classes, n_groups)


def toy_targets(data: ToyData) -> dict[str, torch.Tensor]:
    """Where each strategy's target lands for every class, {name: (C, 2)}, computed by the library's
    strategies on the identity statistic. ``uniform`` is its expectation (equal group shares)."""
    out = {}
    for name in ("vanilla", "fairdd", "cobra"):
        t = get_strategy(name)(data.points, data.labels, data.groups, data.n_classes, data.n_groups)
        w = t.weights / t.weights.sum(1, keepdim=True).clamp(min=1e-12)  # (C, K)
        out[name] = torch.einsum("ck,ckd->cd", w, t.refs)  # the L2 minimiser: weighted mean of references
    out["uniform"] = out["cobra"].clone()  # equal group sampling: same expected mean as the uniform barycenter
    return {k: out[k] for k in ("vanilla", "uniform", "fairdd", "cobra")}


def toy_residuals(data: ToyData, target: torch.Tensor) -> torch.Tensor:
    """‖Δ_{a|y}‖ = ‖μ_{a|y} − t_y‖ per (class, group), (C, G), with empirical group means (NaN if empty)."""
    t = get_strategy("fairdd")(data.points, data.labels, data.groups, data.n_classes, data.n_groups)
    res = (t.refs - target[:, None]).norm(dim=-1)  # (C, G)
    return torch.where(t.weights > 0, res, torch.full_like(res, float("nan")))


def bias_bound(data: ToyData) -> torch.Tensor:
    """Σ_{a'≠a} π_{a'|y} ‖μ_{a|y} − μ_{a'|y}‖ per (class, group), (C, G): imbalance × separation."""
    t = get_strategy("fairdd")(data.points, data.labels, data.groups, data.n_classes, data.n_groups)
    counts = cell_counts(cell_index(data.labels, data.groups, data.n_groups), data.n_classes, data.n_groups)
    pi = counts / counts.sum(1, keepdim=True)  # (C, G)
    dist = (t.refs[:, :, None] - t.refs[:, None, :]).norm(dim=-1)  # (C, G, G)
    return torch.einsum("cb,cab->ca", pi.to(dist.dtype), dist)


def residual_table(data: ToyData, targets: dict[str, torch.Tensor], *, decimals: int = 2):
    """‖Δ_{a|y}‖ per (class, group) for each target beside the vanilla bound, as a tall DataFrame.

    One row per (class, group) — short enough for a page at any number of groups — one column per
    target in ``targets`` (``toy_targets``) and ``bound`` (``bias_bound``: imbalance × separation),
    rounded to ``decimals``.
    """
    import pandas as pd

    cols = {name: toy_residuals(data, t) for name, t in targets.items()}  # each (C, G)
    cols["bound"] = bias_bound(data)
    index = pd.MultiIndex.from_product([range(data.n_classes), range(data.n_groups)], names=["class", "group"])
    return pd.DataFrame({k: v.reshape(-1).double().numpy() for k, v in cols.items()}, index=index).round(decimals)
