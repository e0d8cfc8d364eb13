"""Speed levers shared by distillation and training: torch.compile per network, bf16 autocast, and
``"auto"``, which picks the levers this machine runs a whole run faster with than fp32 eager.

A lever is chosen only where it is measured to win: bf16 autocast runs at full speed only on hardware
with bf16 arithmetic (a CPU with AVX-512-BF16 or AMX, a GPU with bf16 units); on an AVX2-only CPU
oneDNN falls back to a reference path that is 30–80× slower than fp32. ``choose_levers`` reads what
the hardware offers (the ATen CPU capability, the ISA flags, oneDNN's bf16 support, the GPU's), rules
out what it lacks, and times what is left on the run's own step (``Workload``: its ConvNet on its real
and synthetic batches, the real batch capped at ``PROBE_REAL`` images) against fp32 eager, warm-up
apart. ``decide`` then predicts each variant's whole run, its compilation included (a compilation pays
only when steps × saving exceed it), and keeps fp32 eager unless a variant wins by ``MARGIN``. Compiled
variants are probed in a child process each, so one that crashes is recorded as the reason and never
run in the caller's process (torch 2.13's Inductor aborted with a double free on a CPU when its cache
held code of another ISA setting: ``inductor_cache_dir`` keeps them apart). The times are
cached per machine, torch version and ISA setting (the emulation ``ONEDNN_MAX_CPU_ISA=AVX2
ATEN_CPU_CAPABILITY=avx2`` gets its own entry) in ``$FAIRDD_CACHE`` or ``~/.cache/fairdd``. The choice,
the reason and the measured times are recorded with the run (``Levers.as_dict()``).
"""
from __future__ import annotations

import contextlib
import copy
import importlib.util
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import torch
from torch import nn

__all__ = ["compiled", "compile_mode", "inductor_cache_dir", "autocast", "Levers", "choose_levers", "bf16_support", "probe",
           "cache_path", "decide", "Workload", "LONG_RUN", "MARGIN"]

LONG_RUN = 500  # iterations (evaluation: epochs × models) from which "auto" tries the levers at all
MARGIN = 1.2  # a lever is chosen only when its predicted run (compilation included) is this much faster
PROBE_REAL = {"cpu": 256, "cuda": 4096}  # at most this many real images per probed step (the rest scales)
PROBE_BLOCKS = 3  # a lever counts as faster only if it was faster in each of these blocks of rounds
COMPILE_PROBE_TIMEOUT = 300  # seconds for the compiled variants' probe (compilation included), in a child process
PROBE_VERSION = 5  # bump when the probe's workload changes: older cached times are then ignored

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
        inductor_cache_dir()
        per_net[method, mode] = torch.compile(getattr(net, method), dynamic=False, mode=compile_mode(mode))
    return per_net[method, mode]


def inductor_cache_dir() -> Path:
    """Point torch.compile's on-disk cache at a folder of this process's CPU ISA setting, and return it.

    torch 2.13's Inductor does not key its cache by the ISA in force: code compiled under
    ``ATEN_CPU_CAPABILITY=avx2`` and loaded by a process without it aborted with heap corruption
    (``free(): invalid pointer``, ``malloc(): unaligned tcache chunk detected``; the "double free" of
    issue #27). Each setting (the ATen capability, ``ONEDNN_MAX_CPU_ISA``) gets its own folder under
    the cache Inductor would use (``$TORCHINDUCTOR_CACHE_DIR`` or its default); child processes
    inherit it.
    """
    try:
        from torch._inductor.runtime.cache_dir_utils import default_cache_dir
        default = default_cache_dir()
    except ImportError:  # another torch layout: Inductor's documented default
        default = os.path.join(tempfile.gettempdir(), "torchinductor_fairdd")
    base = Path(os.environ.get("TORCHINDUCTOR_CACHE_DIR") or default)
    if base.name.startswith("fairdd-isa-"):  # set by an earlier call, here or in a parent process
        base = base.parent
    onednn = os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA")
    tag = torch.backends.cpu.get_cpu_capability() + (f"-onednn-{onednn}" if onednn else "")
    path = base / ("fairdd-isa-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in tag.lower()))
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(path)
    return path


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
        "bf16", "compile", "channels_last", ...), ``"speedup"`` of the step over fp32 eager (worst
        block), ``"compile_s"``, ``"failed"`` (variant: why), ``"cached"``, the cache ``"key"`` and
        ``"gain"``: the predicted whole-run ratio to fp32 eager (``decide``).
    """

    precision: str
    compile: bool | str
    reason: str
    probe: dict = field(default_factory=dict)
    channels_last: bool = False

    def speedup(self) -> float | None:
        """The probe's speedup of the chosen variant over fp32 eager (its worst block; None: not measured)."""
        return self.probe.get("speedup", {}).get(_variant_name(self.precision, self.compile, self.channels_last))

    def gain(self) -> float | None:
        """The predicted whole-run speedup of the chosen variant over fp32 eager (None: not measured)."""
        return self.probe.get("gain", {}).get(_variant_name(self.precision, self.compile, self.channels_last))

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


