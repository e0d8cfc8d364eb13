"""Speed levers shared by distillation and training: torch.compile per network, bf16 autocast, and
``"auto"``, which picks the levers this machine runs faster than fp32 eager.

A lever is chosen only where it is measured to win: bf16 autocast runs at full speed only on hardware
with bf16 arithmetic (a CPU with AVX-512-BF16 or AMX, a GPU with bf16 units); on an AVX2-only CPU
oneDNN falls back to a reference path that is 30–80× slower than fp32. ``choose_levers`` reads what
the hardware offers (the ATen CPU capability, the ISA flags, oneDNN's bf16 support, the GPU's), rules
out what it lacks, and times what is left on one block of the run's ConvNet (conv → norm → ReLU →
pool, forward and backward) against fp32 eager. The probe takes about a second (a compilation, tried
only for long runs, 10–40 s once) and is cached per machine, torch version and ISA setting (so the
emulation ``ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2`` gets its own entry) in
``$FAIRDD_CACHE`` or ``~/.cache/fairdd``. The choice, the reason and the measured times are recorded
with the run (``Levers.as_dict()``).
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import platform
import shutil
import socket
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn

__all__ = ["compiled", "compile_mode", "autocast", "Levers", "choose_levers", "bf16_support", "probe",
           "cache_path", "LONG_RUN", "MARGIN"]

LONG_RUN = 500  # iterations (evaluation: epochs × models) from which "auto" tries the levers at all
MARGIN = 1.2  # a lever is chosen only when the probe measured it at least this much faster than fp32 eager
PROBE_VERSION = 1  # bump when the probe's workload changes: older cached times are then ignored
_VARIANTS = {"fp32": ("fp32", False), "bf16": ("bf16", False), "compile": ("fp32", True),
             "compile+bf16": ("bf16", True)}


def compiled(net: nn.Module, method: str = "forward", mode: bool | str = True) -> Callable[[torch.Tensor], torch.Tensor]:
    """``torch.compile(getattr(net, method))`` with static shapes, built once per network and reused.

    Inductor fuses each block's norm, ReLU and pooling around the convolution (on CPU: 1.7× in fp32,
    ~5× with bf16 autocast on the forward pass). The compiled graph reads the parameters at call time,
    so re-drawing them in place (``reset_parameters``) needs no recompilation; a new input shape
    compiles once more. The first call compiles: ~10–20 s on a 2-core CPU. ``mode``: True / "default"
    or a torch.compile mode (``config.COMPILE_MODES``; "reduce-overhead" replays CUDA graphs on a GPU).
    """
    per_net = net.__dict__.setdefault("_fairdd_compiled", {})  # lives and dies with the network
    if (method, mode) not in per_net:
        per_net[method, mode] = torch.compile(getattr(net, method), dynamic=False, mode=compile_mode(mode))
    return per_net[method, mode]


def compile_mode(lever: bool | str) -> str | None:
    """torch.compile's ``mode`` for a ``compile`` lever value (True / "default" → Inductor's default)."""
    if lever == "auto":
        raise ValueError("compile='auto' must be resolved first (fairdd.levers.choose_levers)")
    return None if lever in (True, "default") else lever


def autocast(device: torch.device | str, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast on ``device`` for ``precision="bf16"``, nothing for ``"fp32"``."""
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be 'fp32' or 'bf16' here ('auto' is resolved by "
                         f"fairdd.levers.choose_levers); got {precision!r}")
    device_type = device if isinstance(device, str) else device.type
    return torch.autocast(device_type=device_type, dtype=torch.bfloat16) if precision == "bf16" \
        else contextlib.nullcontext()


@dataclass(frozen=True)
class Levers:
    """The levers a run uses and why.

    precision : "fp32" or "bf16".
    compile : False, True or a torch.compile mode.
    reason : one sentence: what the hardware offers and what was measured.
    probe : the probe's times in ms per variant ("fp32", "bf16", "compile", "compile+bf16"; {} when
        nothing was measured), with ``"cached"``: whether they were read from the cache.
    """

    precision: str
    compile: bool | str
    reason: str
    probe: dict = field(default_factory=dict)

    def speedup(self) -> float | None:
        """fp32 eager time / the chosen variant's time in the probe (None when not measured)."""
        name = _variant_name(self.precision, self.compile)
        times = self.probe.get("ms", {})
        if name not in times or "fp32" not in times:
            return None
        return times["fp32"] / times[name]

    def as_dict(self) -> dict:
        """The record kept with a run's results."""
        return asdict(self)


def _variant_name(precision: str, compile_: bool | str) -> str:
    if not compile_:
        return precision
    return "compile" if precision == "fp32" else "compile+bf16"


