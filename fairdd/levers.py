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
import copy
import importlib.util
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
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
PROBE_BATCH_CPU = 8  # images in the probe block on a CPU (64 on a GPU)
PROBE_BLOCKS = 3  # a lever counts as faster only if it was faster in each of these blocks of rounds
COMPILE_PROBE_TIMEOUT = 300  # seconds for the compiled variants' probe (compilation included), in a child process
PROBE_VERSION = 2  # bump when the probe's workload changes: older cached times are then ignored

def _variant_name(precision: str, compile_: bool | str, channels_last: bool = False) -> str:
    """The probe's name for a lever combination: "fp32", "bf16", "compile+bf16+channels_last", ..."""
    parts = (["compile"] if compile_ else []) + ([precision] if precision != "fp32" else [])
    return "+".join(parts + (["channels_last"] if channels_last else [])) or "fp32"


_VARIANTS = {_variant_name(p, c, cl): (p, c, cl) for cl in (False, True) for c in (False, True) for p in ("fp32", "bf16")}


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
    channels_last : NHWC layout of the network (DM).
    reason : one sentence: what the hardware offers and what was measured.
    probe : what ``probe`` returned ({} when nothing was measured): ``"ms"`` per variant ("fp32",
        "bf16", "compile", "channels_last", ...), ``"speedup"`` over fp32 eager (worst block),
        ``"cached"`` and the cache ``"key"``.
    """

    precision: str
    compile: bool | str
    reason: str
    probe: dict = field(default_factory=dict)
    channels_last: bool = False

    def speedup(self) -> float | None:
        """The probe's speedup of the chosen variant over fp32 eager (its worst block; None: not measured)."""
        return self.probe.get("speedup", {}).get(_variant_name(self.precision, self.compile, self.channels_last))

    def as_dict(self) -> dict:
        """The record kept with a run's results."""
        return asdict(self)


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
    """Time one ConvNet block's forward and backward per variant against fp32 eager; cached per machine.

    The block is the run's middle layer: conv 3×3 (width → width) → instance norm → ReLU → avg-pool
    on (n, width, image_size/2, image_size/2), n = 8 on a CPU, 64 on a GPU. The variants and fp32
    eager are timed in turns (a burst of load hits them alike) in ``PROBE_BLOCKS`` blocks that share
    ``budget_s`` after one warm-up call each; a block keeps each variant's fastest call.

    Returns ``{"ms": {variant: median over blocks}, "speedup": {variant: the smallest over blocks of
    fp32 ms / variant ms}, "cached": bool, "key": str}``: a variant counts as faster only if it was
    faster in every block. Times taken while the load average exceeded the core count are used, but
    measured again once the machine is quiet (a busy machine's probe mostly says "nothing wins").
    """
    device = torch.device(device)
    key, path = f"{machine_key(device)}|width {width}|size {image_size}", cache_path()
    busy_now = _busy()
    known = {v: r for v, r in _read_cache(path).get(key, {}).items()
             if _valid_record(r) and (busy_now or not r.get("busy"))}  # measured on a busy machine: again when quiet
    todo = [v for v in variants if v not in known]
    if todo:
        eager = [v for v in todo if not _VARIANTS[v][1]]
        known.update(_measure(device, width, image_size, eager, budget_s) if eager else {})
        for v in (v for v in todo if _VARIANTS[v][1]):  # one child each: a compilation that crashes costs only itself
            known.update(_measure_apart(device, width, image_size, [v], budget_s))
        _write_cache(path, key, {v: known[v] for v in todo if v in known})
    ms = {v: statistics.median(known[v]["ms"]) for v in variants if v in known}
    speedup = {v: min(f / t for f, t in zip(known[v]["fp32_ms"], known[v]["ms"])) for v in variants if v in known}
    return {"ms": ms, "speedup": speedup, "cached": not todo, "key": key}


def _valid_record(r) -> bool:
    return isinstance(r, dict) and all(
        isinstance(r.get(k), list) and len(r[k]) == PROBE_BLOCKS
        and all(isinstance(t, (int, float)) and t > 0 for t in r[k]) for k in ("ms", "fp32_ms"))


