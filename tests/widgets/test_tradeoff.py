"""The trade-off explorer: the mixed barycenter's closed form, the Pareto front and the cached sweep."""
import pytest
import torch

from fairdd.targets import get_strategy
from fairdd.widgets.tradeoff import MixedBarycenter, pareto_front, tradeoff_sweep


def test_mix_interpolates_pooled_mean_and_uniform_barycenter():
    mean = torch.tensor([[[0.0], [10.0], [99.0]]])  # (C=1, G=3, F=1); group 2 absent
    count = torch.tensor([[3, 1, 0]])
    ref = {m: MixedBarycenter(mix=m).from_cells(mean, count).refs.flatten().item() for m in (0.0, 0.5, 1.0)}
    assert ref[0.0] == pytest.approx(2.5)  # pooled: (3·0 + 1·10) / 4
    assert ref[1.0] == pytest.approx(5.0)  # uniform over the present groups
    assert ref[0.5] == pytest.approx(3.75)
    assert ref[0.0] == pytest.approx(get_strategy("vanilla").from_cells(mean, count).refs.flatten().item())
    assert ref[1.0] == pytest.approx(get_strategy("cobra").from_cells(mean, count).refs.flatten().item())
    for bad in (-0.1, 1.5, True, "half"):
        with pytest.raises(ValueError, match="mix"):
            MixedBarycenter(mix=bad)


def test_pareto_front_by_hand():
    acc = [50, 60, 55, 70, 65]
    eod = [10, 30, 40, 60, 20]
    # (55, 40) and (60, 30) are beaten by (65, 20); the rest trade accuracy for fairness
    assert pareto_front(acc, eod).tolist() == [0, 4, 3]


def test_sweep_is_cached_and_refuses_other_settings(digits_train, digits_test, tmp_path, monkeypatch):
    kw = dict(mixes=(0.0, 1.0), ipcs=(1,), preset="smoke", n_models=1, device="cpu", cache=tmp_path / "sweep")
    df, points = tradeoff_sweep(digits_train, digits_test, **kw)
    assert df[["mix", "ipc"]].values.tolist() == [[0.0, 1], [1.0, 1]]
    assert all(0 <= v <= 100 for v in df["eod"]) and len(points) == 2
    assert points["mix1.0000-ipc1"].images.shape[0] == digits_train.n_classes

    from fairdd.distill import Distiller

    def no_work(self, **k):
        raise AssertionError("a cached point was distilled again")

    monkeypatch.setattr(Distiller, "run", no_work)
    again, cached = tradeoff_sweep(digits_train, digits_test, **kw)
    assert again.equals(df) and torch.equal(cached["mix0.0000-ipc1"].images, points["mix0.0000-ipc1"].images)
    with pytest.raises(ValueError, match="other settings"):
        tradeoff_sweep(digits_train, digits_test, **{**kw, "seed": 1})
