"""Frozen configs for distillation and evaluation, and the named presets.

``paper`` is the COBRA paper's protocol for each method (the settings of the authors' scripts, used
for every strategy of their Table 1) and the default; ``fairdd-paper`` is FairDD's own protocol (DM
and DC/DSA only), under which FairDD's published numbers were measured. ``demo`` finishes the CLI
demo on a 2-core CPU in minutes; ``smoke`` is for tests. Any field can be overridden by keyword.
Every preset value, with the file it comes from, is tabulated in docs/protocol.md
(``protocol_table()`` writes that table; a test checks the two agree).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping, get_args

from .validate import check_bool, check_choice, check_group_weights, check_int, check_real, check_seed

if TYPE_CHECKING:
    from .targets.protocol import Protocol

__all__ = ["DistillConfig", "EvalConfig", "Method", "Target", "Norm", "Preset", "PRESETS", "METHODS", "NORMS",
           "METHOD_PRESETS", "MethodPresets", "distill_config", "eval_config", "get_loops",
           "protocol_table", "preset_summary_table", "target_protocol_table"]

# The allowed values, written once: each tuple below is read from its Literal type.
Method = Literal["dm", "dc", "dsa", "idc", "cafe"]  # the matchers (keys of METHOD_PRESETS, in order)
Target = str  # a key of fairdd.targets.STRATEGIES, built-in or registered (validation reads the registry)
Norm = Literal["instancenorm", "batchnorm", "none"]
Preset = Literal["paper", "fairdd-paper", "demo", "smoke"]
METHODS: tuple[str, ...] = get_args(Method)
NORMS: tuple[str, ...] = get_args(Norm)
PRESETS: tuple[str, ...] = get_args(Preset)
# torch.compile levers: chosen per machine ("auto", fairdd.levers.choose_levers), off, Inductor's default, or a
# mode by name ("reduce-overhead" = CUDA graphs on a GPU)
COMPILE_MODES = ("auto", False, True, "default", "reduce-overhead", "max-autotune-no-cudagraphs")
# autocast precision: chosen per machine ("auto": bf16 only where the probe measures it faster), fp32 or bf16
PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class DistillConfig:
    """Every setting of one distillation run: what is matched, how, and the optimisation.

    Build one with :func:`distill_config`, which fills in a preset's values (see
    docs/protocol.md); any field can then be overridden by keyword. Invalid values raise
    ``ValueError`` naming the field, the value and what is allowed.

    Parameters
    ----------
    method : {"dm", "dc", "dsa", "idc", "cafe"}
        How statistics are matched (the matcher; ``METHODS``): distribution matching, gradient
        matching without / with Siamese augmentation, IDC's multi-formation gradient matching, CAFE.
    target : str
        What each synthetic class is pulled toward: a strategy of ``fairdd.targets.STRATEGIES``
        ("vanilla", "uniform", "fairdd", "cobra", "cobra-w2", "cobra-gauss", "cobra-mix" or one
        registered with ``register_strategy``).
    ipc : int >= 1
        Synthetic images per class.
    iterations : int >= 1
        Outer iterations (DM paper and FairDD 20000; COBRA's DM runs 2600).
    lr_img : float > 0
        SGD step on the synthetic pixels (DM: 1, 10 at IPC 100 under FairDD's protocol).
    momentum : float in [0, 1)
        SGD momentum on the synthetic pixels (0.5 in every paper).
    batch_real : int >= 1
        Real images drawn per class per iteration (COBRA's DM: 600).
    width : int in [1, 4096]
        ConvNet channels; 128 in every paper.
    depth : int >= 1
        ConvNet blocks; 3 at 32 px.
    norm : {"instancenorm", "batchnorm", "none"}
        ConvNet normalisation; instance norm in every paper.
    dsa : bool
        Differentiable Siamese augmentation of the real and synthetic batches.
    distance : {"l1", "l2"}
        DM's outer distance: published COBRA uses L1, DM and FairDD squared L2.
    warm_start_epochs : int >= 0
        K: train each sampled network on the synthetic set for K epochs first (COBRA: 10; 50 and
        100 at IPC 50 and 100; 0 = no warm start).
    warm_start_lr : float > 0
        SGD learning rate of the warm start (COBRA train_dm.py: lr_net 0.01).
    warm_start_momentum : float in [0, 1)
        SGD momentum of the warm start (COBRA: plain SGD, 0).
    warm_start_weight_decay : float >= 0
        SGD weight decay of the warm start (COBRA: 0).
    warm_start_batch : int >= 1
        Minibatch of the warm start's SGD over the synthetic set (COBRA train_dm.py: ``batch_train``
        256); its learning rate stays constant (no decay), as there.
    refresh_every : int >= 1
        DM only: a new network, real batch and targets every k iterations (1 = DM; above 1 is a
        speed lever).
    outer_loop : int >= 1
        DC-style methods: synthetic updates per outer iteration (10 at IPC 10, 50 at IPC 50, 100 above).
    inner_loop : int >= 0
        DC-style methods: epochs of network training on the synthetic set between those updates
        (50 at IPC 10, 10 above; IDC: 0).
    lr_net : float > 0
        DC-style methods: SGD learning rate of the network's inner training.
    inner_momentum : float in [0, 1)
        DC-style methods: SGD momentum of the inner training (COBRA train_dc.py: plain SGD, 0).
    inner_weight_decay : float >= 0
        DC-style methods: SGD weight decay of the inner training (none in the references).
    factor : int >= 1
        IDC multi-formation: each stored image decodes into factor² images (IDC: 2; UTKFace, BFFHQ 4).
    lr_img_halvings : tuple of int >= 1
        Iterations from which ``lr_img`` is halved once more (CAFE: 1200, 1600, 1800); stored sorted.
    fairdd_reduction : {"sum", "mean"}
        Target ``fairdd``: per-group distances summed (FairDD's code, COBRA's DM runs) or averaged over
        the groups present (COBRA's DC/IDC runs).
    cafe_loss : {"cafe", "cobra"}
        CAFE's terms: ``"cafe"`` the original CAFE loss (COBRA's vanilla mode: layer weights 1, classes
        summed, discrimination term), ``"cobra"`` COBRA's CAFE mode (see ``fairdd.matching.cafe``).
    group_weights : "uniform", "proportional" or sequence of G floats
        Barycenter weights of the ``cobra*`` targets; other targets accept only ``"uniform"``.
    mix : float in [0, 1]
        Target ``cobra-mix``: λ, the group weights (1 − λ)·size-proportional + λ·uniform; other targets
        accept only 1.0.
    precision : {"auto", "fp32", "bf16"}
        ``"bf16"`` runs DM's embeddings and the warm start under bf16 autocast (loss kept in fp32);
        ``"auto"`` (default) uses bf16 only for long runs on hardware where it is measured faster
        (``fairdd.levers.choose_levers``, which may also pick the NHWC layout there; the choice and
        why are kept in the result's ``config["levers"]``).
    channels_last : bool
        NHWC memory format for DM's network (a GPU speed lever).
    compile : bool or str
        ``torch.compile`` DM's embedding and warm start: ``"auto"`` (default: only for long runs
        where the probe measures it faster), False, True (Inductor's default mode) or a mode by
        name, one of ``COMPILE_MODES`` (``"reduce-overhead"`` adds CUDA graphs). Compiles once
        (10–30 s); on an AMX CPU about 4× faster with bf16.
    init : {"real", "noise"}
        Initial synthetic images: random real images of the class, or noise.
    checkpoint_every : int >= 0
        Write a checkpoint every N iterations when a path is given (0 = only at the end).
    seed : int in [0, 2**63)
        The one source of randomness (a ``torch.Generator``); same seed, same images on CPU.
    preset : {"paper", "fairdd-paper", "demo", "smoke"}
        Which preset the defaults came from (recorded, not used).
    """

    method: Method = "dm"
    target: Target = "cobra"
    ipc: int = 10
    iterations: int = 20000
    lr_img: float = 1.0
    momentum: float = 0.5
    batch_real: int = 256
    width: int = 128
    depth: int = 3
    norm: Norm = "instancenorm"
    dsa: bool = True
    distance: Literal["l1", "l2"] = "l2"
    warm_start_epochs: int = 0
    warm_start_lr: float = 0.01
    warm_start_momentum: float = 0.0
    warm_start_weight_decay: float = 0.0
    warm_start_batch: int = 256
    refresh_every: int = 1
    outer_loop: int = 1
    inner_loop: int = 1
    lr_net: float = 0.01
    inner_momentum: float = 0.0
    inner_weight_decay: float = 0.0
    factor: int = 1
    lr_img_halvings: tuple = ()
    fairdd_reduction: Literal["sum", "mean"] = "sum"
    cafe_loss: Literal["cafe", "cobra"] = "cobra"
    group_weights: Any = "uniform"
    mix: float = 1.0
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    channels_last: bool = False
    compile: bool | str = "auto"
    init: Literal["real", "noise"] = "real"
    checkpoint_every: int = 0
    seed: int = 0
    preset: Preset = "paper"

    def __post_init__(self) -> None:
        """Check every field (``ValueError`` naming the field, the value and what is allowed)."""
        _check_fields(self, _DISTILL_KINDS)
        from .targets import STRATEGIES

        check_choice("target", self.target, tuple(STRATEGIES))
        halvings = self.lr_img_halvings
        try:
            if not isinstance(halvings, (tuple, list)):
                raise ValueError(f"a {type(halvings).__name__}")
            halvings = [check_int(f"lr_img_halvings[{i}]", v, 1) for i, v in enumerate(halvings)]
        except ValueError as exc:
            raise ValueError(f"lr_img_halvings must be a sequence of iterations >= 1; got {halvings!r} "
                             f"({exc})") from None
        object.__setattr__(self, "lr_img_halvings", tuple(sorted(halvings)))
        _check_compile(self.compile)
        weights = check_group_weights(self.group_weights)
        if not isinstance(self.group_weights, (str, list, tuple)):  # a tensor or array: its numbers
            object.__setattr__(self, "group_weights", list(weights))
        check_real("mix", self.mix, 0.0, 1.0)
        if self.mix != 1.0 and not STRATEGIES[self.target].reads("mix"):
            raise ValueError(f"mix is used only by the targets {[t for t, s in STRATEGIES.items() if s.reads('mix')]}; "
                             f"target {self.target!r} ignores it (got mix={self.mix!r})")
        if not (isinstance(self.group_weights, str) and self.group_weights == "uniform") \
                and not STRATEGIES[self.target].reads("group_weights"):
            users = [t for t, s in STRATEGIES.items() if s.reads("group_weights")]
            raise ValueError(f"group_weights is used only by the targets {users}; target {self.target!r} "
                             f"ignores it (got group_weights={self.group_weights!r})")
        if self.refresh_every > 1 and self.method != "dm":
            raise ValueError(f"refresh_every={self.refresh_every} needs method='dm' (got {self.method!r}); "
                             "DC-style methods already hold a network for outer_loop steps")

    def lr_at(self, iteration: int) -> float:
        """lr_img at (0-based) ``iteration``: halved once for every ``lr_img_halvings`` entry <= it."""
        return float(self.lr_img) * 0.5 ** sum(iteration >= m for m in self.lr_img_halvings)

    def to_dict(self) -> dict:
        """Give the fields as JSON-ready Python values (lists, not tuples or arrays)."""
        d = dataclasses.asdict(self)
        if not isinstance(d["group_weights"], str):
            d["group_weights"] = [float(v) for v in d["group_weights"]]
        d["lr_img_halvings"] = list(d["lr_img_halvings"])  # as JSON gives it back
        return d


@dataclass(frozen=True)
class EvalConfig:
    """How a distilled set is evaluated: fresh ConvNets trained on it, then scored on real test data.

    Build one with :func:`eval_config`, which fills in a preset's values for the method the set was
    distilled with; any field can be overridden by keyword.

    Parameters
    ----------
    epochs : int >= 1
        Training epochs on the synthetic set (the reference runs ``epoch_eval_train + 1``).
    decay_epoch : int >= 0 or None
        First epoch at lr × 0.1 (momentum restarts there); None = ``epochs // 2``. The reference
        decays after epoch ``epoch_eval_train // 2 + 1``, i.e. from epoch ``epoch_eval_train // 2 + 2``.
    n_models : int >= 1
        Evaluation models trained from random initialisations (the scripts' ``--num_eval``).
    lr : float > 0
        SGD learning rate, × 0.1 from ``decay_epoch``.
    momentum : float in [0, 1)
        SGD momentum.
    weight_decay : float >= 0
        SGD weight decay.
    batch_size : int >= 1
        Training batch.
    dsa : bool
        Siamese augmentation while training (one op family per batch, per-image draws); DM: on; DC,
        IDC, CAFE: off in COBRA's and FairDD's scripts.
    width : int in [1, 4096]
        Evaluation ConvNet width.
    depth : int >= 1
        Evaluation ConvNet depth.
    norm : {"instancenorm", "batchnorm", "none"}
        Evaluation ConvNet normalisation.
    precision : {"auto", "fp32", "bf16"}
        Train under bf16 autocast; ``"auto"`` (default) as in :class:`DistillConfig`, a long run
        being ``epochs × n_models`` ≥ ``fairdd.levers.LONG_RUN``.
    compile : bool or str
        ``torch.compile`` the evaluation models (with bf16 about 3.7× on an AMX CPU); as in
        :class:`DistillConfig`.
    preset : {"paper", "fairdd-paper", "demo", "smoke"}
        Which preset the defaults came from (recorded, not used).
    """

    epochs: int = 1000
    decay_epoch: int | None = None
    n_models: int = 5
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 256
    dsa: bool = True
    width: int = 128
    depth: int = 3
    norm: Norm = "instancenorm"
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    compile: bool | str = "auto"
    preset: Preset = "paper"

    def __post_init__(self) -> None:
        """Check every field (``ValueError`` naming the field, the value and what is allowed)."""
        _check_fields(self, _EVAL_KINDS)
        _check_compile(self.compile)

    @property
    def decay_at(self) -> int:
        """The first epoch trained at lr × 0.1."""
        return self.epochs // 2 if self.decay_epoch is None else self.decay_epoch

    def to_dict(self) -> dict:
        """Give the fields as a plain dict."""
        return dataclasses.asdict(self)


def _check_compile(value) -> None:
    if value not in COMPILE_MODES or (not isinstance(value, (bool, str))):
        raise ValueError(f"compile must be one of {list(COMPILE_MODES)}; got {value!r}")


MAX_WIDTH = 4096  # ConvNet channels; papers use 128, wider would only exhaust memory


# The kind of every checked field, written once: each kind is one checker from fairdd.validate, the
# same ones the other entry points (datasets.load, evaluate, the sweep grid) use. A checker returns
# the value as the plain Python type it stands for (np.int64(3) -> 3), which the config keeps.
def _int(low: int, high: int | None = None) -> Callable:
    return lambda name, value: check_int(name, value, low, high)


def _real(low: float, high: float | None = None, **openness) -> Callable:
    return lambda name, value: check_real(name, value, low, high, **openness)


def _choice(allowed: tuple) -> Callable:
    return lambda name, value: check_choice(name, value, allowed)


_POSITIVE, _FRACTION = _real(0.0, low_open=True), _real(0.0, 1.0, high_open=True)
_DISTILL_KINDS: dict[str, Callable] = {
    "method": _choice(METHODS), "distance": _choice(("l1", "l2")), "init": _choice(("real", "noise")),
    "precision": _choice(PRECISIONS), "norm": _choice(NORMS), "fairdd_reduction": _choice(("sum", "mean")),
    "cafe_loss": _choice(("cafe", "cobra")), "preset": _choice(PRESETS),
    **{name: _int(1) for name in ("ipc", "iterations", "batch_real", "depth", "outer_loop", "factor",
                                  "refresh_every", "warm_start_batch")},
    "width": _int(1, MAX_WIDTH), **{name: _int(0) for name in ("warm_start_epochs", "checkpoint_every", "inner_loop")},
    **{name: _POSITIVE for name in ("lr_img", "warm_start_lr", "lr_net")},
    **{name: _FRACTION for name in ("momentum", "warm_start_momentum", "inner_momentum")},
    **{name: _real(0.0) for name in ("warm_start_weight_decay", "inner_weight_decay")},
    "seed": lambda name, value: check_seed(value, name), "dsa": check_bool, "channels_last": check_bool,
}
_EVAL_KINDS: dict[str, Callable] = {
    **{name: _int(1) for name in ("epochs", "batch_size", "depth", "n_models")}, "width": _int(1, MAX_WIDTH),
    "decay_epoch": lambda name, value: None if value is None else check_int(name, value, 0),
    "norm": _choice(NORMS), "precision": _choice(PRECISIONS), "dsa": check_bool, "preset": _choice(PRESETS),
    "lr": _POSITIVE, "weight_decay": _real(0.0), "momentum": _FRACTION,
}


def _check_fields(config, kinds: dict[str, Callable]) -> None:
    """Check every field of ``kinds`` with its checker and keep the plain value it returns."""
    for name, check in kinds.items():
        object.__setattr__(config, name, check(name, getattr(config, name)))


# ----------------------------------------------------------------------------------------- presets
# Every number below is read from the reference code; the file is named beside it (COBRA = the
# authors' repository mhmoslemi/COBRA, FairDD = zqhang/FairDD). docs/protocol.md tabulates them.

# COBRA utils.get_loops (DC, DSA, IDC): IPC < 10 → (5, 10); FairDD utils.get_loops and COBRA
# cafe/utils.get_loops: IPC 1 → (1, 1), IPC 2–9 undefined. Both: 10 → (10, 50), 20 → (20, 25),
# 30 → (30, 20), 40 → (40, 15), 50 → (50, 10), above 50 → (100, 10); other IPCs exit().
_LOOPS = {10: (10, 50), 20: (20, 25), 30: (30, 20), 40: (40, 15), 50: (50, 10)}


def get_loops(ipc: int, *, below_10: str) -> tuple[int, int]:
    """Give (outer_loop, inner_loop) of the reference ``get_loops``.

    ``below_10``: "cobra" (COBRA utils.py: (5, 10) for every IPC < 10) or "dc" (FairDD utils.py,
    COBRA cafe/utils.py: (1, 1) at IPC 1 only).
    """
    if ipc in _LOOPS:
        return _LOOPS[ipc]
    if ipc > 50:
        return 100, 10
    if ipc < 10 and below_10 == "cobra":
        return 5, 10
    if ipc == 1:
        return 1, 1
    allowed = "1–9, " if below_10 == "cobra" else "1, "
    raise ValueError(f"the reference code defines no outer/inner loops for ipc {ipc}; allowed: {allowed}10, 20, "
                     "30, 40, 50 or above 50 (or pass both outer_loop= and inner_loop= to choose your own)")


@dataclass(frozen=True)
class _Undefined:
    """A preset value the reference code does not define; an override fills it, else ``message`` is raised."""

    message: str


def _loops(ipc: int, *, below_10: str) -> tuple:
    """:func:`get_loops`, or two :class:`_Undefined` where the reference defines none (overrides fill them)."""
    try:
        return get_loops(ipc, below_10=below_10)
    except ValueError as exc:
        return _Undefined(str(exc)), _Undefined(str(exc))


def _warm_start_k(ipc: int) -> int:
    """COBRA train_dm.py: K = 50 if ipc == 50, 100 if ipc == 100, else 10."""
    return 50 if ipc == 50 else 100 if ipc == 100 else 10


def _idc_factor(ipc: int, dataset: str | None) -> int:
    """Give the dataset record's IDC factor at ``ipc``; 2 for data that is no registered dataset.

    COBRA train_idc.py: 4 on UTKFace and BFFHQ (3 there at IPC >= 100), 2 on every other dataset.
    """
    from .data.record import find

    entry = find(dataset)
    return entry.idc_factor_at(ipc) if entry is not None else 2


def _ref_eval(epoch_eval_train: int) -> dict:
    """Give the reference's epochs and decay epoch for ``epoch_eval_train``.

    The reference evaluate_synset (COBRA utils.py, cafe/utils.py; FairDD utils.py) trains
    epoch_eval_train + 1 epochs and decays the lr after epoch epoch_eval_train // 2 + 1.
    """
    return dict(epochs=epoch_eval_train + 1, decay_epoch=epoch_eval_train // 2 + 2)


# Each preset function maps (ipc, protocol, dataset) to DistillConfig field values; ``protocol`` is the
# target strategy's declared ``fairdd.targets.Protocol`` (its run mode), never its name.
PresetFn = Callable[[int, "Protocol", "str | None"], dict]


def _dm_paper(ipc: int, protocol: Protocol, dataset: str | None) -> dict:  # COBRA run_dm.sh, train_dm.py
    return dict(iterations=2600, lr_img=1.0, momentum=0.5, batch_real=600, width=128, dsa=True,
                distance=protocol.distance, warm_start_epochs=_warm_start_k(ipc) if protocol.warm_start else 0,
                warm_start_lr=0.01, warm_start_momentum=0.0, warm_start_weight_decay=0.0,
                fairdd_reduction="sum")


def _dm_fairdd_paper(ipc: int, protocol: Protocol, dataset: str | None) -> dict:  # FairDD main_DM.sh, main_DM.py
    return dict(iterations=20000, lr_img=10.0 if ipc == 100 else 1.0, momentum=0.5, batch_real=256, width=128,
                dsa=True, distance=protocol.distance,
                warm_start_epochs=_warm_start_k(ipc) if protocol.warm_start else 0, warm_start_lr=0.01,
                warm_start_momentum=0.0, warm_start_weight_decay=0.0, fairdd_reduction="sum")


def _dm_cpu(preset: str) -> PresetFn:
    """Give DM's demo / smoke values: CPU-sized, not from a paper.

    The warm start's SGD has momentum 0.5 and weight decay 5e-4 (the paper's is plain) and FairDD
    sums its per-group distances: the settings the demo's recorded numbers were made with.
    """
    def values(ipc: int, protocol: Protocol, dataset: str | None) -> dict:
        k = 2 if preset == "demo" else 1
        warm = dict(distance=protocol.distance, warm_start_epochs=k if protocol.warm_start else 0,
                    warm_start_momentum=0.5, warm_start_weight_decay=5e-4)
        if preset == "demo":
            return dict(iterations=200, lr_img=5.0, batch_real=128, width=16, **warm)
        return dict(iterations=3, lr_img=1.0, batch_real=8, width=8, **warm)
    return values


def _dc_paper(dsa: bool) -> PresetFn:
    """COBRA run_dc.sh, train_dc.py, utils.get_loops (DSA: train_dc.py --dsa_strategy)."""
    def values(ipc: int, protocol: Protocol, dataset: str | None) -> dict:
        outer, inner = _loops(ipc, below_10="cobra")
        return dict(iterations=1000, lr_img=0.1, momentum=0.5, batch_real=256, width=128, dsa=dsa,
                    outer_loop=outer, inner_loop=inner, lr_net=0.01, fairdd_reduction="mean")
    return values


def _dc_fairdd_paper(dsa: bool) -> PresetFn:
    """FairDD main_DC.sh, main_DC.py (DSA: --method DSA), utils.get_loops."""
    def values(ipc: int, protocol: Protocol, dataset: str | None) -> dict:
        outer, inner = _loops(ipc, below_10="dc")
        return dict(iterations=1000, lr_img=0.1, momentum=0.5, batch_real=256, width=128, dsa=dsa,
                    outer_loop=outer, inner_loop=inner, lr_net=0.01, fairdd_reduction="sum")
    return values


def _idc_paper(ipc: int, protocol: Protocol, dataset: str | None) -> dict:
    """COBRA run_idc.sh, train_idc.py: no inner loop, outer_loop 30 at IPC 50 and 100."""
    outer = 30 if ipc in (50, 100) else _loops(ipc, below_10="cobra")[0]
    return dict(iterations=1000, lr_img=0.1, momentum=0.5, batch_real=256, width=128, dsa=False,
                outer_loop=outer, inner_loop=0, factor=_idc_factor(ipc, dataset), fairdd_reduction="mean")


def _cafe_paper(ipc: int, protocol: Protocol, dataset: str | None) -> dict:
    """COBRA run_cafe.sh, train_cafe.py (adjust_learning_rate), cafe/utils.get_loops."""
    outer, inner = _loops(ipc, below_10="dc")
    return dict(iterations=2000, lr_img=0.1, lr_img_halvings=(1200, 1600, 1800), momentum=0.5, batch_real=256,
                width=128, dsa=False, outer_loop=outer, inner_loop=inner, lr_net=0.01, cafe_loss=protocol.cafe_loss,
                fairdd_reduction="mean")


def _dc_family_cpu(preset: str, method: str) -> PresetFn:
    """Give the demo / smoke values of DC, DSA, IDC and CAFE: CPU-sized, not from a paper.

    IDC and CAFE lose DSA and IDC its inner loop (neither is part of those methods).
    """
    def values(ipc: int, protocol: Protocol, dataset: str | None) -> dict:
        base = dict(dsa=method == "dsa", lr_img=0.1, lr_net=0.01, momentum=0.5, factor=2 if method == "idc" else 1,
                    cafe_loss=protocol.cafe_loss, fairdd_reduction="sum")
        if preset == "demo":  # few updates, so larger pixel steps (at lr_img 0.1 the demo's EOD stays at 100);
            # CAFE's lr_img suits the reference's loss scale (docs/protocol.md)
            return dict(base, iterations=40, batch_real=64, width=16, outer_loop=5,
                        inner_loop=0 if method == "idc" else 5, lr_img=CAFE_DEMO_LR if method == "cafe" else 3.0)
        return dict(base, iterations=2, batch_real=8, width=8, outer_loop=2, inner_loop=0 if method == "idc" else 1)
    return values


CAFE_DEMO_LR = 1.0  # the demo's CAFE pixel step, at the reference's loss scale (sums): docs/protocol.md
_CPU_EVAL = {"demo": dict(epochs=100, width=32, n_models=3), "smoke": dict(epochs=2, width=8, n_models=1)}


@dataclass(frozen=True)
class MethodPresets:
    """One method's defaults under every preset it has: the single place they are written.

    Parameters
    ----------
    distill : mapping of preset name to callable ``(ipc, protocol, dataset) -> dict``
        The :class:`DistillConfig` field values of each preset.
    evaluate : mapping of preset name to dict
        The :class:`EvalConfig` field values of each preset.
    sources : mapping of preset name to str
        The reference files each published preset's values are read from (docs/protocol.md).
    """

    distill: Mapping[str, PresetFn]
    evaluate: Mapping[str, dict]
    sources: Mapping[str, str] = field(default_factory=dict)


def _dc_like(method: str, paper_source: str, paper_eval_models: int, paper: PresetFn,
             fairdd_paper: PresetFn | None = None, fairdd_source: str = "", fairdd_eval: dict | None = None):
    # paper eval: train_dc.py / train_idc.py / train_cafe.py: 1000 epochs, no augmentation (get_daparam:
    # 'none'; DSA only when distilled with it); num_eval 5 (run_dc.sh), 3 (run_idc.sh), 2 (run_cafe.sh)
    distill = {"paper": paper, **({"fairdd-paper": fairdd_paper} if fairdd_paper else {}),
               **{p: _dc_family_cpu(p, method) for p in ("demo", "smoke")}}
    evaluate = {"paper": dict(**_ref_eval(1000), dsa=method == "dsa", n_models=paper_eval_models, width=128),
                **({"fairdd-paper": fairdd_eval} if fairdd_paper else {}), **_CPU_EVAL}
    sources = {"paper": paper_source, **({"fairdd-paper": fairdd_source} if fairdd_paper else {})}
    return MethodPresets(distill, evaluate, sources)


# Every method, and its presets: METHODS is read from Method and a test checks the two agree.
METHOD_PRESETS: dict[str, MethodPresets] = {
    "dm": MethodPresets(
        distill={"paper": _dm_paper, "fairdd-paper": _dm_fairdd_paper, "demo": _dm_cpu("demo"),
                 "smoke": _dm_cpu("smoke")},
        # train_dm.py: epoch_eval_train 1500, DSA; run_dm.sh: num_eval 5. main_DM.py: 1000, DSA; num_eval 10
        evaluate={"paper": dict(**_ref_eval(1500), dsa=True, n_models=5, width=128),
                  "fairdd-paper": dict(**_ref_eval(1000), dsa=True, n_models=10, width=128), **_CPU_EVAL},
        sources={"paper": "COBRA scripts/run_dm.sh, train_dm.py, utils.py",
                 "fairdd-paper": "FairDD scripts/main_DM.sh, main_DM.py, utils.py"}),
    # main_DC.py: 300 epochs without augmentation, main_DC.sh: num_eval 10; --method DSA: 1000 with DSA
    "dc": _dc_like("dc", "COBRA scripts/run_dc.sh, train_dc.py, utils.py", 5, _dc_paper(False),
                   _dc_fairdd_paper(False), "FairDD scripts/main_DC.sh, main_DC.py, utils.py",
                   dict(**_ref_eval(300), dsa=False, n_models=10, width=128)),
    "dsa": _dc_like("dsa", "COBRA train_dc.py with --dsa_strategy (no script runs it), utils.py", 5,
                    _dc_paper(True), _dc_fairdd_paper(True), "FairDD main_DC.py --method DSA, utils.py",
                    dict(**_ref_eval(1000), dsa=True, n_models=10, width=128)),
    "idc": _dc_like("idc", "COBRA scripts/run_idc.sh, train_idc.py, utils.py", 3, _idc_paper),
    "cafe": _dc_like("cafe", "COBRA scripts/run_cafe.sh, train_cafe.py, cafe/utils.py, cafe/networks.py", 2,
                     _cafe_paper),
}


def _presets_of(method: str, preset: str) -> MethodPresets:
    presets = METHOD_PRESETS[method]
    if preset not in presets.distill:
        raise ValueError(f"preset {preset!r} has no {method!r} protocol (FairDD's code runs DM and DC/DSA); "
                         "use preset='paper' (COBRA's)")
    return presets


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
    merged = {**base, **overrides}
    undefined = [v for v in merged.values() if isinstance(v, _Undefined)]
    if undefined:
        raise ValueError(undefined[0].message)
    return cls(**merged)


def distill_config(*, method: str = "dm", target: str = "cobra", ipc: int = 10, preset: str = "paper",
                   seed: int = 0, dataset: str | None = None, **overrides) -> DistillConfig:
    """Build the ``preset``'s distillation config for (method, target, ipc), with ``overrides`` applied.

    ``paper`` is COBRA's protocol for every strategy: DM 2600 iterations, real batch 600, lr_img 1;
    COBRA-DM (target cobra) with the L1 distance and a plain-SGD warm start of K = 10 / 50 / 100
    epochs; DC/IDC 1000 iterations, CAFE 2000 with lr_img halved at 1200/1600/1800; FairDD's per-group
    distances summed for DM, averaged for DC/IDC/CAFE. ``fairdd-paper`` is FairDD's (DM 20000
    iterations, batch 256; per-group distances summed). ``dataset`` only matters for IDC, whose
    multi-formation factor is 4 (3 at IPC >= 100) on UTKFace and BFFHQ, 2 elsewhere. Values and sources: docs/protocol.md.
    """
    ipc, seed = _plain(ipc), _plain(seed)
    check_choice("preset", preset, PRESETS)
    check_choice("method", method, METHODS)
    check_int("ipc", ipc, 1)
    check_seed(seed)
    from .targets import STRATEGIES

    check_choice("target", target, tuple(STRATEGIES))
    values = _presets_of(method, preset).distill[preset](ipc, STRATEGIES[target].protocol, dataset)
    base = dict(method=method, target=target, ipc=ipc, seed=seed, preset=preset, **values)
    return _build(DistillConfig, base, overrides)


def eval_config(*, preset: str = "paper", method: str = "dm", **overrides) -> EvalConfig:
    """Build the ``preset``'s evaluation config for sets distilled with ``method``, with ``overrides`` applied.

    Under ``paper``: DM sets train 1500 (+1) epochs with DSA and 5 models; DC, IDC and CAFE sets 1000
    (+1) epochs without augmentation, 5 / 3 / 2 models. Under ``fairdd-paper``: DM 1000 (+1) with DSA,
    DC 300 (+1) without, 10 models.
    """
    check_choice("preset", preset, PRESETS)
    check_choice("method", method, METHODS)
    return _build(EvalConfig, dict(preset=preset, **_presets_of(method, preset).evaluate[preset]), overrides)


# ------------------------------------------------------------------------------ the preset table


def protocol_table(ipcs: tuple[int, ...] = (10, 50, 100)) -> str:
    """Every preset's values as one markdown table (the one in docs/protocol.md), with sources.

    Cells that depend on the target read ``cobra value / other targets' value``.
    """
    from .data.record import idc_factor_exceptions

    cols = ["preset", "method", "IPC", "iterations", "lr_img", "real batch", "outer / inner", "DSA (distil)",
            "DM distance", "warm start K (lr, mom., wd)", "FairDD reduction", "IDC factor", "CAFE loss",
            "eval epochs (decay from)", "eval DSA", "eval models", "source"]
    rows = []
    for preset in PRESETS:
        for method in METHODS:
            for ipc in ipcs if preset in ("paper", "fairdd-paper") else (10,):
                if preset not in METHOD_PRESETS[method].distill:
                    continue
                c = distill_config(method=method, target="cobra", ipc=ipc, preset=preset)
                v = distill_config(method=method, target="vanilla", ipc=ipc, preset=preset)
                e = eval_config(preset=preset, method=method)
                dm = method == "dm"

                def by_target(a, b):
                    return f"{a} / {b}" if a != b else f"{a}"

                lr = f"{c.lr_img:g}" + (f", ×½ at {'/'.join(map(str, c.lr_img_halvings))}" if c.lr_img_halvings else "")
                warm = (f"{c.warm_start_epochs} ({c.warm_start_lr:g}, {c.warm_start_momentum:g}, "
                        f"{c.warm_start_weight_decay:g}) / 0" if dm else "—")
                rows.append([preset, method, str(ipc), str(c.iterations), lr, str(c.batch_real),
                             "—" if dm else f"{c.outer_loop} / {c.inner_loop}", "on" if c.dsa else "off",
                             by_target(c.distance, v.distance) if dm else "—", warm, c.fairdd_reduction,
                             str(c.factor) + (f" ({idc_factor_exceptions()})" if method == "idc" and preset == "paper"
                                              else "") if method == "idc" else "—",
                             by_target(c.cafe_loss, v.cafe_loss) if method == "cafe" else "—",
                             f"{e.epochs} ({e.decay_at})", "on" if e.dsa else "off", str(e.n_models),
                             METHOD_PRESETS[method].sources.get(preset, "fairdd: CPU-sized, not from a paper")])
    line = lambda cells: "| " + " | ".join(cells) + " |"  # noqa: E731
    return "\n".join([line(cols), line(["---"] * len(cols)), *map(line, rows)]) + "\n"


def _markdown(rows: list[list[str]]) -> str:
    """Join a header row, a rule and the other rows into one markdown table."""
    line = lambda cells: "| " + " | ".join(cells) + " |"  # noqa: E731
    return "\n".join([line(rows[0]), line(["---"] * len(rows[0])), *map(line, rows[1:])]) + "\n"


def _by_ipc(value: Callable[[int], str], ipcs: tuple[int, ...] = (50, 100)) -> str:
    """``value(10)``, then ``(v at IPC n)`` for each IPC in ``ipcs`` where it differs."""
    at10 = value(10)
    other = [f"{value(ipc)} at IPC {ipc}" for ipc in ipcs if value(ipc) != at10]
    return at10 + (f" ({', '.join(other)})" if other else "")


def preset_summary_table() -> str:
    """Tabulate the headline values of every preset at IPC 10, one column per preset (docs/method.md).

    The DM distance and warm start are those of COBRA's protocol (target ``cobra`` and every strategy
    declaring ``COBRA_PROTOCOL``); the other targets' are in docs/protocol.md.
    """
    def cfg(preset, method, ipc=10):
        return distill_config(method=method, target="cobra", ipc=ipc, preset=preset)

    def cell(preset, method, show):
        if preset not in METHOD_PRESETS[method].distill:
            return "—"
        return _by_ipc(lambda ipc: show(cfg(preset, method, ipc), eval_config(preset=preset, method=method)))

    fields = [
        ("DM iterations", "dm", lambda c, e: str(c.iterations)),
        ("DM lr on pixels", "dm", lambda c, e: f"{c.lr_img:g}"),
        ("DM real images per class per iteration", "dm", lambda c, e: str(c.batch_real)),
        ("distillation ConvNet width", "dm", lambda c, e: str(c.width)),
        ("DM distance (COBRA's protocol)", "dm", lambda c, e: c.distance.upper()),
        ("DM warm start K, epochs (COBRA's protocol)", "dm", lambda c, e: str(c.warm_start_epochs)),
        ("DC iterations", "dc", lambda c, e: str(c.iterations)),
        ("DC lr on pixels", "dc", lambda c, e: f"{c.lr_img:g}"),
        ("DC outer / inner loop", "dc", lambda c, e: f"{c.outer_loop} / {c.inner_loop}"),
        *[(f"evaluation of {m.upper()} sets: epochs, DSA, models, width", m,
           lambda c, e: f"{e.epochs}, {'DSA' if e.dsa else 'no DSA'}, {e.n_models}, {e.width}")
          for m in ("dm", "dc")],
    ]
    rows = [["field", *[f"`{p}`" for p in PRESETS]]]
    rows += [[label, *[cell(p, method, show) for p in PRESETS]] for label, method, show in fields]
    return _markdown(rows)


def target_protocol_table() -> str:
    """Every registered target with the protocol it declares (``fairdd.targets.Protocol``): docs/protocol.md."""
    from .targets import STRATEGIES

    rows = [["target", "protocol", "DM distance", "DM warm start", "CAFE loss"]]
    for name, strategy in STRATEGIES.items():
        p = strategy.protocol
        rows.append([f"`{name}`", p.family, p.distance, "K epochs" if p.warm_start else "none", p.cafe_loss])
    return _markdown(rows)
