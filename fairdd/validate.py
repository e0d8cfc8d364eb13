"""Argument checks shared by the public entry points: types and ranges first, one clear message.

Every check raises ``ValueError`` (or a subclass) whose message names the argument, the value
received and what is allowed, so the CLI can print it as one line.
"""
from __future__ import annotations

import math
import numbers
import os
from pathlib import Path
from typing import Any, Iterable

import torch

__all__ = ["NonFiniteError", "check_int", "check_real", "check_bool", "check_choice", "check_seed", "check_path",
           "check_device", "check_finite", "check_group_weights", "check_memory",
           "check_ipc_fits", "check_callbacks", "check_dtype", "describe_value", "resolve_device", "stream_seed",
           "numpy_seed", "MAX_SEED"]

MAX_SEED = 2**63 - 1  # the documented seed range is [0, MAX_SEED]; every consumer takes all of it
_TORCH_SEEDS = 2**64  # torch.Generator.manual_seed takes [0, 2**64)


class NonFiniteError(ValueError):
    """A NaN or infinity where finite numbers are required (inputs, or a loss during a run).

    ``iteration`` is the first bad iteration of a run (None for inputs); ``last_good`` the
    ``DistillResult`` of the last finite state when a run stopped.
    """

    def __init__(self, message: str, *, iteration: int | None = None, last_good=None) -> None:
        super().__init__(message)
        self.iteration = iteration
        self.last_good = last_good


def describe_value(value: Any) -> str:
    """``repr`` of ``value`` with its type when the repr alone could mislead (``'1'`` vs ``1``)."""
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} ({type(value).__name__})"


def check_int(name: str, value, low: int | None = None, high: int | None = None) -> int:
    """An integer (not a bool, not a float) in [low, high]."""
    span = _span(low, high)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer{span}; got {describe_value(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be an integer{span}; got {value!r}")
    return int(value)


def check_real(name: str, value, low: float | None = None, high: float | None = None, *,
               low_open: bool = False, high_open: bool = False) -> float:
    """A finite real number (not a bool, not a string) in the given interval."""
    lo = "" if low is None else ("(" if low_open else "[") + f"{low:g}"
    hi = "" if high is None else f"{high:g}" + (")" if high_open else "]")
    span = f" in {lo or '(-inf'}, {hi or 'inf)'}" if low is not None or high is not None else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a finite number{span}; got {describe_value(value)}")
    try:
        v = float(value)
    except OverflowError:  # an int beyond float's range (10**400)
        raise ValueError(f"{name} must be a finite number{span}; got an integer too large for a float "
                         f"({describe_value(value)})") from None
    if not math.isfinite(v):
        raise NonFiniteError(f"{name} must be a finite number{span}; got {value!r}")
    if low is not None and (v < low or (low_open and v == low)):
        raise ValueError(f"{name} must be a finite number{span}; got {value!r}")
    if high is not None and (v > high or (high_open and v == high)):
        raise ValueError(f"{name} must be a finite number{span}; got {value!r}")
    return v


def check_bool(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False; got {describe_value(value)}")
    return value


def check_choice(name: str, value, allowed: Iterable) -> Any:
    """``value`` is one of ``allowed``, of the same type (``1`` is not ``True``)."""
    allowed = list(allowed)
    if not any(type(value) is type(a) and value == a for a in allowed):
        raise ValueError(f"unknown {name} {value!r}; allowed: {allowed}")
    return value


def check_seed(value, name: str = "seed") -> int:
    """Seeds are integers in [0, 2**63 - 1]: 1.5 or "3" would silently mean another seed.

    Every consumer of a seed takes this whole range: derived seeds go through :func:`stream_seed`
    (torch) and :func:`numpy_seed` (NumPy's legacy ``RandomState``, 32-bit).
    """
    return check_int(name, value, 0, MAX_SEED)


def stream_seed(seed: int, stream: int = 0, n_streams: int = 1) -> int:
    """The seed of stream ``stream`` of ``n_streams`` derived from ``seed``, for ``torch.Generator``.

    ``seed * n_streams + stream`` (what the code always used, so small seeds give the same draws),
    wrapped into torch's range [0, 2**64): a seed near ``MAX_SEED`` stays valid.
    """
    return (int(seed) * int(n_streams) + int(stream)) % _TORCH_SEEDS


def numpy_seed(value: int) -> int | list[int]:
    """A seed for ``np.random.RandomState``, which takes [0, 2**32) or a list of 32-bit words.

    Below 2**32 the value itself (the same stream as before); above, its 32-bit words, low first.
    """
    value = int(value)
    if value < 2**32:
        return value
    words = []
    while value:
        words.append(value & 0xFFFFFFFF)
        value >>= 32
    return words


def check_path(name: str, value, *, optional: bool = False) -> Path | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, os.PathLike)):
        allowed = "a str or os.PathLike" + (" or None" if optional else "")
        raise ValueError(f"{name} must be {allowed}; got {describe_value(value)}")
    if str(value) == "":
        raise ValueError(f"{name} must be a non-empty path; got ''")
    return Path(value)


def check_device(device) -> torch.device:
    """"auto" → CUDA when available, else CPU; "cpu", "cuda", "cuda:N", "mps" or a ``torch.device``.

    A CUDA device on a torch without CUDA (or past the last GPU) is refused here, before any work.
    """
    if isinstance(device, torch.device):
        dev = device
    elif isinstance(device, str):
        if device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError, ValueError) as exc:
            raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu', 'cuda' or 'cuda:N'") from exc
    else:
        raise ValueError(f"device must be a str ('auto', 'cpu', 'cuda', 'cuda:N') or torch.device; "
                         f"got {describe_value(device)}")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={str(device)!r} but CUDA is not available to this torch "
                             f"({torch.__version__}); use device='auto' or 'cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device={str(device)!r} but only {torch.cuda.device_count()} CUDA device(s) exist")
    elif dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ValueError(f"device={str(device)!r} but MPS is not available; use device='auto' or 'cpu'")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unsupported device {str(device)!r}; use 'auto', 'cpu', 'cuda' or 'cuda:N'")
    return dev


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """"auto" → CUDA when available, else CPU; a CUDA device without CUDA is a ``ValueError``
    (``check_device``). Shared by distillation, evaluation and the dashboard."""
    return check_device(device)


