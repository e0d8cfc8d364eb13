"""Per-action latency of the live dashboard in a real browser, from the click to the visible change,
optionally for a baseline source tree too, in the same run on the same machine (issue 23's table).

Voila serves notebook 03 (offline template, the demo preset unless ``--smoke``); Playwright drives
Debian's chromium at 1280×720. The clock starts before the click and stops when the page shows the
effect (polled every animation frame):

    page usable        load → Step enabled, nothing busy           (+ first proxy readout shown)
    step: feedback     Step → counter +1
    step               Step → counter +1, idle, the images and loss chart painted at that iteration
    step10             Step ×10 → +10 and idle                      (and again in compare mode)
    play               Play for PLAY_S (20 s, a whole proxy evaluation cycle: while one runs Play leaves it a
                       core): iterations per second, and how far the images panel lags the counter
    pause              Pause → idle
    target → fairdd    a setting that restarts the run → iteration 0 and idle   (+ proxy @ 0 shown: the
                       first, quick one where there is one, then the full one)
    compare on         compare with vanilla → two image grids and idle
    reset (compare)    Reset in compare mode → iteration 0 and idle
    majority share     0.9 → 0.8 (typed into the slider's readout, compare on) → iteration 0 and idle
    dataset            → colored-fashion-mnist (compare on) → iteration 0, idle, two grids (+ proxy shown)
    view class         view class → the embedding caption names it and idle
    PCA→UMAP, UMAP→PCA the embedding toggle → the caption names it and idle (after UMAP's warm-up)
    replay             Replay → the caption says "replay"

    python benchmarks/dashboard_latency.py [--before /path/to/old/tree] [--smoke] [--repeats 1]
        [--screenshots docs/_static --play-to 100]

Prints a Markdown table (median over repeats, ms; the play row in iterations/s and lag) with one column
per source tree, and ``uptime`` before and after (the machine's load). With ``--screenshots`` the
first screen at 1280×720 is saved (default layout; compare mode after ``--play-to`` iterations; the
presenter layout).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]
LONG = 900_000
ACTION_MS = 300_000  # one action's wait; past it the action is recorded as timed out and the run goes on

IDLE = ("!document.querySelector('.fairdd-step').disabled && "
        "document.querySelector('.fairdd-busy').innerText.trim() === ''")
ITER = "parseInt(document.querySelector('.fairdd-iteration').innerText.split(' ').pop())"
GRIDS = "document.querySelectorAll('img.fairdd-grid')"
GRID_AT = ("Math.min(...[...document.querySelectorAll('.fairdd-grids .widget-html')].map(e => "
           "parseInt((e.innerText.match(/(?:@|iteration) (\\d+)/) || [0, -1])[1])))")
LOSS_AT = "(!document.querySelector('.fairdd-loss') || document.querySelector('.fairdd-loss').dataset.title === 'loss@{n}')"
CAPTION = "document.querySelector('.fairdd-caption-embedding').innerText"
PRESENTER = ".fairdd-presenter-button"  # the header toggle (the sidebar checkbox is hidden in presenter mode)
EOD = "document.querySelector('.fairdd-eod').innerText"
PROXY_0 = f"{EOD}.includes('proxy @ 0:')"
BIAS_IS = "document.querySelector('.fairdd-bias .widget-readout').innerText.trim() === '0.80'"
PLAY_S = 20.0  # Play's window: 5 s caught only the core-sharing part of the evaluation cycle (~14 s)

def _timed(page, act, condition: str) -> float:
    """Milliseconds from ``act()`` to ``condition`` holding (NaN past ``ACTION_MS``, then the page idles)."""
    from playwright.sync_api import TimeoutError as Timeout

    t0 = time.perf_counter()
    act()
    try:
        page.wait_for_function(condition, timeout=ACTION_MS)
    except Timeout:
        print(f"  timed out after {ACTION_MS / 1000:.0f} s waiting for: {condition[:120]}", flush=True)
        page.wait_for_function(IDLE, timeout=LONG)
        return float("nan")
    ms = 1000 * (time.perf_counter() - t0)
    print(f"  {ms:.0f} ms: {condition[:70]}", flush=True)
    return ms


def _it(page) -> int:
    return int(page.evaluate(ITER))


def _tab(page, name: str) -> None:
    """The sidebar's tab, where there is one (the old layout showed every control at once)."""
    if page.query_selector(".fairdd-sidebar"):
        page.click(f".fairdd-sidebar .lm-TabBar-tab:has-text('{name}')")


def _then(page, first: float, condition: str) -> float:
    """``first`` plus the time until ``condition`` holds too (the second part of a two-stage row)."""
    return first + _timed(page, lambda: None, condition)


