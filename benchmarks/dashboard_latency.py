"""Per-action latency of the live dashboard in a real browser: from the click to the visible change.

Voila serves notebook 03 (offline template) at the smoke settings and/or the demo preset; Playwright
drives Debian's chromium at 1280×720. For each action the clock starts before the click and stops
when the page shows its effect (the text the user reads, polled every animation frame):

    step        Step → the iteration counter shows +1            (panels drawn before the counter)
    step10      Step ×10 → +10 and the buttons enabled again
    play_first  Play → the first new iteration shown; then Pause → idle (pause)
    reset       Reset → "iteration 0"
    target      target dropdown → restarted run shown (iteration 0, new proxy readout)
    view_class  view class → the embedding caption names the new class
    compare     "compare with vanilla" → two synthetic grids shown
    replay      Replay → the embedding caption says "replay"

    python benchmarks/dashboard_latency.py [--presets smoke demo] [--repeats 3]
        [--screenshots docs/ --play-to 100 --proxy-every 20]

Prints a Markdown table (median and max over repeats, milliseconds). With ``--screenshots`` the demo
run also saves compare mode (cobra vs vanilla) at iteration 0 and after ``--play-to`` iterations.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]
LONG = 900_000

IDLE = ("!document.querySelector('.fairdd-step').disabled && "
        "document.querySelector('.fairdd-busy').innerText.trim() === ''")
ITER = "parseInt(document.querySelector('.fairdd-iteration').innerText.split(' ').pop())"


def _timed(page, click, condition: str) -> float:
    t0 = time.perf_counter()
    click()
    page.wait_for_function(condition, timeout=LONG)
    return 1000 * (time.perf_counter() - t0)


def _iteration(page) -> int:
    return int(page.evaluate(ITER))


def measure(page, repeats: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}

    def add(name, ms):
        out.setdefault(name, []).append(ms)

    n_classes = page.eval_on_selector(".fairdd-view_class select", "e => e.options.length")
    for r in range(repeats):
        page.wait_for_function(IDLE, timeout=LONG)
        it = _iteration(page)
        add("step", _timed(page, lambda: page.click(".fairdd-step"), f"{ITER} === {it + 1}"))
        page.wait_for_function(IDLE, timeout=LONG)
        it = _iteration(page)
        add("step10", _timed(page, lambda: page.click(".fairdd-step10"), f"{ITER} === {it + 10} && {IDLE}"))
        it = _iteration(page)
        add("play_first", _timed(page, lambda: page.click(".fairdd-play"), f"{ITER} > {it}"))
        add("pause", _timed(page, lambda: page.click(".fairdd-pause"), IDLE))
        add("replay", _timed(page, lambda: page.click(".fairdd-replay"),
                             "document.querySelector('.fairdd-caption-embedding').innerText.includes('replay')"))
        page.wait_for_function(IDLE, timeout=LONG)
        cls = (r + 1) % n_classes
        add("view_class", _timed(page, lambda: page.select_option(".fairdd-view_class select", index=cls),
                                 f"document.querySelector('.fairdd-caption-embedding').innerText"
                                 f".includes(\"'\" + document.querySelector('.fairdd-view_class select')"
                                 f".options[{cls}].text + \"'\") && {IDLE}"))
        target = "fairdd" if r % 2 == 0 else "cobra"  # from iteration > 0: the restart is visible
        add("target", _timed(page, lambda: page.select_option(".fairdd-target select", target),
                             f"{ITER} === 0 && {IDLE} && document.querySelector('.fairdd-eod').innerText"
                             f".includes('proxy @ 0')"))
        page.click(".fairdd-step")
        page.wait_for_function(f"{ITER} === 1 && {IDLE}", timeout=LONG)
        add("reset", _timed(page, lambda: page.click(".fairdd-reset"), f"{ITER} === 0 && {IDLE}"))
        add("compare", _timed(page, lambda: page.select_option(".fairdd-compare select", ["vanilla"]),
                              f"document.querySelectorAll('img.fairdd-grid').length === 2 && {IDLE}"))
        page.select_option(".fairdd-compare select", [])
        page.wait_for_function(f"document.querySelectorAll('img.fairdd-grid').length === 1 && {IDLE}",
                               timeout=LONG)
        for name, ms in out.items():
            print(f"repeat {r}: {name} {ms[-1]:.0f} ms", flush=True)
    return out


def _shot(page, path: Path) -> None:
    """The whole dashboard: Voila scrolls inside its own container, so grow the viewport (width kept)."""
    page.set_viewport_size({"width": 1280, "height": 1600})
    page.wait_for_timeout(500)
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1280, "height": 720})


def screenshots(page, folder: Path, play_to: int, wait_s: float = 3600.0) -> None:
    page.wait_for_function(IDLE, timeout=LONG)
    page.select_option(".fairdd-target select", "cobra")
    page.wait_for_function(IDLE, timeout=LONG)
    page.select_option(".fairdd-compare select", ["vanilla"])
    page.wait_for_function(f"document.querySelectorAll('img.fairdd-grid').length === 2 && {IDLE}", timeout=LONG)
    _shot(page, folder / "dashboard_compare_iter0.png")
    page.click(".fairdd-play")
    t0 = time.perf_counter()
    while _iteration(page) < play_to:  # progress every 30 s: a loaded machine may take many minutes
        if time.perf_counter() - t0 > wait_s:
            raise TimeoutError(f"play reached iteration {_iteration(page)} of {play_to} in {wait_s:.0f} s")
        page.wait_for_timeout(30_000)
        print(f"  play: iteration {_iteration(page)} after {time.perf_counter() - t0:.0f} s", flush=True)
    page.click(".fairdd-pause")
    page.wait_for_function(IDLE, timeout=LONG)
    _shot(page, folder / f"dashboard_compare_iter{play_to}.png")


def notebook_with(settings: dict, folder: Path) -> Path:
    """A copy of notebook 03 whose dashboard gets ``settings`` on top of its own (e.g. proxy_every)."""
    import json

    from fairdd.widgets.app import NOTEBOOK

    nb = json.loads(NOTEBOOK.read_text())
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "code" and "dash = Dashboard(" in src:
            src = src.replace("dash = Dashboard(", f"settings.update({settings!r})\ndash = Dashboard(", 1)
            cell["source"] = src.splitlines(keepends=True)
    out = folder / NOTEBOOK.name
    out.write_text(json.dumps(nb, indent=1))
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", nargs="+", default=["smoke", "demo"], choices=["smoke", "demo"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--screenshots", default=None, help="folder for the compare-mode screenshots (demo)")
    ap.add_argument("--play-to", type=int, default=100)
    ap.add_argument("--proxy-every", type=int, default=None,
                    help="proxy evaluation period for the demo run (default: the notebook's, 10)")
    ap.add_argument("--wait-s", type=float, default=3600.0, help="how long Play may take to reach --play-to")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from fairdd.widgets.app import serve

    table = {}
    for preset in args.presets:
        extra = tempfile.mkdtemp(prefix="fairdd-nb-")
        notebook = (notebook_with({"proxy_every": args.proxy_every}, Path(extra))
                    if args.proxy_every and preset == "demo" else None)
        with tempfile.TemporaryDirectory() as work, serve(*([notebook] if notebook else []), smoke=preset == "smoke",
                                                          workdir=work, timeout_s=300) as url, \
                sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.set_default_timeout(LONG)
            t0 = time.perf_counter()
            page.goto(url, timeout=LONG)
            page.wait_for_function("document.querySelector('.fairdd-eod') && "
                                   "document.querySelector('.fairdd-eod').innerText.includes('EOD')", timeout=LONG)
            table[(preset, "page load")] = [1000 * (time.perf_counter() - t0)]
            print(f"{preset}: page load {table[(preset, 'page load')][0]:.0f} ms", flush=True)
            if args.screenshots and preset == "demo":  # first: the longest part, from a fresh page
                folder = Path(args.screenshots)
                folder.mkdir(parents=True, exist_ok=True)
                screenshots(page, folder, args.play_to, args.wait_s)
                print(f"{preset}: screenshots saved in {folder}", flush=True)
                page.click(".fairdd-reset")
                page.wait_for_function(f"{ITER} === 0 && {IDLE}", timeout=LONG)
                page.select_option(".fairdd-compare select", [])
                page.wait_for_function(f"document.querySelectorAll('img.fairdd-grid').length === 1 && {IDLE}",
                                       timeout=LONG)
            for name, ms in measure(page, args.repeats).items():
                table[(preset, name)] = ms
            browser.close()
    print("| preset | action | median ms | max ms | n |")
    print("|---|---|---:|---:|---:|")
    for (preset, name), ms in table.items():
        print(f"| {preset} | {name} | {statistics.median(ms):.0f} | {max(ms):.0f} | {len(ms)} |")


if __name__ == "__main__":
    main()
