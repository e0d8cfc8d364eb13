"""Barycenters of group statistics: the mean (closed form) and the free-support W2 barycenter.

Mean barycenter (d = squared L2):  m* = argmin_m Σ_a w_a ‖μ_a − m‖² = Σ_a w_a μ_a / Σ_a w_a.

W2 barycenter of group clouds (POT, ``ot.lp.free_support_barycenter``):

    ν* = argmin_ν Σ_a w_a W_2²(ν, μ̂_a),   μ̂_a = (1/n_a) Σ_i δ_{x_{a,i}}

with ν supported on ``n_support`` free points. ``weights`` is the group weighting: uniform is
imbalance-agnostic (COBRA), proportional to group size reproduces the pooled (vanilla) view.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

__all__ = ["group_weights", "mean_barycenter", "w2_barycenter"]


def group_weights(sizes: Sequence[int] | torch.Tensor, *, mix: float = 1.0) -> torch.Tensor:
    """Weights (G,) summing to 1: ``mix`` = 1 uniform, 0 proportional to ``sizes``, linear between."""
    if not 0.0 <= mix <= 1.0:
        raise ValueError(f"mix must be in [0, 1]; got {mix!r}")
    sizes = torch.as_tensor(sizes, dtype=torch.float64)
    present = (sizes > 0).double()
    return mix * present / present.sum() + (1 - mix) * sizes / sizes.sum()


def mean_barycenter(means: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Σ_a w_a μ_a / Σ_a w_a for means (G, d) and weights (G,) → (d,)."""
    w = torch.as_tensor(weights, dtype=means.dtype, device=means.device)
    return (w[:, None] * means).sum(0) / w.sum()


def w2_barycenter(clouds: Sequence[np.ndarray | torch.Tensor], weights: Sequence[float] | torch.Tensor, *,
                  n_support: int = 30, n_iter: int = 50, seed: int = 0) -> np.ndarray:
    """Free-support W2 barycenter (n_support, d) of point clouds [(n_a, d)] with group weights (G,)."""
    import ot

    clouds = [np.asarray(c.detach().cpu() if isinstance(c, torch.Tensor) else c, dtype=np.float64) for c in clouds]
    if not clouds or any(c.ndim != 2 or len(c) == 0 for c in clouds):
        raise ValueError("clouds must be a non-empty list of non-empty (n, d) arrays")
    w = np.asarray(torch.as_tensor(weights, dtype=torch.float64).cpu(), dtype=np.float64)
    if w.shape != (len(clouds),) or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"weights must be {len(clouds)} non-negative numbers with a positive sum; got {w.tolist()}")
    keep = w > 0
    clouds = [c for c, k in zip(clouds, keep) if k]
    w = w[keep] / w[keep].sum()
    rng = np.random.RandomState(seed)
    pooled = np.concatenate(clouds)
    init = pooled[rng.choice(len(pooled), size=n_support, replace=len(pooled) < n_support)]
    masses = [np.full(len(c), 1.0 / len(c)) for c in clouds]
    return ot.lp.free_support_barycenter(clouds, masses, init, weights=w, numItermax=n_iter)
