"""Device-independent cost accounting: the kernels an operation launches and the host syncs it needs.

A DM iteration or an evaluation epoch at the paper's sizes is bound by kernel launches and host
round-trips on a GPU, not by arithmetic. Both can be counted on any machine: ``count_ops`` records
every ATen operator that runs (the unit a GPU launches) and flags the ones that would stall the host
on a GPU — reading a device value (``.item()``, ``bool(t)``, ``int(t)``), an output whose size
depends on the data (``nonzero``, boolean-mask indexing, ``bincount``, ``unique``, ``repeat_interleave``
without ``output_size``), or host data copied in (``torch.tensor(list, device=...)``). A sync-free
step can overlap host and device and can be captured as a CUDA graph.

    with count_ops() as prof:
        distiller.step()
    prof.kernels, prof.syncs   # e.g. 212, Counter()
"""
from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field

import traceback

import torch
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["OpProfile", "count_ops"]

# operators that need the host to read device memory (or wait for it) before they can finish
_SYNCING = {"_local_scalar_dense", "is_nonzero", "nonzero", "masked_select", "bincount", "unique_consecutive",
            "_unique", "_unique2", "unique_dim", "equal", "lift_fresh"}
# operators that allocate or relabel memory without launching a kernel
_FREE = {"empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided", "detach", "lift_fresh"}


@dataclass
class OpProfile:
    """What ran inside ``count_ops``.

    ops : every ATen operator that ran, by name, with its count (views included).
    kernels : operators that launch work on the device (views and allocations excluded).
    syncs : the operators among them that would make a GPU step wait for the host, by name.
    sync_sites : the same, by the line of fairdd (or the caller's) code that ran them.
    """

    ops: Counter = field(default_factory=Counter)
    syncs: Counter = field(default_factory=Counter)
    kernels: int = 0
    sync_sites: Counter = field(default_factory=Counter)  # "op at file:line" of the innermost fairdd frame

    def summary(self) -> str:
        top = ", ".join(f"{k} {v}" for k, v in self.ops.most_common(5))
        sync = ", ".join(f"{k} {v}" for k, v in self.syncs.items()) or "none"
        return f"{self.kernels} kernels (most: {top}); host syncs: {sync}"


class _Counter(TorchDispatchMode):
    def __init__(self, profile: OpProfile) -> None:
        super().__init__()
        self.profile = profile

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = func.overloadpacket.__name__
        p = self.profile
        p.ops[name] += 1
        if not func.is_view and name not in _FREE:
            p.kernels += 1
        if _syncs(func, name, args, kwargs):
            p.syncs[name] += 1
            p.sync_sites[f"{name} at {_site()}"] += 1
        return func(*args, **kwargs)


def _syncs(func, name: str, args, kwargs) -> bool:
    if name in _SYNCING:
        return True
    if name == "repeat_interleave":  # with tensor repeats the output size is read from them unless given
        return func._overloadname == "Tensor" and kwargs.get("output_size") is None
    if name in ("index", "index_put", "index_put_"):  # boolean-mask indexing is nonzero in disguise
        return any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in (args[1] or ()) if i is not None)
    return False


def _site() -> str:
    frames = [f for f in traceback.extract_stack() if "torch" not in f.filename.split("/")[-3:-1]
              and f.filename != __file__ and "contextlib" not in f.filename]
    if not frames:
        return "?"
    mine = [f for f in frames if "/fairdd/" in f.filename] or frames
    f = mine[-1]
    return f"{'/'.join(f.filename.split('/')[-2:])}:{f.lineno}"


@contextmanager
def count_ops():
    """Count the ATen operators run inside the block; yields the ``OpProfile`` it fills."""
    profile = OpProfile()
    with _Counter(profile):
        yield profile
