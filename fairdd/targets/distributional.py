"""Distributional targets (beyond the paper): the W2 barycenter of the groups' embedding clouds.

For class c with groups a (present in the batch) and empirical clouds μ̂_{a|c},

    ν*_c = argmin_ν Σ_a w_a W_2²(ν, μ̂_{a|c}),   ν = (1/S) Σ_s δ_{x_s}  (free support, S points)

with w uniform over present groups (imbalance-agnostic) or size-proportional (= the pooled cloud).
Solved for every class at once by the fixed-point iteration x_s ← Σ_a w_a T_a(x_s), where T_a is the
barycentric projection of an entropic (Sinkhorn, log-domain) plan between ν and μ̂_{a|c}; the
clouds are padded to one (C, G, n_max, d) tensor with a mask, so there is no loop over classes or
groups (the solvers are in ``fairdd.barycenter``). The matcher compares the synthetic embedding
cloud of each class with ν*_c by its distance for the kind (``fairdd.matching.distances``: sliced W2
for clouds, mean and covariance for Gaussians), a cloud-to-cloud loss whose gradient moves every
synthetic point, unlike a mean-to-mean loss.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Sequence

import torch

from ..barycenter import bures_barycenters, w2_barycenter, w2_barycenters
from ..ops import cell_index, segment_count
from .base import Strategy, Targets, check_group_weights, group_weight_matrix
from .protocol import COBRA_PROTOCOL, Protocol

__all__ = ["CobraW2", "CobraGauss", "padded_clouds"]


def padded_clouds(stats: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor, n_classes: int,
                  n_groups: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Clouds (C, G, n_max, d) and mask (C, G, n_max) from per-sample stats (N, d)."""
    cell = cell_index(labels, groups, n_groups)  # (N,)
    order = torch.argsort(cell, stable=True)
    count = segment_count(cell, n_classes * n_groups, torch.long)  # (C·G,)
    start = torch.cumsum(count, 0) - count
    rank = torch.arange(len(cell), device=cell.device) - start[cell[order]]  # rank inside the cell
    n_max = max(int(count.max()), 1)  # the one host read of a cloud target: the padded size
    clouds = stats.new_zeros(n_classes * n_groups, n_max, stats.shape[1])
    mask = torch.zeros(n_classes * n_groups, n_max, dtype=torch.bool, device=stats.device)
    clouds[cell[order], rank] = stats[order]
    mask[cell[order], rank] = torch.ones_like(rank, dtype=torch.bool)
    return clouds.view(n_classes, n_groups, n_max, -1), mask.view(n_classes, n_groups, n_max)


