"""Coloured benchmark builders (docs/method.md, "Datasets"): colour = protected group, with a per-class bias.

Each class y owns colour ``y mod n_groups``. In the training split a share ``bias`` of the class
takes its own colour and the rest is spread evenly over the other colours; the test split is
balanced over (class, group). Optional separation corruptions (severity 1–5) are applied to every
sample whose colour is not its class's own colour (the minority groups), in both splits.
"""
from __future__ import annotations

from typing import Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .dataset import GroupedDataset
from .sources import DIGIT_CLASSES, FASHION_CLASSES, load_digits8, load_fashion_mnist, load_mnist5000

__all__ = ["PALETTE", "COLOR_NAMES", "DATASETS", "load", "colorize", "corrupt"]

PALETTE = {
    "red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0), "yellow": (1.0, 1.0, 0.0),
    "magenta": (1.0, 0.0, 1.0), "cyan": (0.0, 1.0, 1.0), "orange": (1.0, 0.5, 0.0),
    "purple": (0.5, 0.0, 1.0), "white": (1.0, 1.0, 1.0), "brown": (0.6, 0.3, 0.1),
}
COLOR_NAMES = tuple(PALETTE)
DATASETS = ("colored-mnist", "colored-fashion-mnist", "colored-digits")
_SPLIT_SEED = 20240917  # fixed: the train/test partition of MNIST-5000 and digits never changes


def load(
    name: str,
    *,
    split: Literal["train", "test"] = "train",
    mode: Literal["foreground", "background"] = "foreground",
    bias: float = 0.9,
    groups: Sequence[int | str] | None = None,
    n_groups: int = 10,
    size: int = 32,
    severity: int = 0,
    seed: int = 0,
    group_noise: float = 0.0,
    group_labels: float = 1.0,
    root=None,
    download: bool = False,
) -> GroupedDataset:
    """Build a coloured benchmark split.

    Parameters
    ----------
    name : one of ``DATASETS``.
    split : "train" (biased by ``bias``) or "test" (balanced over (class, group); ``bias`` ignored).
    mode : "foreground" paints the object, "background" paints the background (object black).
    bias : share of each training class that takes its own colour, in (0, 1].
    groups : colours to keep (ids or names from ``COLOR_NAMES[:n_groups]``); default all.
    n_groups : size of the colour palette, 2–10.
    size : output side in pixels (28-pixel sources are padded to 32, then resized if needed).
    severity : 0–5, cumulative separation corruptions on the minority groups (COBRA App. F).
    seed : colour assignment and corruption noise.
    group_noise : training split only: share of group labels flipped to another group (``with_group_noise``).
    group_labels : training split only: share of samples that keep a group label; the rest are marked
        unknown (``with_partial_groups``) and must be filled with ``infer_groups`` before distilling.
    root, download : where Fashion-MNIST IDX files are (see ``load_fashion_mnist``).

    Returns
    -------
    GroupedDataset with images (N, 3, size, size) normalised to [-1, 1].
    """
    from ..validate import check_load_args

    check_load_args(name=name, split=split, mode=mode, bias=bias, groups=groups, n_groups=n_groups, size=size,
                    severity=severity, seed=seed, group_noise=group_noise, group_labels=group_labels, root=root,
                    download=download)
    name = name.lower()
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; allowed: {list(DATASETS)}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
    mode = {"fg": "foreground", "bg": "background"}.get(mode, mode)
    if mode not in ("foreground", "background"):
        raise ValueError(f"mode must be 'foreground' or 'background'; got {mode!r}")
    if not isinstance(bias, (int, float)) or not 0.0 < float(bias) <= 1.0:
        raise ValueError(f"bias must be in (0, 1]; got {bias!r}")
    if not isinstance(n_groups, int) or not 2 <= n_groups <= len(PALETTE):
        raise ValueError(f"n_groups must be an integer in [2, {len(PALETTE)}]; got {n_groups!r}")
    if not isinstance(severity, int) or not 0 <= severity <= 5:
        raise ValueError(f"severity must be an integer in [0, 5]; got {severity!r}")
    if not isinstance(size, int) or not 8 <= size <= 256:
        raise ValueError(f"size must be an integer in [8, 256]; got {size!r}")

    grey, labels, class_names = _grey_split(name, split, root=root, download=download)
    gen = torch.Generator().manual_seed(int(seed) * 2 + (split == "test"))
    group = _assign_groups(labels, n_groups, bias if split == "train" else None, gen)  # (N,)
    keep = group >= 0
    grey, labels, group = grey[keep], labels[keep], group[keep]
    rgb = colorize(_to_square(grey, size), group, n_groups=n_groups, mode=mode)  # (N, 3, S, S)
    if severity:
        minority = group != labels % n_groups
        rgb[minority] = corrupt(rgb[minority], severity, generator=gen)
    ds = GroupedDataset(
        images=(rgb - 0.5) / 0.5, labels=labels, groups=group, class_names=class_names,
        group_names=COLOR_NAMES[:n_groups],
        info=dict(name=name, split=split, mode=mode, bias=float(bias) if split == "train" else None,
                  n_groups=n_groups, size=size, severity=severity, seed=seed),
    )
    if groups is not None:
        ds = ds.select_groups(groups)
    if split == "test":
        ds.check_complete(f"{name} test split")
    else:
        from .group_labels import with_group_noise, with_partial_groups

        if group_noise:
            ds = with_group_noise(ds, group_noise, seed=seed)
        if group_labels != 1.0:
            ds = with_partial_groups(ds, group_labels, seed=seed)
    return ds


