"""``fairdd.datasets``: build or load grouped datasets by name (see ``fairdd.data.load``), or from your own data."""
from .data import (COLOR_NAMES, DATASETS, Availability, DatasetCard, DatasetRecord, GroupedDataset, availability,
                   describe, example_folder, from_arrays, from_folder, from_huggingface, from_image_folder, from_torchvision,
                   load, options, record, records, register, test_knobs, test_set_for,
                   imbalance_knob, unregister)

__all__ = ["load", "DATASETS", "options", "availability", "Availability", "COLOR_NAMES", "GroupedDataset",
           "from_folder", "from_image_folder", "from_arrays", "from_torchvision", "from_huggingface", "describe",
           "DatasetCard", "example_folder", "DatasetRecord", "record", "records", "register", "unregister",
           "test_set_for", "test_knobs", "imbalance_knob"]
