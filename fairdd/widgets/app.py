"""Serve the live dashboard (notebook 03) with Voila as an offline app.

``make app``, or from Python::

    with serve(smoke=True) as url: ...      # used by the browser test and the latency benchmark

The ``fairdd`` Voila template (in ``fairdd/widgets/jupyter``) is Voila's lab template without its CDN
stylesheets, so nothing is requested from outside the machine, and with the ``_xsrf`` cookie that
Voila's shutdown-on-unload beacon needs (without it every page reload leaked a kernel). Kernels left
without a page are culled after 10 minutes as a safety net.
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["TEMPLATE_ROOT", "NOTEBOOK", "serve"]

TEMPLATE_ROOT = Path(__file__).resolve().parent / "jupyter"
NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "03_live_distillation.ipynb"


# a safety net behind the template's shutdown on unload: a kernel with no page for 10 minutes is shut down
CULL = ["--MappingKernelManager.cull_idle_timeout=600", "--MappingKernelManager.cull_interval=60"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _copy_in(notebook: Path, work: Path) -> None:
    """Copy ``notebook`` into ``work`` and start an empty ``voila.log`` there.

    A file of those names that fairdd did not write is never replaced (``fairdd.ownership``), both checked before
    either is written.
    """
    import shutil

    from ..ownership import check_owned, write_owned

    check_owned(work / notebook.name, what="dashboard notebook")
    check_owned(work / "voila.log", what="dashboard log")
    write_owned(work / notebook.name, lambda p: shutil.copyfile(notebook, p), what="dashboard notebook")
    write_owned(work / "voila.log", lambda p: p.write_text(""), what="dashboard log")


@contextlib.contextmanager
def serve(notebook: str | Path = NOTEBOOK, *, smoke: bool = False, workshop: bool = False,
          workdir: str | Path | None = None, timeout_s: float = 90.0, env: dict | None = None):
    """Run Voila on 127.0.0.1 for ``notebook`` (copied into ``workdir`` so its outputs land there).

    Yields the URL; stops the server on exit. The log is ``workdir/voila.log``.
    """
    import shutil
    import tempfile

    notebook = Path(notebook)
    own = workdir is None
    work = Path(tempfile.mkdtemp(prefix="fairdd-voila-")) if own else Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    _copy_in(notebook, work)
    port = _free_port()
    paths = [str(TEMPLATE_ROOT)] + ([os.environ["JUPYTER_PATH"]] if os.environ.get("JUPYTER_PATH") else [])
    full_env = {**os.environ, "JUPYTER_PATH": os.pathsep.join(paths), **(env or {})}
    if smoke:
        full_env["FAIRDD_SMOKE"] = "1"
    if workshop:
        full_env["FAIRDD_WORKSHOP"] = "1"
    log = open(work / "voila.log", "a")  # made (empty) by _copy_in, through the manifest
    proc = subprocess.Popen(
        [sys.executable, "-m", "voila", notebook.name, f"--port={port}", "--no-browser", "--Voila.ip=127.0.0.1",
         "--template=fairdd", "--VoilaExecutor.timeout=300", *CULL],
        cwd=work, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + timeout_s
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("voila did not start:\n" + (work / "voila.log").read_text())
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        if own:
            shutil.rmtree(work, ignore_errors=True)
