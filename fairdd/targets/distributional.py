"""Distributional targets (beyond the paper): the W2 barycenter of the groups' embedding clouds.

For class c with groups a (present in the batch) and empirical clouds μ̂_{a|c},

    ν*_c = argmin_ν Σ_a w_a W_2²(ν, μ̂_{a|c}),   ν = (1/S) Σ_s δ_{x_s}  (free support, S points)

with w uniform over present groups (imbalance-agnostic) or size-proportional (= the pooled cloud).
Solved for every class at once by the fixed-point iteration x_s ← Σ_a w_a T_a(x_s), where T_a is the
barycentric projection of an entropic (Sinkhorn, log-domain) plan between ν and μ̂_{a|c}; the
clouds are padded to one (C, G, n_max, d) tensor with a mask, so there is no loop over classes or
groups. The matcher compares the synthetic embedding cloud of each class with ν*_c by sliced W2
(sorted random projections; quantile-matched when the sizes differ): a cloud-to-cloud loss whose
gradient moves every synthetic point, unlike a mean-to-mean loss.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Sequence

import torch

from ..ops import segment_count
from .moments import Strategy, Targets, check_group_weights, group_weight_matrix

__all__ = ["CobraW2", "CobraGauss", "padded_clouds", "w2_barycenters", "sliced_w2", "bures_barycenters",
           "gaussian_match"]


def padded_clouds(stats: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor, n_classes: int,
                  n_groups: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Clouds (C, G, n_max, d) and mask (C, G, n_max) from per-sample stats (N, d)."""
    cell = labels * n_groups + groups  # (N,)
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


def w2_barycenters(clouds: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor, init: torch.Tensor, *,
                   iters: int = 5, sinkhorn_iters: int = 50, eps: float = 0.05) -> torch.Tensor:
    """Free-support W2 barycenters of every class, (C, S, d).

    clouds (C, G, n, d) with mask (C, G, n); weights (C, G) group weights (0 for absent groups);
    init (C, S, d) starting support. ``eps`` is the entropic regularisation relative to the mean cost.
    """
    c, g, n, d = clouds.shape
    s = init.shape[1]
    w = weights / weights.sum(1, keepdim=True).clamp(min=1e-12)  # (C, G)
    log_b = torch.where(mask, -torch.log(mask.sum(-1, keepdim=True).clamp(min=1).to(clouds.dtype)),
                        torch.full_like(mask, -math.inf, dtype=clouds.dtype))  # (C, G, n)
    log_a = torch.full((c, g, s), -math.log(s), dtype=clouds.dtype, device=clouds.device)
    x = init
    for _ in range(iters):
        cost = torch.cdist(x.unsqueeze(1).expand(c, g, s, d).reshape(c * g, s, d),
                           clouds.reshape(c * g, n, d)).pow(2).view(c, g, s, n)  # (C, G, S, n)
        scale = (cost * mask.unsqueeze(2)).sum((-1, -2)) / (mask.sum(-1) * s).clamp(min=1)  # (C, G)
        k = -cost / (eps * scale.clamp(min=1e-12))[..., None, None]  # (C, G, S, n)
        f = torch.zeros_like(log_a)
        h = torch.zeros_like(log_b)
        for _ in range(sinkhorn_iters):  # log-domain Sinkhorn, all (class, group) pairs at once
            f = log_a - torch.logsumexp(k + h.unsqueeze(2), dim=-1)
            h = log_b - torch.logsumexp(k + f.unsqueeze(-1), dim=-2)
            h = torch.where(mask, h, torch.full_like(h, -math.inf))
        plan = torch.exp(k + f.unsqueeze(-1) + h.unsqueeze(2))  # (C, G, S, n)
        plan = torch.where(mask.any(-1)[..., None, None], plan, torch.zeros_like(plan))  # absent groups: no plan
        proj = torch.einsum("cgsn,cgnd->cgsd", plan, clouds) * s  # barycentric projections T_a(x)
        x = torch.einsum("cg,cgsd->csd", w, proj)
    return x


