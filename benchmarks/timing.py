"""Time several variants of one step against each other, each under its own time limit.

On a shared machine the load changes from second to second, so variants are timed in turns (one
call of each per round) and each keeps its fastest and its median call: a burst of load hits them
alike. Import what the variants need (``torch._dynamo``, ``torch._inductor``) before: an import cut
short by the alarm leaves a half-initialised module behind. A variant whose first call (warm-up, compilation included) or whose calls run past its limit
is stopped (``SIGALRM``, so a Python-level step is interrupted between two operators) and reported
as ``{"skipped": "over N s"}``; one that fails is reported with its error. Nothing hangs.
"""
from __future__ import annotations

import importlib
import signal
import statistics
import time
from contextlib import contextmanager
from typing import Callable


def preload_compiler() -> None:
    """Import torch.compile's machinery now: an import cut short by a time limit would break every later compile."""
    for module in ("torch._dynamo", "torch._inductor.compile_fx"):
        importlib.import_module(module)


class OverLimit(BaseException):
    """A variant ran past its time limit (a BaseException, so ``except Exception`` in a lever cannot swallow it)."""


@contextmanager
def limit(seconds: float | None):
    """Raise ``OverLimit`` in the main thread once ``seconds`` have passed inside the block (None: no limit)."""
    if seconds is None:
        yield
        return
    if seconds <= 0:
        raise OverLimit
    def _raise(signum, frame):
        raise OverLimit
    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.5)  # again every 0.5 s: one raised where Python ignores it
    # (a weakref callback inside torch.compile) is followed by another
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def race(variants: dict[str, Callable[[], object]], *, reps: int, limit_s: float, sync: Callable[[], None] = lambda: None,
         must_finish: tuple[str, ...] = ()) -> dict[str, dict]:
    """Time ``variants`` (name → zero-argument step) in turns: a warm-up call each, then ``reps`` rounds.

    Returns, per name, ``{"ms", "min_ms", "reps", "first_s"}`` (median and fastest call in ms, timed
    calls, seconds of the warm-up call), ``{"skipped": "over N s", ...}`` or ``{"error": ...}``.
    Names in ``must_finish`` (the baselines) run without a limit.
    """
    out, spent, calls = {}, {}, {}
    for name, fn in variants.items():  # warm-up: compilation happens here
        t0 = time.perf_counter()
        try:
            with limit(None if name in must_finish else limit_s):
                fn()
                sync()
        except BaseException as exc:  # noqa: BLE001 - a lever this machine cannot run is reported, not fatal
            if isinstance(exc, KeyboardInterrupt):
                raise
            out[name] = {"skipped": f"over {limit_s:g} s", "stopped_in": "the first call (warm-up, compilation)"} \
                if _over(exc) else {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
            continue
        spent[name], calls[name] = time.perf_counter() - t0, []
        out[name] = {"first_s": round(spent[name], 2)}
    for _ in range(reps):
        for name in [n for n in calls if "skipped" not in out[n] and spent[n] != float("inf")]:
            _timed_call(name, variants[name], out, spent, calls, limit_s=None if name in must_finish else limit_s,
                        sync=sync)
    for name, times in calls.items():
        if times and "error" not in out[name] and "skipped" not in out[name]:
            out[name].update(ms=round(statistics.median(times), 2), min_ms=round(min(times), 2), reps=len(times))
    return out


def _timed_call(name, fn, out, spent, calls, *, limit_s, sync) -> None:
    t0 = time.perf_counter()
    try:
        with limit(None if limit_s is None else limit_s - spent[name]):
            fn()
            sync()
    except BaseException as exc:  # noqa: BLE001 - as in the warm-up
        if isinstance(exc, KeyboardInterrupt):
            raise
        if not _over(exc):
            out[name] = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
        elif not calls[name]:
            out[name] = {"skipped": f"over {limit_s:g} s", "stopped_in": "the first timed call",
                         "first_s": out[name].get("first_s")}
        else:  # it ran out of time after some timed calls: keep those
            out[name]["limit_reached"] = True
        spent[name] = float("inf")
        return
    dt = time.perf_counter() - t0
    spent[name] += dt
    calls[name].append(dt * 1000)


def _over(exc: BaseException | None) -> bool:
    """Whether ``exc`` is, or wraps, ``OverLimit`` (torch.compile re-raises it as a compiler error)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, OverLimit) or "OverLimit" in str(exc)[:300]:
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False
