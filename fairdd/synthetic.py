r"""The synthetic-set parameterisation: how stored images decode into the images a network trains on.

Multi-formation (IDC) cuts each stored image into ``factor × factor`` crops of side ⌊H / factor⌋ and
upsamples every crop (bilinear, ``align_corners=True``) back to H × W, so IPC stored images train
like IPC · factor² images:

.. math::
    \mathrm{decode}(s)_{(i, j)} = \mathrm{up}_{H \times W}\big(s[:, ih:(i+1)h,\, jh:(j+1)h]\big),
    \qquad h = \lfloor H / \mathrm{factor} \rfloor

``factor = 1`` is the identity (every other method). The IDC matcher, the distillation loop and
``DistillResult.training_set`` all read the decoding from here; no other module knows it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn.functional as F

__all__ = ["Multiformation", "decode"]


def decode(images: torch.Tensor, labels: torch.Tensor, factor: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, c, H, W) stored images → (N · factor², c, H, W) decoded images with their labels (N · factor²,).

    Image n's crops come out together, row by row ((n, i, j) order), so a class-sorted S decodes to a
    class-sorted set; the reference (COBRA ``train_idc.py`` ``decode_zoom``) orders them crop by crop
    ((i, j, n)), which no loss or training epoch can tell apart. Differentiable in ``images``.
    """
    if factor == 1:
        return images, labels
    n, c, h, w = images.shape
    s = h // factor  # the reference crops ⌊H / factor⌋ pixels (and drops a remainder)
    tiles = images[:, :, :s * factor, :s * factor].unfold(2, s, s).unfold(3, s, s)  # (N, c, f, f, s, s)
    tiles = tiles.permute(0, 2, 3, 1, 4, 5).reshape(n * factor * factor, c, s, s)
    up = F.interpolate(tiles, size=(h, w), mode="bilinear", align_corners=True)  # (N·f², c, H, W)
    return up, labels.repeat_interleave(factor * factor)


@dataclass(frozen=True)
class Multiformation:
    """Stored → decoded images with multi-formation ``factor`` (1: stored images are trained on as they are)."""

    factor: int = 1

    @classmethod
    def of(cls, config) -> "Multiformation":
        """Return the parameterisation a run used, from a ``DistillConfig`` or its ``to_dict()``.

        A missing or null ``factor`` (baselines, older results) is 1.
        """
        factor = config.get("factor", 1) if isinstance(config, Mapping) else config.factor
        return cls(int(factor or 1))

    @property
    def images_per_stored(self) -> int:
        """Decoded images per stored image, factor²."""
        return self.factor * self.factor

    def decode(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode stored ``images`` (N, c, H, W) and ``labels`` (N,), keeping their order."""
        return decode(images, labels, self.factor)
