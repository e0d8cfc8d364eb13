"""uint8 images as stored (N, H, W, C) → the normalised float tensor a ``GroupedDataset`` holds."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch


def normalised(images: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """``(x / 255 − mean) / std`` per channel, shape (N, C, H, W) float32, from uint8 (N, H, W, C).

    The channel order is made contiguous on the uint8 data, then one in-place multiply-subtract on
    the float copy: a few times faster than the broadcasted expression on the permuted view.
    """
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous()  # (N, C, H, W) uint8
    out = x.to(torch.float32)
    scale = 1.0 / (255.0 * torch.tensor(std, dtype=torch.float64))  # (C,)
    shift = torch.tensor(mean, dtype=torch.float64) / torch.tensor(std, dtype=torch.float64)  # (C,)
    return out.mul_(scale.float().view(1, -1, 1, 1)).sub_(shift.float().view(1, -1, 1, 1))
