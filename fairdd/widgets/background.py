"""Where the dashboard's slow work runs: off the UI path, in processes that yield the cores to the steps.

A proxy evaluation trains ``M`` small networks for ``E`` epochs on each run's synthetic set and scores
them on the test set: seconds of CPU, every ``proxy_every`` iterations. In a thread of the kernel it
competes with the distillation steps for the same cores (and PyTorch's thread pool oversubscribes a
2-core machine), so Play slowed to the proxy's pace. Here it runs in a spawned worker process with one
PyTorch thread, scheduled ``SCHED_IDLE`` on Linux (it runs only on a core nothing else wants; elsewhere,
and in addition, at ``nice`` +``NICE``): the steps keep the cores they need, the evaluation uses what is
left. Measured on 2 cores: a merely niced worker (nice 10 or 19) still doubled the step's time (its
threads wait on each other while the worker holds a core); an idle-class one costs Play next to nothing
(``docs/dashboard-speed.md``). The priority drops before the worker imports PyTorch. Two workers: a run
restarted while its evaluation still trains gets the other one for its first (quick) evaluation instead
of queueing behind a result that will be dropped. The dashboard starts one more such process for its
UMAP layouts (numba's compilation and the layouts never hold the kernel's GIL).

A job that is no longer wanted (an evaluation of an iteration the run has left, or of a run restarted)
would otherwise hold its worker's core to the end (an abandoned refine ran 18 s of a 20 s Play beside the
one that was wanted, and the step thread left a core to both). ``WorkerPool.drop_all()`` drops every job
handed out so far: each stops at its next check (``evaluate_sets``: before each training batch).

    pool = proxy_executor()                    # a WorkerPool (concurrent.futures.Executor, two processes)
    job = pool.submit(evaluate_sets, sets, test, models=2, epochs=30, preset="demo", seed=0,
                      device="cpu", primary="cobra", ticket=pool.ticket())
    nets, reports, ms = job.result()           # or ``Dropped`` after ``pool.drop_all()``
"""
from __future__ import annotations

import ctypes
import functools
import itertools
import multiprocessing
import os
import pickle
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from multiprocessing.reduction import ForkingPickler

from ..evaluate import score, train_models
from ..train import Stopped, stop_when

__all__ = ["Dropped", "WorkerPool", "evaluate_sets", "proxy_executor", "release_omp_pool", "submit", "wanted",
           "worker_info", "NICE", "THREADS"]

NICE = 10  # niceness added to the worker (the only lowering where the OS has no SCHED_IDLE)
THREADS = 1  # PyTorch threads in the worker: never more threads than the cores the steps leave
# the worker's first code: lower the priority, then import fairdd (and with it PyTorch). A builtin
# initializer (exec) because importing any fairdd function would import PyTorch at the old priority.
_BOOT = """import os
os.nice({nice})
try:
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
except (AttributeError, OSError):  # not Linux: the nice value alone
    pass
from fairdd.widgets.background import _prepare
_prepare({threads}, {parent}, floor)
"""
_FLOOR = None  # in a worker: its pool's shared ticket floor (``WorkerPool``); jobs below it are dropped


class Dropped(Exception):
    """A worker job stopped because its pool dropped it (``WorkerPool.drop_all``)."""


def wanted(ticket: int | None) -> bool:
    """Whether a job holding ``ticket`` is still wanted (``None``: always; outside a worker: always)."""
    return ticket is None or _FLOOR is None or ticket >= _FLOOR.value


def _dropped(ticket: int | None) -> bool:
    return not wanted(ticket)


