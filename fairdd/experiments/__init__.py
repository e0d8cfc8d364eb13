"""Experiment jobs used by the CLI and the notebooks.

- ``imbalance_separation`` (``study``): the imbalance × separation grid, as a sweep;
- ``reproduce`` (``reproduce``): a preset's protocol for several targets, beside the ``PUBLISHED`` row whose
  full setting equals the run's (``compare``; ``fairdd.published``);
- ``group_clouds`` (``clouds``): per-group embeddings of one class, for the barycenter views;
- ``demo.run``: every target strategy distilled from one training set and evaluated (``fairdd demo``).
"""
from . import demo
from .clouds import group_clouds
from ..published import COBRA_TABLE, FAIRDD_TABLES, PRELIMINARY, PUBLISHED, Comparison, Published, compare, run_setting
from .reproduce import reproduce
from .study import STUDY_COLUMNS, imbalance_separation

__all__ = ["demo", "imbalance_separation", "group_clouds", "reproduce", "compare", "run_setting", "Published",
           "Comparison", "PUBLISHED", "STUDY_COLUMNS", "FAIRDD_TABLES", "COBRA_TABLE", "PRELIMINARY"]