# ---------------------------------------------------------------------------------------- hardware
def _cpu_flags() -> set[str]:
    """ISA flags of the first CPU in /proc/cpuinfo (x86 ``flags``, Arm ``Features``); empty if unreadable."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def bf16_support(device: torch.device | str) -> tuple[bool, str]:
    """Whether ``device`` has bf16 arithmetic (worth measuring), and what was found, in words.

    CPU: oneDNN must run bf16 kernels (``torch.ops.mkldnn._is_mkldnn_bf16_supported()``, which obeys
    ``ONEDNN_MAX_CPU_ISA``) and the CPU must have bf16 instructions (AVX-512-BF16, AMX-BF16 or Arm
    BF16 in its ISA flags) under the ATen capability in force (``ATEN_CPU_CAPABILITY``). GPU:
    ``torch.cuda.is_bf16_supported(including_emulation=False)``. Other devices: no.
    """
    device = torch.device(device)
    if device.type == "cuda":
        ok = torch.cuda.is_bf16_supported(including_emulation=False)
        name = torch.cuda.get_device_name(device)
        return ok, f"{name} {'has' if ok else 'has no'} bf16 units"
    if device.type != "cpu":
        return False, f"no bf16 lever on {device.type}"
    cap = torch.backends.cpu.get_cpu_capability()
    flags = _cpu_flags() & {"avx512_bf16", "amx_bf16", "bf16", "avx2", "avx512f"}
    onednn = bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA")
    what = f"CPU capability {cap}, flags {sorted(flags) or 'unknown'}" + (f", ONEDNN_MAX_CPU_ISA={isa}" if isa else "")
    if not onednn:
        return False, f"{what}: oneDNN has no bf16 kernels here (bf16 would run a slow reference path)"
    native = bool(flags & {"avx512_bf16", "amx_bf16", "bf16"}) and cap not in ("DEFAULT", "AVX2")
    return native, f"{what}: {'bf16 instructions' if native else 'no bf16 instructions (bf16 is converted)'}"


def compile_support(device: torch.device | str) -> tuple[bool, str]:
    """Whether Inductor can build code for ``device``: a C++ compiler on a CPU, Triton on a GPU."""
    device = torch.device(device)
    if device.type == "cpu":
        cxx = shutil.which(os.environ.get("CXX", "g++")) or shutil.which("c++") or shutil.which("clang++")
        return bool(cxx), f"C++ compiler {cxx}" if cxx else "no C++ compiler for torch.compile"
    if device.type == "cuda":
        ok = importlib.util.find_spec("triton") is not None
        return ok, "Triton installed" if ok else "no Triton for torch.compile"
    return False, f"no torch.compile lever on {device.type}"


# ------------------------------------------------------------------------------------------- probe
def cache_path() -> Path:
    """The probe cache: ``$FAIRDD_CACHE/levers.json``, else ``$XDG_CACHE_HOME/fairdd`` or ``~/.cache/fairdd``."""
    root = os.environ.get("FAIRDD_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fairdd"
    return Path(root) / "levers.json"


def machine_key(device: torch.device | str) -> str:
    """What a probe's times hold for: host, processor, torch version, threads and the ISA settings in force."""
    device = torch.device(device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_model()
    env = ",".join(f"{k}={os.environ[k]}" for k in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY")
                   if os.environ.get(k))
    return (f"{socket.gethostname()}|{device.type}|{where}|torch {torch.__version__}|threads {torch.get_num_threads()}"
            f"|{env or 'isa default'}|probe {PROBE_VERSION}")


def _read_cache(path: Path) -> dict:
    """The cache's entries; a missing, unreadable or damaged file counts as empty (it is rewritten)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and all(isinstance(v, dict) for v in data.values()) else {}


def _write_cache(path: Path, key: str, times: dict) -> None:
    from .io import write_json

    data = _read_cache(path)  # merge with what another process may have written meanwhile
    data[key] = {**data.get(key, {}), **times}
    try:
        write_json(path, data)
    except OSError:  # a read-only home: the probe simply runs again next time
        pass


def probe(device: torch.device | str, *, width: int, image_size: int = 32, variants=("fp32", "bf16"),
          budget_s: float = 1.0) -> dict:
    """Milliseconds of one ConvNet block's forward and backward per variant, cached per machine.

    The block is the run's middle layer: conv 3×3 (width → width) → instance norm → ReLU → avg-pool
    on (n, width, image_size/2, image_size/2), n = 8 on a CPU, 64 on a GPU. Variants are timed in
    turn (so a burst of load hits them alike) for at most ``budget_s`` after one warm-up call each;
    each time is the fastest call. Returns ``{"ms": {variant: ms}, "cached": bool, "key": str}``.
    """
    device = torch.device(device)
    key, path = f"{machine_key(device)}|width {width}|size {image_size}", cache_path()
    known = _read_cache(path).get(key, {})
    todo = [v for v in variants if not isinstance(known.get(v), (int, float)) or not known[v] > 0]
    if todo:
        known = {**known, **_measure(device, width, image_size, todo, budget_s)}
        _write_cache(path, key, {v: known[v] for v in todo if v in known})
    return {"ms": {v: known[v] for v in variants if v in known}, "cached": not todo, "key": key}


def _measure(device: torch.device, width: int, image_size: int, variants, budget_s: float) -> dict:
    side = max(image_size // 2, 2)
    n = 64 if device.type == "cuda" else 8
    g = torch.Generator().manual_seed(0)
    block = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.GroupNorm(width, width), nn.ReLU(),
                          nn.AvgPool2d(2)).to(device)
    x = torch.randn(n, width, side, side, generator=g).to(device).requires_grad_(True)
    calls = {}
    for name in variants:
        precision, comp = _VARIANTS[name]
        fn = torch.compile(block, dynamic=False) if comp else block
        calls[name] = (lambda fn=fn, precision=precision: _fwd_bwd(fn, x, precision))
    best = {}
    for name, call in calls.items():  # warm-up (and compilation)
        try:
            call()
        except Exception:  # noqa: BLE001 - a lever this machine cannot run is simply not a candidate
            continue
        best[name] = float("inf")
    start, rounds = time.perf_counter(), 0
    while best and (rounds < 1 or time.perf_counter() - start < budget_s) and rounds < 20:
        for name in best:
            t0 = time.perf_counter()
            calls[name]()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            best[name] = min(best[name], (time.perf_counter() - t0) * 1000)
        rounds += 1
    return {k: round(v, 3) for k, v in best.items()}


def _fwd_bwd(fn, x: torch.Tensor, precision: str) -> None:
    with autocast(x.device, precision):
        y = fn(x)
    y.float().sum().backward()
    x.grad = None


# ------------------------------------------------------------------------------------------ choice
def choose_levers(device: torch.device | str, *, precision: str = "auto", compile: bool | str = "auto",
                  width: int = 128, image_size: int = 32, steps: int = LONG_RUN) -> Levers:
    """Resolve ``precision`` / ``compile`` (each a value or ``"auto"``) for a run on ``device``.

    ``"auto"`` keeps fp32 eager for short runs (``steps`` < ``LONG_RUN``: a probe or a compilation
    would not pay), rules out what the hardware lacks (``bf16_support``, ``compile_support``), and
    among what is left picks the variant the probe measured fastest, if at least ``MARGIN`` × faster
    than fp32 eager; compilation is tried only for long runs. A value set by hand is kept; bf16 set
    by hand on hardware without bf16 arithmetic gives a ``UserWarning`` with the measured slowdown.
    """
    device = torch.device(device)
    if precision == "bf16":
        _warn_forced_bf16(device, width=width, image_size=image_size)
    if precision != "auto" and compile != "auto":
        return Levers(precision, compile, "set by hand")
    if steps < LONG_RUN:
        return Levers("fp32" if precision == "auto" else precision, False if compile == "auto" else compile,
                      f"short run ({steps} < {LONG_RUN} steps): the levers would not pay for their probe")
    bf16_ok, bf16_why = bf16_support(device)
    comp_ok, comp_why = compile_support(device)
    precisions = ["fp32", "bf16"] if precision == "auto" and bf16_ok else ["fp32" if precision == "auto" else precision]
    compiles = [False, True] if compile == "auto" and comp_ok else [False if compile == "auto" else compile]
    candidates = [_variant_name(p, c) for c in compiles for p in precisions]
    hardware = f"{bf16_why}; {comp_why}"
    if candidates == ["fp32"]:
        return Levers("fp32", False, f"{hardware}: fp32 eager, nothing else to try")
    measured = probe(device, width=width, image_size=image_size, variants=tuple(dict.fromkeys(["fp32", *candidates])))
    ms = measured["ms"]
    base = ms.get("fp32", float("nan"))
    fixed = next(iter(candidates))  # what the levers set by hand give on their own
    winners = [v for v in candidates if v in ms and base / ms[v] >= MARGIN] or [fixed]
    pick = min(winners, key=lambda v: ms.get(v, float("inf")))
    prec, comp = _VARIANTS.get(pick, (precisions[0], compiles[0]))
    if comp and compile != "auto":
        comp = compile  # a mode set by hand
    ratios = ", ".join(f"{v} {base / t:.2f}×" for v, t in ms.items() if v != "fp32")
    return Levers(prec, comp, f"{hardware}; probe vs fp32 eager: {ratios or 'nothing measured'} "
                              f"(chosen when ≥ {MARGIN}×)", measured)


def _warn_forced_bf16(device: torch.device, *, width: int, image_size: int) -> None:
    ok, why = bf16_support(device)
    if ok or device.type not in ("cpu", "cuda"):
        return
    ms = probe(device, width=width, image_size=image_size, variants=("fp32", "bf16"), budget_s=0.0)["ms"]
    ratio = ms.get("bf16", float("nan")) / ms.get("fp32", float("nan"))
    warnings.warn(f"precision='bf16' on hardware without bf16 arithmetic ({why}): measured {ratio:.1f}× "
                  f"slower than fp32 on one ConvNet block here; use precision='auto' or 'fp32'",
                  UserWarning, stacklevel=3)