def _measure(device: torch.device, width: int, image_size: int, variants, budget_s: float) -> dict:
    """``{variant: {"ms": [fastest call per block], "fp32_ms": [fp32 eager's, same blocks]}}`` (fp32 always timed)."""
    calls = _probe_calls(device, width, image_size, dict.fromkeys(["fp32", *variants]))
    ok = []
    for name, call in calls.items():  # warm-up (and compilation)
        try:
            call()
        except Exception:  # noqa: BLE001 - a lever this machine cannot run is simply not a candidate
            continue
        ok.append(name)
    if "fp32" not in ok:
        return {}
    blocks = {name: [] for name in ok}
    for _ in range(PROBE_BLOCKS):
        best, start, rounds = dict.fromkeys(ok, float("inf")), time.perf_counter(), 0
        while rounds < 1 or (time.perf_counter() - start < budget_s / PROBE_BLOCKS and rounds < 20):
            for name in ok:
                t0 = time.perf_counter()
                calls[name]()
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                best[name] = min(best[name], (time.perf_counter() - t0) * 1000)
            rounds += 1
        for name in ok:
            blocks[name].append(round(best[name], 3))
    busy = _busy()
    return {v: {"ms": blocks[v], "fp32_ms": blocks["fp32"], "busy": busy} for v in ok if v in variants}


def _busy() -> bool:
    """Whether the machine is busier than its cores (1-minute load average above the CPU count)."""
    try:
        return os.getloadavg()[0] > (os.cpu_count() or 1)
    except OSError:
        return False


def _measure_apart(device: torch.device, width: int, image_size: int, variants, budget_s: float) -> dict:
    """``_measure`` in a child process (same interpreter, threads and environment) for compiled variants.

    A compilation that crashes the process (torch 2.13 on CPU: compile + channels_last in fp32 aborts
    with a double free in the block's backward) or runs past ``COMPILE_PROBE_TIMEOUT`` seconds costs the
    child, not the run: the variant is then simply not a candidate.
    """
    code = ("import json, sys, torch; from fairdd import levers; torch.set_num_threads(int(sys.argv[1])); "
            "print(json.dumps(levers._measure(torch.device(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), "
            "json.loads(sys.argv[5]), float(sys.argv[6]))))")
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])}
    args = [str(torch.get_num_threads()), str(device), str(width), str(image_size), json.dumps(list(variants)),
            str(budget_s)]
    try:
        out = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True,
                             timeout=COMPILE_PROBE_TIMEOUT)
        return json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else {}
    except (subprocess.TimeoutExpired, ValueError, IndexError, OSError):
        return {}


def _probe_calls(device: torch.device, width: int, image_size: int, variants) -> dict:
    side = max(image_size // 2, 2)
    n = 64 if device.type == "cuda" else PROBE_BATCH_CPU
    g = torch.Generator().manual_seed(0)
    block = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.GroupNorm(width, width), nn.ReLU(),
                          nn.AvgPool2d(2)).to(device)
    x = torch.randn(n, width, side, side, generator=g).to(device)
    nhwc = torch.channels_last
    layouts = {False: (block, x.requires_grad_(True)),
               True: (copy.deepcopy(block).to(memory_format=nhwc), x.detach().contiguous(memory_format=nhwc).requires_grad_(True))}
    calls = {}
    for name in variants:
        precision, comp, cl = _VARIANTS[name]
        net, inp = layouts[cl]
        fn = torch.compile(net, dynamic=False) if comp else net
        calls[name] = (lambda fn=fn, inp=inp, precision=precision: _fwd_bwd(fn, inp, precision))
    return calls


def _fwd_bwd(fn, x: torch.Tensor, precision: str) -> None:
    with autocast(x.device, precision):
        y = fn(x)
    y.float().sum().backward()
    x.grad = None


