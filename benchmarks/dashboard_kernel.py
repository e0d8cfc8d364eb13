"""Kernel-side cost of the live dashboard's operations, without a browser, for one or two source trees in
one run (each tree in its own process, one after the other, on the same machine).

The dashboard is built headless in an asyncio event loop (as under Voila: proxy evaluations in the
background, Play as a task), at the demo preset on colored-mnist-5k, and driven through its public
API only (``play``, ``pause``, ``step``, ``ctl.set``), so an older tree is measured the same way:

    step (controller)   one ``ctl.step()`` alone, median of 5 (ms)
    render <panel>      one forced redraw of each panel (kernel ms) and the bytes of its message
    play it/s           Play for ``--play-s`` seconds: iterations per second (proxy evaluations included)
    play lag (it)       the most the images panel trailed the counter, sampled every 0.25 s
    pause → idle        a Pause click arriving from outside the event loop (as a comm message does) →
                        the Step button enabled (ms)
    restart → usable    ``target → fairdd`` → iteration 0 and Step enabled (ms)
    restart → proxy     ... → the readout shows "proxy @ 0:" (the first, quick one where there is one)

    python benchmarks/dashboard_kernel.py [--before /path/to/old/tree] [--play-s 8]

Prints a Markdown table, one column per tree, and ``uptime`` before and after (the load).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = dict(dataset="colored-mnist-5k", target="cobra", preset="demo")


async def _wait(check, timeout: float = 120.0, poll: float = 0.001) -> float:
    """Seconds until ``check()`` holds, polled every ``poll`` s on the event loop (NaN past ``timeout``).

    Waits of seconds poll every 50 ms: a kernel waking 1000 times a second is not what a notebook does, and it
    takes the spare CPU the idle-class workers run on.
    """
    t0 = time.perf_counter()
    while not check():
        if time.perf_counter() - t0 > timeout:
            return float("nan")
        await asyncio.sleep(poll)
    return time.perf_counter() - t0


def _shows_proxy_0(dash) -> bool:
    """Whether the readout's text (tags stripped: "proxy @ 0" sits in an <abbr>) shows a proxy of iteration 0."""
    return "proxy @ 0:" in re.sub("<[^>]+>", "", dash.readout.value)


def _sizes(dash) -> dict:
    """Kernel ms and message bytes of one forced redraw of each panel."""
    out = {}
    for name, panel in dash.panels.items():
        sent = []
        body = panel.body
        if hasattr(body, "show"):
            real = body.show
            body.show = lambda spec, real=real: sent.append(len(json.dumps(spec))) or real(spec)
        t0 = time.perf_counter()
        panel.update(force=True)
        out[f"render {name} (ms)"] = 1000 * (time.perf_counter() - t0)
        if hasattr(body, "show"):
            del body.show
        else:  # image panels: the PNG bytes
            sent = [sum(len(getattr(w, "value", b"")) for w in getattr(panel, "images", {}).values())]
        out[f"render {name} (kB)"] = sum(sent) / 1000
    return out


async def _measure(play_s: float) -> dict:
    import torch

    from fairdd.widgets import Dashboard

    out, loop = {}, asyncio.get_running_loop()
    t0 = time.perf_counter()
    dash = Dashboard(warm_umap=False, **SETTINGS)
    ctl, idle = dash.ctl, (lambda: not dash.buttons["step"].disabled and dash.busy.value == "")
    out["build (ms)"] = 1000 * (time.perf_counter() - t0)
    out["build → proxy @ 0 shown (ms)"] = out["build (ms)"] + 1000 * await _wait(lambda: _shows_proxy_0(dash), poll=0.05)
    steps = []
    for _ in range(5):
        t = time.perf_counter()
        ctl.step()
        steps.append(1000 * (time.perf_counter() - t))
    out["step, controller alone (ms)"] = statistics.median(steps)
    ctl._emit("step")
    out.update(_sizes(dash))
    it0, lags = ctl.iteration, []
    dash.play()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < play_s:
        await asyncio.sleep(0.25)
        lags.append(ctl.iteration - (dash.panels["grid"].shown or 0))
    out["play it/s"] = (ctl.iteration - it0) / (time.perf_counter() - t0)
    out["play lag (it)"] = max(lags)
    clicked = []  # Pause as a click arrives: from outside the event loop, at a moment unrelated to the steps

    def click() -> None:
        time.sleep(random.uniform(0.0, 0.5))
        clicked.append(time.perf_counter())
        loop.call_soon_threadsafe(dash.pause)
    threading.Thread(target=click).start()
    await _wait(lambda: clicked and not ctl.playing and idle())
    out["pause → idle (ms)"] = 1000 * (time.perf_counter() - clicked[0])
    await _wait(lambda: dash._task is None or dash._task.done())
    t0 = time.perf_counter()
    dash.controls["target"].value = "fairdd"
    out["restart → usable (ms)"] = 1000 * (time.perf_counter() - t0 + await _wait(lambda: idle() and ctl.iteration == 0))
    out["restart → proxy @ 0 shown (ms)"] = 1000 * (time.perf_counter() - t0 + await _wait(
        lambda: _shows_proxy_0(dash), poll=0.05))
    out["torch threads"] = torch.get_num_threads()
    return out


def child(play_s: float) -> None:
    import torch

    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))  # as notebook 03
    print("RESULT " + json.dumps(asyncio.run(_measure(play_s))), flush=True)
    os._exit(0)  # the proxy workers go with the process, as with a kernel that is shut down


def run_tree(tree: Path, play_s: float) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    proc = subprocess.run([sys.executable, __file__, "--child", "--play-s", str(play_s)], env=env, cwd=tree,
                          capture_output=True, text=True, timeout=900)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if not lines:
        raise RuntimeError(f"{tree}: no result\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1][7:])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", type=Path, default=None, help="a source tree to measure first (the baseline)")
    ap.add_argument("--play-s", type=float, default=8.0)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(args.play_s)
    load = [subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()]
    results = {}
    for label, tree in (("before", args.before), ("after", ROOT)):
        if tree is not None:
            results[label] = run_tree(tree.resolve(), args.play_s)
            print(f"{label}: {json.dumps(results[label])}", flush=True)  # kept if a later tree fails
    load.append(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    print(f"\n{os.cpu_count()} CPUs; load: {load[0]}  →  {load[1]}")
    print("| operation | " + " | ".join(results) + " |")
    print("|---|" + "---:|" * len(results))
    for k in dict.fromkeys(k for t in results.values() for k in t):
        print(f"| {k} | " + " | ".join(f"{t[k]:.1f}" if k in t else "—" for t in results.values()) + " |")


if __name__ == "__main__":
    main()
