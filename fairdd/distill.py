"""The one optimisation loop: a stepper you can drive one iteration at a time, checkpoint and resume.

    S* = argmin_S  E_{θ, ω, batch} [ L_matcher(S; strategy(real statistics)) ]

``Distiller`` owns the synthetic set, its optimiser, the run's ``torch.Generator`` and a matcher;
``step()`` performs one outer iteration. ``distill()`` builds the config from a preset, runs the
loop with progress, callbacks and checkpoints, and returns a ``DistillResult``.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import torch

from .config import DistillConfig, distill_config
from .data import GroupedDataset
from .io import load_tensors, save_tensors
from .matching import MATCHERS
from .matching.dm import as_batch
from .results import DistillResult
from .targets import get_strategy

__all__ = ["Distiller", "StepInfo", "distill", "resolve_device"]

log = logging.getLogger(__name__)
CHECKPOINT_FORMAT = "fairdd.checkpoint/1"


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """"auto" → CUDA when available, else CPU; anything else is passed to ``torch.device``."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu', 'cuda' or 'cuda:N'") from exc


@dataclass
class StepInfo:
    """What one outer iteration did. ``loss`` is read from the device on first access."""

    iteration: int
    seconds: float
    _loss: torch.Tensor | float

    @property
    def loss(self) -> float:
        if isinstance(self._loss, torch.Tensor):
            self._loss = float(self._loss)
        return self._loss

    def as_dict(self) -> dict:
        return {"iteration": self.iteration, "loss": self.loss, "seconds": self.seconds}


