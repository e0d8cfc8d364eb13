import pytest
import torch

from fairdd.metrics import group_metrics


def test_hand_computed_table():
    # 2 classes × 2 groups, 4 samples per cell
    labels = torch.tensor([0] * 8 + [1] * 8)
    groups = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1] * 2)
    pred = labels.clone()
    pred[[0]] = 1  # class 0 group 0: 3/4
    pred[[4, 5, 6]] = 1  # class 0 group 1: 1/4
    pred[[8, 9]] = 0  # class 1 group 0: 2/4; class 1 group 1: 4/4
    m = group_metrics(pred, labels, groups, n_classes=2, n_groups=2)
    assert m.tpr.tolist() == [[0.75, 0.25], [0.5, 1.0]]
    assert m.eod == pytest.approx(50.0)  # max(0.5, 0.5)
    assert m.deo_a == pytest.approx(50.0)
    assert m.accuracy == pytest.approx(100 * 10 / 16)
    # group 0: (3 + 2) / 8, group 1: (1 + 4) / 8
    assert m.worst_group_accuracy == pytest.approx(62.5)


def test_uneven_gaps():
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    groups = torch.tensor([0, 1, 0, 1, 0, 1])
    pred = torch.tensor([0, 1, 1, 1, 2, 0])  # class 0 gap 1, class 1 gap 0, class 2 gap 1
    m = group_metrics(pred, labels, groups, n_classes=3, n_groups=2)
    assert m.eod == pytest.approx(100.0) and m.deo_a == pytest.approx(200 / 3)


def test_zero_gap_when_groups_predicted_alike():
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(5).repeat_interleave(6)
    groups = torch.arange(3).repeat(10)
    wrong = torch.rand(10, generator=g) < 0.5  # the same mistake pattern for every group
    pred = torch.where(wrong.repeat_interleave(3), (labels + 1) % 5, labels)
    m = group_metrics(pred, labels, groups, n_classes=5, n_groups=3)
    assert m.eod == 0.0 and m.deo_a == 0.0


def test_shape_mismatch():
    with pytest.raises(ValueError, match="one shape"):
        group_metrics(torch.zeros(3, dtype=torch.long), torch.zeros(4, dtype=torch.long),
                      torch.zeros(4, dtype=torch.long), n_classes=1, n_groups=1)
