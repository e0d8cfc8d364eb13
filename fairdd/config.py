"""Frozen configs for distillation and evaluation, and the named presets.

``paper`` is the published protocol (docs/method.md, "Protocol and presets") and the default.
``demo`` finishes the CLI demo on a 2-core CPU in minutes; ``smoke`` is for tests. Any field can be
overridden by keyword.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from .validate import check_group_weights, check_real, check_seed

__all__ = ["DistillConfig", "EvalConfig", "PRESETS", "METHODS", "distill_config", "eval_config"]

PRESETS = ("paper", "demo", "smoke")
# torch.compile levers: off, Inductor's default, or a mode by name ("reduce-overhead" = CUDA graphs on a GPU)
COMPILE_MODES = (False, True, "default", "reduce-overhead", "max-autotune-no-cudagraphs")
METHODS = ("dm", "dc", "dsa", "idc", "cafe")


@dataclass(frozen=True)
class DistillConfig:
    method: str = "dm"  # how statistics are matched (the matcher)
    target: str = "cobra"  # what the synthetic class is pulled toward (the strategy)
    ipc: int = 10  # synthetic images per class
    iterations: int = 20000  # outer iterations; DM paper 20000 (COBRA's own DM runs: 2600)
    lr_img: float = 1.0  # SGD step on synthetic pixels; DM uses 1 (10 at IPC 100)
    momentum: float = 0.5  # SGD momentum on synthetic pixels (DM)
    batch_real: int = 256  # real images drawn per class per iteration (COBRA DM: 600)
    width: int = 128  # ConvNet channels; 128 in every paper
    depth: int = 3  # ConvNet blocks; 3 at 32 px
    norm: str = "instancenorm"  # ConvNet normalisation; instance norm in every paper
    dsa: bool = True  # Siamese augmentation of real and synthetic batches (DSA)
    distance: Literal["l1", "l2"] = "l2"  # DM outer distance; published COBRA uses L1, DM/FairDD squared L2
    warm_start_epochs: int = 0  # K: train the sampled net on S for K epochs first (published COBRA: K = IPC)
    warm_start_lr: float = 0.01  # SGD lr of the warm start (the evaluation lr)
    refresh_every: int = 1  # DM: new network, real batch and targets every k iterations (1 = DM; >1 a speed lever)
    outer_loop: int = 1  # DC: synthetic updates per outer iteration (10 at IPC 10, 50 at IPC 50, 100 above)
    inner_loop: int = 1  # DC: epochs of network training on S between them (50 at IPC 10, 10 above)
    lr_net: float = 0.01  # DC: SGD lr of the network's inner training
    factor: int = 1  # IDC multi-formation: each stored image decodes into factor² images (IDC: 2)
    group_weights: Any = "uniform"  # cobra barycenter weights: uniform | proportional | list of G floats
    precision: Literal["fp32", "bf16"] = "fp32"  # DM embeddings + warm start under bf16 autocast (loss in fp32)
    channels_last: bool = False  # NHWC memory format for the DM network (a GPU speed lever)
    compile: bool | str = False  # torch.compile the DM embedding and warm start (CPU: 4× with bf16; compiles once,
    # 10–30 s); True = Inductor's default mode, or a mode by name (COMPILE_MODES: "reduce-overhead" adds CUDA graphs)
    init: Literal["real", "noise"] = "real"  # initial synthetic images: random real images of the class, or noise
    checkpoint_every: int = 0  # write a checkpoint every N iterations when a path is given (0 = only at the end)
    seed: int = 0  # the one source of randomness (torch.Generator); same seed, same images on CPU
    preset: str = "paper"  # which preset the defaults came from (recorded, not used)

    def __post_init__(self) -> None:
        _check_choice("method", self.method, METHODS)
        from .targets import STRATEGIES

        _check_choice("target", self.target, tuple(STRATEGIES))
        _check_choice("distance", self.distance, ("l1", "l2"))
        _check_choice("init", self.init, ("real", "noise"))
        _check_choice("precision", self.precision, ("fp32", "bf16"))
        _check_choice("norm", self.norm, ("instancenorm", "batchnorm", "none"))
        for name in ("ipc", "iterations", "batch_real", "width", "depth"):
            _check_int(name, getattr(self, name), 1)
        _check_at_most("width", self.width, MAX_WIDTH)
        for name in ("warm_start_epochs", "checkpoint_every"):
            _check_int(name, getattr(self, name), 0)
        for name in ("outer_loop", "inner_loop", "factor", "refresh_every"):
            _check_int(name, getattr(self, name), 1)
        for name in ("lr_img", "warm_start_lr", "lr_net"):
            check_real(name, getattr(self, name), 0.0, low_open=True)
        check_real("momentum", self.momentum)
        check_seed(self.seed)
        for name in ("dsa", "channels_last"):
            _check_bool(name, getattr(self, name))
        _check_compile(self.compile)
        check_group_weights(self.group_weights)
        if not (isinstance(self.group_weights, str) and self.group_weights == "uniform") \
                and not self.target.startswith("cobra"):
            users = [t for t in STRATEGIES if t.startswith("cobra")]
            raise ValueError(f"group_weights is used only by the targets {users}; target {self.target!r} "
                             f"ignores it (got group_weights={self.group_weights!r})")
        if self.refresh_every > 1 and self.method != "dm":
            raise ValueError(f"refresh_every={self.refresh_every} needs method='dm' (got {self.method!r}); "
                             "DC-style methods already hold a network for outer_loop steps")
        if not 0 <= float(self.momentum) < 1:
            raise ValueError(f"momentum must be in [0, 1); got {self.momentum!r}")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        if not isinstance(d["group_weights"], str):
            d["group_weights"] = [float(v) for v in d["group_weights"]]
        return d


@dataclass(frozen=True)
class EvalConfig:
    epochs: int = 1000  # training epochs on S; 1000 with DSA (300 without)
    lr: float = 0.01  # SGD lr, × 0.1 at epochs // 2
    momentum: float = 0.9  # SGD momentum
    weight_decay: float = 5e-4  # SGD weight decay
    batch_size: int = 256  # training batch
    dsa: bool = True  # per-sample DSA while training the evaluation model
    width: int = 128  # evaluation ConvNet width
    depth: int = 3  # evaluation ConvNet depth
    norm: str = "instancenorm"  # evaluation ConvNet normalisation
    precision: Literal["fp32", "bf16"] = "fp32"  # training under bf16 autocast (a CPU speed lever, off by default)
    compile: bool | str = False  # torch.compile the evaluation models (with bf16: ~3.7× on CPU); as DistillConfig
    preset: str = "paper"  # which preset the defaults came from (recorded, not used)
    extra: dict = field(default_factory=dict, compare=False)  # free-form notes (e.g. baseline name)

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "width", "depth"):
            _check_int(name, getattr(self, name), 1)
        _check_at_most("width", self.width, MAX_WIDTH)
        _check_choice("norm", self.norm, ("instancenorm", "batchnorm", "none"))
        _check_choice("precision", self.precision, ("fp32", "bf16"))
        _check_bool("dsa", self.dsa)
        _check_compile(self.compile)
        check_real("lr", self.lr, 0.0, low_open=True)
        check_real("weight_decay", self.weight_decay, 0.0)
        check_real("momentum", self.momentum, 0.0, 1.0, high_open=True)
        if not float(self.lr) > 0 or float(self.weight_decay) < 0 or not 0 <= float(self.momentum) < 1:
            raise ValueError(f"need lr > 0, weight_decay >= 0, momentum in [0, 1); got {self.lr}, "
                             f"{self.weight_decay}, {self.momentum}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _check_choice(name: str, value, allowed) -> None:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; allowed: {list(allowed)}")


def _check_bool(name: str, value) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False; got {value!r}")


def _check_compile(value) -> None:
    if value not in COMPILE_MODES or (not isinstance(value, (bool, str))):
        raise ValueError(f"compile must be one of {list(COMPILE_MODES)}; got {value!r}")


MAX_WIDTH = 4096  # ConvNet channels; papers use 128, wider would only exhaust memory


def _check_at_most(name: str, value, high: int) -> None:
    if value > high:
        raise ValueError(f"{name} must be an integer in [1, {high}]; got {value!r}")


def _check_int(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}; got {value!r}")


def _dc_loops(ipc: int) -> tuple[int, int]:
    if ipc == 1:
        return 1, 1
    if ipc <= 10:
        return 10, 50
    if ipc <= 50:
        return 50, 10
    return 100, 10


def _distill_preset(preset: str, target: str, ipc: int, method: str = "dm") -> dict:
    if method in ("dc", "dsa", "idc", "cafe"):  # CAFE, IDC: DC's loop schedule (our choice; see matching/)
        outer, inner = _dc_loops(ipc)
        base = dict(dsa=method != "dc", lr_img=0.1, lr_net=0.01, momentum=0.5, factor=2 if method == "idc" else 1)
        if preset == "paper":
            return dict(base, iterations=1000, batch_real=256, width=128, outer_loop=outer, inner_loop=inner)
        if preset == "demo":  # few updates, so larger pixel steps (measured: lr_img 0.1 leaves EOD at 100);
            # CAFE's per-layer MSE averages over feature elements: its pixel gradients are ~100× smaller
            return dict(base, iterations=40, batch_real=64, width=16, outer_loop=5, inner_loop=5,
                        lr_img=300.0 if method == "cafe" else 3.0)
        return dict(base, iterations=2, batch_real=8, width=8, outer_loop=2, inner_loop=1)
    cobra = target == "cobra"
    if preset == "paper":
        return dict(iterations=20000, lr_img=10.0 if ipc >= 100 else 1.0, batch_real=256, width=128,
                    distance="l1" if cobra else "l2", warm_start_epochs=ipc if cobra else 0)
    if preset == "demo":
        return dict(iterations=200, lr_img=5.0, batch_real=128, width=16,
                    distance="l1" if cobra else "l2", warm_start_epochs=2 if cobra else 0)
    return dict(iterations=3, lr_img=1.0, batch_real=8, width=8,
                distance="l1" if cobra else "l2", warm_start_epochs=1 if cobra else 0)


def _eval_preset(preset: str) -> dict:
    if preset == "paper":
        return dict(epochs=1000, width=128)
    if preset == "demo":
        return dict(epochs=100, width=32)
    return dict(epochs=2, width=8)


def _plain(value):
    """NumPy scalars (``np.int64(3)``) as the Python numbers they stand for; anything else unchanged."""
    if type(value).__module__ == "numpy" and hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    return value


def _build(cls, base: dict, overrides: dict):
    base, overrides = {k: _plain(v) for k, v in base.items()}, {k: _plain(v) for k, v in overrides.items()}
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for {cls.__name__}; allowed: {sorted(names)}")
    return cls(**{**base, **overrides})


def distill_config(*, method: str = "dm", target: str = "cobra", ipc: int = 10, preset: str = "paper",
                   seed: int = 0, **overrides) -> DistillConfig:
    """The ``preset``'s distillation config for (method, target, ipc), with ``overrides`` applied.

    The published COBRA-DM instantiation (L1 outer distance, warm start K = IPC) is the cobra default
    under ``paper``; pass ``distance="l2", warm_start_epochs=0`` for the plain barycenter. ``dc`` and
    ``dsa`` (DC with Siamese augmentation) use DC's protocol: 1000 iterations, lr_img 0.1, lr_net 0.01,
    outer/inner loops per IPC.
    """
    ipc, seed = _plain(ipc), _plain(seed)
    _check_choice("preset", preset, PRESETS)
    _check_choice("method", method, METHODS)
    _check_int("ipc", ipc, 1)
    check_seed(seed)
    base = dict(method=method, target=target, ipc=ipc, seed=seed, preset=preset,
                **_distill_preset(preset, target, ipc, method))
    return _build(DistillConfig, base, overrides)


def eval_config(*, preset: str = "paper", **overrides) -> EvalConfig:
    """The ``preset``'s evaluation config with ``overrides`` applied."""
    _check_choice("preset", preset, PRESETS)
    return _build(EvalConfig, dict(preset=preset, **_eval_preset(preset)), overrides)
