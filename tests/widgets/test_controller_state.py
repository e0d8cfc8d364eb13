"""The controller never lies about its state: bad settings are refused on ``set()`` and change
nothing, a failing step is undone exactly, listener errors are contained, view-only settings never
restart the run, Reset clears replays, and Step ×10 goes through Play's loop (so Pause stops it)."""
import pytest
import torch

from fairdd.widgets import DistillController

FAST = dict(preset="smoke", proxy_every=2, refresh_every=2, min_refresh_s=0.0, proxy_epochs=2, per_group=6,
            device="cpu", embedding="pca")


@pytest.fixture()
def ctl(digits_train, digits_test):
    return DistillController(train=digits_train, test=digits_test, **FAST)


@pytest.fixture(scope="module")
def shared_ctl(digits_train, digits_test):
    """One controller for the refusal table: every refused setting must leave it as it was."""
    return DistillController(train=digits_train, test=digits_test, **FAST)


def _state(run):
    mom = run.optimizer.state.get(run.images, {}).get("momentum_buffer")
    return (run.images.detach().clone(), None if mom is None else mom.clone(), run.generator.get_state().clone(),
            run.iteration, len(run.history))


def _assert_same_state(a, b):
    assert torch.equal(a[0], b[0]), "images changed"
    assert (a[1] is None) == (b[1] is None) and (a[1] is None or torch.equal(a[1], b[1])), "momentum changed"
    assert torch.equal(a[2], b[2]), "generator advanced"
    assert a[3:] == b[3:], "iteration or history changed"


# ------------------------------------------------------------- validation on set()
@pytest.mark.parametrize("change, match", [
    (dict(proxy_every=0), "proxy_every"), (dict(proxy_every=-3), "proxy_every"),
    (dict(refresh_every=0), "refresh_every"), (dict(proxy_models=0), "proxy_models"),
    (dict(proxy_epochs=0), "proxy_epochs"), (dict(per_group=-1), "per_group"), (dict(per_group=0), "per_group"),
    (dict(min_refresh_s=-1.0), "min_refresh_s"), (dict(min_refresh_s=float("nan")), "min_refresh_s"),
    (dict(proxy_every=2.5), "proxy_every"), (dict(proxy_every=True), "proxy_every"),
    (dict(embedding="tsne"), "embedding"), (dict(view_class=99), "view_class"), (dict(ipc=0), "ipc"),
    (dict(compare=("best",)), "compare"), (dict(device="tpu"), "device"),
])
def test_bad_settings_are_refused_on_set_and_change_nothing(shared_ctl, change, match):
    ctl = shared_ctl
    ctl.advance(1)
    before, settings = _state(ctl.run), ctl.settings
    with pytest.raises(ValueError, match=match):
        ctl.set(**change)
    assert ctl.settings == settings
    _assert_same_state(before, _state(ctl.run))
    assert ctl.error and match in ctl.error  # shown until a setting succeeds
    assert ctl.advance(1) == 1 and match in ctl.error  # the run goes on; a step is not what failed
    ctl.set(proxy_every=ctl.settings.proxy_every)
    assert ctl.error is None


def test_bad_settings_are_refused_at_construction(digits_train, digits_test):
    with pytest.raises(ValueError, match="proxy_every"):
        DistillController(train=digits_train, test=digits_test, **{**FAST, "proxy_every": 0})


def test_rejected_combination_keeps_the_running_run(ctl):
    """Method dc then target cobra-w2 is refused; the run stays 'dc · vanilla' at its iteration."""
    ctl.set(method="dc", target="vanilla")
    ctl.advance(1)
    with pytest.raises(ValueError, match="cobra-w2"):
        ctl.set(target="cobra-w2")
    assert (ctl.settings.method, ctl.settings.target) == ("dc", "vanilla")
    assert (ctl.run.config.method, ctl.run.config.target) == ("dc", "vanilla")
    assert ctl.iteration == 1 and "cobra-w2" in ctl.error