class Distiller:
    """A distillation run you can step.

    >>> run = Distiller(train, distill_config(target="cobra", preset="smoke"))
    >>> info = run.step()          # one outer iteration
    >>> for info in run: ...       # until config.iterations
    >>> result = run.result()
    """

    def __init__(self, train: GroupedDataset, config: DistillConfig, *, device: str | torch.device = "auto") -> None:
        self.config = config
        self.device = resolve_device(device)
        if not train.fully_labelled:
            raise ValueError(f"{int((~train.known).sum())} training samples have no group label; fill them with "
                             "fairdd.data.infer_groups(train) first (pseudo-groups)")
        self.train = train.to(self.device)
        options = ({"group_weights": config.group_weights} if config.target.startswith("cobra") else
                   {"reduction": config.fairdd_reduction} if config.target == "fairdd" else {})
        self.strategy = get_strategy(config.target, **options)
        if self.strategy.kind != "moments" and config.method != "dm":
            raise ValueError(f"target {config.target!r} compares embedding clouds: use method='dm' "
                             f"(got {config.method!r})")
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed)
        c, h, w = train.image_shape
        if h != w:
            raise ValueError(f"images must be square; got {h}×{w}")
        self.matcher = MATCHERS[config.method](config, in_channels=c, n_classes=train.n_classes,
                                               n_groups=train.n_groups, image_size=h, device=self.device)
        self.labels = torch.arange(train.n_classes, device=self.device).repeat_interleave(config.ipc)  # (C·ipc,)
        self.images = self._init_images().requires_grad_(True)  # (C·ipc, c, h, w)
        self.optimizer = torch.optim.SGD([self.images], lr=config.lr_img, momentum=config.momentum)
        self.iteration = 0
        self.history: list[StepInfo] = []

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

    def _sample_real(self):
        idx = self.train.sample_batch(self.config.batch_real, balance=self.strategy.sampling,
                                      generator=self.generator)  # (M,)
        return as_batch(self.train.images[idx], self.train.labels[idx], self.train.groups[idx])

    # --------------------------------------------------------------- stepping
    @property
    def done(self) -> bool:
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
        while not self.done:
            yield self.step()

    def run(self, *, callbacks: Iterable[Callable[["Distiller", StepInfo], None]] = (), progress: bool = False,
            checkpoint: str | Path | None = None) -> DistillResult:
        """Step until ``config.iterations``; call ``callbacks(self, info)`` after each step; write
        ``checkpoint`` every ``config.checkpoint_every`` iterations and at the end."""
        callbacks = list(callbacks)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=self.config.iterations, initial=self.iteration, desc=f"{self.config.target}")
        every = self.config.checkpoint_every
        try:
            for info in self:
                for cb in callbacks:
                    cb(self, info)
                if bar is not None:
                    bar.update(1)
                    if info.iteration % 50 == 0:
                        bar.set_postfix(loss=f"{info.loss:.4g}")
                if checkpoint is not None and every and info.iteration % every == 0:
                    self.save_checkpoint(checkpoint)
        finally:
            if bar is not None:
                bar.close()
        if checkpoint is not None:
            self.save_checkpoint(checkpoint)
        return self.result()

    # ----------------------------------------------------------- persistence
    def result(self) -> DistillResult:
        t = self.train
        return DistillResult(
            images=self.images.detach().cpu().clone(), labels=self.labels.cpu().clone(),
            history=[h.as_dict() for h in self.history], config=self.config.to_dict(),
            dataset=dict(class_names=list(t.class_names), group_names=list(t.group_names),
                         mean=list(t.mean), std=list(t.std), info=t.info),
        )

    def state_dict(self) -> dict:
        mom = self.optimizer.state.get(self.images, {}).get("momentum_buffer")
        return {
            "format": CHECKPOINT_FORMAT,
            "images": self.images.detach().cpu(),
            "momentum": mom.detach().cpu() if mom is not None else torch.empty(0),
            "generator": self.generator.get_state(),
            "iteration": torch.tensor(self.iteration),
            "history": torch.tensor([[h.iteration, h.loss, h.seconds] for h in self.history],
                                    dtype=torch.float64).reshape(-1, 3),
            "config": _config_tensor(self.config),
            "matcher": self.matcher.state_dict() if hasattr(self.matcher, "state_dict") else {},
        }

    def load_state_dict(self, state: dict) -> None:
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"not a fairdd checkpoint (format {state.get('format')!r})")
        saved = _config_from_tensor(state["config"])
        mine = self.config.to_dict()
        differ = sorted(k for k in mine if k not in ("iterations", "checkpoint_every") and saved.get(k) != mine[k])
        if differ:
            raise ValueError("checkpoint was made with a different config: "
                             + ", ".join(f"{k}={saved.get(k)!r} (now {mine[k]!r})" for k in differ))
        if state["images"].shape != self.images.shape:
            raise ValueError(f"checkpoint images {tuple(state['images'].shape)} do not fit {tuple(self.images.shape)}")
        with torch.no_grad():
            self.images.copy_(state["images"].to(self.device))
        if state["momentum"].numel():
            self.optimizer.state[self.images]["momentum_buffer"] = state["momentum"].to(self.device).clone()
        self.generator.set_state(state["generator"])
        self.iteration = int(state["iteration"])
        self.history = [StepInfo(int(i), float(s), float(l)) for i, l, s in state["history"].tolist()]
        if hasattr(self.matcher, "load_state_dict"):
            self.matcher.load_state_dict(state.get("matcher", {}))

    def save_checkpoint(self, path: str | Path) -> Path:
        return save_tensors(path, self.state_dict())

    def load_checkpoint(self, path: str | Path) -> None:
        self.load_state_dict(load_tensors(path, "fairdd checkpoint"))


def _config_tensor(config: DistillConfig) -> torch.Tensor:
    import json

    return torch.frombuffer(bytearray(json.dumps(config.to_dict()).encode()), dtype=torch.uint8).clone()


def _config_from_tensor(t: torch.Tensor) -> dict:
    import json

    return json.loads(bytes(t.tolist()).decode())


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
    """Distil ``train`` into ``ipc`` synthetic images per class.

    Parameters
    ----------
    method : matcher, one of ``fairdd.config.METHODS``.
    target : strategy, one of "vanilla", "uniform", "fairdd", "cobra".
    preset : "paper" (COBRA's protocol), "fairdd-paper" (FairDD's), "demo" (2-core CPU, minutes) or
        "smoke" (tests); values and sources in docs/protocol.md.
    checkpoint : file to write every ``checkpoint_every`` iterations and at the end.
    resume : checkpoint to continue from; the run then equals an uninterrupted one (CPU).
    **overrides : any ``DistillConfig`` field, e.g. ``iterations=500``.
    """
    config = distill_config(method=method, target=target, ipc=ipc, preset=preset, seed=seed,
                            dataset=train.info.get("name"), **overrides)  # the dataset sets IDC's factor on faces
    run = Distiller(train, config, device=device)
    if resume is not None:
        run.load_checkpoint(resume)
        log.info("resumed %s at iteration %d", resume, run.iteration)
        if checkpoint is None:
            checkpoint = resume
    return run.run(callbacks=callbacks, progress=progress, checkpoint=checkpoint)