# ---------------------------------------------------------------------------------------- workload
@dataclass(frozen=True)
class Workload:
    """What one step of a run asks of its network, and how many steps: what the probe copies.

    width, depth, image_size, in_channels : the run's ConvNet.
    n_real : images embedded without a gradient per step (DM: ``batch_real`` × classes; training: 0).
    n_syn : images embedded with a gradient per step (DM: ``ipc`` × classes; training: the batch).
    train : gradients go to the network's weights (training) rather than to the images (distillation).
    steps : steps of the run (the probe's per-step saving is multiplied by it).
    compilations : networks the run compiles (evaluation compiles each of its models).
    """

    width: int = 128
    image_size: int = 32
    steps: int = LONG_RUN
    n_real: int = 2560
    n_syn: int = 100
    depth: int = 3
    in_channels: int = 3
    train: bool = False
    compilations: int = 1

    def __post_init__(self) -> None:
        for name in ("width", "image_size", "steps", "n_syn", "depth", "in_channels", "compilations"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Workload.{name} must be an int >= 1; got {value!r}")
        if isinstance(self.n_real, bool) or not isinstance(self.n_real, int) or self.n_real < 0:
            raise ValueError(f"Workload.n_real must be an int >= 0; got {self.n_real!r}")
        if not isinstance(self.train, bool):
            raise ValueError(f"Workload.train must be True or False; got {self.train!r}")

    def probed(self, device: torch.device) -> Workload:
        """The step the probe times: the run's, with at most ``PROBE_REAL`` real images (the op sizes stay large)."""
        return replace(self, n_real=min(self.n_real, PROBE_REAL.get(device.type, PROBE_REAL["cpu"])))

    def scale(self, device: torch.device) -> float:
        """The run's step cost over the probe's, counting a backward as twice a forward."""
        probed = self.probed(device)
        return (self.n_real + 3 * self.n_syn) / (probed.n_real + 3 * probed.n_syn)

    def key(self, device: torch.device) -> str:
        """The probe's shape, for the cache (the run's length is not part of what is measured)."""
        p = self.probed(device)
        return (f"width {p.width}|depth {p.depth}|size {p.image_size}|channels {p.in_channels}"
                f"|real {p.n_real}|syn {p.n_syn}|{'train' if p.train else 'embed'}")


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


def probe(device: torch.device | str, workload: Workload | None = None, *, variants=("fp32", "bf16"),
          budget_s: float = 2.0) -> dict:
    """Time the run's step (``workload.probed``) per variant against fp32 eager; cached per machine.

    The step is the run's: its ConvNet embeds ``n_real`` images without a gradient and ``n_syn`` with
    one, then backpropagates (``train``: through the weights). Each variant's first call (warm-up,
    compilation) is timed apart; then the variants and fp32 eager are timed in turns (a burst of load
    hits them alike) in ``PROBE_BLOCKS`` blocks sharing ``budget_s``, each keeping its fastest call.
    Compiled variants run in a child process each (``_measure_apart``): one that crashes there is
    recorded as failed with the reason, never run in this process.

    Returns ``{"ms": {variant: median over blocks}, "speedup": {variant: smallest over blocks of fp32
    ms / variant ms}, "compile_s": {variant: first call minus a timed one}, "failed": {variant: why},
    "cached": bool, "key": str}``. Times taken while the load average exceeded the core count are used,
    but measured again once the machine is quiet.
    """
    device, workload = torch.device(device), workload or Workload()
    key, path = f"{machine_key(device)}|{workload.key(device)}", cache_path()
    busy_now = _busy()
    known = {v: r for v, r in _read_cache(path).get(key, {}).items()
             if _valid_record(r) and (busy_now or not r.get("busy"))}  # measured on a busy machine: again when quiet
    todo = [v for v in variants if v not in known]
    if todo:
        eager = [v for v in todo if not _VARIANTS[v][1]]
        known.update(_measure(device, workload, eager, budget_s) if eager else {})
        for v in (v for v in todo if _VARIANTS[v][1]):  # one child each: a compilation that crashes costs only itself
            known.update(_measure_apart(device, workload, v, budget_s))
        _write_cache(path, key, {v: known[v] for v in todo if v in known and not known[v].get("transient")})
    timed = {v: known[v] for v in variants if v in known and "ms" in known[v]}
    return {"ms": {v: statistics.median(r["ms"]) for v, r in timed.items()},
            "speedup": {v: min(f / t for f, t in zip(r["fp32_ms"], r["ms"])) for v, r in timed.items()},
            "compile_s": {v: _compile_s(r) for v, r in timed.items() if _VARIANTS[v][1]},
            "failed": {v: known[v]["failed"] for v in variants if v in known and "failed" in known[v]},
            "cached": not todo, "key": key}


def _compile_s(record: dict) -> float:
    """Seconds the first call took beyond a timed call: the compilation, paid once per network."""
    return round(max(record["first_ms"] - statistics.median(record["ms"]), 0.0) / 1000, 3)


def _valid_record(r) -> bool:
    if isinstance(r, dict) and set(r) <= {"failed", "busy"} and isinstance(r.get("failed"), str):
        return True
    return isinstance(r, dict) and isinstance(r.get("first_ms"), (int, float)) and r["first_ms"] >= 0 and all(
        isinstance(r.get(k), list) and len(r[k]) == PROBE_BLOCKS
        and all(isinstance(t, (int, float)) and t > 0 for t in r[k]) for k in ("ms", "fp32_ms"))


def _measure(device: torch.device, workload: Workload, variants, budget_s: float) -> dict:
    """``{variant: {"ms": [fastest call per block], "fp32_ms": [fp32 eager's, same blocks], "first_ms"}}``."""
    calls = _probe_calls(device, workload.probed(device), dict.fromkeys(["fp32", *variants]))
    first = {}
    for name, call in calls.items():  # warm-up (and compilation), timed: the compilation's cost
        t0 = time.perf_counter()
        try:
            call()
        except Exception:  # noqa: BLE001 - a lever this machine cannot run is simply not a candidate
            continue
        first[name] = round((time.perf_counter() - t0) * 1000, 3)
    if "fp32" not in first:
        return {}
    blocks = {name: [] for name in first}
    for _ in range(PROBE_BLOCKS):
        best, start, rounds = dict.fromkeys(first, float("inf")), time.perf_counter(), 0
        while rounds < 1 or (time.perf_counter() - start < budget_s / PROBE_BLOCKS and rounds < 20):
            for name in first:
                t0 = time.perf_counter()
                calls[name]()
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                best[name] = min(best[name], (time.perf_counter() - t0) * 1000)
            rounds += 1
        for name in first:
            blocks[name].append(round(best[name], 3))
    busy = _busy()
    return {v: {"ms": blocks[v], "fp32_ms": blocks["fp32"], "first_ms": first[v], "busy": busy}
            for v in first if v in variants}


def _busy() -> bool:
    """Whether the machine is busier than its cores (1-minute load average above the CPU count)."""
    try:
        return os.getloadavg()[0] > (os.cpu_count() or 1)
    except OSError:
        return False


def _measure_apart(device: torch.device, workload: Workload, variant: str, budget_s: float) -> dict:
    """``_measure`` of one variant in a child process (same interpreter, threads and environment).

    A compilation that kills the process (torch 2.13 on CPU aborted with a double free, or segfaulted
    under load) or runs past ``COMPILE_PROBE_TIMEOUT`` seconds costs the child, not the run: the variant
    is returned as ``{"failed": why}`` and cached like a time: one recorded while the machine was busy
    (a time-out under load) is probed again once it is quiet.
    """
    code = ("import json, sys, torch; from fairdd import levers; torch.set_num_threads(int(sys.argv[1])); "
            "w = levers.Workload(**json.loads(sys.argv[3])); "
            "print(json.dumps(levers._measure(torch.device(sys.argv[2]), w, [sys.argv[4]], float(sys.argv[5]))))")
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])}
    args = [str(torch.get_num_threads()), str(device), json.dumps(asdict(workload)), variant, str(budget_s)]
    try:
        out = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True,
                             timeout=COMPILE_PROBE_TIMEOUT)
    except subprocess.TimeoutExpired:
        return {variant: {"failed": f"its probe ran past {COMPILE_PROBE_TIMEOUT} s", "busy": _busy()}}
    except OSError as exc:
        return {variant: {"failed": f"its probe could not start ({exc})", "transient": True}}
    try:
        got = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else None
    except (ValueError, IndexError):
        got = None
    if got is not None and variant in got and _valid_record(got[variant]):
        return {variant: got[variant]}
    return {variant: {"failed": _death(out), "busy": _busy()}}