# ----------------------------------------------------------------- transactional step
def test_failing_dm_step_is_undone_and_a_retry_equals_a_clean_run(ctl, digits_train, digits_test, monkeypatch):
    import fairdd.matching.dm as dm

    ctl.advance(1)
    before = _state(ctl.run)

    def boom(*a, **k):
        raise RuntimeError("injected failure after the network draw")

    monkeypatch.setattr(dm, "match", boom)
    assert ctl.advance(3) == 0
    _assert_same_state(before, _state(ctl.run))
    assert "injected failure" in ctl.error and not ctl.playing
    monkeypatch.undo()
    assert ctl.advance(2) == 2 and ctl.error is None
    clean = DistillController(train=digits_train, test=digits_test, **FAST)
    clean.advance(3)
    _assert_same_state(_state(clean.run), _state(ctl.run))


def test_failing_dc_step_half_way_is_undone(digits_train, digits_test, monkeypatch):
    import fairdd.matching.dc as dc

    ctl = DistillController(train=digits_train, test=digits_test, **{**FAST, "method": "dc", "target": "fairdd"})
    ctl.advance(1)
    before = _state(ctl.run)

    def boom(*a, **k):  # after the first outer loop's image update
        raise RuntimeError("injected inner-loop failure")

    monkeypatch.setattr(dc, "train_classifier", boom)
    assert ctl.advance(1) == 0
    _assert_same_state(before, _state(ctl.run))
    monkeypatch.undo()
    ctl.advance(1)
    clean = DistillController(train=digits_train, test=digits_test, **{**FAST, "method": "dc", "target": "fairdd"})
    clean.advance(2)
    _assert_same_state(_state(clean.run), _state(ctl.run))


def test_failing_proxy_evaluation_is_reported_not_raised(ctl, monkeypatch):
    import fairdd.widgets.background as background

    def boom(*a, **k):
        raise RuntimeError("injected proxy failure")

    monkeypatch.setattr(background, "train_models", boom)
    assert ctl.advance(2) == 2  # the steps themselves succeeded
    assert "injected proxy failure" in ctl.error and ctl.iteration == 2


def test_a_raising_listener_is_contained_and_reported(ctl):
    seen = []

    def bad(c, what):
        raise RuntimeError("listener broke")

    ctl.on_change(bad)
    ctl.on_change(lambda c, what: seen.append(what))
    assert ctl.advance(2) == 2
    assert "listener broke" in ctl.error and seen  # later listeners still ran


# ------------------------------------------------------------ view-only and schedule keys
def test_view_class_does_not_restart_the_run(ctl):
    """Changing the view class keeps the run's iteration and its loss history."""
    ctl.advance(4)
    history = list(ctl.run.history)
    ctl.set(view_class=1)
    assert ctl.iteration == 4 and ctl.run.history == history and len(ctl.reports) == 2
    assert ctl.frames and ctl.frames[-1].iteration == 4  # redrawn for the new class at once
    ctl.set(embedding="pca", proxy_every=3)
    assert ctl.iteration == 4


def test_reset_clears_replay(ctl):
    """Reset after Replay drops the old run's replay frames."""
    ctl.advance(4)
    ctl.replay()
    assert len(ctl.replay_frames) == 2
    ctl.reset()
    assert ctl.replay_frames == [] and ctl.iteration == 0
    ctl.advance(4)
    ctl.replay()
    ctl.set(target="fairdd")
    assert ctl.replay_frames == []


# ------------------------------------------------------------------------ compare mode
def test_compare_runs_in_lockstep(digits_train, digits_test):
    ctl = DistillController(train=digits_train, test=digits_test, **{**FAST, "target": "cobra",
                                                                      "compare": ("vanilla",)})
    assert list(ctl.runs) == ["cobra", "vanilla"]
    assert torch.equal(ctl.runs["cobra"].images, ctl.runs["vanilla"].images)  # same start
    ctl.advance(2)
    assert all(r.iteration == 2 for r in ctl.runs.values())
    assert [it for it, _ in ctl.reports_by["vanilla"]] == [2] == [it for it, _ in ctl.reports_by["cobra"]]
    assert not torch.equal(ctl.runs["cobra"].images, ctl.runs["vanilla"].images)  # the curves part
    # the primary run is the run it would be on its own
    solo = DistillController(train=digits_train, test=digits_test, **{**FAST, "target": "cobra"})
    solo.advance(2)
    assert torch.equal(solo.run.images, ctl.run.images)


