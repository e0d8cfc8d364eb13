"""How many images one no-grad CPU forward pass should take: DM's real-batch embedding and ``predict``.

For each network width and image size: the time of ``embed_real`` (the DM step's real batch, Siamese
augmentation included) at several chunk sizes, and of ``predict`` on a test set, against the earlier fixed
choices (256 images per chunk; 1024 per ``predict`` batch) measured in the same process, interleaved.
Every chunk size's output is checked to be the same bits as the earlier choice's.

    python benchmarks/embed_chunks.py [--repeats 5] [--threads 2]

Prints one Markdown table per measurement: median (min) ms, the ratio to the earlier choice, and which
chunk ``fairdd.models.cpu_chunk`` picks.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import torch

from fairdd.augment import sample_params
from fairdd.matching.dm import embed_real
from fairdd.models import ConvNet, cpu_chunk, reset_parameters

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import race  # noqa: E402  (interleaved rounds: a slow moment of the machine hits every variant alike)

CASES = [(16, 32, 1280), (64, 32, 1280), (128, 32, 1280), (128, 64, 256)]  # width, image side, real images
OLD_CHUNK, OLD_PREDICT = 256, 1024


def _net(width: int, size: int) -> ConvNet:
    depth = 3 if size == 32 else 4
    return reset_parameters(ConvNet(in_channels=3, n_classes=10, width=width, depth=depth, image_size=size),
                            torch.Generator().manual_seed(0))


def _old_predict(net: ConvNet, x: torch.Tensor) -> torch.Tensor:
    """The earlier ``predict``: whole 1024-image batches, autograd on."""
    net.eval()
    return torch.cat([net(x[i:i + OLD_PREDICT]).argmax(1) for i in range(0, x.shape[0], OLD_PREDICT)])


def _race(variants: dict, repeats: int) -> dict:
    """Median and fastest ms of each variant, timed in turns (no time limit)."""
    return race(variants, reps=repeats, limit_s=float("inf"), must_finish=tuple(variants))


def embed_table(repeats: int) -> None:
    """``embed_real`` at chunks around ``cpu_chunk``'s pick, each against 256."""
    print("| width | side | images | chunk | ms median (min) | × 256's time | picked |\n"
          "|---:|---:|---:|---:|---:|---:|:-:|")
    for width, size, n in CASES:
        net, x = _net(width, size), torch.randn(n, 3, size, size)
        rows, params = torch.arange(n) % 10, sample_params(10, generator=torch.Generator().manual_seed(0))
        pick = cpu_chunk(net, size)
        chunks = sorted({max(1, pick // 2), pick, 2 * pick, 4 * pick, OLD_CHUNK})
        with torch.no_grad():
            ref = embed_real(net, x, params, rows, chunk=OLD_CHUNK)
            for c in chunks:
                if not torch.equal(embed_real(net, x, params, rows, chunk=c), ref):
                    raise SystemExit(f"width {width}, {size} px: chunk {c} gives other bits than {OLD_CHUNK}")
            times = _race({c: (lambda c=c: embed_real(net, x, params, rows, chunk=c)) for c in chunks}, repeats)
        base = times[OLD_CHUNK]["ms"]
        for c in chunks:
            med = times[c]["ms"]
            print(f"| {width} | {size} | {n} | {c} | {med:.0f} ({times[c]['min_ms']:.0f}) | {med / base:.2f} | "
                  f"{'✓' if c == pick else ''} |")


def predict_table(repeats: int) -> None:
    """``predict`` (cache-sized features, no autograd) against the earlier one, same answers."""
    from fairdd.train import predict

    print("\n| width | side | test images | earlier ms | now ms | × earlier |\n|---:|---:|---:|---:|---:|---:|")
    for width, size, _ in CASES:
        net, x = _net(width, size), torch.randn(10000 if width == 16 else 2000 if size == 32 else 500, 3, size, size)
        if not torch.equal(_old_predict(net, x), predict(net, x)):
            raise SystemExit(f"width {width}, {size} px: predict's answers changed")
        times = _race({"earlier": lambda: _old_predict(net, x), "now": lambda: predict(net, x)}, repeats)
        o, m = times["earlier"]["ms"], times["now"]["ms"]
        print(f"| {width} | {size} | {x.shape[0]} | {o:.0f} | {m:.0f} | {m / o:.2f} |")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    uptime = lambda: subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()  # noqa: E731
    print(f"torch threads {torch.get_num_threads()}; load: {uptime()}")
    embed_table(args.repeats)
    predict_table(max(1, args.repeats // 2))
    print(f"load after: {uptime()}")


if __name__ == "__main__":
    main()
