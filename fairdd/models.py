"""ConvNet-D (the field's default distillation network) with ``embed`` and generator-driven init.

Beside it: ``fairdd.stacked`` runs K networks of this architecture as one grouped network, and
``fairdd.levers`` holds the speed levers (torch.compile, bf16 autocast).
"""
from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

__all__ = ["ConvNet", "cpu_chunk", "reset_parameters"]

Norm = Literal["instancenorm", "batchnorm", "none"]

# A no-grad forward pass on CPU runs fastest in chunks whose first-block activation (images × width × H × W
# fp32) stays within this: measured on a 2-core Xeon, 1280 images at 32 px, the time falls off a cliff
# between 8 and 16 MiB at width 16 and 64 (75 → 134 ms, 309 → 624 ms) and between 16 and 32 MiB at width
# 128 (737 → 1298 ms); every chunk size gives the same bits (benchmarks/embed_chunks.py).
CACHE_BYTES = 8 * 2 ** 20


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
        """Logits (N, n_classes) of images (N, C, H, W)."""
        return self.classifier(self.embed(x))


def cpu_chunk(net: nn.Module, image_size: tuple[int, int] | int) -> int:
    """Return how many images of ``image_size`` (H, W) one no-grad CPU forward pass of ``net`` should take.

    As many as keep its first convolution's output within ``CACHE_BYTES``, at least one: 128 at width 16 and
    32 px, 16 at width 128. The features do not depend on it (each image's are computed alone).
    """
    h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
    conv = next((m for m in net.modules() if isinstance(m, nn.Conv2d)), None)
    width = conv.out_channels if conv is not None else 128
    return max(1, CACHE_BYTES // (4 * width * h * w))


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
