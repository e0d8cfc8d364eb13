"""Draw data/colored_styles.png: official vs clean coloured MNIST / Fashion-MNIST, one image per class in its own colour.

    PYTHONPATH=. python data/make_figure.py   # needs Fashion-MNIST IDX files (e.g. Debian dataset-fashion-mnist)
"""
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

import fairdd

ROWS = [(name, mode, style) for name in ("colored-mnist-5k", "colored-fashion-mnist")
        for mode in ("foreground", "background") for style in ("official", "clean")]
MODES = {"foreground": "FG", "background": "BG"}
SCALE, LABEL_W = 3, 190


def own_colour_examples(ds) -> np.ndarray:
    """One training image per class in the class's own colour: (10, 32, 32, 3) uint8."""
    own = ds.labels % ds.n_groups == ds.groups
    idx = [int(((ds.labels == c) & own).nonzero()[0]) for c in range(ds.n_classes)]
    return (ds.display(ds.images[idx]) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def main(out: Path = Path(__file__).with_name("colored_styles.png")) -> None:
    torch.set_num_threads(1)
    tile = 32 * SCALE
    canvas = Image.new("RGB", (LABEL_W + 10 * (tile + 4), len(ROWS) * (tile + 4)), "white")
    draw = ImageDraw.Draw(canvas)
    for r, (name, mode, style) in enumerate(ROWS):
        ds = fairdd.datasets.load(name, split="train", mode=mode, style=style)
        for c, img in enumerate(own_colour_examples(ds)):
            canvas.paste(Image.fromarray(img).resize((tile, tile), Image.NEAREST), (LABEL_W + c * (tile + 4), r * (tile + 4)))
        draw.text((6, r * (tile + 4) + tile // 2 - 6), f"{name.replace('colored-', '')} {MODES[mode]} {style}",
                  fill="black")
    canvas.save(out)


if __name__ == "__main__":
    main()
