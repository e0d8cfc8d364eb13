"""Experiment jobs used by the CLI and the notebooks.

- ``imbalance_separation`` (``study``): the imbalance × separation grid, as a sweep;
- ``reproduce`` (``reproduce``): a preset's protocol for several targets, beside ``PUBLISHED`` (``published``);
- ``group_clouds`` (``clouds``): per-group embeddings of one class, for the barycenter views.
"""
from .clouds import group_clouds
from .published import COBRA_TABLE, FAIRDD_TABLES, PRELIMINARY, PUBLISHED, published
from .reproduce import reproduce
from .study import STUDY_COLUMNS, imbalance_separation

__all__ = ["imbalance_separation", "group_clouds", "reproduce", "published", "PUBLISHED", "STUDY_COLUMNS",
           "FAIRDD_TABLES", "COBRA_TABLE", "PRELIMINARY"]
