import pytest
import torch

from fairdd.data import GroupedDataset, segment_sample


def _toy():
    # class 0: group 0 ×50, group 1 ×3 ; class 1: group 0 ×4, group 1 ×20
    labels = torch.tensor([0] * 53 + [1] * 24)
    groups = torch.tensor([0] * 50 + [1] * 3 + [0] * 4 + [1] * 20)
    return GroupedDataset(torch.randn(77, 3, 8, 8), labels, groups, ("a", "b"), ("g0", "g1"))


def test_pooled_batch_is_per_class_without_replacement():
    ds = _toy()
    idx = ds.sample_batch(30, generator=torch.Generator().manual_seed(0))
    assert torch.bincount(ds.labels[idx]).tolist() == [30, 24]  # class 1 only has 24
    assert idx.unique().numel() == idx.numel()
    assert (ds.labels[idx].diff() >= 0).all()  # sorted by class


def test_group_balanced_batch_tops_up_small_groups():
    ds = _toy()
    idx = ds.sample_batch(20, balance="groups", generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(ds.labels[idx] * 2 + ds.groups[idx], minlength=4)
    assert counts.tolist() == [10, 10, 10, 10]
    small = idx[(ds.labels[idx] == 0) & (ds.groups[idx] == 1)]
    assert small.unique().numel() == 3  # all three, then repeats


def test_segment_sample_is_deterministic_given_generator():
    seg = torch.randint(0, 5, (100,), generator=torch.Generator().manual_seed(1))
    a = segment_sample(seg, 5, 7, generator=torch.Generator().manual_seed(2))
    b = segment_sample(seg, 5, 7, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b)


def test_bad_construction_and_balance():
    with pytest.raises(ValueError, match="labels must lie in"):
        GroupedDataset(torch.zeros(2, 1, 4, 4), torch.tensor([0, 2]), torch.tensor([0, 0]), ("a", "b"), ("g",))
    with pytest.raises(ValueError, match="balance must be 'pooled' or 'groups'; got 'equal'"):
        _toy().sample_batch(4, balance="equal")


def test_counts_table():
    table = _toy().counts()
    assert table.loc["a", "g1"] == 3 and table.loc["b", "total"] == 24


@pytest.mark.parametrize("fill", [False, True])
def test_segment_sampler_equals_a_per_segment_reference(fill):
    """The sync-free sampler (positions worked out once) draws what a per-segment loop draws from the
    same random numbers: the k smallest random keys of each segment, then top-ups with replacement."""
    from fairdd.data.dataset import SegmentSampler

    seg = torch.randint(0, 6, (200,), generator=torch.Generator().manual_seed(3))
    seg[seg == 4] = 5  # segment 4 is empty; 6 and 7 are empty too
    k = torch.tensor([5, 50, 0, 40, 9, 12, 3, 3])
    sampler = SegmentSampler(seg, 8, k, fill=fill)
    for seed in (0, 1):
        got = sampler(torch.Generator().manual_seed(seed))
        g = torch.Generator().manual_seed(seed)
        keys = torch.rand(len(seg), generator=g)
        members = [torch.nonzero(seg == s).flatten() for s in range(8)]
        members = [m[torch.argsort(keys[m])] for m in members]  # each segment by key
        owed = [max(int(k[s]) - len(m), 0) if fill and len(m) else 0 for s, m in enumerate(members)]
        u = torch.rand(sum(owed), generator=g) if sum(owed) else torch.empty(0)
        want, used = [], 0
        for s, m in enumerate(members):
            want.append(m[:int(k[s])])
            draws = u[used:used + owed[s]]
            used += owed[s]
            want.append(m[(draws * len(m)).long().clamp(max=max(len(m) - 1, 0))] if owed[s] else m[:0])
        assert torch.equal(got, torch.cat(want)), seed
    full = sum(int(k[s]) for s in (0, 1, 2, 3, 5))  # every non-empty segment yields exactly k with fill
    assert len(got) == (full if fill else sum(min(int(k[s]), int((seg == s).sum())) for s in range(8)))
