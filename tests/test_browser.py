"""A real browser drives the live dashboard: Voila serves notebook 03 on 127.0.0.1, Playwright with
Debian's chromium changes the target, presses Step and checks the page reacts."""
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "03_live_distillation.ipynb"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOT = ROOT / "results" / "browser" / "dashboard.png"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="chromium is absent (apt-get install chromium; .ci/run installs it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def voila_url(tmp_path_factory):
    pytest.importorskip("voila")
    work = tmp_path_factory.mktemp("voila")
    shutil.copy(NOTEBOOK, work / NOTEBOOK.name)
    port = _free_port()
    log = open(work / "voila.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "voila", NOTEBOOK.name, f"--port={port}", "--no-browser", "--Voila.ip=127.0.0.1",
         "--VoilaExecutor.timeout=300"],
        cwd=work, env={**os.environ, "FAIRDD_SMOKE": "1"}, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError((work / "voila.log").read_text())
            time.sleep(0.5)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_dashboard_in_a_real_browser(voila_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1250})
            page.goto(voila_url, timeout=240_000)
            page.wait_for_selector(".fairdd-step", timeout=240_000)
            page.wait_for_function("document.querySelector('.fairdd-eod') && "
                                   "document.querySelector('.fairdd-eod').innerText.includes('EOD')", timeout=120_000)
            page.select_option(".fairdd-target select", "fairdd")
            page.wait_for_function("document.querySelector('.fairdd-iteration').innerText.includes('iteration 0')",
                                   timeout=120_000)
            eod_before = page.inner_text(".fairdd-eod")
            umap_before = page.get_attribute("img.fairdd-umap", "src")
            for i in range(1, 4):
                page.click(".fairdd-step")
                page.wait_for_function(
                    f"document.querySelector('.fairdd-iteration').innerText.includes('iteration {i}')",
                    timeout=120_000)
            page.wait_for_function(
                "document.querySelector('.fairdd-eod').innerText.includes('proxy @ 3')", timeout=120_000)
            assert page.inner_text(".fairdd-iteration").strip() == "iteration 3"
            assert page.inner_text(".fairdd-eod") != eod_before
            assert page.get_attribute("img.fairdd-umap", "src") != umap_before
            assert page.inner_text(".fairdd-error").strip() == ""
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()
    assert SCREENSHOT.stat().st_size > 10_000
