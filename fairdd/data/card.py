"""A dataset card: what a grouped dataset holds and whether its test set can measure fairness, before any run.

``describe(train, test=None, ipc=None)`` gives a ``DatasetCard``: the (class × group) count table,
imbalance ratios, unknown group labels, and the EOD / DEO_A *noise floor* of the test set — what a
perfectly fair model of accuracy p scores on it from sampling noise alone
(``fairdd.metrics.noise_floor``). A measured EOD below the floor cannot be told from a fair model's, so a
test set whose floor is high cannot measure small gaps. The card prints readably (``str``) and shows as
HTML tables in a notebook; it never prints by itself.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a type only: GroupedDataset.card() imports this module
    from .dataset import GroupedDataset

__all__ = ["DatasetCard", "describe", "FLOOR_ACCURACIES"]

FLOOR_ACCURACIES = (0.5, 0.7, 0.9)  # the fair model accuracies the card shows the floor at (0.5: the worst)


@dataclass(frozen=True)
class DatasetCard:
    """What ``describe`` found: counts per (class, group) cell, imbalance, the test set's noise floor, problems.

    ``counts`` / ``test_counts`` are (C, G) nested lists; ``imbalance`` maps a class to its largest / smallest
    group count (inf when a group is missing); ``noise_floor`` maps a fair model's accuracy to its expected
    ``{"eod", "deo_a"}`` in percent on the test set; ``problems`` are sentences naming classes, groups and cells.
    """

    name: str
    class_names: tuple[str, ...]
    group_names: tuple[str, ...]
    counts: list
    test_counts: list | None
    unknown_groups: int
    imbalance: dict
    group_ratio: float
    noise_floor: dict
    problems: tuple[str, ...] = ()
    info: dict = field(default_factory=dict)

    def table(self, which: str = "train"):
        """Give the (class × group) count table of ``which`` ("train" or "test") as a pandas DataFrame with totals."""
        import pandas as pd

        counts = self.counts if which == "train" else self.test_counts
        if counts is None:
            raise ValueError("this card has no test set: describe(train, test=...)")
        frame = pd.DataFrame(counts, index=list(self.class_names), columns=list(self.group_names))
        frame.index.name, frame.columns.name = "class", "group"
        frame["total"] = frame.sum(axis=1)
        if which == "train":
            frame["largest/smallest"] = [_ratio(self.imbalance[c]) for c in self.class_names]
        return frame

    def floor_table(self):
        """Give the test set's noise floor (percent) per fair-model accuracy, as a DataFrame."""
        import pandas as pd

        return pd.DataFrame([{"fair model accuracy": f"{float(p):.0%}", "EOD floor": v["eod"], "DEO_A floor": v["deo_a"]}
                             for p, v in self.noise_floor.items()]).round(2)

    def __str__(self) -> str:
        """Give the card as text: the training table, then the test table."""
        lines = [f"dataset card: {self.name}", f"training set ({self.n_train} images, {len(self.class_names)} "
                 f"classes × {len(self.group_names)} groups; group ratio {_ratio(self.group_ratio)})",
                 self.table("train").to_string()]
        if self.unknown_groups:
            lines.append(f"{self.unknown_groups} training image(s) have no group label")
        if self.test_counts is not None:
            lines += ["", "test set", self.table("test").to_string(), "",
                      "EOD noise floor of the test set (a perfectly fair model scores this by chance):",
                      self.floor_table().to_string(index=False)]
        lines += ["", "problems:"] + [f"  - {p}" for p in self.problems] if self.problems else ["", "no problems found"]
        return "\n".join(lines)

    def __repr__(self) -> str:
        """Give the card as text (``str``)."""
        return str(self)

    def _repr_html_(self) -> str:
        parts = [f"<h4>Dataset card: {html.escape(self.name)}</h4>", "<b>training set</b>", self.table("train").to_html()]
        if self.test_counts is not None:
            parts += ["<b>test set</b>", self.table("test").to_html(),
                      "<b>EOD noise floor</b> (a perfectly fair model scores this by chance)",
                      self.floor_table().to_html(index=False)]
        items = "".join(f"<li>{html.escape(p)}</li>" for p in self.problems) or "<li>none found</li>"
        return "\n".join(parts + [f"<b>problems</b><ul>{items}</ul>"])

    @property
    def n_train(self) -> int:
        """Images in the training set (with or without a group label)."""
        return int(sum(map(sum, self.counts))) + self.unknown_groups

    def to_dict(self) -> dict:
        """Give the card as plain JSON-ready values."""
        return dict(name=self.name, class_names=list(self.class_names), group_names=list(self.group_names),
                    counts=self.counts, test_counts=self.test_counts, unknown_groups=self.unknown_groups,
                    imbalance=self.imbalance, group_ratio=self.group_ratio,
                    noise_floor={str(k): v for k, v in self.noise_floor.items()}, problems=list(self.problems))