def test_compare_draws_the_same_networks(digits_train, digits_test, monkeypatch):
    """Lockstep: at every step each target's network is drawn from the same random state."""
    import fairdd.matching.dm as dm

    drawn, real = [], dm.reset_parameters

    def record(net, generator):
        real(net, generator)
        drawn.append(next(net.parameters()).detach().clone())

    monkeypatch.setattr(dm, "reset_parameters", record)
    ctl = DistillController(train=digits_train, test=digits_test, **{**FAST, "target": "cobra",
                                                                      "compare": ("vanilla",), "proxy_every": 10})
    ctl.advance(3)
    assert len(drawn) == 6
    for step in range(3):
        assert torch.equal(drawn[2 * step], drawn[2 * step + 1])
    assert not torch.equal(drawn[0], drawn[2])  # a fresh draw each step


def test_compare_step_is_transactional_over_every_run(digits_train, digits_test, monkeypatch):
    import fairdd.matching.dm as dm

    ctl = DistillController(train=digits_train, test=digits_test, **{**FAST, "compare": ("vanilla",)})
    ctl.advance(1)
    before = {t: _state(r) for t, r in ctl.runs.items()}
    real = dm.match
    calls = []

    def second_fails(*a, **k):  # the first run steps, the second fails
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("injected")
        return real(*a, **k)

    monkeypatch.setattr(dm, "match", second_fails)
    assert ctl.advance(1) == 0
    for t, r in ctl.runs.items():
        _assert_same_state(before[t], _state(r))


# --------------------------------------------------------------------------- dashboard
@pytest.fixture()
def dash(digits_train, digits_test):
    from fairdd.widgets import Dashboard

    return Dashboard(train=digits_train, test=digits_test, warm_umap=False, **FAST)


def test_rejected_setting_reverts_its_widget_and_keeps_the_error(dash):
    """A refused target reverts its dropdown to the running run's (dc · vanilla) and keeps the error."""
    dash.controls["method"].value = "dc"
    dash.controls["target"].value = "vanilla"
    dash.buttons["step"].click()
    dash.controls["target"].value = "cobra-w2"
    assert dash.controls["target"].value == "vanilla" and dash.ctl.settings.target == "vanilla"
    assert "cobra-w2" in dash.error.value and "iteration 1" in dash.iteration.value


def test_step10_goes_through_plays_loop_so_pause_stops_it(dash):
    """Pause during Step ×10 stops it (Step ×10 runs through Play's loop)."""
    dash.ctl.on_change(lambda c, what: dash.pause() if what == "step" and c.iteration >= 3 else None)
    dash.buttons["step10"].click()
    assert dash.ctl.iteration == 3 and not dash.ctl.playing


def test_panels_say_which_iteration_they_show(dash):
    """During Play every panel says which iteration it shows; the lagging ones are labelled."""
    import asyncio

    dash.min_render_s = 3600.0  # throttled: the grid and loss lag while playing
    dash.ctl.on_change(lambda c, what: dash.pause() if what == "step" and c.iteration >= 5 else None)
    asyncio.run(dash.play_async())
    it = dash.ctl.iteration
    assert it == 5
    assert dash.shown["grid"] == dash.shown["loss"] == dash.shown["status"] == it  # all drawn when it stops
    assert dash.shown["heatmap"] == dash.shown["fairness"] == 4  # last proxy evaluation, labelled
    assert "proxy @ 4" in dash.readout.value and "lag" in dash.panel_note.value


def test_reset_after_replay_disables_the_slider(dash):
    """Reset after Replay disables the replay slider and drops the frames."""
    dash.step(4)
    dash.buttons["replay"].click()
    assert not dash.replay_slider.disabled
    dash.buttons["reset"].click()
    assert dash.replay_slider.disabled and dash.ctl.replay_frames == []


