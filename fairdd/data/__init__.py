"""Datasets: the grouped container, coloured benchmark builders and readers of the users' files."""
from .card import DatasetCard, describe
from .cifar10s import load_cifar10s, read_cifar10
from .colored import COLOR_NAMES, PALETTE, REBIAS_NAMES, REBIAS_PALETTE, STYLES, corrupt
from .dataset import GroupedDataset, segment_sample
from .faces import load_bffhq, load_celeba, load_utkface
from .own_sources import from_arrays, from_folder, from_huggingface, from_image_folder, from_torchvision
from .group_labels import infer_groups, kmeans, with_group_noise, with_partial_groups
from .registry import (DATASETS, Availability, DatasetRecord, availability, imbalance_knob, load, options, record,
                       records, register, test_knobs, test_set_for, unregister)
from .safe_pickle import restricted_load
from .sources import load_fashion_mnist, load_mnist, load_mnist5000, read_idx

__all__ = ["GroupedDataset", "load", "DATASETS", "options", "availability", "Availability", "COLOR_NAMES",
           "PALETTE", "REBIAS_NAMES", "REBIAS_PALETTE", "STYLES", "corrupt", "segment_sample", "read_idx",
           "load_mnist", "load_fashion_mnist", "load_mnist5000", "load_cifar10s", "read_cifar10", "load_celeba",
           "load_utkface", "load_bffhq", "restricted_load", "with_group_noise", "with_partial_groups",
           "infer_groups", "kmeans", "from_folder", "from_image_folder", "from_arrays", "from_torchvision",
           "from_huggingface", "describe", "DatasetCard", "example_folder", "DatasetRecord", "record", "records", "register",
           "unregister", "test_set_for", "test_knobs", "imbalance_knob"]


def example_folder():
    """Give the folder of the example shipped with fairdd, for ``from_folder(example_folder())``.

    264 tinted 16×16 digits and a Waterbirds-style metadata.csv (img_filename, y, place, split).
    """
    from pathlib import Path

    return Path(__file__).parent / "examples" / "tinted_digits"