# ------------------------------------------------------------------------------------------ choice
def choose_levers(device: torch.device | str, *, precision: str = "auto", compile: bool | str = "auto",
                  channels_last: bool | str = False, width: int = 128, image_size: int = 32,
                  steps: int = LONG_RUN) -> Levers:
    """Resolve ``precision`` / ``compile`` / ``channels_last`` (each a value or ``"auto"``) for ``device``.

    ``"auto"`` keeps fp32 eager for short runs (``steps`` < ``LONG_RUN``: a probe or a compilation
    would not pay), rules out what the hardware lacks (``bf16_support``, ``compile_support``), and
    among what is left picks the variant the probe measured fastest, if at least ``MARGIN`` × faster
    than fp32 eager. ``channels_last="auto"`` is tried only beside another ``"auto"`` lever. A value
    set by hand is kept; bf16 set by hand on hardware without bf16 arithmetic gives a ``UserWarning``
    with the measured slowdown.
    """
    from .config import COMPILE_MODES, PRECISIONS

    if precision not in PRECISIONS or not isinstance(precision, str):
        raise ValueError(f"precision must be one of {list(PRECISIONS)}; got {precision!r}")
    if compile not in COMPILE_MODES or not isinstance(compile, (bool, str)):
        raise ValueError(f"compile must be one of {list(COMPILE_MODES)}; got {compile!r}")
    if channels_last not in (True, False, "auto") or not isinstance(channels_last, (bool, str)):
        raise ValueError(f"channels_last must be True, False or 'auto'; got {channels_last!r}")
    device = torch.device(device)
    if precision == "bf16":
        _warn_forced_bf16(device, width=width, image_size=image_size)
    by_hand = precision != "auto" and compile != "auto"
    if by_hand or steps < LONG_RUN:
        why = "set by hand" if by_hand else f"short run ({steps} < {LONG_RUN} steps): the levers would not pay for their probe"
        return Levers("fp32" if precision == "auto" else precision, False if compile == "auto" else compile, why,
                      channels_last=channels_last is True)
    options, hardware = _options(device, precision, compile, channels_last)
    candidates = [_variant_name(p, c, cl) for cl in options[2] for c in options[1] for p in options[0]]
    if device.type == "cpu" and channels_last == "auto":  # torch 2.13's compiled NHWC block aborted on a CPU
        candidates = [v for v in candidates if not ("compile" in v and "channels_last" in v)]  # (double free)
    if candidates == ["fp32"]:
        return Levers("fp32", False, f"{hardware}: fp32 eager, nothing else to try")
    measured = probe(device, width=width, image_size=image_size, variants=tuple(dict.fromkeys(["fp32", *candidates])))
    ms, speedup = measured["ms"], measured["speedup"]
    winners = [v for v in candidates if speedup.get(v, 0) >= MARGIN] or candidates[:1]  # [0]: no lever of "auto"
    prec, comp, cl = _VARIANTS[min(winners, key=lambda v: ms.get(v, float("inf")))]
    if comp and compile != "auto":
        comp = compile  # a mode set by hand
    ratios = ", ".join(f"{v} {speedup[v]:.2f}×" for v in ms if v != "fp32")
    return Levers(prec, comp, f"{hardware}; probe vs fp32 eager: {ratios or 'nothing measured'} "
                              f"(worst of {PROBE_BLOCKS} blocks; chosen when ≥ {MARGIN}×)", measured, channels_last=cl)


def _options(device, precision, compile, channels_last) -> tuple[tuple[list, list, list], str]:
    """The values each lever may take here (what is set by hand, or what the hardware offers), and why."""
    bf16_ok, bf16_why = bf16_support(device)
    comp_ok, comp_why = compile_support(device)
    precisions = ["fp32", "bf16"] if precision == "auto" and bf16_ok else ["fp32" if precision == "auto" else precision]
    compiles = [False, True] if compile == "auto" and comp_ok else [False if compile == "auto" else compile]
    layouts = [False, True] if channels_last == "auto" else [channels_last]
    return (precisions, compiles, layouts), f"{bf16_why}; {comp_why}"


def _warn_forced_bf16(device: torch.device, *, width: int, image_size: int) -> None:
    ok, why = bf16_support(device)
    if ok or device.type not in ("cpu", "cuda"):
        return
    ms = probe(device, width=width, image_size=image_size, variants=("fp32", "bf16"), budget_s=0.0)["ms"]
    ratio = ms.get("bf16", float("nan")) / ms.get("fp32", float("nan"))  # medians over the blocks
    warnings.warn(f"precision='bf16' on hardware without bf16 arithmetic ({why}): measured {ratio:.1f}× "
                  f"slower than fp32 on one ConvNet block here; use precision='auto' or 'fp32'",
                  UserWarning, stacklevel=3)
