"""The built documentation site works with no network: Chromium opens it from disk with every request
that is not a local file refused, and each page must load without a refused or failed request or a
console error, show every image (figures of the executed notebooks included, their interactive
outputs drawn as static HTML) and, where it has maths, render it with the MathJax the site serves.

The site is the one `make docs` built (.ci/run builds it before the tests); without a build, or with
one older than the site's sources, this test is skipped locally and fails under CI. Screenshots go to results/site/.
"""
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "docs" / "_build" / "html"
SHOTS = ROOT / "results" / "site"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
MATHS = ["method.html", "performance.html"]  # pages with $...$ maths
# notebook pages whose interactive outputs become static views: at least this many views with a figure
WIDGET_FIGURES = {"01_why_distillation_is_unfair": 2, "02_barycenters": 1, "03_live_distillation": 1}

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="chromium is absent (apt-get install chromium; .ci/run installs it)")


def _newer_sources(built: Path) -> list[str]:
    """Sources of the site (config, extensions, pages, notebooks) changed since ``built`` was written."""
    made = built.stat().st_mtime
    sources = [ROOT / "docs" / "conf.py", *(ROOT / "docs" / "_ext").glob("*.py"), *(ROOT / "docs").glob("*.md"),
               *(ROOT / "notebooks").glob("*.ipynb")]
    return [str(p.relative_to(ROOT)) for p in sources if p.stat().st_mtime > made]


@pytest.fixture(scope="module")
def site():
    index = SITE / "index.html"
    newer = _newer_sources(index) if index.is_file() else []
    problem = (f"no built site at {SITE.relative_to(ROOT)}" if not index.is_file() else
               "the built site is older than " + ", ".join(newer[:5]) if newer else None)
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"{problem}: .ci/run runs `make docs` before the tests")
        pytest.skip(f"{problem}: run `make docs` first")
    return SITE


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def _open(browser, path: Path):
    """The page, with what it asked of the network (refused), what failed and its console errors."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = {"refused": [], "failed": [], "console": []}

    def route(r):
        url = r.request.url
        if url.startswith(("file:", "data:", "blob:")):
            r.continue_()
        else:
            log["refused"].append(url)
            r.abort()

    page.route("**/*", route)
    page.on("requestfailed", lambda r: log["failed"].append(f"{r.url[:120]} ({r.failure})"))
    page.on("console", lambda m: log["console"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: log["console"].append(str(e)))
    page.goto(path.as_uri(), wait_until="load", timeout=60_000)
    return page, log


def _broken_images(page) -> list[str]:
    return page.evaluate("Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0))"
                         ".map(i => i.src.slice(0, 100))")


def _clean(log: dict) -> None:
    assert not log["refused"], f"the page asked the network for {log['refused']}"
    assert not log["failed"], f"failed requests: {log['failed']}"
    assert not log["console"], f"console errors: {log['console']}"


def test_every_page_loads_offline_with_its_images(site, browser):
    pages = sorted(site.glob("*.html")) + sorted((site / "notebooks").glob("*.html"))
    assert len(pages) > 10
    for path in pages:
        page, log = _open(browser, path)
        try:
            page.wait_for_timeout(200)
            assert not _broken_images(page), f"{path.name}: images not shown: {_broken_images(page)}"
            _clean(log)
        finally:
            page.close()


def test_maths_renders_with_the_sites_own_mathjax(site, browser):
    for name in MATHS:
        page, log = _open(browser, site / name)
        try:
            page.wait_for_selector("mjx-container", timeout=60_000)
            page.evaluate("MathJax.startup.promise")
            assert page.locator("mjx-container").count() > 3, name
            assert page.locator("mjx-merror").count() == 0, f"{name}: MathJax errors"
            assert "\\(" not in page.inner_text("article"), f"{name}: maths left as TeX source"
            _clean(log)
        finally:
            page.close()


def test_interactive_outputs_show_their_default_figure(site, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    for stem, wanted in WIDGET_FIGURES.items():
        page, log = _open(browser, site / "notebooks" / f"{stem}.html")
        try:
            assert "application/vnd.jupyter.widget-view+json" not in page.content()  # no view left to a manager
            views = page.locator(".fairdd-static-widget")
            shown = [views.nth(i).evaluate("v => Array.from(v.querySelectorAll('img'))"
                                           ".filter(i => i.naturalWidth > 50 && i.naturalHeight > 50).length")
                     for i in range(views.count())]
            assert sum(n > 0 for n in shown) >= wanted, f"{stem}: figures per static view {shown}"
            assert all(box["width"] > 50 for box in (views.nth(i).bounding_box() for i in range(views.count())))
            _clean(log)
            if stem.startswith("01"):
                page.screenshot(path=str(SHOTS / f"{stem}.png"), full_page=True)
        finally:
            page.close()
    page, log = _open(browser, site / "index.html")
    try:
        page.screenshot(path=str(SHOTS / "index.png"))
        _clean(log)
    finally:
        page.close()
