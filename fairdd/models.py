"""ConvNet-D (the field's default distillation network) with ``embed`` and generator-driven init."""
from __future__ import annotations

import contextlib
import math
from typing import Callable, Literal

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ConvNet", "reset_parameters", "stacked_forward", "compiled", "autocast"]

Norm = Literal["instancenorm", "batchnorm", "none"]


class ConvNet(nn.Module):
    """``depth`` × [conv 3×3 (width, pad 1) → norm → ReLU → avg-pool 2×2] → flatten → linear.

    ``instancenorm`` is GroupNorm with one group per channel (affine), as in the DD literature.
    ``embed(x)`` returns the flattened features, shape (N, width · (H / 2^depth)²): 2048 for the
    default width 128, depth 3 at 32 px.
    """

    def __init__(self, *, in_channels: int = 3, n_classes: int = 10, width: int = 128, depth: int = 3,
                 norm: Norm = "instancenorm", image_size: int = 32) -> None:
        super().__init__()
        if norm not in ("instancenorm", "batchnorm", "none"):
            raise ValueError(f"norm must be 'instancenorm', 'batchnorm' or 'none'; got {norm!r}")
        if image_size % (2 ** depth):
            raise ValueError(f"image_size {image_size} must be divisible by 2**depth = {2 ** depth}")
        layers: list[nn.Module] = []
        c = in_channels
        for _ in range(depth):
            layers.append(nn.Conv2d(c, width, 3, padding=1))
            if norm == "instancenorm":
                layers.append(nn.GroupNorm(width, width, affine=True))
            elif norm == "batchnorm":
                layers.append(nn.BatchNorm2d(width))
            layers += [nn.ReLU(inplace=True), nn.AvgPool2d(2)]
            c = width
        self.features = nn.Sequential(*layers)
        self.feature_dim = width * (image_size // 2 ** depth) ** 2
        self.classifier = nn.Linear(self.feature_dim, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Features before the classifier, (N, C, H, W) → (N, feature_dim)."""
        return self.features(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))


def stacked_forward(net: ConvNet, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Logits of K networks of ``net``'s architecture at once, (K, B, n_classes).

    ``params``: ``net``'s parameter names → tensors stacked over the K networks, (K, *shape);
    ``x``: (K, B, C, H, W), network k's batch. The K networks run as one grouped network — each
    convolution with ``groups=K``, instance norm as one GroupNorm over all K·width channels, the
    classifiers as one batched matmul — so K networks launch the kernels of one.
    """
    return run_plan(layer_plan(net), params, x)


def layer_plan(net: ConvNet) -> tuple:
    """``net``'s feature layers as plain values, ((kind, parameter prefix, setting), ...): what
    ``run_plan`` needs, hashable, so a compiled ``run_plan`` serves every network of the architecture."""
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
    """The grouped forward pass of ``stacked_forward`` from a ``layer_plan``."""
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


@torch.no_grad()
def reset_parameters(model: nn.Module, generator: torch.Generator | None = None) -> nn.Module:
    """Re-draw every parameter with PyTorch's default init, from ``generator`` (no global RNG).

    Conv/linear weights: Kaiming-uniform with a = √5; biases U(−1/√fan_in, 1/√fan_in);
    norm layers: weight 1, bias 0.
    """
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            # drawn in the standard layout, so a channels_last network gets the same weights (same draws)
            w = m.weight if m.weight.is_contiguous() else torch.empty_like(m.weight, memory_format=torch.contiguous_format)
            nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=generator)
            if w is not m.weight:
                with torch.no_grad():
                    m.weight.copy_(w)
            if m.bias is not None:
                bound = 1.0 / math.sqrt(m.weight[0].numel())
                nn.init.uniform_(m.bias, -bound, bound, generator=generator)
        elif isinstance(m, (nn.GroupNorm, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
            if isinstance(m, nn.BatchNorm2d):
                m.reset_running_stats()
    return model


def compiled(net: nn.Module, method: str = "forward", mode: bool | str = True) -> Callable[[torch.Tensor], torch.Tensor]:
    """``torch.compile(getattr(net, method))`` with static shapes, built once per network and reused.

    Inductor fuses each block's norm, ReLU and pooling around the convolution (on CPU: 1.7× in fp32,
    ~5× with bf16 autocast on the forward pass). The compiled graph reads the parameters at call time,
    so re-drawing them in place (``reset_parameters``) needs no recompilation; a new input shape
    compiles once more. The first call compiles: ~10–20 s on a 2-core CPU. ``mode``: True / "default"
    or a torch.compile mode (``config.COMPILE_MODES``; "reduce-overhead" replays CUDA graphs on a GPU).
    """
    per_net = net.__dict__.setdefault("_fairdd_compiled", {})  # lives and dies with the network
    if (method, mode) not in per_net:
        per_net[method, mode] = torch.compile(getattr(net, method), dynamic=False, mode=compile_mode(mode))
    return per_net[method, mode]


def compile_mode(lever: bool | str) -> str | None:
    """torch.compile's ``mode`` for a ``compile`` lever value (True / "default" → Inductor's default)."""
    return None if lever in (True, "default") else lever


def autocast(device: torch.device | str, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast on ``device`` for ``precision="bf16"``, nothing for ``"fp32"``."""
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be 'fp32' or 'bf16'; got {precision!r}")
    device_type = device if isinstance(device, str) else device.type
    return torch.autocast(device_type=device_type, dtype=torch.bfloat16) if precision == "bf16" \
        else contextlib.nullcontext()
