"""IDC-style multi-formation on top of DC/DSA gradient matching.

Each stored synthetic image holds ``factor × factor`` tiles; decoding upsamples every tile to the
full size, so IPC stored images train like IPC · factor² images:

    decode(s)_{(t)} = resize(tile_t(s), H × W),   t = 1 … factor²

The matcher decodes S (differentiably) and matches gradients as DC does (Siamese DSA on by default);
the synthetic set is initialised with mosaics of ``factor²`` downsampled real images of its class.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .dc import DCMatcher

__all__ = ["IDCMatcher", "decode", "encode"]


def decode(images: torch.Tensor, labels: torch.Tensor, factor: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, c, H, W) stored images → (N · factor², c, H, W) decoded images with their labels."""
    if factor == 1:
        return images, labels
    n, c, h, w = images.shape
    th, tw = h // factor, w // factor
    tiles = images.unfold(2, th, th).unfold(3, tw, tw)  # (N, c, f, f, th, tw)
    tiles = tiles.permute(0, 2, 3, 1, 4, 5).reshape(n * factor * factor, c, th, tw)
    up = F.interpolate(tiles, size=(h, w), mode="bilinear", align_corners=False)
    return up, labels.repeat_interleave(factor * factor)


def encode(images: torch.Tensor, factor: int) -> torch.Tensor:
    """Mosaics of ``factor²`` consecutive images (N · factor², c, H, W) → (N, c, H, W)."""
    if factor == 1:
        return images
    m, c, h, w = images.shape
    small = F.interpolate(images, size=(h // factor, w // factor), mode="bilinear", align_corners=False,
                          antialias=True)
    grid = small.view(m // factor ** 2, factor, factor, c, h // factor, w // factor)
    return grid.permute(0, 3, 1, 4, 2, 5).reshape(m // factor ** 2, c, h, w)


class IDCMatcher(DCMatcher):
    name = "idc"

    @property
    def images_per_slot(self) -> int:
        return self.config.factor ** 2

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return encode(images, self.config.factor)

    def loss(self, real_x, real, syn_x, syn_labels, strategy):
        x, y = decode(syn_x, syn_labels, self.config.factor)
        return super().loss(real_x, real, x, y, strategy)
