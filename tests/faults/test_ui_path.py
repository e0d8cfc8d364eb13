"""Fault class: slow work on the UI path (the controls wait for a step, a proxy evaluation or a redraw).

The rules that close it (``fairdd/widgets/dashboard.py``, ``fairdd/widgets/background.py``): Play's
steps run in a step thread while the UI thread draws the newest state (controller events from the step
thread are queued and drawn on the UI thread, each panel once however many arrived); Pause shows the
controls idle at once, and every later action first waits for the step still in flight (``_settle``),
so two loops never step at once; proxy evaluations run in worker processes of lower priority and one
PyTorch thread; a new run's first proxy evaluation is a quick one, labelled, refined by a full one of
the same iteration.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading

import pytest
import torch

from fairdd.widgets import DistillController

FAST = dict(preset="smoke", proxy_every=50, refresh_every=50, min_refresh_s=0.0, proxy_epochs=2, proxy_models=2,
            per_group=4, device="cpu", embedding="pca")


@pytest.fixture()
def ctl(digits_train, digits_test):
    c = DistillController(train=digits_train, test=digits_test, **FAST)
    c.refresh_proxy(emit=False)  # the views exist: the tests below are about steps
    c.refresh_embedding(emit=False)
    return c


class Gate:
    """Holds each step of ``ctl`` until released; counts steps running at once."""

    def __init__(self, ctl) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        self.running = self.most = 0
        self.threads: list = []
        real, lock = ctl.step, threading.Lock()

        def step():
            with lock:
                self.running += 1
                self.most = max(self.most, self.running)
            self.threads.append(threading.current_thread())
            self.entered.set()
            try:
                self.release.wait(10)
                return real()
            finally:
                with lock:
                    self.running -= 1
        ctl.step = step


def _dashboard(ctl):
    from fairdd.widgets import Dashboard

    ctl.background = concurrent.futures.ThreadPoolExecutor(1)  # kept: these tests are about the steps
    return Dashboard(controller=ctl, warm_umap=False)


async def _until(event: threading.Event) -> None:
    for _ in range(500):
        if event.is_set():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the step never started")


def test_pause_shows_the_controls_idle_at_once_and_undoes_the_step_in_flight(ctl):
    async def main():
        dash, gate = _dashboard(ctl), Gate(ctl)
        images = ctl.run.images.detach().clone()
        task = dash.play()
        await _until(gate.entered)
        dash.pause()  # the step is still held: nothing may wait for it
        idle = (not dash.buttons["step"].disabled, dash.busy.value, ctl.iteration)
        gate.release.set()
        await task
        assert torch.equal(ctl.run.images.detach(), images) and len(ctl.run.history) == 0
        return idle, ctl.iteration

    (step_enabled, busy, during), after = asyncio.run(main())
    assert step_enabled and busy == "" and during == 0
    assert after == 0  # the step in flight is undone: nothing moves after Pause shows idle


def test_steps_run_off_the_ui_thread_and_every_panel_draws_on_it(ctl, monkeypatch):
    from fairdd.widgets.panels import Panel

    drawn = []
    real = Panel.update
    monkeypatch.setattr(Panel, "update", lambda self, **kw: drawn.append(threading.current_thread()) or real(self, **kw))

    async def main():
        dash, gate = _dashboard(ctl), Gate(ctl)
        gate.release.set()
        drawn.clear()
        await dash.step(3)
        return threading.current_thread(), gate.threads

    ui, stepped = asyncio.run(main())
    assert len(stepped) == 3 and all(t is not ui for t in stepped)
    assert drawn and all(t is ui for t in drawn)


def test_a_step_pressed_just_after_pause_never_runs_two_loops_at_once(ctl):
    async def main():
        dash, gate = _dashboard(ctl), Gate(ctl)
        task = dash.play()
        await _until(gate.entered)
        dash.pause()
        threading.Timer(0.3, gate.release.set).start()  # the held step ends while Step waits for it
        second = dash.step(1)
        await asyncio.gather(task, second)
        return gate.most, ctl.iteration

    most, iteration = asyncio.run(main())
    assert most == 1 and iteration == 1  # the held step undone by Pause, then the one Step asked for


def test_a_controller_event_from_the_step_thread_is_drawn_later_on_the_ui_thread(ctl):
    async def main():
        dash = _dashboard(ctl)
        shown = dash.shown["status"]
        ctl.step()
        worker = threading.Thread(target=ctl._emit, args=("step",))
        worker.start()
        worker.join()
        queued = (dash.shown["status"], len(dash._deferred))
        dash._flush()
        return shown, queued, dash.shown["status"]

    before, (after_emit, queued), after_flush = asyncio.run(main())
    assert before == 0 and after_emit == 0 and queued == 1 and after_flush == 1


def test_proxy_evaluations_run_in_a_process_of_lower_priority_with_one_thread():
    from fairdd.widgets.background import NICE, proxy_executor, worker_info

    with proxy_executor() as pool:
        info = pool.submit(worker_info).result(timeout=120)
    assert info["pid"] != os.getpid()
    assert info["nice"] >= min(19, os.nice(0) + NICE) and info["threads"] == 1
    # Linux: idle class (a niced worker still doubled a 2-core step's time); elsewhere the nice value alone
    assert info["idle"] is (True if hasattr(os, "SCHED_IDLE") else None)


def test_the_dashboard_in_an_event_loop_evaluates_in_worker_processes(digits_train, digits_test):
    from concurrent.futures import ProcessPoolExecutor

    from fairdd.widgets import Dashboard

    async def main():
        dash = Dashboard(train=digits_train, test=digits_test, warm_umap=False, **FAST)
        ctl = dash.ctl
        await asyncio.wrap_future(ctl._pending[2])  # the first (quick) evaluation, in a worker process
        ctl.collect()
        ctl.background.shutdown(wait=True, cancel_futures=True)
        return ctl

    ctl = asyncio.run(main())
    assert isinstance(ctl.background, ProcessPoolExecutor)
    assert ctl.status()["proxy_quick"] and ctl.report.n_models == 1 and len(ctl.proxy_nets) == 1
    assert ctl.frames and ctl.frames[-1].iteration == 0  # its network embeds the view


def test_the_first_proxy_of_a_new_run_is_quick_labelled_then_refined(digits_train, digits_test):
    from fairdd.widgets import Dashboard

    c = DistillController(train=digits_train, test=digits_test, **FAST)
    c.background = concurrent.futures.ThreadPoolExecutor(1)
    c.ensure_views()
    c._pending[2].result(timeout=300)
    assert c.collect() and c.status()["proxy_quick"] and c.report.n_models == 1
    assert "quick proxy @ 0" in Dashboard._readout(c.status())
    assert c.evaluating == 0  # the full one of the same iteration, started at once
    c._pending[2].result(timeout=300)
    assert c.collect() and not c.status()["proxy_quick"]
    assert c.report.n_models == FAST["proxy_models"] and [it for it, _ in c.reports] == [0]
    assert "quick proxy @" not in Dashboard._readout(c.status())


def test_a_dropped_job_stops_in_its_worker_and_a_later_one_runs(digits_train, digits_test):
    # an evaluation whose result is no longer waited for ran on to its end, on the core the steps wanted
    from fairdd.evaluate import random_subset
    from fairdd.widgets.background import Dropped, evaluate_sets, proxy_executor, submit, wanted

    sets = {"random": random_subset(digits_train, ipc=5, seed=0)}
    job = dict(models=3, epochs=300, preset="smoke", seed=0, device="cpu", primary="random")
    with proxy_executor(workers=1) as pool:
        first = submit(pool, evaluate_sets, sets, digits_test, **job, ticket=pool.ticket())
        pool.drop_all()
        later = submit(pool, evaluate_sets, sets, digits_test, **{**job, "models": 1, "epochs": 2},
                       ticket=pool.ticket())
        with pytest.raises(Dropped, match="was dropped"):
            first.result(timeout=300)
        nets, reports, _ = later.result(timeout=300)
    assert len(nets) == 1 and reports["random"].n_models == 1
    assert wanted(None) and wanted(1)  # here, outside a worker, every job is wanted


def test_an_evaluation_the_run_left_is_dropped_in_its_worker(digits_train, digits_test):
    # a refine given way to a newer iteration's evaluation, and an evaluation of a run restarted, stop
    from fairdd.widgets.background import Dropped, proxy_executor

    c = DistillController(train=digits_train, test=digits_test, **{**FAST, "proxy_every": 2, "proxy_epochs": 400,
                                                                    "proxy_models": 3})
    with proxy_executor() as pool:
        c.background = pool
        c.ensure_views()
        c._pending[2].result(timeout=300)  # the quick one of iteration 0
        assert c.collect() and c._pending[3] == "refine"
        refine = c._pending[2]
        c.advance(2)  # iteration 2's evaluation starts; the refine of 0 gives way
        assert c.evaluating == 2
        with pytest.raises(Dropped):
            refine.result(timeout=300)
        scheduled = c._pending[2]
        c.reset()  # a new run: the old run's evaluation stops
        with pytest.raises(Dropped):
            scheduled.result(timeout=300)
        c.ensure_views()  # the new run's first
        c._pending[2].result(timeout=300)
        assert c.collect() and c.report is not None and c.iteration == 0


def test_a_proxy_worker_ends_when_its_kernel_is_killed():
    import signal
    import subprocess
    import sys
    import time

    script = ("import os, signal\nfrom fairdd.widgets.background import proxy_executor, worker_info\n"
              "pool = proxy_executor()\nprint(pool.submit(worker_info).result()['pid'], flush=True)\n"
              "os.kill(os.getpid(), signal.SIGKILL)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == -signal.SIGKILL, out.stderr
    worker = int(out.stdout.split()[0])
    for _ in range(100):
        try:
            with open(f"/proc/{worker}/stat") as f:
                if f.read().split(") ")[1].startswith("Z"):
                    return
        except FileNotFoundError:
            return
        time.sleep(0.1)
    os.kill(worker, signal.SIGKILL)
    raise AssertionError(f"the worker {worker} outlived its killed parent")


def test_the_dataset_file_check_runs_after_the_page_shows_and_labels_later(monkeypatch):
    import fairdd.widgets.dashboard as dashboard
    from fairdd.data import Availability

    release = threading.Event()

    def slow_check():
        release.wait(30)
        return {"colored-mnist": Availability("colored-mnist", False, "its files are not here")}
    monkeypatch.setattr(dashboard, "dataset_availability", slow_check)
    c = DistillController(dataset="colored-digits", n_groups=4, **FAST)
    c.background = concurrent.futures.ThreadPoolExecutor(1)

    async def main():
        dash = dashboard.Dashboard(controller=c, warm_umap=False)  # returns while the check is held
        before = [label for label, _ in dash.controls["dataset"].options]
        release.set()
        for _ in range(200):
            await asyncio.sleep(0.05)
            if dash._availability is None:
                break
        return before, [label for label, _ in dash.controls["dataset"].options], dash

    before, after, dash = asyncio.run(main())
    assert "colored-mnist" in before and not any("unavailable" in b for b in before)
    assert "colored-mnist — unavailable (see details)" in after and dash.controls["dataset"].value == "colored-digits"
    assert "its files are not here" in dash.unavailable_note.value


class Manual:
    """An executor whose jobs run only when the test says so (``run(k)``)."""

    def __init__(self) -> None:
        self.jobs: list = []

    def submit(self, fn, *args):
        self.jobs.append((fn, args, concurrent.futures.Future()))
        return self.jobs[-1][2]

    def run(self, k: int) -> None:
        fn, args, future = self.jobs[k]
        future.set_result(fn(*args))


def _evaluated_at_0(c) -> None:
    """Start, run and take in the quick and the full evaluation of iteration 0 (made while idle; ``Manual`` pool)."""
    c.ensure_views()
    for k in (0, 1):
        c.background.run(k)
        c.collect()


@pytest.fixture()
def manual(digits_train, digits_test):
    c = DistillController(train=digits_train, test=digits_test, **{**FAST, "proxy_every": 1, "proxy_epochs": 1})
    c.background = Manual()
    return c


def test_a_step_during_the_refine_of_the_quick_proxy_does_not_skip_its_scheduled_evaluation(manual):
    c, pool = manual, manual.background
    c.ensure_views()
    pool.run(0)
    assert c.collect() and c.evaluating == 0 and len(pool.jobs) == 2  # the refine of iteration 0
    c.advance(1)  # iteration 1: its evaluation is due while the refine runs
    assert c.evaluating == 1 and len(pool.jobs) == 3
    pool.run(1)  # the refine ends late: no longer waited for
    assert c.collect() is False
    pool.run(2)
    assert c.collect() and [it for it, _ in c.reports] == [0, 1] and not c.status()["proxy_quick"]


def test_a_scheduled_evaluation_skipped_while_another_ran_is_caught_up(manual):
    c, pool = manual, manual.background
    c.ensure_views()
    pool.run(0)
    c.collect()
    pool.run(1)
    c.collect()  # iteration 0, full
    c.advance(1)
    assert c.evaluating == 1
    c.advance(1)  # iteration 2 is due while 1 runs: skipped
    assert c.evaluating == 1 and len(pool.jobs) == 3
    pool.run(2)
    assert c.collect() and c.evaluating == 2  # caught up at once, not at the next multiple


class Watched(list):
    """A list that records its length after every change (what another thread could read in between)."""

    def __init__(self, *a) -> None:
        super().__init__(*a)
        self.lengths: list = []

    def append(self, x) -> None:
        super().append(x)
        self.lengths.append(len(self))

    def pop(self, *a):
        out = super().pop(*a)
        self.lengths.append(len(self))
        return out

    def __setitem__(self, k, v) -> None:
        super().__setitem__(k, v)
        self.lengths.append(len(self))


def test_a_refined_proxy_result_never_leaves_the_series_empty_in_between(manual):
    c, pool = manual, manual.background
    c.ensure_views()
    pool.run(0)
    c.collect()  # the quick one of iteration 0
    c.reports_by[c.settings.target] = watched = Watched(c.reports)
    pool.run(1)
    c.collect()  # its refine replaces it
    assert watched.lengths and min(watched.lengths) == 1 and not c.status()["proxy_quick"]


def test_steps_taken_before_the_first_proxy_networks_still_become_replay_frames(digits_train, digits_test):
    """The first proxy runs in a worker: steps taken before its networks come keep their synthetic sets,
    embedded when the networks arrive (the one on screen at once, the others when Replay asks), so Replay has a
    frame for every refresh from iteration 0 on."""
    c = DistillController(train=digits_train, test=digits_test,
                          **{**FAST, "proxy_every": 10, "refresh_every": 1, "proxy_epochs": 1})
    pool = c.background = Manual()
    c.ensure_views()  # the quick proxy of iteration 0 is queued, not run
    c.advance(3)
    assert c.frames == [] and [it for it, _ in c.image_history] == [0, 1, 2, 3]
    pool.run(0)
    assert c.collect()
    assert [f.iteration for f in c.frames] == [3] and len(c.replay()) == 4
    assert [f.iteration for f in c.frames] == [0, 1, 2, 3]


UMAP_IN_A_WORKER = """
import asyncio, os, sys
from fairdd.widgets import Dashboard

