"""The gap a perfectly fair model shows by chance on a finite test set (the EOD/DEO_A noise floor).

A model is perfectly fair when every group of a class has the same true positive rate. On a finite
test set its measured rates still differ: with n_{y,a} test samples in cell (class y, group a) and a
common rate p, the correct count is k_{y,a} ~ Binomial(n_{y,a}, p) and

    EOD_fair  = 100 · max_y (max_a k_{y,a}/n_{y,a} − min_a k_{y,a}/n_{y,a})
    DEO_A_fair = 100 · mean_y (max_a k_{y,a}/n_{y,a} − min_a k_{y,a}/n_{y,a})

are above zero. A measured EOD inside this band cannot be told apart from a fair model of the same
accuracy. p is the model's accuracy (the same in every cell: the fair model that keeps the overall
accuracy). The band is simulated: ``n_draws`` independent test-set draws, vectorised.

This helper sits in the view layer for now; its name and signature are meant to move into
``fairdd.metrics`` unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["NoiseFloor", "fair_model_noise_floor"]


@dataclass(frozen=True)
class NoiseFloor:
    """EOD and DEO_A (percent) of a perfectly fair model: mean and the (low, high) quantile band."""

    accuracy: float  # the fair model's accuracy, percent
    eod: float
    eod_band: tuple[float, float]
    deo_a: float
    deo_a_band: tuple[float, float]
    quantiles: tuple[float, float]


def fair_model_noise_floor(counts, accuracy: float, *, n_draws: int = 2000, quantiles=(0.05, 0.95),
                           seed: int = 0) -> NoiseFloor:
    """EOD / DEO_A a perfectly fair model with ``accuracy`` (percent) scores on a test set whose
    (class, group) cells hold ``counts`` samples.

    Parameters
    ----------
    counts : (C, G) test samples per cell (a report's ``by_group`` counts); empty cells are ignored,
        as in ``fairdd.metrics.group_metrics``.
    accuracy : percent in [0, 100].
    n_draws : simulated test-set draws.
    quantiles : the band's (low, high) quantiles of the simulated values.
    seed : the simulation's seed (the result is deterministic).
    """
    counts = torch.tensor(np.array(counts, dtype=np.float64))
    if counts.ndim != 2 or bool((counts < 0).any()) or not bool((counts > 0).any()):
        raise ValueError(f"counts must be a (classes, groups) table of non-negative counts with a sample; "
                         f"got shape {tuple(counts.shape)}")
    if not (isinstance(accuracy, (int, float)) and 0.0 <= accuracy <= 100.0):
        raise ValueError(f"accuracy must be a percentage in [0, 100]; got {accuracy!r}")
    if isinstance(n_draws, bool) or not isinstance(n_draws, int) or n_draws < 1:
        raise ValueError(f"n_draws must be an integer ≥ 1; got {n_draws!r}")
    lo_q, hi_q = quantiles
    if not 0.0 <= lo_q <= hi_q <= 1.0:
        raise ValueError(f"quantiles must satisfy 0 ≤ low ≤ high ≤ 1; got {quantiles!r}")
    gen = torch.Generator().manual_seed(seed)
    p = torch.full_like(counts, accuracy / 100.0)  # (C, G)
    n = counts.expand(n_draws, *counts.shape)  # (D, C, G)
    hits = torch.binomial(n, p.expand_as(n), generator=gen)  # (D, C, G)
    present = counts > 0  # (C, G)
    tpr = hits / counts.clamp(min=1)  # (D, C, G)
    hi = torch.where(present, tpr, torch.full_like(tpr, -1.0)).amax(-1)  # (D, C)
    lo = torch.where(present, tpr, torch.full_like(tpr, 2.0)).amin(-1)  # (D, C)
    gap = (hi - lo)[:, present.any(1)]  # (D, C')
    eod, deo_a = 100 * gap.amax(1), 100 * gap.mean(1)  # (D,), (D,)
    q = torch.tensor([lo_q, hi_q], dtype=torch.float64)
    eq, dq = torch.quantile(eod, q), torch.quantile(deo_a, q)
    return NoiseFloor(accuracy=float(accuracy), eod=float(eod.mean()), eod_band=(float(eq[0]), float(eq[1])),
                      deo_a=float(deo_a.mean()), deo_a_band=(float(dq[0]), float(dq[1])),
                      quantiles=(float(lo_q), float(hi_q)))


def report_noise_floor(report, **kw) -> NoiseFloor:
    """The noise floor for a ``FairnessReport`` (its accuracy and its test cells' counts)."""
    table = report.by_group.pivot(index="class", columns="group", values="count")
    return fair_model_noise_floor(table.fillna(0).to_numpy(), float(report.accuracy), **kw)
