"""Write the example folder shipped with fairdd: ``fairdd/data/examples/tinted_digits``.

sklearn's 8×8 digits 0, 1 and 2 drawn light on a tinted background (the group: "warm" or "cool"),
16×16 PNGs, with a Waterbirds-style ``metadata.csv`` (img_filename, y, place, split: 0 train, 1 val,
2 test). In training most of a class wears one tint (digit 1 mostly cool, 0 and 2 mostly warm), so the
tint is a shortcut; val and test are balanced over (digit, tint). Deterministic (seed 0).

    python data/make_example_digits.py
"""
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

OUT = Path(__file__).resolve().parents[1] / "fairdd" / "data" / "examples" / "tinted_digits"
TINTS = {"warm": (214, 120, 40), "cool": (40, 110, 200)}
MAJORITY = {0: "warm", 1: "cool", 2: "warm"}
TRAIN, MINORITY, VAL, TEST = 60, 8, 4, 10  # per class; minority of TRAIN; per (class, tint) cell


def image(digit: np.ndarray, tint: str, rng: np.random.RandomState) -> Image.Image:
    ink = np.kron(digit / 16.0, np.ones((2, 2)))[..., None]  # (16, 16, 1) in [0, 1]
    bg = np.array(TINTS[tint]) + rng.randint(-25, 26, 3)  # (3,)
    px = (1 - ink) * bg + ink * 245 + rng.normal(0, 6, (16, 16, 3))
    return Image.fromarray(np.clip(px, 0, 255).round().astype(np.uint8))


def main() -> None:
    rng = np.random.RandomState(0)
    d = load_digits()
    rows = ["img_filename,y,place,split"]
    (OUT / "images").mkdir(parents=True, exist_ok=True)
    for y in (0, 1, 2):
        pool = rng.permutation(np.flatnonzero(d.target == y))
        minority = "cool" if MAJORITY[y] == "warm" else "warm"
        plan = ([(MAJORITY[y], 0)] * (TRAIN - MINORITY) + [(minority, 0)] * MINORITY
                + [(t, 1) for t in TINTS for _ in range(VAL)] + [(t, 2) for t in TINTS for _ in range(TEST)])
        for k, ((tint, split), i) in enumerate(zip(plan, pool)):
            name = f"images/{y}_{k:03d}.png"
            image(d.images[i], tint, rng).save(OUT / name, optimize=True)
            rows.append(f"{name},{y},{tint},{split}")
    (OUT / "metadata.csv").write_text("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