def _ratio(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.1f}"


def describe(train: GroupedDataset, test: GroupedDataset | None = None, *, ipc: int | None = None,
             accuracies=FLOOR_ACCURACIES) -> DatasetCard:
    """Describe ``train`` (and ``test``): count tables, imbalance, the test set's EOD noise floor, problems.

    Problems named: empty training cells, training cells with fewer images than ``ipc`` (COBRA's and
    FairDD's group targets average a cell's images), classes whose groups differ, empty test cells,
    images without a group label (fill them with ``fairdd.data.infer_groups`` before distilling).
    """
    from ..metrics import noise_floor

    known = train.known if train.known is not None else None
    seen = train if known is None else train.subset(known)
    counts = seen.cell_counts().cpu()  # (C, G)
    per_class_max, per_class_min = counts.amax(1), counts.amin(1)  # (C,)
    imbalance = {c: (float(hi) / float(lo) if lo > 0 else math.inf)
                 for c, hi, lo in zip(train.class_names, per_class_max.tolist(), per_class_min.tolist())}
    group_totals = counts.sum(0)  # (G,)
    group_ratio = float(group_totals.max()) / float(group_totals.min()) if int(group_totals.min()) else math.inf
    problems = _problems(train, counts, ipc, len(train) - len(seen))
    test_counts, floors = None, {}
    if test is not None:
        if tuple(test.class_names) != tuple(train.class_names) or tuple(test.group_names) != tuple(train.group_names):
            problems.append(f"the test set's classes/groups {list(test.class_names)} × {list(test.group_names)} differ "
                            f"from the training set's {list(train.class_names)} × {list(train.group_names)}")
        tc = test.cell_counts().cpu()  # (C, G)
        test_counts = tc.tolist()
        problems += [f"test cell ({test.class_names[c]!r}, {test.group_names[g]!r}) is empty: EOD cannot compare "
                     "that class's groups" for c, g in (tc == 0).nonzero().tolist()]
        if bool((tc > 0).any()):
            floors = {p: {k: round(float(v), 2) for k, v in noise_floor(tc, p).items()} for p in accuracies}
    return DatasetCard(name=str(train.info.get("name", "dataset")), class_names=tuple(train.class_names),
                       group_names=tuple(train.group_names), counts=counts.tolist(), test_counts=test_counts,
                       unknown_groups=len(train) - len(seen), imbalance=imbalance, group_ratio=group_ratio,
                       noise_floor=floors, problems=tuple(problems), info=dict(train.info))


def _problems(train: GroupedDataset, counts, ipc: int | None, unknown: int) -> list[str]:
    out = [f"training cell ({train.class_names[c]!r}, {train.group_names[g]!r}) is empty: the fair targets "
           "have no images of that group in that class" for c, g in (counts == 0).nonzero().tolist()]
    if ipc is not None:
        out += [f"training cell ({train.class_names[c]!r}, {train.group_names[g]!r}) has {int(counts[c, g])} "
                f"image(s), fewer than ipc={ipc}" for c, g in ((counts > 0) & (counts < ipc)).nonzero().tolist()]
    if unknown:
        out.append(f"{unknown} training image(s) have no group label: fill them with fairdd.data.infer_groups "
                   "(pseudo-groups) before distilling, or load with missing_groups='infer' (--missing-groups infer)")
    return out
