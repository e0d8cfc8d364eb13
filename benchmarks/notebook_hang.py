"""How often executing a notebook hangs on a widget cell, with nbclient's client and with the docs' runner.

    python benchmarks/notebook_hang.py --runs 40 --client plain    # nbclient.NotebookClient
    python benchmarks/notebook_hang.py --runs 40 --client sliced   # docs/_ext/executed_notebooks.Runner

Each run executes a notebook (default 01, SMOKE) in a fresh kernel. For a cell still waiting after
``--watch`` seconds the script reads the shell socket's ZMQ events from the client's event loop: the
reply already there (POLLIN) while the client waits is the hang (a cell merely slow shows no POLLIN).
Reading the events also wakes the wait, so the loop goes on. Prints one JSON line per run, then a
summary line.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "_ext"))


def main() -> None:
    import nbformat
    import zmq
    from executed_notebooks import Runner
    from nbclient import NotebookClient

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--client", choices=("plain", "sliced"), default="plain")
    ap.add_argument("--notebook", default="notebooks/01_why_distillation_is_unfair.ipynb")
    ap.add_argument("--watch", type=float, default=30.0, help="seconds after which a waiting cell counts as hung")
    args = ap.parse_args()
    os.environ["FAIRDD_SMOKE"] = "1"
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    cls = Runner if args.client == "sliced" else NotebookClient
    hangs = 0
    for run in range(args.runs):
        nb = nbformat.read(ROOT / args.notebook, as_version=4)
        with tempfile.TemporaryDirectory() as cwd:
            client = cls(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": cwd}})
            now = {"cell": None, "t": None, "loop": None}
            cells, probes = [], []
            execute_cell = client.async_execute_cell

            async def timed(cell, index, *a, **k):
                now.update(cell=index, t=time.monotonic(), loop=asyncio.get_running_loop())
                result = await execute_cell(cell, index, *a, **k)
                cells.append((index, round(time.monotonic() - now["t"], 2)))
                now["t"] = None
                return result

            client.async_execute_cell = timed
            done = threading.Event()

            def probe():
                sock = client.kc.shell_channel.socket
                probes.append({"cell": now["cell"], "shell_pollin": bool(sock.get(zmq.EVENTS) & zmq.POLLIN)})

            def watch():
                flagged = None
                while not done.wait(1.0):
                    if now["t"] is not None and time.monotonic() - now["t"] > args.watch and flagged != now["t"]:
                        flagged = now["t"]
                        now["loop"].call_soon_threadsafe(probe)

            threading.Thread(target=watch, daemon=True).start()
            t0 = time.monotonic()
            client.execute()
            done.set()
        hangs += any(p["shell_pollin"] for p in probes)  # waiting, the reply already there: the hang
        print(json.dumps({"run": run, "client": args.client, "seconds": round(time.monotonic() - t0, 1),
                          "load1": round(os.getloadavg()[0], 1), "hangs": probes, "cells": cells}), flush=True)
    print(json.dumps({"client": args.client, "runs": args.runs, "runs_with_a_hang": hangs}))


if __name__ == "__main__":
    main()
