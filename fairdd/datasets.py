"""``fairdd.datasets``: build or load grouped datasets by name (see ``fairdd.data.load``)."""
from .data import COLOR_NAMES, DATASETS, Availability, GroupedDataset, availability, load, options

__all__ = ["load", "DATASETS", "options", "availability", "Availability", "COLOR_NAMES", "GroupedDataset"]
