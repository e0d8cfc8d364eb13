"""Published accuracy / EOD by protocol: what ``reproduce`` and the sweep table put beside ours."""
from __future__ import annotations

__all__ = ["PUBLISHED", "published", "FAIRDD_TABLES", "COBRA_TABLE", "PRELIMINARY"]

# Published (accuracy %, EOD) per (dataset, mode, method, ipc) and the protocol they were measured
# under — the preset that reproduces it. Each entry names where it comes from; numbers that are not
# from a paper say so. ``mode=None``: the dataset has no foreground/background variant.
FAIRDD_TABLES = "FairDD paper (Zhou et al., NeurIPS 2025), Tables 1–2"
COBRA_TABLE = "COBRA paper (Moslemi et al., arXiv 2605.00185), Table 1"
PRELIMINARY = "COBRA authors' preliminary runs of the barycenter variant: not a published number"
PUBLISHED = {
    "fairdd-paper": {
        ("colored-fashion-mnist", "foreground", "dm", 10): {
            "random": (32.80, 100.0, FAIRDD_TABLES), "vanilla": (33.35, 100.0, FAIRDD_TABLES),
            "fairdd": (77.09, 26.87, FAIRDD_TABLES), "whole": (82.94, 79.2, FAIRDD_TABLES)},
        ("colored-fashion-mnist", "foreground", "dc", 10): {
            "vanilla": (60.77, 99.40, FAIRDD_TABLES), "fairdd": (76.01, 46.80, FAIRDD_TABLES)},
    },
    "paper": {
        ("colored-fashion-mnist", "foreground", "dm", 10): {"cobra": (76.2, 27.2, PRELIMINARY)},
        ("colored-fashion-mnist", "foreground", "dc", 10): {"cobra": (77.2, 29.5, PRELIMINARY)},
        ("cifar10-s", None, "dm", 100): {
            "vanilla": (45.4, 82.87, COBRA_TABLE), "fairdd": (61.2, 25.17, COBRA_TABLE),
            "cobra": (62.4, 9.37, COBRA_TABLE), "whole": (69.71, 48.96, COBRA_TABLE)},
        ("cifar10-s", None, "dc", 50): {
            "vanilla": (39.5, 71.85, COBRA_TABLE), "fairdd": (46.2, 35.65, COBRA_TABLE),
            "cobra": (46.6, 26.18, COBRA_TABLE)},
        ("bffhq", None, "dm", 100): {"vanilla": (65.8, 63.47, COBRA_TABLE), "cobra": (74.2, 7.87, COBRA_TABLE)},
    },
}


def published(dataset: str, mode: str | None, method: str, ipc: int, preset: str) -> dict:
    """{target: (accuracy, EOD, source)} known for this experiment *under ``preset``'s protocol*
    (``paper`` = COBRA's, ``fairdd-paper`` = FairDD's); empty where none is."""
    table = PUBLISHED.get(preset, {})
    return table.get((dataset, mode, method, ipc)) or table.get((dataset, None, method, ipc)) or {}