def _death(out: subprocess.CompletedProcess) -> str:
    """How a probe's child ended, in words: its exit status or signal and its last line of error output."""
    code = out.returncode
    how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
    with contextlib.suppress(ValueError):
        how += f" ({signal.Signals(-code).name})" if code < 0 else ""
    last = next((line.strip() for line in reversed(out.stderr.splitlines()) if line.strip()), "")
    return f"its probe process ended with {how}" + (f": {last[:200]}" if last else "")


def _probe_calls(device: torch.device, workload: Workload, variants) -> dict:
    """One zero-argument step per variant: the run's ConvNet on its real and synthetic batches."""
    from .models import ConvNet, cpu_chunk, reset_parameters

    w, g = workload, torch.Generator().manual_seed(0)
    net = reset_parameters(ConvNet(in_channels=w.in_channels, width=w.width, depth=w.depth,
                                   image_size=w.image_size), g).to(device).requires_grad_(w.train)
    shape = (w.in_channels, w.image_size, w.image_size)
    real = torch.randn(w.n_real, *shape, generator=g).to(device)  # (n_real, c, h, w)
    syn = torch.randn(w.n_syn, *shape, generator=g).to(device).requires_grad_(not w.train)  # (n_syn, c, h, w)
    nhwc = torch.channels_last
    layouts = {False: (net, real, syn),
               True: (copy.deepcopy(net).to(memory_format=nhwc), real.contiguous(memory_format=nhwc),
                      syn.detach().contiguous(memory_format=nhwc).requires_grad_(not w.train))}
    chunk = cpu_chunk(net, w.image_size) if device.type == "cpu" else max(1, w.n_real)
    calls = {}
    for name in variants:
        precision, comp, cl = _VARIANTS[name]
        model, xr, xs = layouts[cl]
        fn = compiled(model, "forward" if w.train else "embed") if comp else (model if w.train else model.embed)
        calls[name] = (lambda fn=fn, xr=xr, xs=xs, model=model, precision=precision:
                       _step(fn, model, xr, xs, precision, chunk))
    return calls