async def main():
    dash = Dashboard(warm_umap=True, dataset="colored-digits", n_groups=4, **{fast!r})
    for _ in range(1200):  # the warm-up (numba) runs in the layout worker; the toggle waits for it
        await asyncio.sleep(0.1)
        if not dash.controls["embedding"].disabled and dash.ctl.report is not None:
            break
    dash.controls["embedding"].value = "umap"
    frame = dash.ctl.frames[-1]
    dash.ctl.advance(2)
    frames = dash.ctl.replay()
    where = dash.ctl.layouts.submit(os.getpid).result()
    print(frame.kind, int(frame.real_xy.size), bool(frame.real_xy.std() > 0), len(frames), where != os.getpid(),
          "umap" in sys.modules, "numba" in sys.modules, flush=True)
    os._exit(0)

if __name__ == "__main__":
    asyncio.run(main())
"""


def test_umap_compiles_and_lays_out_in_the_layout_worker_never_in_the_kernel(tmp_path):
    # numba's compilation (~10 s) and each layout held the kernel's GIL: steps and clicks waited behind them
    import subprocess
    import sys

    script = tmp_path / "umap_worker.py"
    script.write_text(UMAP_IN_A_WORKER.format(fast={**FAST, "refresh_every": 1, "min_refresh_s": 0.0}))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    kind, size, spread, n_frames, elsewhere, umap_here, numba_here = out.stdout.split()
    assert (kind, elsewhere, umap_here, numba_here) == ("umap", "True", "False", "False"), out.stdout
    assert int(size) > 0 and spread == "True" and int(n_frames) >= 2


def test_a_proxy_result_that_arrives_while_idle_is_taken_in_off_the_ui_thread():
    # collect() refreshes the embedding through the proxy network: on the UI thread it blocked clicks behind it
    import re

    from fairdd.widgets.dashboard import Dashboard

    c = DistillController(dataset="colored-digits", n_groups=4, **FAST)
    c.background = concurrent.futures.ThreadPoolExecutor(1)
    threads, real = [], c.collect
    c.collect = lambda: threads.append(threading.current_thread().name) or real()

    async def main():
        dash = Dashboard(controller=c, warm_umap=False)
        for _ in range(1200):
            await asyncio.sleep(0.05)
            if "proxy @ 0:" in re.sub("<[^>]+>", "", dash.readout.value):
                return dash
        raise AssertionError("no proxy result was shown")
    asyncio.run(main())
    assert threads and all(name.startswith("fairdd-step") for name in threads), threads
    assert c.frames and c.report is not None


def test_a_dashboard_whose_worker_processes_cannot_start_works_in_its_own_process():
    # a script read from stdin cannot be re-imported by a spawned worker: the pool breaks at once, and
    # Dashboard(...) raised BrokenProcessPool from its first proxy evaluation
    import re
    import subprocess
    import sys

    script = ("import asyncio, os, re\nfrom fairdd.widgets import Dashboard\n"
              "async def main():\n"
              f"    dash = Dashboard(dataset='colored-digits', n_groups=4, **{FAST!r})\n"
              "    for _ in range(1200):\n"
              "        await asyncio.sleep(0.1)\n"
              "        if not dash.controls['embedding'].disabled:\n"
              "            break\n"
              "    dash.controls['embedding'].value = 'umap'\n"
              "    print(re.sub('<[^>]+>', '', dash.readout.value), '|', dash.ctl.frames[-1].kind, '|',\n"
              "          dash.ctl.background, dash.ctl.layouts, flush=True)\n"
              "    os._exit(0)\n"
              "asyncio.run(main())\n")
    out = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    shown, kind, pools = out.stdout.split("|")
    assert re.search(r"proxy @ 0: accuracy \d", shown) and kind.strip() == "umap", out.stdout
    assert pools.split() == ["None", "None"]  # the evaluations and layouts moved into the process


@pytest.mark.parametrize("control, value", [("target", "fairdd"), ("ipc", 2), ("view_class", 1)])
def test_a_setting_changed_while_playing_stops_play_first_and_applies(ctl, control, value):
    # the controls stay enabled while playing (toggling them all was 42 of a Step's 55 widget messages)
    async def main():
        dash, gate = _dashboard(ctl), Gate(ctl)
        gate.release.set()
        task = dash.play()
        for _ in range(500):
            await asyncio.sleep(0.01)
            if ctl.iteration >= 2:
                break
        enabled_while_playing = not dash.controls[control].disabled
        dash.controls[control].value = value  # as a click arrives: between two steps of Play's loop
        await task
        at = ctl.iteration
        await asyncio.sleep(0.3)  # nothing steps on after it
        return enabled_while_playing, at, ctl.iteration, ctl.playing, dash.buttons["step"].disabled, dash.busy.value

    enabled, at, later, playing, step_disabled, busy = asyncio.run(main())
    assert enabled and not playing and not step_disabled and busy == ""
    assert later == at and getattr(ctl.settings, control) == value
    assert (at >= 2) if control == "view_class" else (at == 0)  # a run setting restarts; a view one does not


def test_a_proxy_worker_killed_mid_run_hands_the_evaluations_to_the_kernel():
    # the out-of-memory killer ends a worker: the next evaluations run here, with the error shown once
    import signal
    import time

    from fairdd.widgets.background import proxy_executor, worker_info

    c = DistillController(dataset="colored-digits", n_groups=4, **{**FAST, "proxy_every": 1})
    c.background = proxy_executor(workers=1)
    os.kill(c.background.submit(worker_info).result(timeout=120)["pid"], signal.SIGKILL)
    time.sleep(1.0)  # the pool notices its dead worker
    for _ in range(3):
        c.advance(1)
    assert c.background is None and c.report is not None and c.reports[-1][0] == c.iteration


# ---------------------------------------------------------------- one OpenMP pool: the step thread's
def _tasks() -> int:
    return len(os.listdir("/proc/self/task"))


def _settles(count, want: int) -> bool:
    for _ in range(200):  # a released pool's threads exit on their own
        if count() == want:
            return True
        threading.Event().wait(0.01)
    return count() == want


needs_libgomp = pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="Linux only (/proc, libgomp)")


@needs_libgomp
def test_the_ui_threads_idle_openmp_threads_are_released():
    """libgomp: with one idle pool more than the cores (the UI thread's, after it built the run or drew), the step
    thread's parallel regions wait instead of spinning (the demo's step ~180 against ~115 ms on 2 cores).
    ``release_omp_pool`` ends the calling thread's idle OpenMP threads."""
    from fairdd.widgets.background import release_omp_pool

    done = {}

    def work():  # a fresh thread: its pool is its own, whatever this process ran before
        torch.set_num_threads(2)  # per thread with OpenMP
        before = _tasks()
        torch.randn(1 << 22).exp_()  # a parallel region: one more thread, kept idle after it
        done["grew"] = _tasks() - before
        done["released"] = release_omp_pool()
        done["back"] = _settles(_tasks, before)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert done == {"grew": 1, "released": True, "back": True}