def _stepping(page, out: dict) -> None:
    it = _it(page)
    out["step: feedback"] = _timed(page, lambda: page.click(".fairdd-step"), f"{ITER} === {it + 1}")
    out["step"] = _then(page, out["step: feedback"],
                        f"{IDLE} && {GRID_AT} === {it + 1} && "
                        f"[...{GRIDS}].every(i => i.complete) && " + LOSS_AT.format(n=it + 1))
    it += 1
    out["step10"] = _timed(page, lambda: page.click(".fairdd-step10"), f"{ITER} === {it + 10} && {IDLE}")
    it = _it(page)
    page.click(".fairdd-play")
    t0 = time.perf_counter()
    lags = []
    while time.perf_counter() - t0 < PLAY_S:
        page.wait_for_timeout(250)
        lags.append(page.evaluate(f"{ITER} - {GRID_AT}"))
    played = _it(page) - it
    out["play it/s"] = played / (time.perf_counter() - t0)
    out["play lag (it)"] = max(lags)
    out["pause"] = _timed(page, lambda: page.click(".fairdd-pause"), IDLE)
    out["replay"] = _timed(page, lambda: page.click(".fairdd-replay"), f"{CAPTION}.includes('replay')")
    page.wait_for_function(IDLE, timeout=LONG)
    for name in ("fairness", "umap", "heatmap", "loss"):  # the SVG charts' own draw time (absent for PNGs)
        ms = page.evaluate(f"(document.querySelector('.fairdd-{name}') || {{dataset: {{}}}}).dataset.paintMs")
        if ms is not None:
            out[f"browser paint {name} ms"] = float(ms)


def _views(page, out: dict) -> None:
    _tab(page, "view")
    n = page.eval_on_selector(".fairdd-view_class select", "e => e.options.length")
    label = page.eval_on_selector(".fairdd-view_class select", "e => e.options[1].text")
    out["view class"] = _timed(page, lambda: page.select_option(".fairdd-view_class select", index=1 % n),
                               f"{CAPTION}.includes(\"'{label}'\") && {IDLE}")
    page.wait_for_function("!document.querySelector('.fairdd-embedding button').disabled", timeout=LONG)  # warm
    out["PCA→UMAP"] = _timed(page, lambda: page.click(".fairdd-embedding button:has-text('UMAP')"),
                             f"{CAPTION}.includes('UMAP (non-linear)') && {IDLE}")
    out["UMAP→PCA"] = _timed(page, lambda: page.click(".fairdd-embedding button:has-text('PCA')"),
                             f"{CAPTION}.includes('PCA (linear)') && {IDLE}")
    _tab(page, "run")


def _restarts(page, out: dict) -> None:
    page.click(".fairdd-step")
    page.wait_for_function(f"{ITER} >= 1 && {IDLE}", timeout=LONG)
    out["target → fairdd (restart)"] = _timed(page, lambda: page.select_option(".fairdd-target select", "fairdd"),
                                              f"{ITER} === 0 && {IDLE}")
    out["restart: proxy @ 0 shown"] = _then(page, out["target → fairdd (restart)"], PROXY_0)
    out["restart: full proxy @ 0 shown"] = _then(page, out["restart: proxy @ 0 shown"],
                                                 f"{PROXY_0} && !{EOD}.includes('quick proxy @')")
    out["compare on"] = _timed(page, lambda: page.select_option(".fairdd-compare select", ["vanilla"]),
                               f"{GRIDS}.length === 2 && {IDLE}")
    out["step10 (compare)"] = _timed(page, lambda: page.click(".fairdd-step10"), f"{ITER} === 10 && {IDLE}")
    out["reset (compare)"] = _timed(page, lambda: page.click(".fairdd-reset"), f"{ITER} === 0 && {IDLE}")
    _step_once(page)  # iteration 1: the restart's iteration 0 is then a change the page can see
    out["majority share 0.9 → 0.8 (compare)"] = _timed(page, lambda: _type_readout(page, ".fairdd-bias", "0.80"),
                                                       f"{ITER} === 0 && {IDLE} && {BIAS_IS}")
    _step_once(page)
    first = page.eval_on_selector(".fairdd-view_class select", "e => e.options[0].text")
    out["dataset → colored-fashion-mnist (compare)"] = _timed(
        page, lambda: page.select_option(".fairdd-dataset select", "colored-fashion-mnist"),
        f"{ITER} === 0 && {IDLE} && {GRIDS}.length === 2 && "
        f"document.querySelector('.fairdd-view_class select').options[0].text !== {first!r}")
    out["dataset: proxy @ 0 shown"] = _then(page, out["dataset → colored-fashion-mnist (compare)"], PROXY_0)
    page.select_option(".fairdd-compare select", [])
    page.wait_for_function(f"{GRIDS}.length === 1 && {IDLE}", timeout=LONG)


def _step_once(page) -> None:
    it = _it(page)
    page.click(".fairdd-step")
    page.wait_for_function(f"{ITER} === {it + 1} && {IDLE}", timeout=LONG)


