"""CAFE layer-wise feature alignment, as the COBRA authors' ``train_cafe.py`` computes it.

The features of a ConvNet-D (COBRA ``cafe/networks.py``) are the output of every block *before* its
pooling (after the ReLU) and the final pooled features; COBRA's network returns the final features
twice (as maps and flattened), so their weight below is the sum of two. Per class c, reference k and
feature f_l, with the synthetic class mean s̄_{c,l} = mean_i f_l(s_{c,i}):

    cobra   L = (1/C) Σ_c Σ_k w_{c,k} Σ_l λ_l ‖ref_{c,k,l} − s̄_{c,l}‖²,
            λ = (1, …, 1, 0.1 | 1.1): 1 on the blocks' pre-pool outputs except the last (0.1), 1.1 on the final features
    cafe    L = Σ_c Σ_k w_{c,k} Σ_l λ_l ‖ref_{c,k,l} − s̄_{c,l}‖² + 0.01 Σ_i CE(f(x_i) · s̄ᵀ, y_i),
            λ = (1, …, 1 | 2), f the final features, s̄ (C, d) the synthetic class means

``cafe_loss="cobra"`` is COBRA's CAFE mode; ``"cafe"`` the original CAFE loss that COBRA runs as its
vanilla baseline (its discrimination term is the last sum, over the real batch; CAFE's real-batch
cross-entropy has no gradient in S and is left out of the value). (ref, w) come from the strategy,
layer by layer (e.g. ``cobra``: the group-averaged real feature mean). The squared distances are
sums over feature elements, as the reference's ``MSELoss(reduction="sum")``.

The loop is DC's (``LoopedMatcher``): a fresh network per iteration, ``outer_loop`` steps on S,
``inner_loop`` epochs of the network on S between them, no augmentation under ``paper``. CAFE's
outer-loop early stop is left out: in the reference its accuracy list is reset every step, so it
never fires.
"""
from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F

from ..targets.base import Strategy
from .dc import LoopedMatcher

__all__ = ["CAFEMatcher", "cafe_features", "layer_weights", "cafe_loss"]

DISCRIMINATION = 0.01  # COBRA train_cafe.py --inner_weight


def cafe_features(net, x: torch.Tensor) -> list[torch.Tensor]:
    """Return the features CAFE aligns, [(N, F_l)].

    Each block's output before pooling, then the final features (= ``net.embed(x)``). For
    ConvNet-3 at 32 px: 128·32², 128·16², 128·8², 2048.
    """
    feats, h = [], x
    for m in net.features:
        if isinstance(m, torch.nn.AvgPool2d):  # a block ends with its pooling: keep what goes in
            feats.append(h.flatten(1))
        h = m(h)
    feats.append(h.flatten(1))
    return feats


def layer_weights(depth: int, recipe: str) -> list[float]:
    """λ_l for the ``depth`` pre-pool outputs and the final features (COBRA train_cafe.py)."""
    if recipe == "cobra":  # idx -1, -2 weight 1; -3 (last pre-pool) and -4 (final maps) 0.1; 0 (flattened) 1
        return [1.0] * (depth - 1) + [0.1, 1.1]
    return [1.0] * depth + [2.0]  # first..fourth_weight = 1 on maps, 1 on the flattened final features


def cafe_loss(real_means: list, weights: torch.Tensor, syn_feats: list[torch.Tensor], n_classes: int, *,
              recipe: str, real_final: torch.Tensor | None = None, real_labels: torch.Tensor | None = None
              ) -> torch.Tensor:
    """Compute the loss above from the strategy's per-layer references.

    real_means : per layer, refs (C, K, F_l); weights (C, K); syn_feats : per layer (C · ipc, F_l),
    sorted by class. ``recipe="cafe"`` also needs the real batch's final features (M, d) and labels (M,).
    """
    lam = layer_weights(len(syn_feats) - 1, recipe)
    total = weights.new_zeros(weights.shape)  # (C, K)
    syn_means = []
    for lam_l, refs, syn in zip(lam, real_means, syn_feats):  # a handful of layers
        s_bar = syn.view(n_classes, -1, syn.shape[1]).mean(1)  # (C, F_l)
        syn_means.append(s_bar)
        total = total + lam_l * (refs - s_bar.unsqueeze(1)).pow(2).sum(-1)  # (C, K)
    loss = (weights * total).sum()
    if recipe == "cobra":
        return loss / n_classes
    logits = real_final @ syn_means[-1].t()  # (M, C): CAFE's discrimination term
    return loss + DISCRIMINATION * F.cross_entropy(logits, real_labels, reduction="sum")


class CAFEMatcher(LoopedMatcher):
    r"""CAFE layer-wise feature alignment (COBRA's ``train_cafe.py``), on DC's loop.

    .. math::
        L(S) = \sum_c \sum_k w_{c,k} \sum_l \lambda_l \|\mathrm{ref}_{c,k,l} - \bar s_{c,l}\|^2
               \;\big(/\,C \text{ for "cobra"};\; + 0.01 \sum_i \mathrm{CE}(f(x_i)\,\bar s^\top, y_i)
               \text{ for "cafe"}\big)

    with :math:`\bar s_{c,l}` the synthetic class mean of feature layer l (``cafe_features``),
    (ref, w) the strategy's targets of each layer's real features and λ from ``layer_weights``.
    Matches moment strategies.

    Parameters
    ----------
    config : DistillConfig
        DC's loop fields plus ``cafe_loss`` ("cobra" or "cafe").
    in_channels, n_classes, n_groups, image_size : int
    device : torch.device

    References
    ----------
    [1] Wang et al., "CAFE: Learning to Condense Dataset by Aligning Features", CVPR 2022.
    """

    name: ClassVar[str] = "cafe"

    def loss(self, real_x, real, syn_x, syn_labels, strategy: Strategy) -> torch.Tensor:
        """CAFE's loss of the synthetic features against the strategy's per-layer references."""
        recipe = self.config.cafe_loss
        with torch.no_grad():
            real_f = cafe_features(self.net, real_x)
        refs, weights = [], None
        for f in real_f:  # one strategy call per layer (a handful): no (M, Σ F_l) copy of the batch
            t = strategy(f, real.labels, real.groups, self.n_classes, self.n_groups)
            refs.append(t.refs)
            weights = t.weights
        syn_f = cafe_features(self.net, syn_x)
        return cafe_loss(refs, weights, syn_f, self.n_classes, recipe=recipe,
                         real_final=real_f[-1] if recipe == "cafe" else None, real_labels=real.labels)