@functools.cache
def _libgomp():
    """Return the GNU OpenMP runtime this process's PyTorch loaded (Linux wheels), or None (another runtime)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "libgomp" in line and line.rstrip().endswith(".so.1")}
    except OSError:
        return None
    for path in sorted(paths):
        lib = ctypes.CDLL(path)  # already loaded: the same library, no second copy
        if hasattr(lib, "omp_pause_resource_all"):
            return lib
    return None


def release_omp_pool() -> bool:
    """Free the calling thread's idle OpenMP worker threads (PyTorch's intra-op pool, libgomp); whether it did.

    Call it on the UI thread before the step thread steps. With libgomp, once the process's main thread has
    run a parallel PyTorch operation (building the run, drawing), its idle pool makes every parallel
    region of *another* thread wait instead of spin: the demo's DM step took 172–186 ms in the step thread
    against 110–118 ms with no such pool (2-core Xeon, ``docs/dashboard-speed.md``). The pool comes back
    at the main thread's next parallel operation, costing a thread start. Elsewhere (macOS's or Windows's
    OpenMP, or none) it does nothing.
    """
    lib = _libgomp()
    return lib is not None and lib.omp_pause_resource_all(1) == 0  # omp_pause_soft


def submit(executor: Executor, fn, /, *args, **kwargs) -> Future:
    """``executor.submit(fn, *args, **kwargs)``; for a process pool, the call is pickled here first.

    A process pool pickles its jobs in a feeder thread of its own, and pickling a PyTorch tensor copies it
    into shared memory with a parallel copy: that thread then keeps an OpenMP pool for good, and with one
    pool more than the cores every parallel region of the step thread waits instead of spinning (the demo's
    DM step ~190 against ~115 ms on 2 cores, ``release_omp_pool``). Pickled here, the copy runs on the
    calling thread's own pool and the feeder sends bytes.
    """
    if not isinstance(executor, ProcessPoolExecutor):
        return executor.submit(fn, *args, **kwargs)
    return executor.submit(_call_pickled, bytes(ForkingPickler.dumps((fn, args, kwargs))))


def _call_pickled(payload: bytes):
    fn, args, kwargs = pickle.loads(payload)
    return fn(*args, **kwargs)


def evaluate_sets(sets: dict, test, *, models: int, epochs: int, preset: str, seed: int, device,
                  primary: str, ticket: int | None = None) -> tuple:
    """Train and score the proxy networks of each run's synthetic set.

    ``models`` networks are trained for ``epochs`` on each of ``sets`` ({target: DistillResult}, the
    same seed for all) and scored on ``test``. Returns ``(nets of primary, {target: report}, ms)``.
    Raises ``Dropped`` before a training batch once the worker's pool dropped ``ticket`` (``WorkerPool``).
    """
    t0 = time.perf_counter()
    nets, reports = (), {}
    for target, result in sets.items():
        try:
            with stop_when(functools.partial(_dropped, ticket)):
                trained = train_models(result, test, n_models=models, preset=preset, epochs=epochs, seed=seed,
                                       device=device)
        except Stopped as exc:
            raise Dropped(f"job {ticket} was dropped") from exc
        if target == primary:  # the embedding view projects through the primary run's last proxy net
            nets = trained.nets
        reports[target] = score(trained, test)
    return nets, reports, 1000 * (time.perf_counter() - t0)


def _prepare(threads: int, parent: int, floor=None) -> None:
    """Set the worker's PyTorch threads and ticket floor; end it with ``parent``.

    Runs after ``_BOOT`` lowered the worker's priority.
    """
    import threading

    import torch

    global _FLOOR
    _FLOOR = floor
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
    """Return the calling process's id, niceness, scheduling policy and PyTorch threads (where a job ran).

    ``idle``: scheduled ``SCHED_IDLE`` (``None`` where the OS has no such policy).
    """
    import torch

    policy = getattr(os, "sched_getscheduler", None)
    idle = None if policy is None or not hasattr(os, "SCHED_IDLE") else policy(0) == os.SCHED_IDLE
    return {"pid": os.getpid(), "nice": os.nice(0), "idle": idle, "threads": torch.get_num_threads()}


class WorkerPool(ProcessPoolExecutor):
    """A pool of spawned worker processes whose jobs can be dropped while they run.

    A job given ``ticket()`` checks ``wanted(ticket)`` as it goes (``evaluate_sets``: before each training
    batch); ``drop_all()`` makes every job ticketed so far stop at its next check (raising ``Dropped``),
    without stopping the workers.
    """

    def __init__(self, workers: int, boot: str):
        ctx = multiprocessing.get_context("spawn")
        self._floor = ctx.RawValue("q", 0)  # shared with the workers: tickets below it are dropped
        self._tickets = itertools.count(1)
        super().__init__(workers, mp_context=ctx, initializer=exec, initargs=(boot, {"floor": self._floor}))

    def ticket(self) -> int:
        """Return a new job's ticket (increasing)."""
        return next(self._tickets)

    def drop_all(self) -> None:
        """Drop every job ticketed so far (each stops at its next ``wanted`` check)."""
        self._floor.value = self.ticket()


def proxy_executor(*, nice: int = NICE, threads: int = THREADS, workers: int = 2) -> WorkerPool:
    """Start a ``WorkerPool`` of ``workers`` idle-class processes (plus ``nice``), ``threads`` PyTorch threads each.

    Spawned, not forked: a fork of a process whose PyTorch thread pool already ran can hang. A worker
    ends by itself when this process is gone.
    """
    for name, value, low in (("nice", nice, 0), ("threads", threads, 1), ("workers", workers, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer ≥ {low}; got {value!r}")
    return WorkerPool(workers, _BOOT.format(nice=nice, threads=threads, parent=os.getpid()))