def test_view_class_does_not_restart_from_the_dashboard(dash):
    """Changing the view class from the dashboard keeps the run's iteration and history."""
    dash.step(2)
    dash.controls["view_class"].value = 2
    assert dash.ctl.iteration == 2 and dash.ctl.run.history and "iteration 2" in dash.iteration.value


def test_compare_mode_from_the_dashboard(dash):
    dash.controls["compare"].value = ("vanilla",)
    assert list(dash.ctl.runs) == ["cobra", "vanilla"] and len(dash.panels["grid"].body.children) == 2
    dash.step(2)
    assert dash.shown["fairness"] == 2


def test_workshop_mode_hides_cpu_traps_and_uses_checkboxes(digits_train, digits_test):
    from fairdd.widgets import Dashboard

    dash = Dashboard(warm_umap=False, workshop=True, dataset="colored-digits", n_groups=4, **FAST)
    assert "paper" not in dash.controls["preset"].options
    if not torch.cuda.is_available():
        assert list(dash.controls["method"].options) == ["dm"]
    assert "groups" not in dash.controls and len(dash.group_boxes) == 4
    dash.step(1)
    dash.group_boxes["red"].value = False
    dash.apply_groups.click()
    assert dash.ctl.settings.groups == ("green", "blue", "yellow") and dash.ctl.iteration == 0
    assert dash.ctl.train.group_names == ("green", "blue", "yellow")  # the data follows the boxes
    assert list(dash.group_boxes) == ["red", "green", "blue", "yellow"]  # the whole palette stays choosable
    # datasets passed in: their groups are shown, not chosen (unticking changes nothing)
    given = Dashboard(train=digits_train, test=digits_test, warm_umap=False, workshop=True, **FAST)
    assert all(b.disabled for b in given.group_boxes.values())
    given.group_boxes["red"].value = False
    assert given.group_boxes["red"].value and given.ctl.settings.groups is None
    assert "majority share" in dash.controls["bias"].description


# ------------------------------------------------------------------- staged edits, replay, compare
def test_group_edits_are_staged_and_applied_once(digits_train, digits_test):
    """Group boxes are staged: ticking restarts nothing; Apply restarts the run once."""
    from fairdd.widgets import Dashboard

    dash = Dashboard(warm_umap=False, workshop=True, dataset="colored-digits", n_groups=4, **FAST)
    restarts = []
    dash.ctl.on_change(lambda c, what: restarts.append(what) if what == "reset" else None)
    dash.step(1)
    dash.group_boxes["red"].value = False
    dash.group_boxes["blue"].value = False
    assert restarts == [] and dash.ctl.iteration == 1 and dash.ctl.settings.groups is None  # staged only
    assert not dash.apply_groups.disabled
    dash.group_boxes["blue"].value = True  # an edit undone is still staged, not applied
    dash.apply_groups.click()
    assert restarts == ["reset"] and dash.ctl.settings.groups == ("green", "blue", "yellow")
    assert dash.apply_groups.disabled


def test_replay_survives_class_and_projection_switches(ctl):
    """Class and projection switches keep every recorded set, so a replay still has them all (framed when it asks:
    a switch frames only the set on screen)."""
    ctl.advance(6)
    recorded = [f.iteration for f in ctl.frames]
    ctl.set(view_class=3)
    assert [f.iteration for f in ctl.frames] == recorded[-1:]
    assert [f.iteration for f in ctl.replay()] == recorded
    syn = ctl.frames[-1].high_dim[len(ctl.frames[-1].real_groups):][
        [k == "synthetic" for k in ctl.frames[-1].extra_kind]]
    assert syn.shape[0] == ctl.settings.ipc  # the ◆ of class 3 now
    ctl.set(view_class=0)
    assert len(ctl.replay()) == len(recorded)


