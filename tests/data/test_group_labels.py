import pytest
import torch

import fairdd
from fairdd.data import infer_groups, kmeans, with_group_noise, with_partial_groups

from conftest import SMOKE


def test_group_noise_flips_the_requested_share(digits_train):
    noisy = with_group_noise(digits_train, 0.2, seed=1)
    changed = (noisy.groups != digits_train.groups).float().mean()
    assert float(changed) == pytest.approx(0.2, abs=1 / len(digits_train))
    assert noisy.info["group_noise"] == 0.2 and torch.equal(noisy.labels, digits_train.labels)


def test_partial_labels_keep_the_requested_share(digits_train):
    part = with_partial_groups(digits_train, 0.3, seed=2)
    assert float(part.known.float().mean()) == pytest.approx(0.3, abs=1 / len(digits_train))
    assert not part.fully_labelled
    with pytest.raises(ValueError, match="have no group label; fill them with fairdd.data.infer_groups"):
        fairdd.distill(part, target="cobra", ipc=1, **SMOKE)


def test_pseudo_groups_recover_colours(digits_train):
    part = with_partial_groups(digits_train, 0.2, seed=3)
    filled = infer_groups(part)
    unknown = ~part.known
    assert float((filled.groups[unknown] == digits_train.groups[unknown]).float().mean()) > 0.9
    assert torch.equal(filled.groups[part.known], digits_train.groups[part.known])
    none = infer_groups(with_partial_groups(digits_train, 0.0))  # no label at all: k-means per class
    purity = 0
    for c in range(10):
        m = digits_train.labels == c
        for k in none.groups[m].unique():
            purity += int(torch.bincount(digits_train.groups[m & (none.groups == k)]).max())
    assert purity / len(digits_train) > 0.8
    fairdd.distill(filled, target="cobra", ipc=1, iterations=1, **SMOKE)  # distils once filled


def test_kmeans_separates_two_blobs():
    g = torch.Generator().manual_seed(0)
    x = torch.cat([torch.randn(30, 2, generator=g), torch.randn(30, 2, generator=g) + 10])
    ids = kmeans(x, 2, generator=g)
    assert ids[:30].unique().numel() == 1 and ids[30:].unique().numel() == 1 and ids[0] != ids[-1]


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_bad_rates(digits_train, p):
    with pytest.raises(ValueError, match=r"group_noise must be in \[0, 1\]"):
        with_group_noise(digits_train, p)
    with pytest.raises(ValueError, match=r"group_labels must be in \[0, 1\]"):
        with_partial_groups(digits_train, p)


def test_load_applies_noise_and_partial_labels_to_the_training_split_only():
    clean = fairdd.datasets.load("colored-digits", split="train", n_groups=4)
    noisy = fairdd.datasets.load("colored-digits", split="train", n_groups=4, group_noise=0.1, group_labels=0.5)
    assert float((noisy.groups != clean.groups).float().mean()) == pytest.approx(0.1, abs=1 / len(clean))
    assert float(noisy.known.float().mean()) == pytest.approx(0.5, abs=1 / len(clean))
    test = fairdd.datasets.load("colored-digits", split="test", n_groups=4, group_noise=0.3, group_labels=0.2)
    assert test.fully_labelled and test.known is None
    with pytest.raises(ValueError, match=r"group_noise must be in \[0, 1\]; got 2"):
        fairdd.datasets.load("colored-digits", split="train", group_noise=2)
