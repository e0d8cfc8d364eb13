"""``fairdd.datasets``: build or load grouped datasets by name (see ``fairdd.data.load``)."""
from .data import COLOR_NAMES, DATASETS, GroupedDataset, load

__all__ = ["load", "DATASETS", "COLOR_NAMES", "GroupedDataset"]
