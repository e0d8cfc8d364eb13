"""K networks of one ConvNet architecture run as one grouped network (the evaluation's batched training).

A network's feature layers become a hashable *plan* (``layer_plan``); ``run_plan`` runs K networks'
stacked parameters through it with grouped convolutions, so K networks launch the kernels of one.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .models import ConvNet

__all__ = ["stacked_forward", "layer_plan", "run_plan"]


def stacked_forward(net: ConvNet, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Logits of K networks of ``net``'s architecture at once, (K, B, n_classes).

    ``params``: ``net``'s parameter names → tensors stacked over the K networks, (K, *shape);
    ``x``: (K, B, C, H, W), network k's batch. The K networks run as one grouped network — each
    convolution with ``groups=K``, instance norm as one GroupNorm over all K·width channels, the
    classifiers as one batched matmul — so K networks launch the kernels of one.
    """
    return run_plan(layer_plan(net), params, x)


def layer_plan(net: ConvNet) -> tuple:
    """Return ``net``'s feature layers as plain values, ((kind, parameter prefix, setting), ...).

    It is what ``run_plan`` needs, hashable, so a compiled ``run_plan`` serves every network of the
    architecture.
    """
    plan = []
    for i, layer in enumerate(net.features):
        if isinstance(layer, nn.Conv2d):
            plan.append(("conv", f"features.{i}", layer.padding[0]))
        elif isinstance(layer, nn.GroupNorm):
            plan.append(("instancenorm", f"features.{i}", layer.eps))
        elif isinstance(layer, nn.ReLU):
            plan.append(("relu", "", 0))
        elif isinstance(layer, nn.AvgPool2d):
            plan.append(("pool", "", layer.kernel_size))
        else:
            raise ValueError(f"stacked_forward cannot run a {type(layer).__name__} layer (batch norm pools over "
                             "the batch, so networks trained together need instancenorm or none)")
    return tuple(plan)


def run_plan(plan: tuple, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Run the grouped forward pass of ``stacked_forward`` from a ``layer_plan``."""
    k, b = x.shape[:2]
    h = x.transpose(0, 1).flatten(1, 2)  # (B, K·C, H, W): network k's channels are block k
    for kind, name, setting in plan:
        if kind == "conv":
            h = F.conv2d(h, params[f"{name}.weight"].flatten(0, 1), params[f"{name}.bias"].flatten(),
                         padding=setting, groups=k)
        elif kind == "instancenorm":  # one group per channel: instance norm, per network and channel
            h = F.group_norm(h, h.shape[1], params[f"{name}.weight"].flatten(), params[f"{name}.bias"].flatten(),
                             setting)
        elif kind == "relu":
            h = F.relu(h)
        else:
            h = F.avg_pool2d(h, setting)
    feats = h.reshape(b, k, -1).transpose(0, 1)  # (K, B, feature_dim), each network's flatten order
    return torch.baddbmm(params["classifier.bias"].unsqueeze(1), feats, params["classifier.weight"].transpose(1, 2))