@needs_libgomp
def test_a_tensor_sent_to_a_worker_process_leaves_no_openmp_pool_in_the_feeder_thread():
    """A process pool pickles its jobs in a feeder thread; pickling a tensor copies it into shared memory in
    parallel, and that thread then kept an OpenMP pool for good (the third pool on 2 cores: every step
    slowed). ``background.submit`` pickles on the calling thread, whose pool is released or is the step's."""
    import multiprocessing

    from fairdd.widgets.background import release_omp_pool, submit

    big = torch.randn(2000, 3, 32, 32)
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert submit(pool, float, torch.zeros(())).result(timeout=120) == 0.0  # the pool's own threads exist
        release_omp_pool()
        before = _tasks()
        assert submit(pool, torch.Tensor.sum, big).result(timeout=120) == pytest.approx(float(big.sum()), rel=1e-4)
        release_omp_pool()  # this thread's pickling copy ran on this thread's pool
        assert _settles(_tasks, before)
        raw = pool.submit(torch.Tensor.sum, big.clone()).result(timeout=120)  # the feeder thread copies it
        assert raw == pytest.approx(float(big.sum()), rel=1e-4)
        release_omp_pool()
        assert not _settles(_tasks, before)  # the feeder's pool stays: what submit() avoids
    assert submit(concurrent.futures.ThreadPoolExecutor(1), max, 2, 3).result() == 3  # a thread pool: as is


