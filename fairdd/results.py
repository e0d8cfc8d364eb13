"""`DistillResult`: a synthetic set with its config and history; saved as a folder."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .io import load_tensors, replace_dir, save_tensors, write_json

__all__ = ["DistillResult", "load_result", "image_grid", "save_png"]

FORMAT = "fairdd.result"
VERSION = 1


@dataclass
class DistillResult:
    """A distilled (or baseline) synthetic set.

    images : (C · ipc, channels, H, W) float, in the training set's normalisation, sorted by class.
    labels : (C · ipc,) long.
    history : per-iteration records ``{"iteration", "loss", "seconds"}``.
    config : the full run config (``DistillConfig.to_dict()``) or a baseline description.
    dataset : the training set's names, normalisation and build knobs.
    """

    images: torch.Tensor
    labels: torch.Tensor
    history: list[dict] = field(default_factory=list)
    config: dict = field(default_factory=dict)
    dataset: dict = field(default_factory=dict)

    def training_set(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The images a network trains on: the stored ones, decoded for multi-formation (IDC)."""
        factor = int(self.config.get("factor", 1) or 1)
        if factor == 1:
            return self.images, self.labels
        from .matching.idc import decode

        return decode(self.images, self.labels, factor)

    @property
    def name(self) -> str:
        return str(self.config.get("target", self.config.get("baseline", "result")))

    def display_images(self) -> torch.Tensor:
        mean = torch.tensor(self.dataset.get("mean", (0.5, 0.5, 0.5))).view(1, -1, 1, 1)
        std = torch.tensor(self.dataset.get("std", (0.5, 0.5, 0.5))).view(1, -1, 1, 1)
        return (self.images.detach().cpu() * std + mean).clamp(0, 1)

    def save(self, path) -> Path:
        """Write ``path/`` atomically: tensors.pt, config.json, history.json, grid.png."""
        images, labels = self.images.detach().cpu().contiguous(), self.labels.detach().cpu().contiguous()

        def build(tmp: Path) -> None:
            save_tensors(tmp / "tensors.pt", {"images": images, "labels": labels})
            write_json(tmp / "config.json", {"format": FORMAT, "version": VERSION, "config": self.config,
                                             "dataset": self.dataset})
            write_json(tmp / "history.json", self.history)
            save_png(tmp / "grid.png", image_grid(self.display_images(), labels))

        return replace_dir(path, build)


def load_result(path) -> DistillResult:
    """Read a folder written by ``DistillResult.save``; clear errors for anything else."""
    path = Path(path)
    meta_file = path / "config.json"
    if not meta_file.is_file():
        raise FileNotFoundError(f"{path} is not a fairdd result folder (no config.json)")
    try:
        meta = json.loads(meta_file.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{meta_file} is corrupted: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{meta_file} is not a fairdd result (format {meta.get('format') if isinstance(meta, dict) else None!r})")
    if meta.get("version") != VERSION:
        raise ValueError(f"{path}: result version {meta.get('version')!r} is not supported (expected {VERSION})")
    tensors = load_tensors(path / "tensors.pt", "fairdd result tensors")
    images, labels = tensors.get("images"), tensors.get("labels")
    if not isinstance(images, torch.Tensor) or not isinstance(labels, torch.Tensor) or images.ndim != 4 \
            or labels.shape != (images.shape[0],):
        raise ValueError(f"{path}/tensors.pt does not hold images (N, C, H, W) and labels (N,)")
    history_file = path / "history.json"
    history = json.loads(history_file.read_text()) if history_file.is_file() else []
    return DistillResult(images=images, labels=labels, history=history, config=meta.get("config", {}),
                         dataset=meta.get("dataset", {}))


def image_grid(images: torch.Tensor, labels: torch.Tensor, *, pad: int = 1) -> torch.Tensor:
    """Tile images in [0, 1] (N, C, H, W) into one (C, H', W') image: one row per class."""
    n, c, h, w = images.shape
    classes = labels.unique().tolist()
    per_row = max(int((labels == k).sum()) for k in classes) if n else 1
    grid = torch.ones(c, len(classes) * (h + pad) + pad, per_row * (w + pad) + pad)
    for r, k in enumerate(classes):  # display only
        for j, img in enumerate(images[labels == k]):
            y, x = pad + r * (h + pad), pad + j * (w + pad)
            grid[:, y:y + h, x:x + w] = img
    return grid


def save_png(path, image: torch.Tensor, *, scale: int = 0) -> Path:
    """Write a (C, H, W) [0, 1] image as PNG (nearest-neighbour upscaled to ≥ 256 px wide)."""
    from PIL import Image

    arr = (image.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    if arr.shape[2] == 1:
        arr = arr[:, :, 0]
    img = Image.fromarray(arr)
    scale = scale or max(1, math.ceil(256 / img.width))
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)

    def write(p: Path) -> None:
        with open(p, "wb") as f:
            img.save(f, format="PNG")

    from .io import atomic_write

    return atomic_write(path, write)
