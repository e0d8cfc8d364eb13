"""IDC multi-formation on top of DC gradient matching, as the COBRA authors' ``train_idc.py`` runs it.

Each stored synthetic image is cut into ``factor × factor`` crops of side ⌊H / factor⌋; every crop is
upsampled (bilinear, ``align_corners=True``) back to H × W, so IPC stored images train like
IPC · factor² images:

    decode(s)_{(i, j)} = upsample(s[:, i·h : (i+1)·h, j·h : (j+1)·h], H × W),   h = ⌊H / factor⌋

Per outer iteration one random ConvNet is drawn and *kept fixed* (no inner loop: ``inner_loop = 0``);
``outer_loop`` times a new real batch is drawn and S takes one step on DC's layer-wise gradient
distance between the real (per-strategy) gradients and the gradient of the decoded synthetic class.
Each stored image starts as one full real image of its class (the reference copies IPC real images
into S; decoding then zooms into their crops). No augmentation unless ``dsa=True``. Evaluation
models train on the decoded images (``DistillResult.training_set``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .dc import DCMatcher

__all__ = ["IDCMatcher", "decode"]


def decode(images: torch.Tensor, labels: torch.Tensor, factor: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, c, H, W) stored images → (N · factor², c, H, W) decoded images with their labels.

    Image n's crops come out together, row by row ((n, i, j) order), so a class-sorted S decodes to a
    class-sorted set; the reference orders them crop by crop ((i, j, n)), which no loss or training
    epoch can tell apart.
    """
    if factor == 1:
        return images, labels
    n, c, h, w = images.shape
    s = h // factor  # the reference crops ⌊H / factor⌋ pixels (and drops a remainder)
    tiles = images[:, :, :s * factor, :s * factor].unfold(2, s, s).unfold(3, s, s)  # (N, c, f, f, s, s)
    tiles = tiles.permute(0, 2, 3, 1, 4, 5).reshape(n * factor * factor, c, s, s)
    up = F.interpolate(tiles, size=(h, w), mode="bilinear", align_corners=True)  # (N·f², c, H, W)
    return up, labels.repeat_interleave(factor * factor)


class IDCMatcher(DCMatcher):
    name = "idc"

    def training_images(self, syn, syn_labels):
        return decode(syn, syn_labels, self.config.factor)  # matched, augmented (if asked) and trained on