def test_play_releases_the_ui_threads_openmp_pool_before_every_step(digits_train, digits_test, monkeypatch):
    from fairdd.widgets import Dashboard
    from fairdd.widgets import dashboard as module

    from fairdd.widgets import controller

    calls, sent = [], []
    monkeypatch.setattr(module, "release_omp_pool", lambda: calls.append(threading.current_thread().name) or True)
    real_submit = controller.submit  # the proxy evaluations go through background.submit (pickled here)
    monkeypatch.setattr(controller, "submit",
                        lambda ex, fn, *a, **k: sent.append(type(ex).__mro__) or real_submit(ex, fn, *a, **k))

    async def main():
        dash = Dashboard(train=digits_train, test=digits_test, warm_umap=False, **FAST)
        real, order = dash._stepper.submit, []
        dash._stepper.submit = lambda fn, *a: order.append((len(calls), getattr(fn, "__name__", ""))) or real(fn, *a)
        await dash.play_async(3)
        dash.ctl.background.shutdown(wait=True, cancel_futures=True)
        return dash, order

    dash, order = asyncio.run(main())
    steps = [n for n, name in order if name == "advance"]
    assert dash.ctl.iteration == 3 and len(steps) == 3
    assert all(n >= 1 for n in steps) and steps == sorted(set(steps))  # a release before each, on this thread
    assert set(calls) == {threading.current_thread().name}
    assert any(concurrent.futures.ProcessPoolExecutor in mro for mro in sent)


