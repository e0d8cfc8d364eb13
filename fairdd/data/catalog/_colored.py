"""What the four coloured sets share: a loader per name and the canonical form of their knobs."""
from __future__ import annotations

import inspect
from typing import Callable

from .. import colored
from ..dataset import GroupedDataset

TRAIN_ONLY = ("bias", "group_noise", "group_labels")  # the test split is balanced, its group labels exact
SOURCE_OFFICIAL = "COBRA data_handler/colour_mnist.py, data_handler/FashionMNIST.py (after ReBias' Biased-MNIST)"


def loader(name: str) -> Callable[..., GroupedDataset]:
    """``colored.load`` with ``name`` fixed (its signature less ``name``: the knobs)."""
    def build(**kw) -> GroupedDataset:
        return colored.load(name, **kw)
    signature = inspect.signature(colored.load)
    build.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p for p in signature.parameters.values() if p.name != "name"])
    return build


def canonical(name: str) -> Callable[[dict, int | None], tuple[dict, int | None]]:
    """``mode="fg"`` as ``"foreground"``, ``style=None`` as the style it builds, the clean style's seed."""
    def canon(knobs: dict, data_seed: int | None) -> tuple[dict, int | None]:
        out = dict(knobs)
        out["mode"] = {"fg": "foreground", "bg": "background"}.get(out["mode"], out["mode"])
        out["style"] = out["style"] or colored.default_style(name)
        if data_seed is None and out["style"] != "official":
            data_seed = colored.resolved_seed(out["style"], None)
        return out, data_seed
    return canon