def test_compare_mode_shows_both_runs_everywhere(dash):
    """Compare mode shows both runs in the status line, heatmap and embedding (vanilla's ◆ drawn too)."""
    dash.controls["compare"].value = ("vanilla",)
    dash.step(2)
    assert "<b>cobra</b>" in dash.readout.value and "<b>vanilla</b>" in dash.readout.value
    heat = dash.panels["heatmap"].body.spec["panels"]
    assert [p["title"] for p in heat] == ["cobra @ 2", "vanilla @ 2"]
    emb = dash.panels["embedding"].body.spec
    names = [l.get("name") for l in emb["panels"][0]["layers"]]
    assert "synthetic" in names and "synthetic:vanilla" in names
    assert any(item["label"] == "vanilla ◆" for item in emb["legend"])
    assert emb["panels"][0]["layers"][-1]["shape"] == "star"  # the barycenter on top of every point


def test_proxy_every_is_a_view_setting_of_the_dashboard(dash):
    dash.step(1)
    dash.controls["proxy_every"].value = 3
    assert dash.ctl.settings.proxy_every == 3 and dash.ctl.iteration == 1  # applies from the next step
    dash.step(2)
    assert dash.ctl.reports[-1][0] == 3


def test_the_fairness_curve_shows_its_noise_band_and_numbers_on_hover(dash):
    dash.step(4)
    right = dash.panels["fairness"].body.spec["panels"][1]["layers"]
    band = next(l for l in right if l["kind"] == "band")
    assert band["x"] == [0, 2, 4] and all(lo <= hi for lo, hi in zip(band["lo"], band["hi"]))
    eod = next(l for l in right if l["kind"] == "line" and not l.get("dash"))
    assert f"EOD {dash.ctl.report.eod:.1f}" in eod["tips"][-1] and "noise band" in eod["tips"][-1]


def test_presenter_layout_enlarges_every_panel(dash):
    small = dash.panels["fairness"].body.spec["font"]
    dash.presenter_toggle.value = True
    assert "fairdd-presenter" in dash.widget._dom_classes
    assert all(p.body.spec.get("font", 99) > small for n, p in dash.panels.items() if n != "grid")


def test_background_proxy_never_blocks_a_step(digits_train, digits_test):
    """With a background executor a step returns before the proxy evaluation it starts finishes."""
    import asyncio
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from fairdd.widgets import Dashboard

    release = threading.Event()

    async def run():
        dash = Dashboard(train=digits_train, test=digits_test, warm_umap=False, **FAST)
        assert dash.ctl.background is not None and dash.ctl.evaluating == 0  # the page shows before it
        while dash.ctl.evaluating is not None:
            await asyncio.sleep(0.05)
        dash.ctl.background = ThreadPoolExecutor(1)  # a thread, so that the test can hold its job
        real = dash.ctl._proxy_job

        def held(*a, **k):  # a slow evaluation
            job = real(*a, **k)
            return lambda *b: (release.wait(60), job(*b))[1]
        dash.ctl._proxy_job = held
        await dash.play_async(3)
        assert dash.ctl.iteration == 3 and dash.ctl.evaluating is not None  # stepped on meanwhile
        assert "evaluating proxy @" in dash.readout.value
        release.set()
        for _ in range(300):
            await asyncio.sleep(0.05)
            if dash.ctl.evaluating is None:
                break
        return dash

    dash = asyncio.run(run())
    assert dash.ctl.reports and dash.ctl.error is None


def test_panels_are_one_list_each_declaring_its_inputs(dash):
    from fairdd.widgets.panels import Panel, panels

    found = panels()
    assert [c.name for c in found] == list(dash.panels) and len(found) == 5
    events = {"reset", "step", "proxy", "embedding", "view", "replay", "pick", "settings"}
    assert all(issubclass(c, Panel) and c.inputs <= events for c in found)


def test_a_view_switch_redraws_the_embedding_at_the_same_iteration(dash):
    """The embedding panel keyed its redraw on the iteration only: a class switch at the same iteration
    left the old class on screen."""
    dash.step(2)
    dash.controls["view_class"].value = 2
    assert "class '2' @ 2" in dash.panels["embedding"].caption.value
    dash.controls["view_class"].value = 0
    assert "class '0' @ 2" in dash.panels["embedding"].caption.value
