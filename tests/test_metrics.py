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


# ------------------------------------------------------------------ batched metrics, bootstrap, noise floor
import itertools  # noqa: E402
import math  # noqa: E402

from fairdd.metrics import bootstrap_metrics, cell_index, metrics_from_hits, noise_floor  # noqa: E402


def _binom(n, p):
    return [math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)]


def test_cell_index_is_class_major():
    assert cell_index(torch.tensor([0, 0, 1, 2]), torch.tensor([0, 2, 1, 2]), 3).tolist() == [0, 2, 4, 8]


def test_metrics_from_hits_batched_equals_group_metrics_row_by_row():
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(4).repeat_interleave(15)  # 4 classes
    groups = torch.randint(0, 3, (60,), generator=g)
    preds = torch.randint(0, 4, (5, 60), generator=g)  # 5 "models"
    cells = cell_index(labels, groups, 3)
    hits = torch.zeros(5, 12, dtype=torch.float64).index_add_(1, cells, (preds == labels).double()).view(5, 4, 3)
    counts = torch.bincount(cells, minlength=12).view(4, 3)
    batched = metrics_from_hits(hits, counts)
    for m in range(5):
        one = group_metrics(preds[m], labels, groups, n_classes=4, n_groups=3)
        for key, value in batched.items():
            # class 3 has no test image of group 0 here: EOD and DEO_A are undefined (NaN) in both
            assert float(value[m]) == pytest.approx(getattr(one, key), abs=1e-12, nan_ok=True), key


@pytest.mark.parametrize("n_classes,n_groups,p", [(1, 2, 0.5), (3, 4, 0.77), (10, 10, 0.9)])
def test_noise_floor_one_sample_per_cell_closed_form(n_classes, n_groups, p):
    # one test image per cell: a class's gap is 1 unless its G Bernoulli cells all agree
    agree = p**n_groups + (1 - p) ** n_groups
    floor = noise_floor(torch.ones(n_classes, n_groups), p)
    assert float(floor["deo_a"]) == pytest.approx(100 * (1 - agree), rel=1e-10)
    assert float(floor["eod"]) == pytest.approx(100 * (1 - agree**n_classes), rel=1e-10)


@pytest.mark.parametrize("n,p", [(1, 0.3), (5, 0.3), (10, 0.77), (40, 0.5), (25, 0.0)])
def test_noise_floor_two_groups_is_mean_absolute_difference(n, p):
    # one class, two groups: EOD = DEO_A = E|X − Y| / n with X, Y iid Binomial(n, p)
    pmf = _binom(n, p)
    expected = sum(abs(k - j) * pmf[k] * pmf[j] for k in range(n + 1) for j in range(n + 1)) / n
    floor = noise_floor(torch.full((1, 2), n), torch.tensor([p], dtype=torch.float64))
    assert float(floor["eod"]) == pytest.approx(100 * expected, abs=1e-9)
    assert float(floor["deo_a"]) == pytest.approx(100 * expected, abs=1e-9)


def _enumerate_floor(sizes, n_groups, ps):
    """E[max_y gap_y] and E[mean_y gap_y] by listing every outcome of every cell (tiny cases only)."""
    per_class = []
    for n, p in zip(sizes, ps):
        pmf = _binom(n, p)
        dist = {}
        for ks in itertools.product(range(n + 1), repeat=n_groups):
            gap = (max(ks) - min(ks)) / n
            dist[gap] = dist.get(gap, 0.0) + math.prod(pmf[k] for k in ks)
        per_class.append(dist)
    eod = deo = 0.0
    for combo in itertools.product(*(d.items() for d in per_class)):
        prob = math.prod(q for _, q in combo)
        gaps = [gap for gap, _ in combo]
        eod += prob * max(gaps)
        deo += prob * sum(gaps) / len(gaps)
    return 100 * eod, 100 * deo


@pytest.mark.parametrize("sizes,n_groups,ps", [((2, 2), 3, (0.6, 0.6)), ((2, 3), 2, (0.7, 0.4)),
                                              ((1, 3, 4), 2, (0.5, 0.8, 0.3))])
def test_noise_floor_max_over_classes_exact_and_simulated_match_enumeration(sizes, n_groups, ps):
    eod, deo = _enumerate_floor(sizes, n_groups, ps)
    counts = torch.tensor(sizes).view(-1, 1).expand(len(sizes), n_groups)
    exact = noise_floor(counts, torch.tensor(ps, dtype=torch.float64))
    assert float(exact["eod"]) == pytest.approx(eod, abs=1e-9)
    assert float(exact["deo_a"]) == pytest.approx(deo, abs=1e-9)
    sims = 20000
    simulated = noise_floor(counts, torch.tensor(ps, dtype=torch.float64), method="simulate", n_sims=sims, seed=1)
    # a gap lies in [0, 1], so its standard error is at most 50 / √sims percentage points
    assert abs(float(simulated["eod"]) - eod) < 4 * 50 / math.sqrt(sims)
    assert abs(float(simulated["deo_a"]) - deo) < 4 * 50 / math.sqrt(sims)


