"""Fault class 7: the dashboard controller never lies.

The rules that close it (``fairdd/widgets/controller.py``): a controller built from given data records
its data as ``"given"`` and refuses every data setting by name (nothing to rebuild, so nothing is
recorded); errors are kept per source (settings, step, proxy, embedding, replay, view) and an error
stays until the action that failed succeeds, or a new run replaces the old; list-valued settings pass
through one normaliser that accepts a list of distinct names or refuses by name; a background proxy
evaluation of an old run is never recorded as the new run's.
"""
from __future__ import annotations

import concurrent.futures

import pytest

from fairdd.widgets import DistillController

FAST = dict(preset="smoke", proxy_every=2, refresh_every=2, min_refresh_s=0.0, proxy_epochs=1, proxy_models=1,
            per_group=4, device="cpu", embedding="pca")


@pytest.fixture()
def ctl(digits_train, digits_test):
    return DistillController(train=digits_train, test=digits_test, **FAST)


@pytest.mark.parametrize("change", [dict(dataset="colored-fashion-mnist"), dict(bias=0.5), dict(severity=2),
                                    dict(mode="background"), dict(n_groups=3), dict(groups=["red"])])
def test_given_data_refuses_data_settings_and_records_nothing(ctl, change):
    ctl.advance(1)
    before = ctl.settings
    with pytest.raises(ValueError, match=f"given data.*{next(iter(change))}"):
        ctl.set(**change)
    assert ctl.settings == before and ctl.iteration == 1  # not recorded, not restarted
    assert next(iter(change)) in ctl.error


def test_given_data_refuses_data_settings_at_construction(digits_train, digits_test):
    with pytest.raises(ValueError, match="given data.*bias"):
        DistillController(train=digits_train, test=digits_test, bias=0.6, **FAST)


def test_given_data_is_recorded_as_given_not_as_the_default_dataset(ctl, digits_train):
    s = ctl.settings
    assert (s.dataset, s.bias, s.severity, s.n_groups) == ("given", None, None, digits_train.n_groups)


def test_train_without_test_is_refused_not_silently_replaced(digits_train):
    with pytest.raises(ValueError, match="train and test must be given together"):
        DistillController(train=digits_train, **FAST)


def test_a_proxy_error_stays_after_a_good_step_until_a_proxy_evaluation_succeeds(ctl, monkeypatch):
    import fairdd.widgets.background as background

    real = background.train_models

    def boom(*a, **k):
        raise RuntimeError("injected proxy failure")

    monkeypatch.setattr(background, "train_models", boom)
    assert ctl.advance(2) == 2 and "injected proxy failure" in ctl.error
    monkeypatch.setattr(background, "train_models", real)
    assert ctl.advance(1) == 1 and "injected proxy failure" in ctl.error  # iteration 3: no proxy due
    assert ctl.advance(1) == 1 and ctl.error is None  # iteration 4: the proxy evaluation succeeded


def test_a_step_error_stays_after_a_good_setting_until_a_step_succeeds(ctl, monkeypatch):
    import fairdd.matching.dm as dm

    monkeypatch.setattr(dm, "match", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("injected step failure")))
    assert ctl.advance(1) == 0 and "injected step failure" in ctl.error
    monkeypatch.undo()
    ctl.set(refresh_every=3)  # a schedule setting succeeds: the step still has not
    assert "injected step failure" in ctl.error
    assert ctl.advance(1) == 1 and ctl.error is None


def test_a_refused_setting_stays_after_a_step_until_a_setting_succeeds(ctl):
    with pytest.raises(ValueError, match="proxy_models"):
        ctl.set(proxy_models=0)
    assert ctl.advance(1) == 1 and "proxy_models" in ctl.error
    ctl.set(proxy_models=1)
    assert ctl.error is None


def test_a_replay_error_stays_until_a_replay_succeeds(ctl):
    with pytest.raises(ValueError, match="at least 2 recorded frames"):
        ctl.replay()
    ctl.advance(2)
    assert "replay" in ctl.error  # stepping is not replaying
    ctl.advance(2)
    ctl.replay()
    assert ctl.error is None


@pytest.mark.parametrize("change, match", [
    (dict(compare="vanilla"), "compare must be a list of target names, not one string"),
    (dict(compare={"vanilla"}), "compare must be a list of target names .*set"),
    (dict(compare=["vanilla", "vanilla"]), r"compare names each target once; got \['vanilla'\]"),
    (dict(compare=[3]), r"compare must hold target names \(strings\); got \[3\]"),
    (dict(compare=["best"]), r"compare: unknown target\(s\) \['best'\]"),
    (dict(groups="red"), "groups must be a list of group names, not one string"),
    (dict(groups=[]), "groups must name at least one group"),
    (dict(groups=(0, 1)), r"groups must hold group names \(strings\); got \[0, 1\]"),
])
def test_list_valued_settings_are_refused_by_name(change, match):
    from fairdd.widgets.controller import Settings, normalise_lists, validate_settings

    with pytest.raises(ValueError, match=match):
        validate_settings(Settings(**normalise_lists(change)))


def test_list_valued_settings_are_accepted_as_lists(ctl):
    ctl.set(compare=["vanilla"])  # a list, as a user types it: stored as a tuple of names
    assert ctl.settings.compare == ("vanilla",) and list(ctl.runs) == ["cobra", "vanilla"]
    ctl.set(compare=None)  # None = no comparison
    assert ctl.settings.compare == () and list(ctl.runs) == ["cobra"]


def test_a_late_background_proxy_result_is_not_recorded_for_a_new_run(ctl):
    gate = concurrent.futures.Future()
    ctl.background = type("Held", (), {"submit": lambda self, fn, *a: gate})()  # the job never finishes
    ctl.advance(2)
    assert ctl.evaluating == 2 and ctl.reports == []
    ctl.reset()
    gate.set_result(((), {"cobra": object()}, 1.0))  # the old run's result arrives after the reset
    assert ctl.collect() is False and ctl.reports == [] and ctl.evaluating is None
