"""What a strategy declares to the presets: the reference run mode it belongs to, and what that mode sets.

The authors' scripts run every objective through one switch (COBRA's ``--mode {vanilla, fairdd,
cobra}``), and a few protocol values follow that switch rather than the method: DM's outer distance,
DM's warm start, CAFE's loss. A strategy names its mode once, as a :class:`Protocol`; the presets
(``fairdd.config``) read the protocol, never the strategy's name, so a new or user-registered strategy
that declares ``COBRA_PROTOCOL`` runs with COBRA's values.

=========  ===========  ==========  =========  ==========================================
protocol   DM distance  warm start  CAFE loss  source (COBRA)
=========  ===========  ==========  =========  ==========================================
vanilla    squared L2   no          cafe       train_dm.py, train_cafe.py: ``--mode vanilla``
fairdd     squared L2   no          cobra      train_dm.py ``--mode fairdd``
cobra      L1           K epochs    cobra      train_dm.py, train_cafe.py: ``--mode cobra``
=========  ===========  ==========  =========  ==========================================

The FairDD reduction (per-group distances summed or averaged) is not a strategy's choice: it follows
the method and the preset (``DistillConfig.fairdd_reduction``), and a strategy reads it through its
``config_fields``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Protocol", "VANILLA_PROTOCOL", "FAIRDD_PROTOCOL", "COBRA_PROTOCOL"]


@dataclass(frozen=True)
class Protocol:
    """The preset values a strategy's reference run mode sets (read by ``fairdd.config``'s presets).

    Parameters
    ----------
    family : str
        The reference run mode ("vanilla", "fairdd", "cobra", or a name of the user's own); shown in
        docs/protocol.md's table of targets.
    distance : {"l1", "l2"}
        DM's outer distance between target and synthetic mean embedding (``DistillConfig.distance``;
        the distances of other target kinds do not read it).
    warm_start : bool
        DM: train each sampled network on the synthetic set for K epochs before matching
        (``DistillConfig.warm_start_epochs`` = the preset's K, else 0).
    cafe_loss : {"cafe", "cobra"}
        CAFE's terms (``DistillConfig.cafe_loss``): the original CAFE loss or COBRA's CAFE mode.
    """

    family: str
    distance: Literal["l1", "l2"] = "l2"
    warm_start: bool = False
    cafe_loss: Literal["cafe", "cobra"] = "cobra"

    def __post_init__(self) -> None:
        """Refuse values the presets could not use, naming the field and what is allowed."""
        if not isinstance(self.family, str) or not self.family:
            raise ValueError(f"Protocol family must be a non-empty string; got {self.family!r}")
        for name, allowed in (("distance", ("l1", "l2")), ("cafe_loss", ("cafe", "cobra"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"unknown Protocol {name} {getattr(self, name)!r}; allowed: {list(allowed)}")
        if not isinstance(self.warm_start, bool):
            raise ValueError(f"Protocol warm_start must be True or False; got {self.warm_start!r}")


VANILLA_PROTOCOL = Protocol("vanilla", cafe_loss="cafe")  # DM, DC, IDC, CAFE as published
FAIRDD_PROTOCOL = Protocol("fairdd")  # COBRA's runs of the FairDD baseline
COBRA_PROTOCOL = Protocol("cobra", distance="l1", warm_start=True)  # COBRA train_dm.py: L1 + warm start