def test_noise_floor_at_ten_and_hundred_images_per_cell():
    """10 classes × 10 groups at 77 % accuracy: EOD floor ≈ 56 with 10 images per cell, ≈ 18 with 100.

    The exact value agrees with a binomial simulation."""
    for n, claimed in ((10, 56.0), (100, 18.0)):
        counts = torch.full((10, 10), n)
        exact = float(noise_floor(counts, 0.77)["eod"])
        simulated = float(noise_floor(counts, 0.77, method="simulate", n_sims=4000, seed=0)["eod"])
        assert abs(exact - simulated) < 4 * 50 / math.sqrt(4000)
        assert abs(exact - claimed) < 1.0, (n, exact)
    # more test images per cell, lower floor; a model right everywhere has none
    assert float(noise_floor(torch.full((10, 10), 1000), 0.77)["eod"]) < 7
    assert float(noise_floor(torch.full((10, 10), 10), 1.0)["eod"]) == 0.0


def test_noise_floor_keeps_leading_dimensions_and_uneven_cells_simulate():
    counts = torch.full((3, 2), 4)
    per_model = noise_floor(counts, torch.tensor([[0.5, 0.5, 0.5], [0.9, 0.9, 0.9]]))  # (2 models, 3 classes)
    assert per_model["eod"].shape == (2,) and per_model["eod"][0] > per_model["eod"][1]
    uneven = torch.tensor([[4, 6], [5, 5]])
    with pytest.raises(ValueError, match="method='simulate'"):
        noise_floor(uneven, 0.5, method="exact")
    auto = noise_floor(uneven, 0.5, n_sims=2000, seed=3)
    assert torch.equal(auto["eod"], noise_floor(uneven, 0.5, method="simulate", n_sims=2000, seed=3)["eod"])
    with pytest.raises(ValueError, match=r"accuracy must lie in \[0, 1\].*got range \[77, 77\]"):
        noise_floor(counts, 77.0)
    with pytest.raises(ValueError, match="unknown method 'mc'"):
        noise_floor(counts, 0.5, method="mc")


def _toy_answers(n_models=2, per_cell=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(3).repeat_interleave(2 * per_cell)  # 3 classes × 2 groups × per_cell
    groups = torch.arange(2).repeat_interleave(per_cell).repeat(3)
    correct = torch.rand(n_models, labels.numel(), generator=g) < 0.7  # (M, N)
    return correct, cell_index(labels, groups, 2)


def test_bootstrap_keeps_cell_sizes_and_is_seeded():
    correct, cells = _toy_answers()
    right = torch.ones_like(correct)
    perfect = bootstrap_metrics(right, cells, n_classes=3, n_groups=2, n_boot=50)
    assert bool((perfect["accuracy"] == 100).all()) and bool((perfect["eod"] == 0).all())
    a = bootstrap_metrics(correct, cells, n_classes=3, n_groups=2, n_boot=64, seed=5)
    b = bootstrap_metrics(correct, cells, n_classes=3, n_groups=2, n_boot=64, seed=5, block=100)  # other chunks
    c = bootstrap_metrics(correct, cells, n_classes=3, n_groups=2, n_boot=64, seed=6)
    assert all(torch.equal(a[k], b[k]) for k in a) and not torch.equal(a["eod"], c["eod"])
    # a cell answered alike throughout stays so on every resample: class 0 right, class 1 wrong everywhere
    mixed = correct.clone()
    mixed[:, :12], mixed[:, 12:24] = True, False
    d = bootstrap_metrics(mixed, cells, n_classes=3, n_groups=2, n_boot=64)
    assert torch.allclose(d["eod"], 3 * d["deo_a"])  # only class 2 can show a gap: max = 3 × mean
    assert bool((d["worst_group_accuracy"] <= 100 * (6 + 0 + 6) / 18).all())  # per group: class 0 right, 1 wrong
    # paired: identical models get identical draws
    twin = correct[:1].expand(2, -1)
    e = bootstrap_metrics(twin, cells, n_classes=3, n_groups=2, n_boot=32)
    assert torch.equal(e["eod"][0], e["eod"][1])


def test_bootstrap_accuracy_spread_matches_the_stratified_binomial_closed_form():
    # resampling n answers with replacement in a cell with k right gives hits ~ Binomial(n, k / n):
    # Var(accuracy) = Σ_cells n p̂ (1 − p̂) / N²
    correct, cells = _toy_answers(n_models=1, per_cell=20, seed=2)
    counts = torch.bincount(cells, minlength=6).double()
    p_hat = torch.zeros(6, dtype=torch.float64).index_add_(0, cells, correct[0].double()) / counts
    sd = 100 * float((counts * p_hat * (1 - p_hat)).sum().sqrt() / counts.sum())
    draws = bootstrap_metrics(correct, cells, n_classes=3, n_groups=2, n_boot=4000, seed=0)["accuracy"][0]
    observed = 100 * float(correct.double().mean())
    assert float(draws.mean()) == pytest.approx(observed, abs=4 * sd / math.sqrt(4000))
    assert float(draws.std()) == pytest.approx(sd, rel=0.1)


def test_bootstrap_bad_input():
    correct, cells = _toy_answers()
    with pytest.raises(ValueError, match="n_boot must be an integer >= 1; got 0"):
        bootstrap_metrics(correct, cells, n_classes=3, n_groups=2, n_boot=0)
    with pytest.raises(ValueError, match=r"correct must be \(M, N\)"):
        bootstrap_metrics(correct[0], cells, n_classes=3, n_groups=2)
