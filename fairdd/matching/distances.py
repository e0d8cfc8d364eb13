r"""Distances between a strategy's ``Targets`` and the synthetic embeddings, one per target kind.

Every distance has the signature ``fn(targets, emb_syn, *, n_classes, distance, generator) -> loss``
(a 0-d tensor) with ``emb_syn`` (C · ipc, d) sorted by class; ``distance`` ("l1"/"l2") and
``generator`` are there for the distances that use them. Distribution-matching matchers (DM) pick
the one for ``targets.kind`` here, so adding a target kind means one ``Strategy`` subclass in
``fairdd.targets`` and one function registered here (``register_distance``), no matcher edit.

=========  ================================================================  ============
kind       loss                                                              function
=========  ================================================================  ============
moments    Σ_c Σ_k w_{c,k} ‖ref_{c,k} − mean_i φ(s_{c,i})‖² (or ‖·‖₁)          moment_distance
cloud      Σ_c w_c · d · SW₂²(ν*_c, {φ(s_{c,i})}_i)                           cloud_distance
gaussian   Σ_c w_c (d/k)(‖m_c − m*_c‖² + ‖Σ_c − Σ*_c‖_F²) in the projection    gaussian_distance
=========  ================================================================  ============
"""
from __future__ import annotations

from typing import Callable

import torch

from ..targets.base import Targets

__all__ = ["DISTANCES", "register_distance", "target_distance", "moment_distance", "cloud_distance",
           "gaussian_distance", "sliced_w2", "gaussian_match"]

Distance = Callable[..., torch.Tensor]


def moment_distance(targets: Targets, emb_syn: torch.Tensor, *, n_classes: int, distance: str = "l2",
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """DM's mean distance Σ_c Σ_k w_{c,k} D(ref_{c,k}, mean of the synthetic class), D = squared L2 or L1."""
    mean_syn = emb_syn.view(n_classes, -1, emb_syn.shape[-1]).mean(1)  # (C, d)
    diff = targets.refs - mean_syn.unsqueeze(1)  # (C, K, d)
    dist = diff.abs().sum(-1) if distance == "l1" else diff.pow(2).sum(-1)  # (C, K)
    return (targets.weights * dist).sum()


def sliced_w2(x: torch.Tensor, y: torch.Tensor, *, n_proj: int = 64,
              generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Sliced W2² between point clouds, per class.

    .. math::
        SW_2^2(x, y) = \frac1L \sum_{l=1}^L \int_0^1 |F^{-1}_{\theta_l \cdot x}(q) - F^{-1}_{\theta_l \cdot y}(q)|^2 dq

    over L random unit directions θ_l, with the quantile integral taken at the midpoints of
    ``max(n1, n2)`` bins (quantile matching when the sizes differ).

    Parameters
    ----------
    x : Tensor, shape (C, n1, d)
    y : Tensor, shape (C, n2, d)
    n_proj : int, default 64
        L, the number of directions (drawn from ``generator``).

    Returns
    -------
    Tensor, shape (C,)
    """
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


def cloud_distance(targets: Targets, emb_syn: torch.Tensor, *, n_classes: int, distance: str = "l2",
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Σ_c w_c · d · SW₂²(refs_c, synthetic cloud of class c): compare the clouds, all classes in one call."""
    cloud_syn = emb_syn.view(n_classes, -1, emb_syn.shape[-1])  # (C, ipc, d)
    # × d: for clouds that differ by a shift t, E[SW2²] = ‖t‖²/d, so this is on DM's ‖Δmean‖² scale
    sw = sliced_w2(cloud_syn, targets.refs.detach(), generator=generator) * emb_syn.shape[-1]
    return (targets.weights[:, 0] * sw).sum()


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


def gaussian_distance(targets: Targets, emb_syn: torch.Tensor, *, n_classes: int, distance: str = "l2",
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """Compare mean and covariance in the target's projection (``gaussian_match``): the Gaussian kind's distance."""
    return gaussian_match(emb_syn, targets, n_classes)


DISTANCES: dict[str, Distance] = {"moments": moment_distance, "cloud": cloud_distance, "gaussian": gaussian_distance}


def register_distance(kind: str, fn: Distance) -> Distance:
    """Make ``fn`` the distance for targets of ``kind`` (then DM runs strategies of that kind)."""
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"kind must be a non-empty string; got {kind!r}")
    if not callable(fn):
        raise ValueError(f"the distance for {kind!r} must be callable; got {fn!r}")
    if kind in DISTANCES and DISTANCES[kind] is not fn:
        raise ValueError(f"target kind {kind!r} already has a distance ({DISTANCES[kind].__name__})")
    DISTANCES[kind] = fn
    return fn


def target_distance(targets: Targets, emb_syn: torch.Tensor, *, n_classes: int, distance: str = "l2",
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Compute the loss between ``targets`` and the synthetic embeddings (C · ipc, d) by the distance of its kind."""
    if targets.kind not in DISTANCES:
        raise ValueError(f"no distance for target kind {targets.kind!r}; known: {list(DISTANCES)} "
                         "(fairdd.matching.distances.register_distance)")
    return DISTANCES[targets.kind](targets, emb_syn, n_classes=n_classes, distance=distance, generator=generator)