def sliced_w2(x: torch.Tensor, y: torch.Tensor, *, n_proj: int = 64,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """Sliced W2² between point clouds x (C, n1, d) and y (C, n2, d), per class → (C,)."""
    d = x.shape[-1]
    theta = torch.randn(d, n_proj, generator=generator, device=x.device, dtype=x.dtype)
    theta = theta / theta.norm(dim=0, keepdim=True)
    px, _ = torch.sort(x @ theta, dim=1)  # (C, n1, L)
    py, _ = torch.sort(y @ theta, dim=1)  # (C, n2, L)
    m = max(px.shape[1], py.shape[1])
    q = (torch.arange(m, device=x.device) + 0.5) / m
    qx = px[:, (q * px.shape[1]).long()]  # (C, m, L) quantiles
    qy = py[:, (q * py.shape[1]).long()]
    return (qx - qy).pow(2).mean((1, 2))


@dataclass(frozen=True)
class CobraW2(Strategy):
    """Cloud target: per class the W2 barycenter (``n_support`` points) of the group clouds.

    ``Targets.refs`` is (C, S, d) — a cloud, flagged by ``kind = "cloud"`` — with weights (C, 1).
    """

    name: ClassVar[str] = "cobra-w2"
    kind: ClassVar[str] = "cloud"
    group_weights: str | Sequence[float] = "uniform"
    n_support: int = 10
    iters: int = 5
    eps: float = 0.05
    solver: str = "sinkhorn"  # "sinkhorn": batched entropic, on the data's device; "exact": POT LP per class (CPU)

    def __post_init__(self) -> None:
        if self.solver not in ("sinkhorn", "exact"):
            raise ValueError(f"solver must be 'sinkhorn' or 'exact'; got {self.solver!r}")
        check_group_weights(self.group_weights)
        if not isinstance(self.n_support, int) or self.n_support < 1:
            raise ValueError(f"n_support must be an integer >= 1; got {self.n_support!r}")

    def __call__(self, stats, labels, groups, n_classes, n_groups) -> Targets:
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
        from ..barycenter import w2_barycenter

        out = clouds.new_zeros(clouds.shape[0], self.n_support, clouds.shape[-1])
        for c in range(clouds.shape[0]):  # the exact LP solver has no batched form
            present = [a for a in range(clouds.shape[1]) if bool(mask[c, a].any()) and float(w[c, a]) > 0]
            if present:
                bary = w2_barycenter([clouds[c, a][mask[c, a]] for a in present], w[c, present].cpu(),
                                     n_support=self.n_support)
                out[c] = torch.as_tensor(bary, dtype=clouds.dtype, device=clouds.device)
        return out

    def from_cells(self, mean, count) -> Targets:
        raise ValueError("cobra-w2 needs the per-sample clouds, not cell means; use it with method='dm'")


def _first_per_class(labels: torch.Tensor, n_classes: int, k: int) -> torch.Tensor:
    order = torch.argsort(labels, stable=True)
    count = segment_count(labels, n_classes, torch.long).clamp(min=1)  # (C,)
    start = torch.cumsum(count, 0) - count
    offs = torch.arange(k, device=labels.device)[None] % count[:, None]  # (C, k)
    return order[(start[:, None] + offs).clamp(max=len(labels) - 1)]


def _sqrtm(m: torch.Tensor) -> torch.Tensor:
    """Symmetric PSD square root of (..., k, k) by eigendecomposition."""
    vals, vecs = torch.linalg.eigh(m)
    return (vecs * vals.clamp(min=0).sqrt().unsqueeze(-2)) @ vecs.transpose(-1, -2)


def bures_barycenters(means: torch.Tensor, covs: torch.Tensor, weights: torch.Tensor, *,
                      iters: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian W2 (Bures–Wasserstein) barycenters, batched over classes.

    means (C, G, k), covs (C, G, k, k), weights (C, G) (0 = absent group). Returns the barycenter
    means Σ_a w_a μ_a (C, k) and covariances (C, k, k) from the fixed point
    S ← S^{-1/2} (Σ_a w_a (S^{1/2} Σ_a S^{1/2})^{1/2})² S^{-1/2}.
    """
    w = weights / weights.sum(1, keepdim=True).clamp(min=1e-12)  # (C, G)
    mean = torch.einsum("cg,cgk->ck", w, means)
    s = torch.einsum("cg,cgkl->ckl", w, covs)  # start from the weighted mean covariance
    for _ in range(iters):
        root = _sqrtm(s)  # (C, k, k)
        inv_root = torch.linalg.pinv(root, hermitian=True)
        inner = _sqrtm(root.unsqueeze(1) @ covs @ root.unsqueeze(1))  # (C, G, k, k)
        t = torch.einsum("cg,cgkl->ckl", w, inner)
        s = inv_root @ t @ t @ inv_root
        s = (s + s.transpose(-1, -2)) / 2
    return mean, s


@dataclass(frozen=True)
class CobraGauss(Strategy):
    """Gaussian target: per class the Bures–Wasserstein barycenter of the groups' Gaussian fits in a
    fixed random ``dim``-dimensional orthonormal projection of the embeddings (full covariances of
    2048-d embeddings would be too slow). ``Targets.refs`` is the barycenter mean (C, 1, k) with
    ``extra = {"cov": (C, k, k), "proj": (d, k)}``; the matcher fits the synthetic class in the same
    projection and matches mean and covariance."""

    name: ClassVar[str] = "cobra-gauss"
    kind: ClassVar[str] = "gaussian"
    group_weights: str | Sequence[float] = "uniform"
    dim: int = 16
    ridge: float = 1e-3

    def __post_init__(self) -> None:
        check_group_weights(self.group_weights)
        if not isinstance(self.dim, int) or self.dim < 1:
            raise ValueError(f"dim must be an integer >= 1; got {self.dim!r}")

    def projection(self, d: int, device, dtype) -> torch.Tensor:
        g = torch.Generator().manual_seed(d * 7919 + self.dim)
        q, _ = torch.linalg.qr(torch.randn(d, min(self.dim, d), generator=g, dtype=torch.float64))
        return q.to(device=device, dtype=dtype)  # (d, k) orthonormal columns

    def __call__(self, stats, labels, groups, n_classes, n_groups) -> Targets:
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

    def from_cells(self, mean, count) -> Targets:
        raise ValueError("cobra-gauss needs the per-sample clouds, not cell means; use it with method='dm'")


def gaussian_match(emb_syn: torch.Tensor, targets: Targets, n_classes: int) -> torch.Tensor:
    """Σ_c w_c (d/k) (‖m_c − m*_c‖² + ‖S_c − S*_c‖_F²) for synthetic embeddings (C·ipc, d) sorted by class."""
    proj = targets.extra["proj"]
    z = (emb_syn @ proj).view(n_classes, -1, proj.shape[1])  # (C, ipc, k)
    mean = z.mean(1)
    centred = z - mean.unsqueeze(1)
    cov = centred.transpose(1, 2) @ centred / max(z.shape[1] - 1, 1)  # (C, k, k)
    scale = emb_syn.shape[1] / proj.shape[1]
    per_class = (mean - targets.refs[:, 0]).pow(2).sum(-1) + (cov - targets.extra["cov"]).pow(2).sum((-1, -2))
    return (targets.weights[:, 0] * scale * per_class).sum()