def _step(fn, net: nn.Module, real: torch.Tensor, syn: torch.Tensor, precision: str, chunk: int) -> None:
    with autocast(syn.device, precision):
        with torch.no_grad():
            for i in range(0, len(real), chunk):  # as a run embeds its real batch (``embed_real``)
                fn(real[i:i + chunk])  # (chunk, d)
        y = fn(syn)  # (n_syn, d)
    y.float().sum().backward()
    syn.grad = None
    net.zero_grad(set_to_none=True)


# ------------------------------------------------------------------------------------------ choice
def decide(measured: dict, *, steps: int, compilations: int = 1, scale: float = 1.0) -> tuple[str, dict]:
    """The variant with the shortest predicted run, if it beats fp32 eager's by ``MARGIN``; else "fp32".

    .. math:: T_v = k\\,c_v + n\\,s\\,t_{fp32} / r_v, \\qquad T_{fp32} = n\\,s\\,t_{fp32}

    with :math:`n` = ``steps``, :math:`k` = ``compilations``, :math:`s` = ``scale`` (the run's step
    cost over the probe's), :math:`t_{fp32}` fp32 eager's probe time, :math:`r_v` the variant's
    speedup in its worst block and :math:`c_v` its compilation seconds (0 eager). A compilation pays
    only when the run's steps save more than it costs.

    ``measured``: ``probe``'s ``{"ms", "speedup", "compile_s"}``. Returns ``(variant, {variant:
    T_fp32 / T_v})``; the chosen variant's ratio is ≥ ``MARGIN`` unless it is "fp32".
    """
    if "fp32" not in measured.get("ms", {}):
        return "fp32", {}
    fp32_s = steps * scale * measured["ms"]["fp32"] / 1000
    gain = {}
    for v, r in measured["speedup"].items():
        if r > 0 and v != "fp32":
            gain[v] = fp32_s / (compilations * measured.get("compile_s", {}).get(v, 0.0) + fp32_s / r)
    best = max(gain, key=gain.get, default="fp32")
    return (best if gain.get(best, 0.0) >= MARGIN else "fp32"), gain


