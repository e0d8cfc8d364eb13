"""Fairness metrics over a (class × group) accuracy table (docs/method.md, "Metrics").

With TPR_{a,y} the accuracy on test samples of class y and group a:

    EOD = DEO_M = 100 · max_y (max_a TPR_{a,y} − min_a TPR_{a,y})
    DEO_A       = 100 · mean_y (max_a TPR_{a,y} − min_a TPR_{a,y})

accuracy is overall (sample-weighted); worst-group accuracy is the lowest accuracy of a protected
group over all its test samples (classes pooled). All values are percentages.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["GroupMetrics", "group_metrics"]


@dataclass(frozen=True)
class GroupMetrics:
    accuracy: float
    eod: float
    deo_a: float
    worst_group_accuracy: float
    tpr: torch.Tensor  # (C, G) accuracy per cell in [0, 1]
    counts: torch.Tensor  # (C, G) test samples per cell


def group_metrics(pred: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor, *,
                  n_classes: int, n_groups: int) -> GroupMetrics:
    """Metrics of predictions ``pred`` (N,) against ``labels`` (N,) with protected ``groups`` (N,).

    Cells with no test sample are ignored in the gaps; a class needs ≥ 1 non-empty cell.
    """
    if not (pred.shape == labels.shape == groups.shape):
        raise ValueError(f"pred, labels and groups need one shape; got {tuple(pred.shape)}, "
                         f"{tuple(labels.shape)}, {tuple(groups.shape)}")
    correct = (pred == labels).double()  # (N,)
    cell = labels * n_groups + groups  # (N,)
    counts = torch.bincount(cell, minlength=n_classes * n_groups).double().view(n_classes, n_groups)
    hits = torch.zeros(n_classes * n_groups, dtype=torch.float64, device=pred.device).index_add_(0, cell, correct)
    hits = hits.view(n_classes, n_groups)
    present = counts > 0
    tpr = hits / counts.clamp(min=1)  # (C, G)
    hi = torch.where(present, tpr, torch.full_like(tpr, -1.0)).amax(1)  # (C,)
    lo = torch.where(present, tpr, torch.full_like(tpr, 2.0)).amin(1)  # (C,)
    has = present.any(1)
    gap = (hi - lo)[has]  # (C',)
    group_n = counts.sum(0)  # (G,)
    group_acc = hits.sum(0) / group_n.clamp(min=1)  # (G,)
    return GroupMetrics(
        accuracy=100.0 * float(correct.mean()) if correct.numel() else float("nan"),
        eod=100.0 * float(gap.max()) if gap.numel() else float("nan"),
        deo_a=100.0 * float(gap.mean()) if gap.numel() else float("nan"),
        worst_group_accuracy=100.0 * float(group_acc[group_n > 0].min()) if bool((group_n > 0).any()) else float("nan"),
        tpr=tpr.float().cpu(), counts=counts.long().cpu(),
    )