def check_finite(name: str, images: torch.Tensor) -> None:
    """Refuse NaN / infinity in ``images`` (N, ...), naming how many samples hold them."""
    if not images.is_floating_point():
        raise ValueError(f"{name} must be floating-point images; got dtype {images.dtype}")
    bad = ~torch.isfinite(images).flatten(1).all(1)  # (N,)
    n_bad = int(bad.sum())
    if n_bad:
        first = int(bad.nonzero()[0])
        raise NonFiniteError(f"{name}: NaN or infinite values in {n_bad} of {images.shape[0]} images "
                             f"(first at index {first}); clean or drop them first")


def check_group_weights(spec) -> str | tuple[float, ...]:
    """"uniform", "proportional" or a sequence of finite non-negative numbers, not all ~0.

    A 1-D tensor or array is read as its entries. Weights are relative, so their sum must be finite too
    (``[1e308] * 4`` overflows it). Returns the spec, a sequence as a tuple of floats.
    """
    if isinstance(spec, str):
        if spec not in ("uniform", "proportional"):
            raise ValueError(f"group_weights must be 'uniform', 'proportional' or a non-empty list of numbers "
                             f"(one per group); got {spec!r}")
        return spec
    if isinstance(spec, torch.Tensor) or type(spec).__module__ == "numpy":
        spec = spec.tolist() if getattr(spec, "ndim", 0) == 1 else spec
    if not isinstance(spec, (list, tuple)) or not spec:
        raise ValueError(f"group_weights must be 'uniform', 'proportional' or a non-empty list of numbers "
                         f"(one per group); got {describe_value(spec)}")
    weights = tuple(check_real(f"group_weights[{i}]", v, 0.0) for i, v in enumerate(spec))
    if max(weights) < 1e-12:
        raise ValueError(f"group_weights must have an entry >= 1e-12 (weights are relative: scale them up); "
                         f"got {list(spec)}")
    if not math.isfinite(sum(weights)):
        raise ValueError(f"group_weights sum to infinity (float overflow); weights are relative: scale them "
                         f"down; got {list(spec)}")
    return weights


