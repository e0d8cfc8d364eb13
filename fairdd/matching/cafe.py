"""CAFE-style layer-wise feature alignment.

With the DC loop (fresh ConvNet, ``outer_loop`` steps on S with ``inner_loop`` epochs of network
training between them) the loss is, per class c and reference k,

    L(S) = Σ_c Σ_k w_{c,k} Σ_l mean_j (ref_{c,k,l,j} − mean_i f_l(s_{c,i})_j)²

where f_l is the output of block l (flattened feature maps) and (ref, w) come from the strategy applied
to the real per-sample features of all blocks. For ``cobra`` the reference is the per-layer
group-averaged real feature mean (COBRA's CAFE instantiation: per-layer MSE). CAFE's discrimination
term is left out here (``loss`` is the alignment term only).
"""
from __future__ import annotations

import torch

from ..targets import Strategy
from .dc import LoopedMatcher

__all__ = ["CAFEMatcher", "block_features", "layerwise_mse"]


def block_features(net, x: torch.Tensor) -> list[torch.Tensor]:
    """Flattened outputs of each block of a ConvNet, [(N, F_l)]."""
    feats, h = [], x
    for m in net.features:
        h = m(h)
        if isinstance(m, torch.nn.AvgPool2d):  # a block ends with its pooling
            feats.append(h.flatten(1))
    return feats


def layerwise_mse(refs: torch.Tensor, weights: torch.Tensor, syn_mean: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    """Σ_c Σ_k w_{c,k} Σ_l MSE_l(refs_{c,k}, syn_mean_c) with layer widths ``sizes`` (Σ = F).

    refs (C, K, F), weights (C, K), syn_mean (C, F).
    """
    sq = (refs - syn_mean.unsqueeze(1)).pow(2)  # (C, K, F)
    per_layer = torch.stack([part.mean(-1) for part in torch.split(sq, sizes, dim=-1)], -1)  # (C, K, L)
    return (weights * per_layer.sum(-1)).sum()


class CAFEMatcher(LoopedMatcher):
    name = "cafe"

    def loss(self, real_x, real, syn_x, syn_labels, strategy: Strategy) -> torch.Tensor:
        with torch.no_grad():
            real_f = block_features(self.net, real_x)
        sizes = [f.shape[1] for f in real_f]
        targets = strategy(torch.cat(real_f, 1), real.labels, real.groups, self.n_classes, self.n_groups)
        syn_f = torch.cat(block_features(self.net, syn_x), 1)  # (C·ipc, F)
        syn_mean = syn_f.view(self.n_classes, -1, syn_f.shape[1]).mean(1)  # (C, F)
        return layerwise_mse(targets.refs, targets.weights, syn_mean, sizes)