def _type_readout(page, widget: str, value: str) -> None:
    """Type ``value`` into a slider's editable readout (as a user sets an exact value) and press Enter."""
    page.click(f"{widget} .widget-readout")
    page.keyboard.press("Control+A")
    page.keyboard.type(value)
    page.keyboard.press("Enter")


def measure(page, repeats: int) -> dict[str, list[float]]:
    table: dict[str, list[float]] = {}
    for r in range(repeats):
        out: dict[str, float] = {}
        if r:  # each repeat from the page's first state (the last one ended on another dataset and target)
            page.reload(timeout=LONG)
            page.wait_for_function(f"document.querySelector('.fairdd-step') && {IDLE} && {PROXY_0}", timeout=LONG)
        page.wait_for_function(IDLE, timeout=LONG)
        _stepping(page, out)
        _views(page, out)
        _restarts(page, out)
        for k, v in out.items():
            table.setdefault(k, []).append(v)
            print(f"  repeat {r}: {k} {v:.1f}", flush=True)
    return table


def screenshots(page, folder: Path, play_to: int) -> None:
    """The first screen at 1280×720: as it opens, compare mode after ``play_to`` iterations, presenter."""
    folder.mkdir(parents=True, exist_ok=True)
    page.wait_for_function(f"{IDLE} && document.querySelector('.fairdd-eod').innerText.includes('proxy @ 0:') && "
                           "document.querySelector('.fairdd-umap').dataset.title", timeout=LONG)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(folder / "dashboard_first_screen.png"))
    page.select_option(".fairdd-compare select", ["vanilla"])
    page.wait_for_function(f"{GRIDS}.length === 2 && {IDLE}", timeout=LONG)
    page.click(".fairdd-play")
    page.wait_for_function(f"{ITER} >= {play_to}", timeout=LONG, polling=1000)
    page.click(".fairdd-pause")
    page.wait_for_function(f"{IDLE} && !document.querySelector('.fairdd-eod').innerText.includes('evaluating')",
                           timeout=LONG)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(folder / f"dashboard_compare_iter{play_to}.png"))
    page.click(PRESENTER)  # the header button: the sidebar (and its checkbox) is hidden in presenter mode
    page.wait_for_timeout(1500)
    page.screenshot(path=str(folder / "dashboard_presenter.png"))
    page.click(PRESENTER)
    _tab(page, "run")


def run_tree(label: str, tree: Path | None, args) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    from fairdd.widgets.app import NOTEBOOK, serve

    env = {"PYTHONPATH": str(tree)} if tree else {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    notebook = (tree / "notebooks" / NOTEBOOK.name) if tree else NOTEBOOK
    with tempfile.TemporaryDirectory() as work, serve(notebook, smoke=args.smoke, workdir=work, timeout_s=300,
                                                      env=env) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        t0 = time.perf_counter()
        page.goto(url, timeout=LONG)
        page.wait_for_function(f"document.querySelector('.fairdd-step') && {IDLE} && {ITER} === 0", timeout=LONG)
        table = {"page usable": [1000 * (time.perf_counter() - t0)]}
        page.wait_for_function("document.querySelector('.fairdd-eod').innerText.includes('proxy @ 0:')", timeout=LONG)
        table["page: proxy @ 0 shown"] = [1000 * (time.perf_counter() - t0)]
        print(f"{label}: page usable {table['page usable'][0]:.0f} ms", flush=True)
        if args.screenshots and tree is None:
            screenshots(page, Path(args.screenshots), args.play_to)
            page.reload(timeout=LONG)
            page.wait_for_function(f"document.querySelector('.fairdd-step') && {IDLE}", timeout=LONG)
        table.update(measure(page, args.repeats))
        browser.close()
    return table


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", type=Path, default=None, help="a source tree to measure first (the baseline)")
    ap.add_argument("--smoke", action="store_true", help="the smoke settings instead of the demo preset")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--screenshots", default=None, help="folder for the 1280×720 screenshots (this tree)")
    ap.add_argument("--play-to", type=int, default=100)
    args = ap.parse_args(argv)
    load = [subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()]
    results = {"after": run_tree("after", None, args)}  # first: its screenshots are the longest part
    if args.before:
        results["before"] = run_tree("before", args.before.resolve(), args)
        results = {"before": results["before"], "after": results["after"]}
    load.append(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    rows = list(dict.fromkeys(k for t in results.values() for k in t))
    print(f"\n{os.cpu_count()} CPUs; load: {load[0]}  →  {load[1]}")
    print("| action | " + " | ".join(results) + " |")
    print("|---|" + "---:|" * len(results))
    for k in rows:
        unit = "" if re.search(r"it/s|\(it\)| ms$", k) else " ms"
        cells = [f"{statistics.median(t[k]):.1f}{unit}" if k in t else "—" for t in results.values()]
        print(f"| {k} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
