"""The noise floor of EOD / DEO_A: closed forms and limits of the binomial simulation."""
import numpy as np
import pytest

from fairdd.viz.noise_floor import fair_model_noise_floor


def test_one_sample_per_cell_closed_form():
    # one class, two groups, one test sample each, p = 1/2: the gap is 1 with probability 1/2
    nf = fair_model_noise_floor([[1, 1]], 50.0, n_draws=20000, seed=1)
    assert abs(nf.eod - 50.0) < 1.5 and nf.eod == nf.deo_a
    assert nf.eod_band == (0.0, 100.0)


def test_perfect_or_null_models_have_no_floor():
    counts = np.full((10, 4), 25)
    for acc in (0.0, 100.0):
        nf = fair_model_noise_floor(counts, acc, n_draws=50)
        assert nf.eod == nf.deo_a == 0.0


def test_floor_shrinks_with_the_test_set_and_eod_tops_deo_a():
    small = fair_model_noise_floor(np.full((10, 4), 20), 70.0, n_draws=500)
    large = fair_model_noise_floor(np.full((10, 4), 2000), 70.0, n_draws=500)
    assert large.eod < small.eod / 5
    assert small.eod >= small.deo_a and small.eod_band[0] <= small.eod <= small.eod_band[1]


def test_two_cells_expected_gap_by_hand():
    # E|k1 - k2| / n for k_i ~ Bin(n, p), computed exactly from the binomial pmf
    from math import comb

    n, p = 6, 0.3
    pmf = np.array([comb(n, k) * p ** k * (1 - p) ** (n - k) for k in range(n + 1)])
    exact = 100 * sum(pmf[i] * pmf[j] * abs(i - j) for i in range(n + 1) for j in range(n + 1)) / n
    nf = fair_model_noise_floor([[n, n]], 30.0, n_draws=40000, seed=0)
    assert abs(nf.eod - exact) < 0.02 * exact + 0.3


def test_empty_cells_are_ignored_and_deterministic():
    a = fair_model_noise_floor([[5, 5, 0], [0, 5, 5]], 60.0, n_draws=300, seed=3)
    b = fair_model_noise_floor([[5, 5, 0], [0, 5, 5]], 60.0, n_draws=300, seed=3)
    assert a == b


@pytest.mark.parametrize("kw, match", [(dict(counts=[[1, -1]], accuracy=50.0), "counts"),
                                       (dict(counts=[1, 2], accuracy=50.0), "counts"),
                                       (dict(counts=[[1, 1]], accuracy=150.0), "accuracy"),
                                       (dict(counts=[[1, 1]], accuracy=50.0, n_draws=0), "n_draws")])
def test_bad_input(kw, match):
    with pytest.raises(ValueError, match=match):
        fair_model_noise_floor(**kw)
