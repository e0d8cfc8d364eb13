"""Differentiable Siamese augmentation (DSA) with explicit, shareable parameters.

One *draw* picks an op family — colour, crop, cutout, flip, scale or rotate — and its parameters.
Rows of ``AugmentParams`` are draws; ``apply(x, params, row)`` augments image i with draw
``row[i]``. Siamese augmentation gives the real and the synthetic images of a class the same row.
All geometric families (crop = translation, flip, scale, rotate) are one batched affine warp; colour
and cutout are elementwise, so a whole multi-class batch is augmented in three vectorised calls.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["AugmentParams", "sample_params", "apply", "OPS"]

OPS = ("color", "crop", "cutout", "flip", "scale", "rotate")
_COLOR, _CROP, _CUTOUT, _FLIP, _SCALE, _ROTATE = range(6)


@dataclass(frozen=True)
class AugmentParams:
    """Parameters of R draws.

    op : (R,) long, index into ``OPS``.
    brightness : (R,) additive shift in [−0.5, 0.5] (0 unless colour).
    saturation : (R,) factor in [0, 2] (1 unless colour).
    contrast : (R,) factor in [0.5, 1.5] (1 unless colour).
    theta : (R, 2, 3) affine matrix (identity unless crop/flip/scale/rotate).
    cutout : (R, 2) centre of the cut square in [0, 1]², NaN unless cutout.
    """

    op: torch.Tensor
    brightness: torch.Tensor
    saturation: torch.Tensor
    contrast: torch.Tensor
    theta: torch.Tensor
    cutout: torch.Tensor


def sample_params(n: int, *, generator: torch.Generator | None = None, device=None,
                  ops: tuple[str, ...] = OPS, op: torch.Tensor | None = None) -> AugmentParams:
    """Draw ``n`` augmentations, each with one op family chosen uniformly from ``ops``, or the
    families ``op`` (R,) (indices into ``OPS``) given by the caller, e.g. one per training batch."""
    bad = [o for o in ops if o not in OPS]
    if bad or not ops:
        raise ValueError(f"unknown augmentation op(s) {bad}; allowed: {list(OPS)}")
    u = torch.rand(n, 9, generator=generator, device=device)  # (R, 9) all randomness in one call
    if op is None:
        op = (u[:, 0] * len(ops)).long().clamp(max=len(ops) - 1)  # (R,) index into ops
        if tuple(ops) != OPS:  # a subset: map to OPS ids (the default needs no table, so no host-to-device copy)
            op = _op_table(tuple(ops), op.device)[op]
    elif op.shape != (n,):
        raise ValueError(f"op must hold one family per draw, shape ({n},); got {tuple(op.shape)}")
    t = _tables(u.device)
    hit = op.unsqueeze(1) == t["ops"]  # (R, 6) which family each draw is
    # the continuous parameters in one pass: value = low + u · span where the family applies, else identity
    value = torch.addcmul(t["low"], u.index_select(1, t["source"]), t["span"])  # (R, 8)
    value = torch.where(hit.index_select(1, t["family"]), value, t["identity"])
    brightness, saturation, contrast, tx, ty, sx, sy, angle = value.unbind(1)
    flip = 1.0 - 2.0 * (hit[:, _FLIP] & (u[:, 4] < 0.5)).to(u.dtype)  # −1: mirror x
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([sx * cos * flip, -sin, tx, sin * flip, sy * cos, ty], 1).view(n, 2, 3)  # (R, 2, 3)
    cut = torch.where(hit[:, _CUTOUT].unsqueeze(1), u[:, 6:8], t["nan"])  # (R, 2), NaN = no cutout
    return AugmentParams(op, brightness, saturation, contrast, theta, cut)


# The continuous parameters: (source column of u, family, low, high, identity value). Crop translates
# by ±12.5 % of the side (±0.25 in [-1, 1] grid units), scale is ×[1/1.2, 1.2], rotate ±15°.
_CONTINUOUS = (
    (1, _COLOR, -0.5, 0.5, 0.0),  # brightness shift
    (2, _COLOR, 0.0, 2.0, 1.0),  # saturation factor
    (3, _COLOR, 0.5, 1.5, 1.0),  # contrast factor
    (4, _CROP, -0.25, 0.25, 0.0),  # tx
    (5, _CROP, -0.25, 0.25, 0.0),  # ty
    (4, _SCALE, 1 / 1.2, 1.2, 1.0),  # sx
    (5, _SCALE, 1 / 1.2, 1.2, 1.0),  # sy
    (4, _ROTATE, -math.radians(15.0), math.radians(15.0), 0.0),  # angle
)


@functools.lru_cache(maxsize=8)
def _tables(device: torch.device) -> dict:
    """The constant tables of ``sample_params`` on ``device`` (made once, so a draw copies nothing in)."""
    src, fam, lo, hi, ident = zip(*_CONTINUOUS)
    return {"ops": torch.arange(len(OPS), device=device), "source": torch.tensor(src, device=device),
            "family": torch.tensor(fam, device=device), "low": torch.tensor(lo, device=device),
            "span": torch.tensor(hi, device=device) - torch.tensor(lo, device=device),
            "identity": torch.tensor(ident, device=device), "nan": torch.tensor(float("nan"), device=device)}


@functools.lru_cache(maxsize=32)
def _op_table(ops: tuple[str, ...], device: torch.device) -> torch.Tensor:
    return torch.tensor([OPS.index(o) for o in ops], device=device)


def apply(x: torch.Tensor, params: AugmentParams, row: torch.Tensor | None = None) -> torch.Tensor:
    """Augment images ``x`` (N, C, H, W); image i uses draw ``row[i]`` (default: draw i).

    Differentiable in ``x``. Pixels moved in from outside the image are zero.
    """
    n, c, h, w = x.shape
    if row is None:
        row = torch.arange(n, device=x.device)
    b = params.brightness[row].view(n, 1, 1, 1)
    s = params.saturation[row].view(n, 1, 1, 1)
    k = params.contrast[row].view(n, 1, 1, 1)
    x = x + b  # brightness
    m = x.mean(dim=1, keepdim=True)
    x = (x - m) * s + m  # saturation
    m = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - m) * k + m  # contrast
    theta = params.theta[row]  # (N, 2, 3)
    grid = F.affine_grid(theta, [n, c, h, w], align_corners=True)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    centre = params.cutout[row]  # (N, 2), NaN = no cutout
    ys = torch.linspace(0, 1, h, device=x.device).view(1, h, 1)
    xs = torch.linspace(0, 1, w, device=x.device).view(1, 1, w)
    inside = ((ys - centre[:, 1].view(n, 1, 1)).abs() < 0.25) & ((xs - centre[:, 0].view(n, 1, 1)).abs() < 0.25)
    return x * (~inside).unsqueeze(1).to(x.dtype)  # half-size square cut out