def check_callbacks(callbacks) -> list:
    """One callable ``f(distiller, info)`` or a list/tuple of them; each must take two arguments."""
    import inspect

    if callable(callbacks):
        callbacks = [callbacks]
    if not isinstance(callbacks, (list, tuple)):
        raise ValueError(f"callbacks must be a callable f(distiller, info) or a list of them; "
                         f"got {describe_value(callbacks)}")
    for i, cb in enumerate(callbacks):
        if not callable(cb):
            raise ValueError(f"callbacks must be callables f(distiller, info); got {describe_value(cb)} "
                             f"at callbacks[{i}]")
        try:
            inspect.signature(cb).bind(None, None)
        except TypeError:
            raise ValueError(f"callbacks[{i}] ({getattr(cb, '__name__', type(cb).__name__)}) must take two "
                             f"arguments (distiller, info); its signature is {inspect.signature(cb)}") from None
        except ValueError:  # builtins without a signature: trust them
            pass
    return list(callbacks)


def check_dtype(name: str, tensor, allowed: tuple, hint: str) -> torch.Tensor:
    """``tensor`` is a ``torch.Tensor`` of one of the ``allowed`` dtypes (no silent cast); ``hint`` says how."""
    if not isinstance(tensor, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor; got {describe_value(tensor)}")
    if tensor.dtype not in allowed:
        names = " or ".join(str(d).removeprefix("torch.") for d in allowed)
        raise ValueError(f"{name} must be a tensor of dtype {names}; got {str(tensor.dtype).removeprefix('torch.')} "
                         f"({hint})")
    return tensor


def check_ipc_fits(ipc: int, counts: torch.Tensor, class_names, *, what: str = "ipc", per: int = 1) -> None:
    """Refuse ``ipc`` (× ``per`` real images per synthetic one) larger than the smallest class."""
    need = ipc * per
    smallest = int(counts.min())
    if need > smallest:
        k = int(counts.argmin())
        extra = f" × {per} real images per stored image (IDC) = {need}" if per > 1 else ""
        raise ValueError(f"{what}={ipc}{extra} is larger than the smallest class ({class_names[k]!r} has "
                         f"{smallest} training samples): images would be repeated; use {what} <= {smallest // per}")


def check_memory(name: str, n_bytes: int, device: torch.device) -> None:
    """Refuse a request that could not fit in the device's memory (before allocating it)."""
    total = None
    if device.type == "cuda":
        total = torch.cuda.get_device_properties(device).total_memory
    else:
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
            total = None
    if total is not None and n_bytes > total:
        raise ValueError(f"{name} needs about {n_bytes / 2**30:.1f} GiB but {device} has "
                         f"{total / 2**30:.1f} GiB; ask for less")


def _span(low, high) -> str:
    if low is not None and high is not None:
        return f" in [{low}, {high}]"
    if low is not None:
        return f" >= {low}"
    if high is not None:
        return f" <= {high}"
    return ""


def check_load_args(*, name, split, mode, bias, groups, n_groups, size, severity, seed, group_noise, group_labels,
                    root, download) -> dict:
    """Types of ``fairdd.datasets.load``'s arguments (its own checks name the choices and ranges).

    Returns the numeric arguments and ``groups`` as the plain Python values they stand for
    (``np.int64(4)`` -> 4, a 1-D array of group ids -> a list), which the loader then uses.
    """
    if not isinstance(name, str):
        raise ValueError(f"name must be a dataset name (str); got {describe_value(name)}")
    if not isinstance(split, str):
        raise ValueError(f"split must be 'train' or 'test'; got {describe_value(split)}")
    if not isinstance(mode, str):
        raise ValueError(f"mode must be 'foreground' or 'background'; got {describe_value(mode)}")
    out = dict(bias=check_real("bias", bias), seed=check_seed(seed),  # ranges: load's own checks
               group_noise=check_real("group_noise", group_noise),  # with_group_noise / with_partial_groups
               group_labels=check_real("group_labels", group_labels))
    out.update({key: check_int(key, value) for key, value in (("n_groups", n_groups), ("size", size),
                                                               ("severity", severity))})
    check_path("root", root, optional=True)
    check_bool("download", download)
    if groups is not None:
        if type(groups).__module__ == "numpy" and getattr(groups, "ndim", 0) == 1:
            groups = groups.tolist()
        if isinstance(groups, (str, bytes)) or not isinstance(groups, (list, tuple)):
            raise ValueError(f"groups must be a list of group ids (int) or colour names (str); "
                             f"got {describe_value(groups)}")
        for g in groups:
            if isinstance(g, bool) or not isinstance(g, (numbers.Integral, str)):
                raise ValueError(f"groups must hold group ids (int) or colour names (str); got {describe_value(g)} "
                                 f"in {list(groups)!r}")
        groups = [g if isinstance(g, str) else int(g) for g in groups]
    return dict(out, groups=groups)
