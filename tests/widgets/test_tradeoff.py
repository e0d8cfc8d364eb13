"""The trade-off explorer: the mixed barycenter's closed form, the Pareto front and the cached sweep."""
import pytest
import torch

from fairdd.targets import get_strategy
from fairdd.widgets.tradeoff import (
    MixedBarycenter,
    pareto_front,
    plot_tradeoff,
    target_for,
    tradeoff_sweep,
)


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
    # a tie is beaten by nobody: both stay; a point equal on one axis and worse on the other is beaten
    assert pareto_front([50, 50, 50], [10, 10, 12]).tolist() == [0, 1]


def test_sweep_is_cached_and_refuses_other_settings(digits_train, digits_test, tmp_path, monkeypatch):
    kw = dict(mixes=(0.0, 1.0), ipcs=(1,), preset="smoke", n_models=1, device="cpu", cache=tmp_path / "sweep")
    df, points = tradeoff_sweep(digits_train, digits_test, **kw)
    assert df[["mix", "ipc", "target"]].values.tolist() == [[0.0, 1, "vanilla"], [1.0, 1, "cobra"]]
    assert all(0 <= v <= 100 for v in df["eod"]) and len(points) == 2
    assert points["mix1.0000-ipc1"].images.shape[0] == digits_train.n_classes
    assert df["eod_lo"].isna().all()  # one network: no t-interval, said as NaN (not a zero-width bar)

    from fairdd.distill import Distiller

    def no_work(self, **k):
        raise AssertionError("a cached point was distilled again")

    monkeypatch.setattr(Distiller, "run", no_work)
    again, cached = tradeoff_sweep(digits_train, digits_test, **kw)
    assert again.equals(df) and torch.equal(cached["mix0.0000-ipc1"].images, points["mix0.0000-ipc1"].images)
    with pytest.raises(ValueError, match="other settings"):
        tradeoff_sweep(digits_train, digits_test, **{**kw, "seed": 1})


def test_the_ends_are_the_real_vanilla_and_cobra_runs(digits_train, digits_test):
    """λ = 0 is vanilla's run and λ = 1 COBRA's, to the bit (their own configurations: distance, warm start)."""
    import fairdd

    assert [target_for(m) for m in (0.0, 0.3, 1.0)] == ["vanilla", "cobra-mix", "cobra"]
    _, points = tradeoff_sweep(digits_train, digits_test, mixes=(0.0, 0.5, 1.0), ipcs=(1,), preset="smoke",
                               n_models=2, device="cpu")
    for key, target in (("mix0.0000-ipc1", "vanilla"), ("mix1.0000-ipc1", "cobra")):
        alone = fairdd.distill(digits_train, target=target, ipc=1, preset="smoke", seed=0, device="cpu")
        assert torch.equal(points[key].images, alone.images), target
        assert points[key].row["target"] == target
    assert not torch.equal(points["mix0.5000-ipc1"].images, points["mix0.0000-ipc1"].images)
    row = points["mix0.5000-ipc1"].row
    assert row["eod_lo"] <= row["eod"] <= row["eod_hi"] and row["accuracy_lo"] <= row["accuracy"] <= row["accuracy_hi"]


def test_plot_draws_the_t_interval_and_the_front():
    import matplotlib
    import pandas as pd

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = pd.DataFrame({"mix": [0.0, 0.5, 1.0], "ipc": [1, 1, 1], "target": ["vanilla", "cobra-mix", "cobra"],
                       "accuracy": [60.0, 55.0, 50.0], "eod": [40.0, 20.0, 30.0],
                       "accuracy_lo": [58.0, 50.0, 45.0], "accuracy_hi": [62.0, 60.0, 55.0],
                       "eod_lo": [35.0, 10.0, 25.0], "eod_hi": [45.0, 30.0, 35.0]})
    fig, ax = plt.subplots()
    plot_tradeoff(ax, df)
    front = next(line for line in ax.get_lines() if line.get_label() == "Pareto front")
    assert front.get_xdata().tolist() == [55.0, 60.0]  # (50, 30) is beaten by (55, 20)
    bars = [c for c in ax.collections if len(c.get_segments()) == 3]
    spans = sorted(abs(s[1][1] - s[0][1]) for c in bars for s in c.get_segments())
    assert 20.0 in spans and 10.0 in spans  # the EOD bars span the t-interval (10 → 30 and 35 → 45)
    texts = [t.get_text() for t in ax.texts]
    assert "λ=0 (vanilla)" in texts and "λ=1 (COBRA)" in texts
    plt.close(fig)


def test_the_mix_is_a_registered_target_recorded_as_itself(digits_train, digits_test):
    """A mixed point is the registered target cobra-mix, recorded as itself with its λ, configured like
    cobra, and the same images as distilling cobra-mix alone."""
    import fairdd
    from fairdd.config import distill_config
    from fairdd.targets import STRATEGIES, CobraMix

    assert STRATEGIES["cobra-mix"] is CobraMix is MixedBarycenter
    mixed, cobra = distill_config(target="cobra-mix", preset="demo", mix=0.25), distill_config(preset="demo")
    assert (mixed.target, mixed.mix) == ("cobra-mix", 0.25)
    assert (mixed.distance, mixed.warm_start_epochs) == (cobra.distance, cobra.warm_start_epochs)  # cobra's values
    with pytest.raises(ValueError, match=r"mix is used only by the targets \['cobra-mix'\]"):
        distill_config(target="cobra", mix=0.5)
    with pytest.raises(ValueError, match="mix"):
        distill_config(target="cobra-mix", mix=1.5)
    _, points = tradeoff_sweep(digits_train, digits_test, mixes=(0.5,), ipcs=(1,), preset="smoke", n_models=1,
                               device="cpu")
    alone = fairdd.distill(digits_train, target="cobra-mix", mix=0.5, ipc=1, preset="smoke", seed=0, device="cpu")
    assert torch.equal(points["mix0.5000-ipc1"].images, alone.images)
    assert (alone.config["target"], alone.config["mix"]) == ("cobra-mix", 0.5)
