"""Barycenter solvers for group statistics: mean (closed form), W2 free support, Bures (Gaussian).

Mean barycenter (d = squared L2):  m* = argmin_m Σ_a w_a ‖μ_a − m‖² = Σ_a w_a μ_a / Σ_a w_a.

W2 barycenter of group clouds (POT, ``ot.lp.free_support_barycenter``):

    ν* = argmin_ν Σ_a w_a W_2²(ν, μ̂_a),   μ̂_a = (1/n_a) Σ_i δ_{x_{a,i}}

with ν supported on ``n_support`` free points. ``weights`` is the group weighting: uniform is
imbalance-agnostic (COBRA), proportional to group size reproduces the pooled (vanilla) view.

``w2_barycenters`` (batched entropic, every class at once, on the data's device) and
``bures_barycenters`` (Gaussian fits) are what the distributional strategies (``fairdd.targets``)
solve each iteration; ``w2_barycenter`` is POT's exact solver, one set of clouds at a time.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

__all__ = ["group_weights", "mean_barycenter", "w2_barycenter", "w2_barycenters", "bures_barycenters"]


def group_weights(sizes: Sequence[int] | torch.Tensor, *, mix: float = 1.0) -> torch.Tensor:
    r"""Group weights summing to 1, between uniform and size-proportional.

    .. math::
        w_a = \lambda \frac{[n_a > 0]}{|\{b : n_b > 0\}|} + (1 - \lambda) \frac{n_a}{\sum_b n_b}

    Parameters
    ----------
    sizes : sequence of int or Tensor, shape (G,)
        Group sizes :math:`n_a`.
    mix : float in [0, 1], default 1.0
        λ: 1 uniform over present groups (COBRA), 0 proportional to size (the pooled view).

    Returns
    -------
    Tensor, shape (G,), float64
    """
    if not 0.0 <= mix <= 1.0:
        raise ValueError(f"mix must be in [0, 1]; got {mix!r}")
    sizes = torch.as_tensor(sizes, dtype=torch.float64)
    present = (sizes > 0).double()
    return mix * present / present.sum() + (1 - mix) * sizes / sizes.sum()


def mean_barycenter(means: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    r"""Compute the barycenter of group means under the squared L2 distance, in closed form.

    .. math::
        m^* = \operatorname*{argmin}_m \sum_a w_a \|\mu_a - m\|^2 = \frac{\sum_a w_a \mu_a}{\sum_a w_a}

    Parameters
    ----------
    means : Tensor, shape (G, d)
        Group means :math:`\mu_a`.
    weights : Tensor or sequence, shape (G,)
        Group weights :math:`w_a` (non-negative, positive sum).

    Returns
    -------
    Tensor, shape (d,)
    """
    w = torch.as_tensor(weights, dtype=means.dtype, device=means.device)
    return (w[:, None] * means).sum(0) / w.sum()


def w2_barycenter(clouds: Sequence[np.ndarray | torch.Tensor], weights: Sequence[float] | torch.Tensor, *,
                  n_support: int = 30, n_iter: int = 50, seed: int = 0) -> np.ndarray:
    r"""Exact free-support W2 barycenter of group point clouds (POT's LP solver).

    .. math::
        \nu^* = \operatorname*{argmin}_{\nu = \frac1S \sum_{s=1}^S \delta_{x_s}}
                \sum_a w_a\, W_2^2(\nu, \hat\mu_a),\qquad
        \hat\mu_a = \frac{1}{n_a} \sum_{i=1}^{n_a} \delta_{x_{a,i}}

    Groups with weight 0 are dropped and the others renormalised; the support starts at
    ``n_support`` points drawn from the pooled clouds (``seed``).

    Parameters
    ----------
    clouds : list of array or Tensor, each shape (n_a, d)
        The group clouds (uniform masses).
    weights : sequence or Tensor, shape (G,)
        Group weights :math:`w_a` (non-negative, positive sum).
    n_support : int, default 30
        S, the number of free support points.
    n_iter : int, default 50
        POT's maximum number of fixed-point iterations.
    seed : int, default 0
        Draw of the initial support.

    Returns
    -------
    ndarray, shape (n_support, d), float64

    References
    ----------
    [1] Cuturi & Doucet, "Fast Computation of Wasserstein Barycenters", ICML 2014.

    [2] Flamary et al., "POT: Python Optimal Transport", JMLR 2021 (``ot.lp.free_support_barycenter``).
    """
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


def w2_barycenters(clouds: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor, init: torch.Tensor, *,
                   iters: int = 5, sinkhorn_iters: int = 50, eps: float = 0.05) -> torch.Tensor:
    r"""Free-support W2 barycenters of every class at once, by entropic fixed-point iterations.

    .. math::
        \nu^*_c = \operatorname*{argmin}_{\nu = \frac1S \sum_s \delta_{x_s}}
                  \sum_{a} w_{c,a}\, W_2^2(\nu, \hat\mu_{c,a}),\qquad
        x_s \leftarrow \sum_a \bar w_{c,a}\, T_{c,a}(x_s)

    where :math:`\hat\mu_{c,a}` is the empirical cloud of group a in class c, :math:`\bar w` the
    weights normalised per class, and :math:`T_{c,a}` the barycentric projection of the entropic
    (log-domain Sinkhorn) plan between the current support and :math:`\hat\mu_{c,a}`. Every (class,
    group) pair is solved in one batched call: no loop over classes or groups.

    Parameters
    ----------
    clouds : Tensor, shape (C, G, n, d)
        Group clouds, padded to n points (``fairdd.targets.distributional.padded_clouds``).
    mask : Tensor, shape (C, G, n), bool
        Which padded points are real.
    weights : Tensor, shape (C, G)
        Group weights; 0 for absent groups.
    init : Tensor, shape (C, S, d)
        Starting support.
    iters : int, default 5
        Fixed-point iterations.
    sinkhorn_iters : int, default 50
        Sinkhorn iterations per fixed-point step.
    eps : float, default 0.05
        Entropic regularisation, relative to the mean cost of each (class, group) pair.

    Returns
    -------
    Tensor, shape (C, S, d)
        The barycenter supports.

    References
    ----------
    [1] Cuturi & Doucet, "Fast Computation of Wasserstein Barycenters", ICML 2014.

    [2] Peyré & Cuturi, "Computational Optimal Transport", 2019, §4.2 and §9.2.
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


def _sqrtm(m: torch.Tensor) -> torch.Tensor:
    """Symmetric PSD square root of (..., k, k) by eigendecomposition."""
    vals, vecs = torch.linalg.eigh(m)
    return (vecs * vals.clamp(min=0).sqrt().unsqueeze(-2)) @ vecs.transpose(-1, -2)


def bures_barycenters(means: torch.Tensor, covs: torch.Tensor, weights: torch.Tensor, *,
                      iters: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Gaussian W2 (Bures–Wasserstein) barycenters, batched over classes.

    .. math::
        m^*_c = \sum_a \bar w_{c,a}\, \mu_{c,a},\qquad
        \Sigma^*_c \leftarrow \Sigma^{-1/2} \Big(\sum_a \bar w_{c,a}
            \big(\Sigma^{1/2} \Sigma_{c,a} \Sigma^{1/2}\big)^{1/2}\Big)^2 \Sigma^{-1/2}

    the fixed point of the barycenter of :math:`\mathcal N(\mu_{c,a}, \Sigma_{c,a})` under
    :math:`W_2`, started from the weighted mean covariance (:math:`\bar w`: weights normalised per class).

    Parameters
    ----------
    means : Tensor, shape (C, G, k)
        Group means.
    covs : Tensor, shape (C, G, k, k)
        Group covariances (symmetric positive definite).
    weights : Tensor, shape (C, G)
        Group weights; 0 for absent groups.
    iters : int, default 10
        Fixed-point iterations.

    Returns
    -------
    mean : Tensor, shape (C, k)
    cov : Tensor, shape (C, k, k)

    References
    ----------
    [1] Álvarez-Esteban, del Barrio, Cuesta-Albertos & Matrán, "A fixed-point approach to
    barycenters in Wasserstein space", J. Math. Anal. Appl. 2016.
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
