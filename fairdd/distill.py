"""The one optimisation loop: a stepper you can drive one iteration at a time, checkpoint and resume.

    S* = argmin_S  E_{θ, ω, batch} [ L_matcher(S; strategy(real statistics)) ]

``Distiller`` owns the synthetic set, its optimiser, the run's ``torch.Generator`` and a matcher;
``step()`` performs one outer iteration. ``distill()`` builds the config from a preset, runs the
loop with progress, callbacks and checkpoints, and returns a ``DistillResult``.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import torch

from .config import DistillConfig, distill_config
from .data import GroupedDataset
from .data.dataset import check_dataset
from .io import load_tensors, tensor_bytes
from .levers import Workload, choose_levers
from .matching import MATCHERS, RealBatch
from .ownership import OutputFolder, check_output, run_lock, write_owned
from .provenance import fingerprint_differences, settings_differences
from .results import DistillResult
from .targets import STRATEGIES
from .validate import (NonFiniteError, check_bool, check_callbacks, check_finite, check_ipc_fits,
                       check_memory, check_path, describe_value, resolve_device)

__all__ = ["Distiller", "StepInfo", "distill", "resolve_device"]

log = logging.getLogger(__name__)
CHECKPOINT_FORMAT = "fairdd.checkpoint/1"


@dataclass
class StepInfo:
    """What one outer iteration did. ``loss`` is read from the device on first access."""

    iteration: int
    seconds: float
    _loss: torch.Tensor | float

    @property
    def loss(self) -> float:
        """The matching loss of the step (read from the device once)."""
        if isinstance(self._loss, torch.Tensor):
            self._loss = float(self._loss)
        return self._loss

    def as_dict(self) -> dict:
        """Return the step as a history record ``{"iteration", "loss", "seconds"}``."""
        return {"iteration": self.iteration, "loss": self.loss, "seconds": self.seconds}


class Distiller:
    """A distillation run you can step.

    >>> run = Distiller(train, distill_config(target="cobra", preset="smoke"))
    >>> info = run.step()          # one outer iteration
    >>> for info in run: ...       # until config.iterations
    >>> result = run.result()
    """

    def __init__(self, train: GroupedDataset, config: DistillConfig, *, device: str | torch.device = "auto") -> None:
        check_dataset("train", train)
        if not isinstance(config, DistillConfig):
            raise ValueError(f"config must be a DistillConfig (fairdd.distill_config(...)); got {describe_value(config)}")
        self.config = config
        self.device = resolve_device(device)
        _check_training_set(train, config, self.device)
        if not train.fully_labelled:
            raise ValueError(f"{int((~train.known).sum())} training samples have no group label; fill them with "
                             "fairdd.data.infer_groups(train) first (pseudo-groups)")
        self.train = train.to(self.device)
        self.strategy = STRATEGIES[config.target].from_config(config)
        _check_supported(config.method, config.target, self.strategy.kind)
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed)
        c, h, w = train.image_shape
        if h != w:
            raise ValueError(f"images must be square; got {h}×{w}")
        # "auto" levers are resolved once for this machine; the matcher runs with the resolved values
        work = Workload(width=config.width, image_size=h, steps=config.iterations, depth=config.depth, in_channels=c,
                        n_real=config.batch_real * train.n_classes, n_syn=config.ipc * train.n_classes)
        self.levers = choose_levers(self.device, precision=config.precision, compile=config.compile,
                                    channels_last=config.channels_last or "auto", workload=work)
        run_config = dataclasses.replace(config, precision=self.levers.precision, compile=self.levers.compile,
                                         channels_last=self.levers.channels_last)
        self.matcher = MATCHERS[config.method](run_config, in_channels=c, n_classes=train.n_classes,
                                               n_groups=train.n_groups, image_size=h, device=self.device)
        if config.init == "real":  # more images than the class holds would repeat them
            # one real image per stored image, also under multi-formation (COBRA train_idc.py)
            check_ipc_fits(config.ipc, torch.bincount(train.labels, minlength=train.n_classes).cpu(),
                           train.class_names)
        self.labels = torch.arange(train.n_classes, device=self.device).repeat_interleave(config.ipc)  # (C·ipc,)
        self.images = self._init_images().requires_grad_(True)  # (C·ipc, c, h, w)
        self.optimizer = torch.optim.SGD([self.images], lr=config.lr_img, momentum=config.momentum)
        self.iteration = 0
        self.history: list[StepInfo] = []
        self.finite_check_every = 0  # steps between finiteness checks in run(); 0 = 1 on a CPU, 25 on a GPU

    def _init_images(self) -> torch.Tensor:
        cfg, train = self.config, self.train
        shape = (train.n_classes * cfg.ipc, *train.image_shape)
        if cfg.init == "noise":
            return torch.randn(shape, generator=self.generator, device=self.device)
        per = cfg.ipc  # IDC too: one full real image per stored image (COBRA train_idc.py)
        counts = torch.bincount(train.labels, minlength=train.n_classes)
        if int(counts.min()) == 0:
            missing = [train.class_names[i] for i in (counts == 0).nonzero().flatten().tolist()]
            raise ValueError(f"cannot initialise from real images: classes {missing} have no training sample")
        idx = train.sample_batch(per, generator=self.generator)  # (≤ C·per,) sorted by class
        take = torch.bincount(train.labels[idx], minlength=train.n_classes)  # (C,)
        if int(take.min()) < per:  # tiny classes: repeat their images
            idx = torch.cat([idx[train.labels[idx] == c].repeat(per)[:per] for c in range(train.n_classes)])
        return train.images[idx].detach().clone()

    def _sample_real(self) -> RealBatch:
        idx = self.train.sample_batch(self.config.batch_real, balance=self.strategy.sampling,
                                      generator=self.generator)  # (M,)
        return RealBatch(self.train.images[idx], self.train.labels[idx], self.train.groups[idx])

    # --------------------------------------------------------------- stepping
    @property
    def done(self) -> bool:
        """Whether ``config.iterations`` steps have run."""
        return self.iteration >= self.config.iterations

    def step(self) -> StepInfo:
        """One outer iteration (even past ``config.iterations``: the dashboard may keep going)."""
        t0 = time.perf_counter()
        if self.config.lr_img_halvings:  # CAFE's schedule: lr_img halved at the given iterations
            for group in self.optimizer.param_groups:
                group["lr"] = self.config.lr_at(self.iteration)
        loss = self.matcher.iteration(self.images, self.labels, self.optimizer, self._sample_real,
                                      self.strategy, self.generator)
        self.iteration += 1
        info = StepInfo(self.iteration, time.perf_counter() - t0, loss)
        self.history.append(info)
        return info

    def __iter__(self) -> Iterator[StepInfo]:
        """Step until the last iteration, yielding each step's ``StepInfo``."""
        while not self.done:
            yield self.step()

    def run(self, *, callbacks: Iterable[Callable[["Distiller", StepInfo], None]] = (), progress: bool = False,
            checkpoint: str | Path | None = None) -> DistillResult:
        """Step until ``config.iterations``, with callbacks, progress and checkpoints.

        ``callbacks(self, info)`` run after each step; ``checkpoint`` is written every
        ``config.checkpoint_every`` iterations and at the end.

        The loss and the synthetic images are checked to be finite (every step on a CPU, every
        ``FINITE_CHECK_EVERY_GPU`` steps and before every checkpoint on a GPU, to avoid a host sync
        per step). A non-finite value stops the run with ``NonFiniteError`` naming the first bad
        iteration; the run is put back to the last checked finite state, which is also what the
        checkpoint holds (only finite states are ever written).

        While it runs, the run holds ``checkpoint``: a second run given the same path is refused, naming
        this one (``fairdd.ownership.run_lock``).
        """
        if checkpoint is None:
            return self._run(callbacks, progress, None)
        with run_lock(checkpoint, what="checkpoint"):
            return self._run(callbacks, progress, checkpoint)

    def _run(self, callbacks, progress: bool, checkpoint) -> DistillResult:
        callbacks = check_callbacks(callbacks)
        check_bool("progress", progress)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=self.config.iterations, initial=self.iteration, desc=f"{self.config.target}")
        every = self.config.checkpoint_every
        check_every = self.finite_check_every or (1 if self.device.type == "cpu" else FINITE_CHECK_EVERY_GPU)
        good, pending = self.snapshot(), []
        try:
            for info in self:
                pending.append(info._loss)
                for cb in callbacks:
                    cb(self, info)
                if bar is not None:
                    bar.update(1)
                    if info.iteration % 50 == 0:
                        bar.set_postfix(loss=f"{info.loss:.4g}")
                save_now = checkpoint is not None and every and info.iteration % every == 0
                if save_now or self.done or len(pending) >= check_every:
                    self._check_finite(pending, good, checkpoint)
                    good, pending = self.snapshot(), []
                if save_now:
                    self.save_checkpoint(checkpoint)
            if pending:
                self._check_finite(pending, good, checkpoint)
        finally:
            if bar is not None:
                bar.close()
        if checkpoint is not None:
            self.save_checkpoint(checkpoint)
        return self.result()

    def snapshot(self) -> dict:
        """Copy everything a step may change.

        Images, momentum, generator, iteration, history length and matcher state; ``restore(snapshot)``
        puts the run back exactly (a retried step equals a clean one).
        """
        mom = self.optimizer.state.get(self.images, {}).get("momentum_buffer")
        return {"images": self.images.detach().clone(), "momentum": None if mom is None else mom.clone(),
                "generator": self.generator.get_state(), "iteration": self.iteration, "history": len(self.history),
                "matcher": copy.deepcopy(self.matcher.state_dict())}

    def restore(self, snap: dict) -> None:
        """Put the run back to a ``snapshot()``: the next step is the one that followed it."""
        with torch.no_grad():
            self.images.copy_(snap["images"])
        self.images.grad = None
        if snap["momentum"] is None:
            self.optimizer.state.pop(self.images, None)
        else:
            self.optimizer.state[self.images]["momentum_buffer"] = snap["momentum"].clone()
        self.generator.set_state(snap["generator"])
        self.iteration = snap["iteration"]
        del self.history[snap["history"]:]
        self.matcher.load_state_dict(snap["matcher"])

    def _check_finite(self, losses: list, good: dict, checkpoint) -> None:
        """Raise ``NonFiniteError`` (after restoring ``good``) if a loss or the images are not finite."""
        loss = torch.stack([torch.as_tensor(v, dtype=torch.float32, device=self.device).reshape(()) for v in losses])
        ok = torch.isfinite(loss)  # (k,)
        if bool(ok.all()) and bool(torch.isfinite(self.images).all()):
            return
        first = good["iteration"] + 1 + (int((~ok).nonzero()[0]) if not bool(ok.all()) else len(losses) - 1)
        value = float(loss[first - good["iteration"] - 1])
        self.restore(good)
        kept = ""
        if checkpoint is not None:
            self.save_checkpoint(checkpoint)
            kept = f"; checkpoint {checkpoint} holds that state"
        cfg = self.config
        raise NonFiniteError(
            f"the loss became {value} at iteration {first} ({cfg.method}/{cfg.target}, lr_img={cfg.lr_img}): "
            f"stopped, and the run was put back to iteration {self.iteration}, its last finite state{kept}. "
            "Lower lr_img or check the training images", iteration=first, last_good=self.result())

    # ----------------------------------------------------------- persistence
    def result(self) -> DistillResult:
        """Return the current synthetic set as a ``DistillResult`` (refused if it holds NaN or infinity)."""
        images = self.images.detach().cpu().clone()
        check_finite(f"the synthetic images at iteration {self.iteration}", images)
        return DistillResult(images=images, labels=self.labels.cpu().clone(),
                             history=[h.as_dict() for h in self.history],
                             config={**self.config.to_dict(), "levers": self.levers.as_dict()},
                             dataset=self.train.describe())

    def state_dict(self) -> dict:
        """Everything a resumed run needs: images, momentum, generator, history, config, data fingerprint."""
        mom = self.optimizer.state.get(self.images, {}).get("momentum_buffer")
        return {
            "format": CHECKPOINT_FORMAT,
            "images": self.images.detach().cpu(),
            "momentum": mom.detach().cpu() if mom is not None else torch.empty(0),
            "generator": self.generator.get_state(),
            "iteration": torch.tensor(self.iteration),
            "history": torch.tensor([[h.iteration, h.loss, h.seconds] for h in self.history],
                                    dtype=torch.float64).reshape(-1, 3),
            "config": _json_tensor(self.config.to_dict()),
            "dataset": _json_tensor(self.train.fingerprint()),
            "matcher": self.matcher.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from ``state`` (a ``state_dict()``).

        Refused when it was made with another config (other than ``iterations`` /
        ``checkpoint_every`` and the speed levers ``SPEED_LEVERS``) or on another training set.
        """
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"not a fairdd checkpoint (format "
                             f"{state.get('format') if isinstance(state, dict) else None!r})")
        missing = sorted({"images", "momentum", "generator", "iteration", "history", "config"} - set(state))
        if missing:
            raise ValueError(f"fairdd checkpoint is missing {missing}")
        differ = settings_differences(_json_from_tensor(state["config"], "config"), self.config.to_dict(),
                                      ignore=("iterations", "checkpoint_every", *SPEED_LEVERS), defaults=_CONFIG_DEFAULTS)
        if differ:
            raise ValueError("checkpoint was made with a different config: " + ", ".join(differ))
        if "dataset" in state:  # checkpoints from before fingerprints carry none
            made, now = _json_from_tensor(state["dataset"], "dataset"), self.train.fingerprint()
            differ = fingerprint_differences(made, now)
            if differ:
                raise ValueError("checkpoint was made on another training set: " + "; ".join(differ))
        images, mom, hist = state["images"], state["momentum"], state["history"]
        if not isinstance(images, torch.Tensor) or images.shape != self.images.shape:
            raise ValueError(f"checkpoint images {_shape(images)} do not fit {tuple(self.images.shape)}")
        if not isinstance(mom, torch.Tensor) or (mom.numel() and mom.shape != self.images.shape):
            raise ValueError(f"checkpoint momentum {_shape(mom)} does not fit {tuple(self.images.shape)}")
        if not isinstance(hist, torch.Tensor) or hist.ndim != 2 or hist.shape[1] != 3:
            raise ValueError(f"checkpoint history must have shape (n, 3); got {_shape(hist)}")
        it = state["iteration"]
        if not isinstance(it, torch.Tensor) or it.numel() != 1 or int(it) < 0 or int(it) != hist.shape[0]:
            raise ValueError(f"checkpoint iteration {it!r} does not match its history of {hist.shape[0]} steps")
        check_finite("checkpoint images", images)
        with torch.no_grad():
            self.images.copy_(images.to(self.device))
        if mom.numel():
            self.optimizer.state[self.images]["momentum_buffer"] = mom.to(self.device).clone()
        try:
            self.generator.set_state(state["generator"])
        except (RuntimeError, TypeError) as exc:
            raise ValueError(f"checkpoint generator state is not valid here ({exc})") from exc
        self.iteration = int(it)
        self.history = [StepInfo(int(i), float(s), float(l)) for i, l, s in hist.tolist()]
        self.matcher.load_state_dict(state.get("matcher", {}))

    def save_checkpoint(self, path: str | Path) -> Path:
        """Write ``state_dict()`` to ``path`` atomically.

        A file there that fairdd did not write is never replaced (``fairdd.ownership``).
        """
        data = tensor_bytes(self.state_dict())
        return write_owned(path, lambda p: p.write_bytes(data), what="checkpoint")

    def load_checkpoint(self, path: str | Path) -> None:
        """Continue from the checkpoint file ``path`` (``load_state_dict``)."""
        self.load_state_dict(load_tensors(path, "fairdd checkpoint"))


# how fast, not what: a checkpoint resumes under other levers (one made before "auto" became the default too)
SPEED_LEVERS = ("precision", "compile", "channels_last")
FINITE_CHECK_EVERY_GPU = 25  # steps between finiteness checks on a GPU (each check is one host sync)


def _json_tensor(obj) -> torch.Tensor:
    return torch.frombuffer(bytearray(json.dumps(obj).encode()), dtype=torch.uint8).clone()


def _json_from_tensor(t, what: str) -> dict:
    try:
        out = json.loads(bytes(t.tolist()).decode())
    except (AttributeError, TypeError, ValueError) as exc:
        raise ValueError(f"fairdd checkpoint: its {what} record is unreadable ({exc})") from exc
    if not isinstance(out, dict):
        raise ValueError(f"fairdd checkpoint: its {what} record is not a mapping")
    return out


def _shape(x) -> str:
    return str(tuple(x.shape)) if isinstance(x, torch.Tensor) else type(x).__name__


_CONFIG_DEFAULTS = {f.name: f.default for f in dataclasses.fields(DistillConfig)
                    if f.default is not dataclasses.MISSING}  # a field newer than a checkpoint: its default


def _check_supported(method: str, target: str, kind: str) -> None:
    """Refuse a strategy whose targets the matcher has no distance for, naming the matchers that have one."""
    if MATCHERS[method].supports(kind):
        return
    able = [m for m, cls in MATCHERS.items() if cls.supports(kind)]
    what = "compares embedding clouds" if kind != "moments" else f"has {kind!r} targets"
    raise ValueError(f"target {target!r} {what}: use method={' or '.join(repr(m) for m in able) or 'none'} "
                     f"(got {method!r})")


def _check_training_set(train: GroupedDataset, config: DistillConfig, device: torch.device) -> None:
    """Check what a run needs of its data before any work.

    Finite images, every class present, one group weight per group, and synthetic images that fit
    in memory.
    """
    train.check_finite("training images")
    counts = torch.bincount(train.labels, minlength=train.n_classes)  # (C,)
    if int(counts.min()) == 0:
        missing = [train.class_names[i] for i in (counts == 0).nonzero().flatten().tolist()]
        raise ValueError(f"train has no sample of classes {missing}: nothing to distil them from "
                         "(drop those classes from class_names or add data)")
    gw = config.group_weights
    if not isinstance(gw, str):
        _check_weights_reach_every_class(train, gw)
    c, h, w = train.image_shape
    n_bytes = 4 * 3 * train.n_classes * config.ipc * c * h * w  # images, their gradient and momentum (fp32)
    check_memory(f"ipc={config.ipc} ({train.n_classes} classes of {c}×{h}×{w} images)", n_bytes, device)


def _check_weights_reach_every_class(train: GroupedDataset, weights) -> None:
    """One weight per group, and every class with weight on a group it has samples of.

    A class whose groups all have weight 0 would get no target and stay as initialised: refused,
    naming the class and the groups that carry the weight.
    """
    if len(weights) != train.n_groups:
        raise ValueError(f"group_weights has {len(weights)} entries; the training set has {train.n_groups} groups "
                         f"{list(train.group_names)}")
    w = torch.tensor([float(v) for v in weights], dtype=torch.float64)  # (G,)
    reach = (train.cell_counts().cpu() > 0).double() @ w  # (C,) weight on the groups each class has
    if bool((reach > 0).all()):
        return
    c = int((reach == 0).nonzero()[0])
    weighted = [train.group_names[g] for g in (w > 0).nonzero().flatten().tolist()]
    has = [train.group_names[g] for g in (train.cell_counts()[c] > 0).nonzero().flatten().tolist()]
    more = int((reach == 0).sum()) - 1
    raise ValueError(f"group_weights={list(weights)} put all weight on group(s) {weighted}, of which class "
                     f"{train.class_names[c]!r} has no training sample (it has {has})"
                     + (f", nor do {more} more classes" if more else "")
                     + ": that class would not be distilled; give one of its groups weight")


def distill(
    train: GroupedDataset,
    *,
    method: str = "dm",
    target: str = "cobra",
    ipc: int = 10,
    preset: str = "paper",
    seed: int = 0,
    device: str | torch.device = "auto",
    checkpoint: str | Path | None = None,
    resume: str | Path | None = None,
    callbacks: Iterable[Callable] = (),
    progress: bool = False,
    **overrides,
) -> DistillResult:
    r"""Distil ``train`` into ``ipc`` synthetic images per class.

    .. math::
        S^* = \operatorname*{argmin}_{S \in \mathbb R^{C \cdot \mathrm{ipc} \times c \times H \times W}}
              \mathbb E_{\theta, \omega, B}\Big[\sum_c \sum_k w_{c,k}\,
              D\big(\mathrm{refs}_{c,k},\ \Phi_\theta(A_\omega(S_c))\big)\Big],\qquad
        (\mathrm{refs}, w) = \mathcal T\big(\Phi_\theta(A_\omega(B))\big)

    where θ is a freshly drawn ConvNet, ω a Siamese augmentation draw, B a real batch, Φ the
    matcher's statistic (``method``: embeddings for DM, gradients for DC/DSA/IDC, layer features for
    CAFE), D its distance for the strategy's target kind, and :math:`\mathcal T` the strategy
    (``target``: what each class is pulled toward). S takes one SGD step (``lr_img``, ``momentum``)
    per matcher loss; every draw comes from one ``torch.Generator`` seeded with ``seed``.

    Parameters
    ----------
    train : GroupedDataset
        Images (N, c, H, W) with square H = W, labels (N,) and group labels (N,), all known.
    method : {"dm", "dc", "dsa", "idc", "cafe"}, default "dm"
        The matcher (``fairdd.config.METHODS``).
    target : str, default "cobra"
        The strategy, one of ``fairdd.targets.STRATEGIES`` ("vanilla", "uniform", "fairdd",
        "cobra", "cobra-w2", "cobra-gauss"; the distributional ones need ``method="dm"``).
    ipc : int, default 10
        Stored synthetic images per class (IDC decodes each into ``factor²``).
    preset : {"paper", "fairdd-paper", "demo", "smoke"}, default "paper"
        "paper" (COBRA's protocol), "fairdd-paper" (FairDD's), "demo" (2-core CPU, minutes) or
        "smoke" (tests); values and sources in docs/protocol.md.
    seed : int, default 0
        The one source of randomness; same seed, same images on CPU.
    device : str or torch.device, default "auto"
        "auto" (CUDA when available), "cpu", "cuda", "cuda:N" or "mps".
    checkpoint : path, optional
        File to write every ``checkpoint_every`` iterations and at the end.
    resume : path, optional
        Checkpoint to continue from; the run then equals an uninterrupted one (CPU).
    callbacks : callable ``f(distiller, info)`` or list of them
        Called after every step with the ``Distiller`` and its ``StepInfo``.
    progress : bool, default False
        Show a tqdm progress bar.
    **overrides
        Any ``DistillConfig`` field, e.g. ``iterations=500``.

    Returns
    -------
    DistillResult
        images (C · ipc, c, H, W) sorted by class, labels (C · ipc,), the loss history and the config.

    References
    ----------
    [1] Moslemi et al., "Fair Dataset Distillation via Cross-Group Barycenter Alignment",
    arXiv 2605.00185 (ICML 2026); code mhmoslemi/COBRA.

    [2] Zhou et al., "FairDD: Fair Dataset Distillation", NeurIPS 2025.

    [3] Zhao & Bilen, "Dataset Condensation with Distribution Matching", WACV 2023.
    """
    check_dataset("train", train)
    callbacks = check_callbacks(callbacks)
    dev = resolve_device(device)
    config = distill_config(method=method, target=target, ipc=ipc, preset=preset, seed=seed,
                            dataset=train.info.get("name"), **overrides)  # the dataset sets IDC's factor on faces
    check_path("checkpoint", checkpoint, optional=True)
    if check_path("resume", resume, optional=True) is not None and not Path(resume).is_file():
        raise FileNotFoundError(f"resume: {resume} does not exist")
    check_bool("progress", progress)
    same = checkpoint is not None and resume is not None and Path(checkpoint).resolve() == Path(resume).resolve()
    if checkpoint is not None and not same:  # before any work: an unwritable path is found now, not after the run
        check_output(checkpoint, kind="file", what="checkpoint")
    run = Distiller(train, config, device=dev)
    if resume is not None:
        run.load_checkpoint(resume)
        log.info("resumed %s at iteration %d", resume, run.iteration)
        if checkpoint is None:
            checkpoint = resume
        if Path(checkpoint).resolve() == Path(resume).resolve():  # a checkpoint it just read: fairdd's own
            with OutputFolder(Path(resume).parent).locked() as folder:
                folder.claim(Path(resume).name)
    return run.run(callbacks=callbacks, progress=progress, checkpoint=checkpoint)
