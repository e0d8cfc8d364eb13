import pytest
import torch

import fairdd

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def digits_train():
    """colored-digits (sklearn 8×8 upsampled to 16 px), 4 colour groups, bias 0.75: fast."""
    return fairdd.datasets.load("colored-digits", split="train", n_groups=4, bias=0.75, size=16, seed=0)


@pytest.fixture(scope="session")
def digits_test():
    return fairdd.datasets.load("colored-digits", split="test", n_groups=4, size=16, seed=0)


@pytest.fixture(scope="session")
def mnist_train():
    return fairdd.datasets.load("colored-mnist-5k", split="train", seed=0, style="clean")


@pytest.fixture(scope="session")
def mnist_test():
    return fairdd.datasets.load("colored-mnist-5k", split="test", seed=0, style="clean")


SMOKE = dict(preset="smoke", device="cpu", depth=2)


@pytest.fixture(scope="session")
def umap_warm():
    """UMAP compiles for ~20 s on first use: pay it once per test session."""
    from fairdd.viz.embedding import warm_up_umap

    return warm_up_umap()
