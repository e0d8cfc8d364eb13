"""The dashboard's screenshots for the docs, at 1280×720 (a projector), refreshed by one command.

Voila serves notebook 03 as ``make app`` does (offline ``fairdd`` template, its default settings:
colored-mnist-5k, cobra, demo preset, proxy every 10); Playwright drives Debian's chromium:

- ``dashboard_first_screen.png``: the page as it opens, once the first proxy evaluation is shown;
- ``dashboard_compare_iter<N>.png``: compare with vanilla, Play to ``--play-to`` iterations, Pause, the
  proxy panels at their evaluation of iteration ``--play-to``;
- ``dashboard_presenter.png``: the same state in the presenter layout.

    python benchmarks/dashboard_screenshots.py [--out docs] [--play-to 100]

Each screenshot is the viewport only (what a room sees without scrolling).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]
LONG = 1_800_000  # ms: Play to 100 at the demo preset takes minutes on a loaded 2-core machine
IDLE = ("!document.querySelector('.fairdd-step').disabled && "
        "document.querySelector('.fairdd-busy').innerText.trim() === ''")
ITER = "parseInt(document.querySelector('.fairdd-iteration').innerText.split(' ').pop())"


def _shown(chart: str) -> str:
    """The iteration a chart panel last painted (``data-title`` is e.g. "fairness@100")."""
    return f"parseInt((document.querySelector('.fairdd-{chart}').dataset.title || '@-1').split('@')[1])"


def _settle(page) -> None:
    page.wait_for_function(IDLE, timeout=LONG)
    page.wait_for_timeout(1500)  # the last redraws land


def shoot(page, out: Path, play_to: int) -> list[Path]:
    page.wait_for_selector(".fairdd-step", timeout=LONG)
    page.wait_for_function(f"document.querySelector('.fairdd-eod').innerText.includes('EOD') && {_shown('umap')} >= 0",
                           timeout=LONG)
    _settle(page)
    shots = [out / "dashboard_first_screen.png", out / f"dashboard_compare_iter{play_to}.png",
             out / "dashboard_presenter.png"]
    page.screenshot(path=str(shots[0]))
    page.select_option(".fairdd-compare select", ["vanilla"])
    page.wait_for_function("document.querySelectorAll('img.fairdd-grid').length === 2", timeout=LONG)
    _settle(page)
    page.click(".fairdd-play")
    page.wait_for_function(f"{ITER} >= {play_to}", timeout=LONG, polling=500)
    page.click(".fairdd-pause")
    page.wait_for_function(f"{_shown('fairness')} >= {play_to} && {_shown('heatmap')} >= {play_to}", timeout=LONG)
    _settle(page)
    page.screenshot(path=str(shots[1]))
    page.click(".fairdd-presenter-button")
    _settle(page)
    page.screenshot(path=str(shots[2]))
    return shots


def main(argv=None) -> None:
    from playwright.sync_api import sync_playwright

    from fairdd.widgets.app import serve

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="docs", help="folder for the PNGs")
    ap.add_argument("--play-to", type=int, default=100)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(), flush=True)
    t0 = time.perf_counter()
    with serve(workdir=Path(tempfile.mkdtemp(prefix="fairdd-shots-"))) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(url, timeout=LONG)
            for path in shoot(page, out, args.play_to):
                print(f"wrote {path}", flush=True)
        finally:
            browser.close()
    print(f"{time.perf_counter() - t0:.0f} s;", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