def test_under_play_the_proxy_evaluations_are_quick_ones_and_a_full_one_follows_play(manual):
    """Under Play the evaluations are quick ones (labelled so), started at each scheduled iteration when none
    runs; when Play stops, the iteration on screen gets a full evaluation. Step ×10's are full ones."""
    from fairdd.widgets import controller as module

    c, pool = manual, manual.background
    _evaluated_at_0(c)
    c.playing = c.share_cores = True  # Play (the button): no step count
    c.advance(1)
    assert c.evaluating == 1 and pool.jobs[2][0].keywords["models"] == module.QUICK["models"]
    c.advance(1)  # iteration 2's is skipped while 1's runs
    assert c.evaluating == 1 and len(pool.jobs) == 3
    pool.run(2)
    c.advance(1)  # takes 1's in and catches the skipped iteration 2 up at once (quick); 3's is skipped
    assert c.reports[-1][0] == 1 and 1 in c.quick and c.evaluating == 2
    assert pool.jobs[3][0].keywords["models"] == module.QUICK["models"]
    pool.run(3)
    c.collect()  # 2's in: 3's was skipped, started now
    pool.run(4)
    assert c.collect() and c.reports[-1][0] == 3 and 3 in c.quick and c.evaluating is None
    c.playing = c.share_cores = False  # Play ends: the iteration on screen gets a full evaluation
    assert c.catch_up_proxy() and c.evaluating == 3 and not c.catch_up_proxy()
    assert pool.jobs[5][0].keywords["models"] == c.settings.proxy_models
    pool.run(5)
    c.collect()
    assert not c.catch_up_proxy() and 3 not in c.quick  # a full one of the iteration on screen: nothing to do
    c.playing = True  # Step ×10: full evaluations
    c.advance(1)
    assert c.evaluating == 4 and pool.jobs[6][0].keywords["models"] == c.settings.proxy_models


