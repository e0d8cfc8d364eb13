"""Group labels as they come in the real world: noisy, partial, or missing.

``with_group_noise`` flips a share p of the group labels; ``with_partial_groups`` keeps the labels of
a share only (the rest are marked unknown); ``infer_groups`` fills unknown labels with pseudo-groups
from the embeddings of a fixed random ConvNet, per class: the nearest labelled group centroid when
some labels are known, k-means clusters when none are. Targets compare groups *within* a class, so
per-class pseudo-group ids need not agree across classes.
"""
from __future__ import annotations

import torch

from ..models import ConvNet, reset_parameters
from .dataset import GroupedDataset

__all__ = ["with_group_noise", "with_partial_groups", "infer_groups", "kmeans"]


def _check_rate(name: str, p: float) -> None:
    if not isinstance(p, (int, float)) or not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"{name} must be in [0, 1]; got {p!r}")


def with_group_noise(ds: GroupedDataset, p: float, *, seed: int = 0) -> GroupedDataset:
    """Flip exactly ``round(p · N)`` group labels, each to a different group chosen uniformly."""
    _check_rate("group_noise", p)
    g = torch.Generator().manual_seed(seed)
    n = len(ds)
    flip = torch.randperm(n, generator=g)[: int(round(p * n))]
    shift = 1 + torch.randint(0, ds.n_groups - 1, (len(flip),), generator=g)
    groups = ds.groups.clone()
    groups[flip] = (groups[flip] + shift.to(groups.device)) % ds.n_groups
    return ds._replace(groups=groups, info={**ds.info, "group_noise": float(p)})


def with_partial_groups(ds: GroupedDataset, fraction: float, *, seed: int = 0) -> GroupedDataset:
    """Keep the group labels of exactly ``round(fraction · N)`` samples; mark the rest unknown."""
    _check_rate("group_labels", fraction)
    g = torch.Generator().manual_seed(seed)
    n = len(ds)
    known = torch.zeros(n, dtype=torch.bool)
    known[torch.randperm(n, generator=g)[: int(round(fraction * n))]] = True
    return ds._replace(known=known.to(ds.labels.device), info={**ds.info, "group_labels": float(fraction)})


def kmeans(x: torch.Tensor, k: int, *, iters: int = 30, generator: torch.Generator | None = None) -> torch.Tensor:
    """Cluster ids (N,) of points x (N, d): k-means++ seeding, then Lloyd iterations."""
    n = x.shape[0]
    k = min(k, n)
    centres = x[torch.randint(0, n, (1,), generator=generator)]
    for _ in range(1, k):
        d2 = torch.cdist(x, centres).min(1).values.pow(2)  # (N,)
        pick = torch.multinomial(d2 / d2.sum() if d2.sum() > 0 else torch.ones_like(d2), 1, generator=generator)
        centres = torch.cat([centres, x[pick]])
    for _ in range(iters):
        assign = torch.cdist(x, centres).argmin(1)  # (N,)
        total = torch.zeros_like(centres).index_add_(0, assign, x)
        count = torch.bincount(assign, minlength=k).clamp(min=1).unsqueeze(1)
        centres = torch.where(count > 0, total / count, centres)
    return torch.cdist(x, centres).argmin(1)


@torch.no_grad()
def infer_groups(ds: GroupedDataset, *, n_groups: int | None = None, width: int = 32, seed: int = 0,
                 batch: int = 512) -> GroupedDataset:
    """Fill unknown group labels with pseudo-groups (see the module docstring); all samples known after."""
    if ds.fully_labelled and ds.known is not None:
        return ds
    g = torch.Generator().manual_seed(seed)
    c, h, _ = ds.image_shape
    net = reset_parameters(ConvNet(in_channels=c, n_classes=ds.n_classes, width=width, image_size=h), g).eval()
    feats = torch.cat([net.embed(ds.images[i:i + batch].cpu()) for i in range(0, len(ds), batch)])  # (N, d)
    feats = torch.nn.functional.normalize(feats, dim=1)
    known = ds.known.cpu() if ds.known is not None else torch.zeros(len(ds), dtype=torch.bool)
    groups = ds.groups.cpu().clone()
    k = n_groups or ds.n_groups
    for cls in range(ds.n_classes):  # data preparation, once per class
        members = (ds.labels.cpu() == cls).nonzero().flatten()
        unknown = members[~known[members]]
        if len(unknown) == 0:
            continue
        labelled = members[known[members]]
        if len(labelled):
            present = groups[labelled].unique()
            centroids = torch.stack([feats[labelled[groups[labelled] == a]].mean(0) for a in present])
            groups[unknown] = present[torch.cdist(feats[unknown], centroids).argmin(1)]
        else:
            groups[unknown] = kmeans(feats[unknown], min(k, ds.n_groups), generator=g)
    return ds._replace(groups=groups.to(ds.groups.device), known=None,
                       info={**ds.info, "pseudo_groups": True})