def choose_levers(device: torch.device | str, *, precision: str = "auto", compile: bool | str = "auto",
                  channels_last: bool | str = False, workload: Workload | None = None, width: int | None = None,
                  image_size: int | None = None, steps: int | None = None) -> Levers:
    """Resolve ``precision`` / ``compile`` / ``channels_last`` (each a value or ``"auto"``) for ``device``.

    ``workload`` says what the run computes (else one built from ``width``, ``image_size``, ``steps``).
    ``"auto"`` keeps fp32 eager for short runs (``steps`` < ``LONG_RUN``), rules out what the hardware
    lacks (``bf16_support``, ``compile_support``), probes the run's step for what is left and picks by
    ``decide``: the shortest predicted run, compilation included, if ``MARGIN`` × shorter than fp32
    eager's. A compiled variant is chosen only after its probe ran to completion in a child process.
    ``channels_last="auto"`` is tried only beside another ``"auto"`` lever. A value set by hand is kept;
    bf16 set by hand on hardware without bf16 arithmetic gives a ``UserWarning`` with the measured slowdown.
    """
    from .config import COMPILE_MODES, PRECISIONS

    if precision not in PRECISIONS or not isinstance(precision, str):
        raise ValueError(f"precision must be one of {list(PRECISIONS)}; got {precision!r}")
    if compile not in COMPILE_MODES or not isinstance(compile, (bool, str)):
        raise ValueError(f"compile must be one of {list(COMPILE_MODES)}; got {compile!r}")
    if channels_last not in (True, False, "auto") or not isinstance(channels_last, (bool, str)):
        raise ValueError(f"channels_last must be True, False or 'auto'; got {channels_last!r}")
    device, workload = torch.device(device), _workload(workload, width, image_size, steps)
    if precision == "bf16":
        _warn_forced_bf16(device, workload)
    by_hand = precision != "auto" and compile != "auto"
    if by_hand or workload.steps < LONG_RUN:
        why = "set by hand" if by_hand else \
            f"short run ({workload.steps} < {LONG_RUN} steps): the levers would not pay for their probe"
        return Levers("fp32" if precision == "auto" else precision, False if compile == "auto" else compile, why,
                      channels_last=channels_last is True)
    options, hardware = _options(device, precision, compile, channels_last)
    candidates = [_variant_name(p, c, cl) for cl in options[2] for c in options[1] for p in options[0]]
    if candidates == ["fp32"]:
        return Levers("fp32", False, f"{hardware}: fp32 eager, nothing else to try")
    measured = probe(device, workload, variants=tuple(dict.fromkeys(["fp32", *candidates])))
    chosen, gain = decide({**measured, "speedup": {v: r for v, r in measured["speedup"].items() if v in candidates}},
                          steps=workload.steps, compilations=workload.compilations, scale=workload.scale(device))
    if chosen == "fp32" and "fp32" not in candidates:
        chosen = candidates[0]  # no lever of "auto" here: the values set by hand
    prec, comp, cl = _VARIANTS[chosen]
    if comp and compile != "auto":
        comp = compile  # a mode set by hand
    return Levers(prec, comp, _reason(hardware, measured, gain, workload), {**measured, "gain": gain},
                  channels_last=cl)