def _grey_split(name, split, *, root, download) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    if name == "colored-fashion-mnist":
        x, y = load_fashion_mnist(split, root=root, download=download)
        return torch.from_numpy(x.copy()), torch.from_numpy(y), FASHION_CLASSES
    x, y = load_mnist5000() if name == "colored-mnist" else load_digits8()
    rng = np.random.RandomState(_SPLIT_SEED)
    test = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):  # stratified 80/20 split, fixed for ever
        idx = np.flatnonzero(y == c)
        test[rng.permutation(idx)[: len(idx) // 5]] = True
    pick = test if split == "test" else ~test
    return torch.from_numpy(x[pick].copy()), torch.from_numpy(y[pick]), DIGIT_CLASSES


def _assign_groups(labels: torch.Tensor, n_groups: int, bias: float | None, gen: torch.Generator) -> torch.Tensor:
    """Group id per sample; -1 marks samples dropped to balance a test split.

    Train: per class, ``round(bias * n)`` samples take the class's own colour and the rest are spread
    as evenly as possible over the other colours. Test (``bias=None``): ``n // n_groups`` per colour.
    """
    group = torch.full_like(labels, -1)
    for c in labels.unique().tolist():  # build time only: one pass per class
        idx = (labels == c).nonzero().squeeze(1)
        n, own = idx.numel(), c % n_groups
        if bias is None:
            per = torch.full((n_groups,), n // n_groups)
        else:
            n_own = int(round(bias * n))
            others = [g for g in range(n_groups) if g != own]
            base, extra = divmod(n - n_own, n_groups - 1)
            per = torch.zeros(n_groups, dtype=torch.long)
            per[others] = base
            lucky = torch.randperm(n_groups - 1, generator=gen)[:extra]
            per[torch.tensor(others)[lucky]] += 1
            per[own] = n_own
        ids = torch.repeat_interleave(torch.arange(n_groups), per)  # (sum(per),)
        order = idx[torch.randperm(n, generator=gen)[: ids.numel()]]
        group[order] = ids
    return group


def _to_square(grey: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (N, h, w) → float (N, 1, size, size) in [0, 1]; 28 px is padded to 32 as in the papers."""
    x = grey.float().div(255.0).unsqueeze(1)
    if x.shape[-1] < 28:
        x = F.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False).clamp(0, 1)
    x = F.pad(x, (2, 2, 2, 2))  # (N, 1, 32, 32)
    if size != 32:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
    return x


def colorize(grey: torch.Tensor, group: torch.Tensor, *, n_groups: int, mode: str) -> torch.Tensor:
    """Paint grey images (N, 1, H, W) in [0, 1] with the colour of their group → (N, 3, H, W)."""
    colors = torch.tensor([PALETTE[c] for c in COLOR_NAMES[:n_groups]])[group]  # (N, 3)
    paint = grey if mode == "foreground" else 1.0 - grey  # (N, 1, H, W)
    return paint * colors[:, :, None, None]


def corrupt(rgb: torch.Tensor, severity: int, *, generator: torch.Generator) -> torch.Tensor:
    """Cumulative separation corruptions of COBRA App. F on RGB images (N, 3, H, W) in [0, 1].

    1 channel permutation (RGB→BRG); 2 + red diagonal line; 3 + red 5×5 patch in the top-left
    corner; 4 + Gaussian noise (σ = 0.3) and a green anti-diagonal line; 5 + 270° rotation, colour
    inversion and more noise (σ = 0.5).
    """
    x = rgb.clone()
    n, _, h, w = x.shape
    red = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1)
    green = torch.tensor([0.0, 1.0, 0.0]).view(1, 3, 1)
    diag = torch.arange(min(h, w))
    if severity >= 1:
        x = x[:, [2, 0, 1]]
    if severity >= 2:
        x[:, :, diag, diag] = red
    if severity >= 3:
        x[:, :, :5, :5] = red.unsqueeze(-1)
    if severity >= 4:
        x = x + 0.3 * torch.randn(x.shape, generator=generator)
        x[:, :, diag, w - 1 - diag] = green
    if severity >= 5:
        x = 1.0 - torch.rot90(x.clamp(0, 1), k=3, dims=(2, 3))
        x = x + 0.5 * torch.randn(x.shape, generator=generator)
    return x.clamp(0, 1)
