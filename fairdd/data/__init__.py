"""Datasets: the grouped container, coloured benchmark builders and offline file readers."""
from .colored import COLOR_NAMES, DATASETS, PALETTE, corrupt, load
from .dataset import GroupedDataset, segment_sample
from .group_labels import infer_groups, kmeans, with_group_noise, with_partial_groups
from .sources import load_fashion_mnist, load_mnist5000, read_idx

__all__ = ["GroupedDataset", "load", "DATASETS", "COLOR_NAMES", "PALETTE", "corrupt",
           "segment_sample", "read_idx", "load_fashion_mnist", "load_mnist5000", "with_group_noise",
           "with_partial_groups", "infer_groups", "kmeans"]
