"""Gradient matching (DC; DSA when the Siamese augmentation is on).

Per outer iteration a fresh ConvNet θ is drawn; then ``outer_loop`` times:

    L(S) = Σ_c Σ_k w_{c,k} · Σ_l Σ_o [1 − cos(ref_{c,k,l,o}, ∇_θl ℓ(θ; S_c)_o)]

where ℓ is the class's mean cross-entropy, l runs over the layers' weight tensors, o over their output
units (DC's layer-wise distance; biases and norm parameters are not matched), and (ref, w) come from
the strategy applied to the real per-(class, group) mean gradients. S takes one SGD step on L, then θ
takes ``inner_loop`` epochs of SGD on S.

Real per-group mean gradients come from per-sample gradients (``torch.func.vmap(grad)``) reduced by
segment sums, a chunk at a time: one batched backward for every class and group, no backward pass per
group. The synthetic per-class gradients are one ``vmap(grad)`` over classes, differentiable in S.
"""
from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..augment import apply, sample_params
from ..config import DistillConfig
from ..models import reset_parameters
from ..ops import cell_index, segment_count
from ..targets.base import MomentStrategy, Strategy, Targets
from ..train import train_classifier
from .base import Matcher

__all__ = ["LoopedMatcher", "DCMatcher", "gradient_distance", "real_cell_gradients", "syn_class_gradients"]

CHUNK = 256  # real samples per per-sample-gradient chunk (memory: CHUNK × number of parameters)


def matched_parameters(net: nn.Module) -> list[str]:
    """Names of the parameters DC matches: weight tensors of conv and linear layers."""
    return [n for n, p in net.named_parameters() if p.ndim > 1]


