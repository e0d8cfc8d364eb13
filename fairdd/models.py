"""ConvNet-D (the field's default distillation network) with ``embed`` and generator-driven init.

Beside it: ``fairdd.stacked`` runs K networks of this architecture as one grouped network, and
``fairdd.levers`` holds the speed levers (torch.compile, bf16 autocast).
"""
from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

__all__ = ["ConvNet", "Pool2x2", "cpu_chunk", "pool2x2", "reset_parameters"]

Norm = Literal["instancenorm", "batchnorm", "none"]

# A no-grad forward pass on CPU runs fastest in chunks whose first-block activation (images × width × H × W
# fp32) stays within this: measured on a 2-core Xeon, 1280 images at 32 px, the time falls off a cliff
# between 8 and 16 MiB at width 16 and 64 (75 → 134 ms, 309 → 624 ms) and between 16 and 32 MiB at width
# 128 (737 → 1298 ms); every chunk size gives the same bits (benchmarks/embed_chunks.py).
CACHE_BYTES = 8 * 2 ** 20


class _Pool2x2(torch.autograd.Function):
    """2×2 average pooling, stride 2, in the bits of ``F.avg_pool2d(x, 2)``, forward and backward.

    PyTorch's CPU ``avg_pool2d`` kernel for the standard (NCHW) layout reads its windows slowly: at the demo's
    (128, 16, 32, 32) four strided slices added in the kernel's order (top-left + top-right, + bottom-left,
    + bottom-right, then / 4, which is exact) take 0.4–0.6 of its time and give the same floats.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2  # an odd last row or column is dropped, as the kernel does
        out = x[..., 0:h:2, 0:w:2] + x[..., 0:h:2, 1:w:2]
        out += x[..., 1:h:2, 0:w:2]
        out += x[..., 1:h:2, 1:w:2]
        return out.div_(4)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        ctx.size = tuple(inputs[0].shape[-2:])

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return _Unpool2x2.apply(grad, ctx.size)


class _Unpool2x2(torch.autograd.Function):
    """The gradient of ``_Pool2x2``: each output's gradient / 4 on its window's four inputs (0 on a dropped edge).

    Its own gradient is ``_Pool2x2``: a double backward (gradient matching) has the bits of
    ``avg_pool2d_backward``'s, which is ``avg_pool2d``.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(grad: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        *lead, h, w = grad.shape
        g = (grad / 4).unsqueeze(-1).unsqueeze(-3).expand(*lead, h, 2, w, 2).reshape(*lead, 2 * h, 2 * w)
        height, width = size
        return g if (height, width) == (2 * h, 2 * w) else nn.functional.pad(g, (0, width - 2 * w, 0, height - 2 * h))

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        pass

    @staticmethod
    def backward(ctx, gg: torch.Tensor) -> tuple[torch.Tensor, None]:
        return _Pool2x2.apply(gg), None


def pool2x2(x: torch.Tensor) -> torch.Tensor:
    """Return ``F.avg_pool2d(x, 2)``: the same bits, faster on CPU for an NCHW-contiguous fp32/fp64 tensor.

    Anything else (a GPU or channels_last, where the kernel is fast; bf16, whose kernel rounds once; inside
    ``torch.compile``) goes to ``F.avg_pool2d``.
    """
    if (x.device.type == "cpu" and x.dim() == 4 and x.dtype in (torch.float32, torch.float64)
            and x.is_contiguous() and not torch.compiler.is_compiling()):
        return _Pool2x2.apply(x)
    return nn.functional.avg_pool2d(x, 2)


class Pool2x2(nn.AvgPool2d):
    """``nn.AvgPool2d(2)`` (its repr and ``isinstance``) that pools with ``pool2x2``."""

    def __init__(self) -> None:
        super().__init__(2)

    def _get_name(self) -> str:
        return "AvgPool2d"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pool ``x`` (N, C, H, W) → (N, C, H // 2, W // 2)."""
        return pool2x2(x)


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
            layers += [nn.ReLU(inplace=True), Pool2x2()]
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
