"""Cell ids and segment reductions shared by data, targets, matchers and metrics (bottom floor)."""
from __future__ import annotations

import torch

__all__ = ["cell_index", "cell_counts", "segment_count", "segment_mean"]


def cell_index(labels: torch.Tensor, groups: torch.Tensor, n_groups: int) -> torch.Tensor:
    """Flat (class, group) cell id of every sample: ``labels * n_groups + groups``, shape (N,)."""
    return labels * n_groups + groups


def cell_counts(cells: torch.Tensor, n_classes: int, n_groups: int) -> torch.Tensor:
    """Samples per (class, group) cell from flat cell ids (``cell_index``), shape (C, G) int64."""
    return torch.bincount(cells, minlength=n_classes * n_groups).view(n_classes, n_groups)


def segment_mean(x: torch.Tensor, segment: torch.Tensor, n_segments: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of the rows of ``x`` per segment, in one ``index_add_``.

    Parameters
    ----------
    x : (N, *F) values.
    segment : (N,) long, segment id of each row in ``[0, n_segments)``.

    Returns
    -------
    mean : (n_segments, *F); zero for empty segments.
    count : (n_segments,) float, rows per segment.
    """
    flat = x.reshape(x.shape[0], -1)  # (N, F)
    total = flat.new_zeros(n_segments, flat.shape[1]).index_add_(0, segment, flat)  # (S, F)
    count = segment_count(segment, n_segments, flat.dtype)  # (S,)
    mean = total / count.clamp(min=1).unsqueeze(1)
    return mean.view(n_segments, *x.shape[1:]), count


def segment_count(segment: torch.Tensor, n_segments: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Count the rows per segment, (n_segments,) of ``dtype``.

    ``bincount`` without its host sync on a GPU (bincount reads the largest id to size its output;
    here the size is given).
    """
    ones = torch.ones(segment.shape[0], dtype=dtype, device=segment.device)
    return torch.zeros(n_segments, dtype=dtype, device=segment.device).index_add_(0, segment, ones)