def test_under_play_a_full_evaluation_of_an_older_iteration_gives_way_to_plays_quick_one(manual):
    # Step ×10 then Play: the full evaluation Step ×10 started took Play's share of a core for 15 s in the browser
    from fairdd.widgets import controller as module

    c, pool = manual, manual.background
    _evaluated_at_0(c)
    c.playing = True  # Step ×10: a full evaluation of iteration 1
    c.advance(1)
    assert c.evaluating == 1 and pool.jobs[2][0].keywords["models"] == c.settings.proxy_models
    c.share_cores = True  # Play
    c.advance(1)  # iteration 2's (Play's, quick) replaces it
    assert c.evaluating == 2 and pool.jobs[3][0].keywords["models"] == module.QUICK["models"]
    c.advance(1)  # Play's own do not give way to each other
    assert c.evaluating == 2 and len(pool.jobs) == 4
    pool.run(2)  # the full one ends late: dropped
    pool.run(3)
    assert c.collect() and [it for it, _ in c.reports] == [0, 2] and 2 in c.quick


def test_a_quick_evaluation_of_play_still_running_when_play_stops_is_followed_by_a_full_one(manual):
    c, pool = manual, manual.background
    _evaluated_at_0(c)
    c.playing = c.share_cores = True
    c.advance(1)
    assert c.evaluating == 1 and not c.catch_up_proxy()  # one runs: nothing to start
    c.playing = c.share_cores = False  # Pause while Play's quick evaluation of iteration 1 runs
    pool.run(2)
    assert c.collect() and 1 in c.quick and c.evaluating == 1  # then a full one of the iteration on screen
    pool.run(3)
    c.collect()
    assert c.reports[-1][0] == 1 and 1 not in c.quick