def _loss_fn(net, names):
    from torch.func import functional_call

    buffers = dict(net.named_buffers())
    fixed = {n: p.detach() for n, p in net.named_parameters() if n not in names}

    def loss(params: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = functional_call(net, ({**fixed, **params}, buffers), (x,))
        return F.cross_entropy(out, y)

    return loss


def real_cell_gradients(net, names, x, labels, groups, n_classes, n_groups, *, chunk: int = CHUNK):
    """Mean gradient of the loss per (class, group) cell, (C, G, P), and cell counts (C, G).

    P is the flattened size of the matched parameters. Per-sample gradients are computed ``chunk``
    samples at a time and summed into their cells with one ``index_add_`` per chunk.
    """
    from torch.func import grad, vmap

    loss = _loss_fn(net, names)
    params = {n: p.detach() for n, p in net.named_parameters() if n in names}

    def one(params, xi, yi):
        return loss(params, xi.unsqueeze(0), yi.unsqueeze(0))

    per_sample = vmap(grad(one), in_dims=(None, 0, 0))
    cell = cell_index(labels, groups, n_groups)  # (N,)
    total = None
    for i in range(0, x.shape[0], chunk):
        g = per_sample(params, x[i:i + chunk], labels[i:i + chunk])
        flat = torch.cat([g[n].flatten(1) for n in names], 1)  # (chunk, P)
        if total is None:
            total = flat.new_zeros(n_classes * n_groups, flat.shape[1])
        total.index_add_(0, cell[i:i + chunk], flat)
    count = segment_count(cell, n_classes * n_groups, total.dtype)  # (C·G,)
    mean = total / count.clamp(min=1).unsqueeze(1)
    return mean.view(n_classes, n_groups, -1), count.view(n_classes, n_groups)


def syn_class_gradients(net, names, syn, syn_labels, n_classes) -> torch.Tensor:
    """Per-class gradient of the synthetic class loss, (C, P), differentiable in ``syn``."""
    from torch.func import grad, vmap

    loss = _loss_fn(net, names)
    params = {n: p.detach() for n, p in net.named_parameters() if n in names}
    xs = syn.view(n_classes, -1, *syn.shape[1:])  # (C, ipc, c, h, w), syn sorted by class
    ys = syn_labels.view(n_classes, -1)  # (C, ipc)
    g = vmap(grad(loss), in_dims=(None, 0, 0))(params, xs, ys)
    return torch.cat([g[n].flatten(1) for n in names], 1)  # (C, P)


def gradient_distance(targets: Targets, syn_grad: torch.Tensor, shapes: list[torch.Size]) -> torch.Tensor:
    """Σ_c Σ_k w_{c,k} Σ_l Σ_o (1 − cos) between reference and synthetic gradients.

    targets.refs (C, K, P), targets.weights (C, K), syn_grad (C, P); ``shapes`` are the matched
    parameters' shapes (their flattened sizes add up to P), each compared per output unit (dim 0).
    """
    total = syn_grad.new_zeros(targets.weights.shape)  # (C, K)
    start = 0
    for shape in shapes:  # a handful of layers
        size = shape.numel()
        out = shape[0]
        ref = targets.refs[..., start:start + size].reshape(*targets.refs.shape[:2], out, -1)  # (C, K, O, R)
        syn = syn_grad[:, None, start:start + size].reshape(syn_grad.shape[0], 1, out, -1)  # (C, 1, O, R)
        cos = (ref * syn).sum(-1) / (ref.norm(dim=-1) * syn.norm(dim=-1) + 1e-6)  # (C, K, O)
        total = total + (1 - cos).sum(-1)
        start += size
    return (targets.weights * total).sum()


class LoopedMatcher(Matcher):
    """Shared loop of DC-style matchers.

    A fresh ConvNet each outer iteration, then ``outer_loop`` times: one loss on a new real batch →
    one step on S → ``inner_loop`` epochs of the network on S (``inner_loop = 0``: the network stays
    as drawn, as in COBRA's IDC). Subclasses define ``loss(real_x, real, syn_x, syn_labels,
    strategy)``; they match moment targets.
    """

    def __init__(self, config: DistillConfig, **kw) -> None:
        if config.norm == "batchnorm":
            raise ValueError(f"{self.name} here needs norm='instancenorm' or 'none' (per-sample statistics)")
        super().__init__(config, **kw)

    def loss(self, real_x, real, syn_x, syn_labels, strategy: Strategy) -> torch.Tensor:
        """Compute the matching loss of one real batch, differentiable in the synthetic images ``syn_x``."""
        raise NotImplementedError

    def training_images(self, syn: torch.Tensor, syn_labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the images a network sees of S (IDC: the decoded ones), sorted by class."""
        return syn, syn_labels

    def iteration(self, syn, syn_labels, optimizer, sample_real, strategy: Strategy, generator) -> torch.Tensor:
        """Run one outer iteration (see the class docstring); return the mean loss over its steps."""
        cfg, net = self.config, self.net
        reset_parameters(net, generator)
        losses = []
        for ol in range(cfg.outer_loop):
            real = sample_real()
            x_real, (x_syn, y_syn) = real.images, self.training_images(syn, syn_labels)
            if cfg.dsa:
                params = sample_params(self.n_classes, generator=generator, device=syn.device)
                x_real = apply(x_real, params, real.labels)  # Siamese: one draw per class
                x_syn = apply(x_syn, params, y_syn)
            loss = self.loss(x_real.detach(), real, x_syn, y_syn, strategy)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
            if ol == cfg.outer_loop - 1 or cfg.inner_loop == 0:  # IDC: a fixed random network per iteration
                continue
            train_classifier(net, *self.training_images(syn, syn_labels), epochs=cfg.inner_loop, lr=cfg.lr_net,
                             momentum=cfg.inner_momentum, weight_decay=cfg.inner_weight_decay, dsa=cfg.dsa,
                             lr_decay=False, generator=generator)
        return torch.stack(losses).mean()


class DCMatcher(LoopedMatcher):
    r"""DC / DSA gradient matching: layer-wise cosine distance between real and synthetic gradients.

    .. math::
        L(S) = \sum_c \sum_k w_{c,k} \sum_l \sum_o \Big[1 - \cos\big(\mathrm{ref}_{c,k,l,o},\,
               \nabla_{\theta_l} \ell(\theta; A_{\omega_c}(S_c))_o\big)\Big],\qquad
        (\mathrm{refs}, w) = \mathcal T.\mathrm{from\_cells}(\bar g, n)

    where :math:`\bar g` (C, G, P) are the real per-(class, group) mean gradients of the
    cross-entropy :math:`\ell` over the matched weights (P values), :math:`n` (C, G) the cell counts,
    l runs over conv/linear weight tensors and o over their output units. Matches moment strategies
    only (``MomentStrategy.from_cells``); with ``dsa`` the Siamese augmentation :math:`A_{\omega_c}`
    is shared by the real and synthetic images of class c.

    Parameters
    ----------
    config : DistillConfig
        Reads ``width``, ``depth``, ``norm`` (not batchnorm), ``dsa``, ``outer_loop``, ``inner_loop``,
        ``lr_net`` and the inner SGD's ``inner_momentum`` / ``inner_weight_decay``.
    in_channels, n_classes, n_groups, image_size : int
    device : torch.device

    References
    ----------
    [1] Zhao, Mopuri & Bilen, "Dataset Condensation with Gradient Matching", ICLR 2021.

    [2] Zhao & Bilen, "Dataset Condensation with Differentiable Siamese Augmentation", ICML 2021.
    """

    name: ClassVar[str] = "dc"

    def __init__(self, config: DistillConfig, **kw) -> None:
        super().__init__(config, **kw)
        self.names = matched_parameters(self.net)
        params = dict(self.net.named_parameters())
        self.shapes = [params[n].shape for n in self.names]

    def loss(self, real_x, real, syn_x, syn_labels, strategy: MomentStrategy) -> torch.Tensor:
        """Compute the layer-wise gradient distance between the strategy's references and S's gradients."""
        mean, count = real_cell_gradients(self.net, self.names, real_x, real.labels, real.groups,
                                          self.n_classes, self.n_groups)
        targets = strategy.from_cells(mean, count)  # refs (C, K, P)
        syn_grad = syn_class_gradients(self.net, self.names, syn_x, syn_labels, self.n_classes)  # (C, P)
        return gradient_distance(targets, syn_grad, self.shapes)