def _workload(workload: Workload | None, width, image_size, steps) -> Workload:
    if workload is not None and not isinstance(workload, Workload):
        raise ValueError(f"workload must be a fairdd.levers.Workload; got {type(workload).__name__}")
    if workload is not None and (width, image_size, steps) != (None, None, None):
        raise ValueError("give either workload= or width= / image_size= / steps=, not both")
    given = {k: v for k, v in (("width", width), ("image_size", image_size), ("steps", steps)) if v is not None}
    return workload or Workload(**given)


def _reason(hardware: str, measured: dict, gain: dict, workload: Workload) -> str:
    """One sentence: what the hardware offers, what the probe predicts for the run and what failed."""
    ratios = ", ".join(f"{v} {gain[v]:.2f}× (step {measured['speedup'][v]:.2f}×"
                       + (f", compiling {measured['compile_s'][v]:.0f} s" if v in measured["compile_s"] else "") + ")"
                       for v in gain)
    failed = "; ".join(f"{v} not a candidate: {why}" for v, why in measured["failed"].items())
    return (f"{hardware}; predicted over {workload.steps} steps vs fp32 eager (probe of the run's step, worst of "
            f"{PROBE_BLOCKS} blocks, compilation included): {ratios or 'nothing measured'}; chosen when ≥ {MARGIN}×"
            + (f"; {failed}" if failed else ""))


def _options(device, precision, compile, channels_last) -> tuple[tuple[list, list, list], str]:
    """The values each lever may take here (what is set by hand, or what the hardware offers), and why."""
    bf16_ok, bf16_why = bf16_support(device)
    comp_ok, comp_why = compile_support(device)
    precisions = ["fp32", "bf16"] if precision == "auto" and bf16_ok else ["fp32" if precision == "auto" else precision]
    compiles = [False, True] if compile == "auto" and comp_ok else [False if compile == "auto" else compile]
    layouts = [False, True] if channels_last == "auto" else [channels_last]
    return (precisions, compiles, layouts), f"{bf16_why}; {comp_why}"


def _warn_forced_bf16(device: torch.device, workload: Workload) -> None:
    ok, why = bf16_support(device)
    if ok or device.type not in ("cpu", "cuda"):
        return
    tiny = replace(workload, n_real=0, n_syn=min(workload.n_syn, 8))  # bf16 may take minutes per full step here
    ms = probe(device, tiny, variants=("fp32", "bf16"), budget_s=0.0)["ms"]
    ratio = ms.get("bf16", float("nan")) / ms.get("fp32", float("nan"))  # medians over the blocks
    warnings.warn(f"precision='bf16' on hardware without bf16 arithmetic ({why}): measured {ratio:.1f}× "
                  f"slower than fp32 on the run's network here; use precision='auto' or 'fp32'",
                  UserWarning, stacklevel=3)
