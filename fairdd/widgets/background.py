"""Where the dashboard's proxy evaluations run: off the UI path, in a process that yields to the steps.

A proxy evaluation trains ``M`` small networks for ``E`` epochs on each run's synthetic set and scores
them on the test set: seconds of CPU, every ``proxy_every`` iterations. In a thread of the kernel it
competes with the distillation steps for the same cores (and PyTorch's thread pool oversubscribes a
2-core machine), so Play slowed to the proxy's pace. Here it runs in one spawned worker process at a
lower scheduling priority (``nice``) and one PyTorch thread: the steps keep the cores they need, and
the evaluation uses what is left. Two workers: a run restarted while its evaluation still trains
gets the other one for its first (quick) evaluation instead of queueing behind a result that will be
dropped.

    pool = proxy_executor()                    # concurrent.futures.Executor (two processes)
    job = pool.submit(evaluate_sets, sets, test, models=2, epochs=30, preset="demo", seed=0,
                      device="cpu", primary="cobra")
    nets, reports, ms = job.result()
"""
from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor

from ..evaluate import score, train_models

__all__ = ["evaluate_sets", "proxy_executor", "worker_info", "NICE", "THREADS"]

NICE = 10  # scheduling priority added to the worker: the steps (priority 0) win the cores when both run
THREADS = 1  # PyTorch threads in the worker: never more threads than the cores the steps leave


def evaluate_sets(sets: dict, test, *, models: int, epochs: int, preset: str, seed: int, device,
                  primary: str) -> tuple:
    """Train and score the proxy networks of each run's synthetic set.

    ``models`` networks are trained for ``epochs`` on each of ``sets`` ({target: DistillResult}, the
    same seed for all) and scored on ``test``. Returns ``(nets of primary, {target: report}, ms)``.
    """
    t0 = time.perf_counter()
    nets, reports = (), {}
    for target, result in sets.items():
        trained = train_models(result, test, n_models=models, preset=preset, epochs=epochs, seed=seed,
                               device=device)
        if target == primary:  # the embedding view projects through the primary run's last proxy net
            nets = trained.nets
        reports[target] = score(trained, test)
    return nets, reports, 1000 * (time.perf_counter() - t0)


def _lower_priority(nice: int, threads: int, parent: int) -> None:
    import threading

    import torch

    os.nice(nice)
    torch.set_num_threads(threads)
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _exit_with(parent: int) -> None:
    """End this worker once ``parent`` is gone.

    A kernel killed, not shut down, would otherwise leave it waiting for work forever, holding its memory.
    """
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def worker_info() -> dict:
    """Return the calling process's id, niceness and PyTorch threads (to check where a job ran)."""
    import torch

    return {"pid": os.getpid(), "nice": os.nice(0), "threads": torch.get_num_threads()}


def proxy_executor(*, nice: int = NICE, threads: int = THREADS, workers: int = 2) -> ProcessPoolExecutor:
    """Start an executor of ``workers`` processes at ``nice`` and ``threads`` PyTorch threads each.

    Spawned, not forked: a fork of a process whose PyTorch thread pool already ran can hang. A worker
    ends by itself when this process is gone.
    """
    for name, value, low in (("nice", nice, 0), ("threads", threads, 1), ("workers", workers, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer ≥ {low}; got {value!r}")
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_lower_priority,
                               initargs=(nice, threads, os.getpid()))
