"""Embeddings of one class's real images per group: the point clouds the barycenter notebook draws."""
from __future__ import annotations

import torch

from ..data import GroupedDataset
from ..models import ConvNet, reset_parameters

__all__ = ["group_clouds"]


@torch.no_grad()
def group_clouds(train: GroupedDataset, class_id: int, *, per_group: int = 100, net: torch.nn.Module | None = None,
                 width: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings (n, d) of up to ``per_group`` real images per group of class ``class_id`` under
    ``net`` (default: a fixed random ConvNet-3 drawn from ``seed``) and their groups (n,)."""
    if not 0 <= class_id < train.n_classes:
        raise ValueError(f"class_id must be in [0, {train.n_classes}); got {class_id}")
    gen = torch.Generator().manual_seed(seed)
    idx = (train.labels == class_id).nonzero().flatten()
    idx = idx[torch.randperm(len(idx), generator=gen)]
    groups = train.groups[idx]
    rank = torch.zeros_like(groups)
    for a in groups.unique().tolist():  # analysis helper, per group once
        m = groups == a
        rank[m] = torch.arange(int(m.sum()))
    idx = idx[rank < per_group]
    if net is None:
        c, h, _ = train.image_shape
        net = reset_parameters(ConvNet(in_channels=c, n_classes=train.n_classes, width=width, image_size=h), gen)
    net.eval()
    return net.embed(train.images[idx]), train.groups[idx]
