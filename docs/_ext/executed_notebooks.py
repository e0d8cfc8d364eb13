"""Execute the repository's notebooks for the documentation site (``conf.py``) and the tests.

Each notebook runs top to bottom in a fresh kernel (nbclient), in a temporary working folder so the
``results/`` it writes stay out of the checkout. For the site, its interactive outputs are then drawn
as static HTML from the saved widget state (:mod:`static_widgets`), so the site needs no widget
manager and no network. MyST-NB renders the executed copies as they are.

Why :class:`Runner` and not a plain ``NotebookClient``: a cell with an ipywidgets ``Output`` (every
``interact``) sometimes hung until its time limit, the kernel idle, the client waiting for the
``execute_reply`` (6 hangs in 61 runs of notebook 01 on a loaded 2-core machine). The reply had
arrived: it sat in the client's shell socket (``ZMQ_EVENTS`` had ``POLLIN``) while the client's
asyncio poll on that socket slept, and merely reading the socket's events woke it. The likely trigger
is that nbclient sends widget updates on that same socket while it waits (``output_widget``), and a
ZeroMQ send can consume the edge-triggered wake-up of a message arriving at that moment. The runner
waits in slices of ``POLL_SLICE_S``: each new wait looks at the socket first, so a missed wake-up
costs at most a slice (0 hangs in 40 runs, same notebook, same load).
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from queue import Empty

import nbformat
from nbclient import NotebookClient

POLL_SLICE_S = 1.0


def sliced(get_msg, slice_s: float = POLL_SLICE_S):
    """``get_msg(timeout=...)`` of a kernel-client channel, waiting at most ``slice_s`` per poll."""
    async def get_msg_in_slices(timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await get_msg(timeout=slice_s if left is None else min(slice_s, left))
            except Empty:
                if left is not None and left <= slice_s:
                    raise
    return get_msg_in_slices


class Runner(NotebookClient):
    """A ``NotebookClient`` whose waits for kernel messages never sleep through a missed wake-up."""

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        for channel in (kc.shell_channel, kc.iopub_channel):
            channel.get_msg = sliced(channel.get_msg)
        return kc


def run(nb, *, cell_limit_s: int | None, cwd: str | Path):
    """Execute ``nb`` (nbformat, changed in place) in ``cwd``; a cell past ``cell_limit_s`` seconds
    (None: no limit) or one that raises fails the run."""
    Runner(nb, timeout=cell_limit_s, kernel_name="python3", resources={"metadata": {"path": str(cwd)}},
           store_widget_state=True).execute()
    return nb


def execute(nb, *, cell_limit_s: int | None):
    """Execute ``nb`` (changed in place) in a temporary folder and draw its widgets as static HTML."""
    from static_widgets import flatten_widgets

    with tempfile.TemporaryDirectory(prefix="fairdd-docs-") as cwd:
        run(nb, cell_limit_s=cell_limit_s, cwd=cwd)
    flatten_widgets(nb)
    return nb


def write_if_changed(nb, path: Path) -> None:
    text = nbformat.writes(nb)
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
