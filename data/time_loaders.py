"""Cold (decode + cache write) and cached load times of each file-based loader on the test fixtures.

    PYTHONPATH=. python data/time_loaders.py

Writes the fixtures of ``tests/data/file_fixtures.py`` into a temporary folder, loads the training split of
each dataset twice (empty cache, then cached) and prints a Markdown table with the per-image costs, plus
the read speed of a 20000 × 64 × 64 × 3 cache entry (to estimate the real sizes).
"""
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "data"))
import file_fixtures as fx  # noqa: E402  (the fixture writers)

import fairdd  # noqa: E402


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> None:
    torch.set_num_threads(1)
    base = Path(tempfile.mkdtemp())
    arrays = fx.cifar_arrays(n_train_per_class=200, n_test_per_class=50)
    fx.write_cifar_python(base / "py", arrays)
    fx.write_cifar_binary(base / "bin", arrays)
    fx.write_celeba(base / "celeba", n=600)
    fx.write_utkface(base / "utk", per_cell=30)
    fx.write_bffhq(base / "bf")
    cases = [("cifar10-s (python)", "cifar10-s", base / "py", {}), ("cifar10-s (binary)", "cifar10-s", base / "bin", {}),
             ("cifar10-s severity 5", "cifar10-s", base / "py", {"severity": 5}),
             ("celeba", "celeba", base / "celeba", {}), ("utkface", "utkface", base / "utk", {}),
             ("bffhq", "bffhq", base / "bf", {})]
    print("| dataset (train split) | images out | images decoded | cold s | cached s | cold ms / decoded image "
          "| cached ms / image out |")
    print("|---|---|---|---|---|---|---|")
    for label, name, root, kw in cases:
        cache = base / f"cache-{label.replace(' ', '_')}"
        ds, cold = timed(lambda: fairdd.datasets.load(name, split="train", root=root, cache_dir=cache, **kw))
        again, warm = timed(lambda: fairdd.datasets.load(name, split="train", root=root, cache_dir=cache, **kw))
        assert again.info["cache_hit"] and not ds.info["cache_hit"]
        n = len(ds)
        decoded = sum(len(np.load(f, mmap_mode="r")) for f in cache.glob("*-images.npy"))
        print(f"| {label} | {n} | {decoded} | {cold:.2f} | {warm:.2f} | {1e3 * cold / decoded:.2f} "
              f"| {1e3 * warm / n:.3f} |")
    big = np.random.RandomState(0).randint(0, 256, (20000, 64, 64, 3)).astype(np.uint8)
    np.save(base / "big.npy", big)
    _, t = timed(lambda: np.load(base / "big.npy"))
    print(f"\nreading a 20000×64×64×3 uint8 entry ({big.nbytes / 2**20:.0f} MiB): {t:.2f} s "
          f"({big.nbytes / 2**20 / t:.0f} MiB/s)")


if __name__ == "__main__":
    main()
