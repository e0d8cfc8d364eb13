"""Tiny folders in the layouts people ship their own data in (made here): Waterbirds, FairFace, ImageFolder.

Every image is a small flat colour set by its class and its group (plus noise), so a loaded set can be
checked against the values it was written with. A plain module (see ``file_fixtures``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def colour_image(cls: int, group: int, rng: np.random.RandomState, side: int = 12) -> Image.Image:
    """A side×side RGB image: red from the class, blue from the group, noise."""
    base = np.array([40 + 150 * cls, 100, 40 + 150 * group], dtype=np.float64)  # (3,)
    px = base + rng.normal(0, 5, (side, side, 3))
    return Image.fromarray(np.clip(px, 0, 255).round().astype(np.uint8))


def write_waterbirds(root: Path, *, per_cell: dict | None = None, seed: int = 0) -> Path:
    """Waterbirds' layout: ``metadata.csv`` (img_filename, y, place, split 0/1/2, place_filename), JPEGs
    in one folder per species. ``per_cell[split][(y, place)]`` images (defaults: a biased train split)."""
    rng = np.random.RandomState(seed)
    per_cell = per_cell or {0: {(0, 0): 6, (0, 1): 2, (1, 0): 2, (1, 1): 6},
                            1: {(0, 0): 1, (0, 1): 1, (1, 0): 1, (1, 1): 1},
                            2: {(0, 0): 3, (0, 1): 3, (1, 0): 3, (1, 1): 3}}
    rows = ["img_id,img_filename,y,split,place,place_filename"]
    k = 0
    for split, cells in per_cell.items():
        for (y, place), n in cells.items():
            for _ in range(n):
                k += 1
                name = f"{'001.Black_footed_Albatross' if y else '002.Laysan_Sparrow'}/bird_{k:04d}.jpg"
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                colour_image(y, place, rng).save(root / name, quality=95)
                rows.append(f"{k},{name},{y},{split},{place},/b/bamboo_forest/{k}.jpg")
    (root / "metadata.csv").write_text("\n".join(rows) + "\n")
    return root


FAIRFACE_RACES = ("White", "Black", "East Asian")


def write_fairface(root: Path, *, per_cell: int = 3, seed: int = 0) -> Path:
    """FairFace's layout: ``train/<n>.jpg``, ``val/<n>.jpg`` and one label CSV per split
    (``fairface_label_train.csv``: file, age, gender, race, service_test)."""
    rng = np.random.RandomState(seed)
    for split, extra in (("train", 2), ("val", 0)):
        (root / split).mkdir(parents=True, exist_ok=True)
        rows, k = ["file,age,gender,race,service_test"], 0
        for gi, gender in enumerate(("Male", "Female")):
            for ri, race in enumerate(FAIRFACE_RACES):
                for _ in range(per_cell + (extra if ri == gi else 0)):
                    k += 1
                    colour_image(gi, ri, rng).save(root / split / f"{k}.jpg", quality=95)
                    rows.append(f"{split}/{k}.jpg,{'20-29' if k % 2 else '30-39'},{gender},{race},True")
        (root / f"fairface_label_{split}.csv").write_text("\n".join(rows) + "\n")
    return root


def write_image_folder(root: Path, *, per_cell: int = 8, seed: int = 0, groups_csv: bool = True) -> Path:
    """torchvision's ImageFolder layout ``root/<class>/<image>.png`` (cat, dog), the group in the file name
    (``..._indoor.png`` / ``..._outdoor.png``) and, with ``groups_csv``, in ``groups.csv`` (file, setting)."""
    rng = np.random.RandomState(seed)
    rows = ["file,setting"]
    for ci, cls in enumerate(("cat", "dog")):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for gi, setting in enumerate(("indoor", "outdoor")):
            for k in range(per_cell):
                name = f"{cls}/{k:03d}_{setting}.png"
                colour_image(ci, gi, rng).save(root / name)
                rows.append(f"{name},{setting}")
    if groups_csv:
        (root / "groups.csv").write_text("\n".join(rows) + "\n")
    return root
