"""Normalised images back to viewable pixels: the one ``denormalise`` every view uses."""
from __future__ import annotations

from typing import Sequence

import torch

__all__ = ["denormalise"]


def denormalise(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    r"""Map normalised images back to [0, 1] for display.

    .. math:: \tilde x_{nchw} = \mathrm{clip}_{[0, 1]}(x_{nchw}\,\sigma_c + \mu_c)

    Parameters
    ----------
    images : torch.Tensor, shape (N, C, H, W)
        Images normalised per channel as :math:`(x - \mu_c) / \sigma_c`.
    mean, std : sequence of C floats
        The per-channel :math:`\mu_c` and :math:`\sigma_c` of that normalisation.

    Returns
    -------
    torch.Tensor, shape (N, C, H, W)
        The images in [0, 1], on ``images``' device.
    """
    mean = torch.tensor(mean, device=images.device).view(1, -1, 1, 1)  # (1, C, 1, 1)
    std = torch.tensor(std, device=images.device).view(1, -1, 1, 1)  # (1, C, 1, 1)
    return (images * std + mean).clamp(0, 1)