def test_under_play_the_steps_leave_an_evaluation_a_core_a_quarter_of_the_time(manual, monkeypatch):
    """With the steps spinning on every core the idle-class proxy worker got none: no evaluation finished in 30 s
    of Play. Under Play the steps leave a running evaluation a core, at most ``PROXY_SHARE`` (1/4) of Play's time,
    whichever evaluation it is: a full one started before Play (or one sharing its core with UMAP's compilation)
    took the core for 15 of a 20 s Play in the browser. Step ×10 keeps every core; the count is restored."""
    from fairdd.widgets import controller as module

    assert module.PROXY_SHARE == pytest.approx(1 / 4)
    c, pool = manual, manual.background
    clock, seen, real = [1000.0], [], c.step
    monkeypatch.setattr(module.time, "perf_counter", lambda: clock[0])

    def step():  # each iteration takes 1 s
        seen.append(torch.get_num_threads())
        clock[0] += 1.0
        return real()
    c.step = step
    out = {}

    def work():  # a thread of its own: PyTorch's thread count is per thread with OpenMP
        torch.set_num_threads(2)
        c.ensure_views()  # the quick evaluation of iteration 0 is pending (never run here): started before Play
        c.playing = c.share_cores = True  # Play
        c.advance(12)
        out["play"], seen[:] = list(seen), []
        c.share_cores = False  # Step ×10 keeps every core
        c.advance(2)
        out["step10"], seen[:] = list(seen), []
        c.share_cores = True
        c.set(proxy_every=1000)  # no evaluation due any more
        while c.evaluating is not None:  # run what is pending (and what taking it in starts) to the end
            pool.run(len(pool.jobs) - 1)
            c.collect()
        c.advance(3)  # nothing to leave a core for
        out["done"], out["after"] = list(seen), torch.get_num_threads()

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert out["play"] == [2, 1, 2, 2] * 3  # a core left 3 of 12 s
    assert out["step10"] == [2, 2] and out["done"] == [2, 2, 2] and out["after"] == 2