@dataclass(frozen=True)
class CobraW2(Strategy):
    r"""Cloud target: per class the free-support W2 barycenter of the group embedding clouds.

    .. math::
        \nu^*_c = \operatorname*{argmin}_{\nu = \frac1S \sum_{s=1}^S \delta_{x_s}}
                  \sum_{a \in \mathcal{A}_c} w_a\, W_2^2(\nu, \hat\mu_{c,a}),\qquad
        \hat\mu_{c,a} = \frac{1}{n_{c,a}} \sum_{i: y_i = c, a_i = a} \delta_{\phi_i}

    Returns ``Targets(kind="cloud")`` with refs (C, S, d) the supports and weights (C, 1) (0 for a
    class absent from the batch). The sinkhorn solver starts from the class's first ``n_support``
    samples in batch order (a random draw), repeated if the class has fewer.

    Parameters
    ----------
    group_weights : "uniform", "proportional" or sequence of G floats, default "uniform"
        :math:`w_a` as in ``Cobra``; built from ``DistillConfig.group_weights``.
    n_support : int, default 10
        S, the barycenter's support points per class.
    iters : int, default 5
        Fixed-point iterations (``fairdd.barycenter.w2_barycenters``).
    eps : float, default 0.05
        Entropic regularisation relative to the mean cost.
    solver : {"sinkhorn", "exact"}, default "sinkhorn"
        "sinkhorn": batched entropic solver on the data's device; "exact": POT's LP solver
        (``ot.lp.free_support_barycenter``), one class at a time on the CPU (slow; for checks).

    References
    ----------
    [1] Cuturi & Doucet, "Fast Computation of Wasserstein Barycenters", ICML 2014.

    [2] Flamary et al., "POT: Python Optimal Transport", JMLR 2021 (``free_support_barycenter``).
    """

    name: ClassVar[str] = "cobra-w2"
    protocol: ClassVar[Protocol] = COBRA_PROTOCOL  # COBRA with another barycenter: its DM warm start
    kind: ClassVar[str] = "cloud"
    config_fields: ClassVar[dict] = {"group_weights": "group_weights"}
    group_weights: str | Sequence[float] = "uniform"
    n_support: int = 10
    iters: int = 5
    eps: float = 0.05
    solver: str = "sinkhorn"  # "sinkhorn": batched entropic, on the data's device; "exact": POT LP per class (CPU)

    def __post_init__(self) -> None:
        """Check the solver and the group weights."""
        if self.solver not in ("sinkhorn", "exact"):
            raise ValueError(f"solver must be 'sinkhorn' or 'exact'; got {self.solver!r}")
        check_group_weights(self.group_weights)
        if not isinstance(self.n_support, int) or self.n_support < 1:
            raise ValueError(f"n_support must be an integer >= 1; got {self.n_support!r}")

    def __call__(self, stats, labels, groups, n_classes, n_groups) -> Targets:
        """Cloud targets from per-sample embeddings (N, d) with class and group ids (N,)."""
        clouds, mask = padded_clouds(stats, labels, groups, n_classes, n_groups)  # (C, G, n, d), (C, G, n)
        w = group_weight_matrix(self.group_weights, mask.sum(-1), stats.dtype)  # (C, G)
        if self.solver == "exact":
            bary = self._exact(clouds, mask, w)
        else:  # start from the class's first samples in batch order (a random draw), repeated if too few
            idx = _first_per_class(labels, n_classes, self.n_support)  # (C, S)
            bary = w2_barycenters(clouds, mask, w, stats[idx], iters=self.iters, eps=self.eps)
        return Targets(bary, (w.sum(1, keepdim=True) > 0).to(stats.dtype), kind="cloud")

    def _exact(self, clouds: torch.Tensor, mask: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Exact free-support barycenters with POT, one class at a time (slow; for checks and small runs)."""
        out = clouds.new_zeros(clouds.shape[0], self.n_support, clouds.shape[-1])
        for c in range(clouds.shape[0]):  # the exact LP solver has no batched form
            present = [a for a in range(clouds.shape[1]) if bool(mask[c, a].any()) and float(w[c, a]) > 0]
            if present:
                bary = w2_barycenter([clouds[c, a][mask[c, a]] for a in present], w[c, present].cpu(),
                                     n_support=self.n_support)
                out[c] = torch.as_tensor(bary, dtype=clouds.dtype, device=clouds.device)
        return out


def _first_per_class(labels: torch.Tensor, n_classes: int, k: int) -> torch.Tensor:
    order = torch.argsort(labels, stable=True)
    count = segment_count(labels, n_classes, torch.long).clamp(min=1)  # (C,)
    start = torch.cumsum(count, 0) - count
    offs = torch.arange(k, device=labels.device)[None] % count[:, None]  # (C, k)
    return order[(start[:, None] + offs).clamp(max=len(labels) - 1)]


@dataclass(frozen=True)
class CobraGauss(Strategy):
    r"""Gaussian target: per class the Bures–Wasserstein barycenter of the groups' Gaussian fits.

    .. math::
        (m^*_c, \Sigma^*_c) = \operatorname*{argmin}_{m, \Sigma}
            \sum_{a \in \mathcal{A}_c} w_a\, W_2^2\big(\mathcal N(m, \Sigma), \mathcal N(\mu_{c,a}, \Sigma_{c,a})\big)

    with :math:`\mu_{c,a}, \Sigma_{c,a}` the mean and (ridge-regularised) covariance of the group's
    embeddings in a fixed random orthonormal projection :math:`P \in \mathbb R^{d \times k}` (full
    covariances of 2048-d embeddings would be too slow). Returns ``Targets(kind="gaussian")``: refs
    (C, 1, k) the barycenter means, weights (C, 1), ``extra = {"cov": (C, k, k), "proj": (d, k)}``;
    the matcher fits the synthetic class in the same projection and matches mean and covariance.

    Parameters
    ----------
    group_weights : "uniform", "proportional" or sequence of G floats, default "uniform"
        :math:`w_a` as in ``Cobra``; built from ``DistillConfig.group_weights``.
    dim : int, default 16
        k, the projection's dimension (``min(dim, d)`` columns).
    ridge : float, default 1e-3
        Added to every covariance's diagonal.

    References
    ----------
    [1] Álvarez-Esteban et al., "A fixed-point approach to barycenters in Wasserstein space",
    J. Math. Anal. Appl. 2016.
    """

    name: ClassVar[str] = "cobra-gauss"
    protocol: ClassVar[Protocol] = COBRA_PROTOCOL  # COBRA with another barycenter: its DM warm start
    kind: ClassVar[str] = "gaussian"
    config_fields: ClassVar[dict] = {"group_weights": "group_weights"}
    group_weights: str | Sequence[float] = "uniform"
    dim: int = 16
    ridge: float = 1e-3

    def __post_init__(self) -> None:
        """Check the group weights and the projection dimension."""
        check_group_weights(self.group_weights)
        if not isinstance(self.dim, int) or self.dim < 1:
            raise ValueError(f"dim must be an integer >= 1; got {self.dim!r}")

    def projection(self, d: int, device, dtype) -> torch.Tensor:
        """Return the fixed orthonormal projection (d, min(dim, d)) for embeddings of size d."""
        g = torch.Generator().manual_seed(d * 7919 + self.dim)
        q, _ = torch.linalg.qr(torch.randn(d, min(self.dim, d), generator=g, dtype=torch.float64))
        return q.to(device=device, dtype=dtype)  # (d, k) orthonormal columns

    def __call__(self, stats, labels, groups, n_classes, n_groups) -> Targets:
        """Gaussian targets from per-sample embeddings (N, d) with class and group ids (N,)."""
        proj = self.projection(stats.shape[1], stats.device, stats.dtype)
        clouds, mask = padded_clouds(stats @ proj, labels, groups, n_classes, n_groups)  # (C, G, n, k)
        m = mask.unsqueeze(-1).to(stats.dtype)
        count = mask.sum(-1).to(stats.dtype)  # (C, G)
        means = (clouds * m).sum(2) / count.clamp(min=1).unsqueeze(-1)  # (C, G, k)
        centred = (clouds - means.unsqueeze(2)) * m
        eye = torch.eye(proj.shape[1], device=stats.device, dtype=stats.dtype)
        covs = centred.transpose(-1, -2) @ centred / (count - 1).clamp(min=1)[..., None, None] + self.ridge * eye
        w = group_weight_matrix(self.group_weights, count, stats.dtype)  # (C, G)
        mean, cov = bures_barycenters(means, covs, w)
        return Targets(mean.unsqueeze(1), (w.sum(1, keepdim=True) > 0).to(stats.dtype), kind="gaussian",
                       extra={"cov": cov, "proj": proj})
