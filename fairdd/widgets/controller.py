"""The dashboard's state machine, drivable from plain Python (no ipywidgets here).

    ctl = DistillController(dataset="colored-mnist", target="cobra", preset="demo")
    ctl.advance(10)            # 10 outer iterations + scheduled proxy evaluation / embedding refresh
    ctl.status()               # iteration, loss, EOD, accuracy, timings, error
    ctl.set(target="fairdd")   # any setting; data settings rebuild the datasets; always resets the run

**Proxy evaluation** (every ``proxy_every`` iterations): ``proxy_models`` fresh ConvNets are trained
on the current synthetic set for ``proxy_epochs`` epochs (the preset's evaluation network and
protocol, shortened) and scored on the balanced test set: accuracy, EOD, DEO_A, worst group. Its
cost is measured in ``timings["proxy_ms"]``.

**Embedding view**: the real images of one class (``per_group`` per group, fixed at reset), the group
means, the uniform barycenter, the pooled (vanilla) mean and the synthetic images of that class are
embedded by the last proxy model — a network that evolves with the synthetic set — and laid out in
2-D by ``AlignedProjector`` (previous layout as init + Procrustes on the real points). Each refresh
is recorded for ``replay()`` (AlignedUMAP over all recorded frames).
"""
from __future__ import annotations

import dataclasses
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from ..config import PRESETS, distill_config
from ..data import GroupedDataset
from ..distill import Distiller, resolve_device
from ..evaluate import FairnessReport, evaluate
from ..ops import segment_mean

__all__ = ["Settings", "DistillController", "Frame"]

DATA_KEYS = ("dataset", "mode", "bias", "severity", "groups", "n_groups", "seed")


@dataclass(frozen=True)
class Settings:
    dataset: str = "colored-mnist"  # which builder (fairdd.datasets.DATASETS)
    mode: str = "foreground"  # colour the object or the background
    bias: float = 0.9  # imbalance: share of a class in its own colour
    severity: int = 0  # separation: corruption of the minority groups, 0–5
    groups: tuple | None = None  # which colour groups to keep (None = all)
    n_groups: int = 10  # colour palette size
    method: str = "dm"  # matcher
    target: str = "cobra"  # strategy
    ipc: int = 10  # synthetic images per class
    preset: str = "demo"  # distillation / evaluation preset
    device: str = "auto"  # auto | cpu | cuda
    seed: int = 0  # run seed
    proxy_every: int = 10  # iterations between proxy evaluations
    proxy_models: int = 2  # networks per proxy evaluation
    proxy_epochs: int = 30  # training epochs of each proxy network
    view_class: int = 0  # class shown in the embedding view
    per_group: int = 25  # real points per group in the embedding view
    refresh_every: int = 10  # iterations between embedding refreshes
    min_refresh_s: float = 1.0  # throttle: at least this long between embedding refreshes


@dataclass
class Frame:
    """One embedding refresh: 2-D positions and what each extra point is."""

    iteration: int
    real_xy: np.ndarray  # (n, 2)
    real_groups: np.ndarray  # (n,)
    extra_xy: np.ndarray  # (m, 2)
    extra_kind: list  # m labels: "mean:<group>", "barycenter", "pooled", "synthetic"
    high_dim: np.ndarray = field(repr=False, default=None)  # (n + m, d) for replays


class DistillController:
    """Owns the datasets, a ``Distiller``, proxy reports and embedding frames; reports changes to
    listeners (``on_change(callback)``: ``callback(controller, what)``)."""

    def __init__(self, *, train: GroupedDataset | None = None, test: GroupedDataset | None = None,
                 **settings) -> None:
        self.settings = Settings(**settings)
        self._given = (train, test) if train is not None and test is not None else None
        self._data_cache: dict = {}
        self._listeners: list[Callable] = []
        self.timings: dict[str, float] = {}
        self.error: str | None = None
        self.playing = False
        self.projector = None
        self._load_data()
        self.reset()

    # --------------------------------------------------------------- settings
    def on_change(self, callback: Callable[["DistillController", str], None]) -> None:
        self._listeners.append(callback)

    def _emit(self, what: str) -> None:
        for cb in list(self._listeners):
            cb(self, what)

    def set(self, **changes) -> None:
        """Change settings (validated), reload data if a data setting changed, and reset the run."""
        names = {f.name for f in dataclasses.fields(Settings)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown}; allowed: {sorted(names)}")
        old = self.settings
        new = dataclasses.replace(old, **changes)
        if new.preset not in PRESETS:
            raise ValueError(f"unknown preset {new.preset!r}; allowed: {list(PRESETS)}")
        self.settings = new
        try:
            if any(getattr(old, k) != getattr(new, k) for k in DATA_KEYS):
                self._load_data()
            self.reset()
        except Exception:
            self.settings = old  # keep the last good state
            self._load_data()
            self.reset()
            raise

    def _load_data(self) -> None:
        from .. import datasets

        if self._given is not None:
            self.train, self.test = self._given
            return
        s = self.settings
        key = tuple(getattr(s, k) for k in DATA_KEYS)
        if key not in self._data_cache:
            kw = dict(mode=s.mode, severity=s.severity, n_groups=s.n_groups, seed=s.seed,
                      groups=list(s.groups) if s.groups else None)
            self._data_cache = {key: (datasets.load(s.dataset, split="train", bias=s.bias, **kw),
                                      datasets.load(s.dataset, split="test", **kw))}
        self.train, self.test = self._data_cache[key]

    # -------------------------------------------------------------------- run
    def reset(self) -> None:
        """A fresh run with the current settings (iteration 0), a first proxy report and frame."""
        s = self.settings
        self.playing = False
        self.error = None
        self.device = resolve_device(s.device)
        config = distill_config(method=s.method, target=s.target, ipc=s.ipc, preset=s.preset, seed=s.seed)
        self.run = Distiller(self.train, config, device=self.device)
        self.reports: list[tuple[int, FairnessReport]] = []
        self.frames: list[Frame] = []
        self._last_refresh = -float("inf")
        self._pick_view_points()
        from ..viz.embedding import AlignedProjector

        self.projector = AlignedProjector(seed=s.seed)
        self._emit("reset")

    def _pick_view_points(self) -> None:
        s, train = self.settings, self.train
        if not 0 <= s.view_class < train.n_classes:
            raise ValueError(f"view_class must be in [0, {train.n_classes}); got {s.view_class}")
        gen = torch.Generator().manual_seed(s.seed)
        idx = (train.labels == s.view_class).nonzero().flatten()
        groups = train.groups[idx]
        keys = torch.rand(len(idx), generator=gen)
        picked = []
        for a in range(train.n_groups):  # once per reset, not a hot path
            members = idx[groups == a]
            picked.append(members[torch.argsort(keys[groups == a])[: s.per_group]])
        self.view_index = torch.cat(picked)  # (n,)

    @property
    def iteration(self) -> int:
        return self.run.iteration

    def step(self) -> bool:
        """One outer iteration; on error, record it and leave the run as it was. Returns success."""
        t0 = time.perf_counter()
        try:
            self.run.step()
        except Exception as exc:  # noqa: BLE001 - shown in the dashboard, state stays consistent
            self.error = f"step {self.run.iteration + 1} failed: {type(exc).__name__}: {exc}"
            self._traceback = traceback.format_exc()
            self.playing = False
            self._emit("error")
            return False
        self.error = None
        self.timings["step_ms"] = 1000 * (time.perf_counter() - t0)
        return True

    def advance(self, n: int = 1) -> int:
        """Up to ``n`` steps with the scheduled proxy evaluations and embedding refreshes.
        Returns the number of steps done (fewer on error)."""
        done = 0
        for _ in range(n):
            if not self.step():
                break
            done += 1
            it = self.run.iteration
            if it % self.settings.proxy_every == 0:
                self.refresh_proxy(emit=False)
            if it % self.settings.refresh_every == 0 and \
                    time.perf_counter() - self._last_refresh >= self.settings.min_refresh_s:
                self.refresh_embedding(emit=False)
        self._emit("step")
        return done

    # ------------------------------------------------------------------ views
    def refresh_proxy(self, *, emit: bool = True) -> FairnessReport:
        s = self.settings
        t0 = time.perf_counter()
        report = evaluate(self.run.result(), self.test, n_models=s.proxy_models, preset=s.preset,
                          epochs=s.proxy_epochs, seed=s.seed + self.run.iteration, device=self.device,
                          keep_models=True)
        self.timings["proxy_ms"] = 1000 * (time.perf_counter() - t0)
        self.reports.append((self.run.iteration, report))
        if emit:
            self._emit("proxy")
        return report

    @property
    def report(self) -> FairnessReport | None:
        return self.reports[-1][1] if self.reports else None

    def embed_view(self) -> tuple[np.ndarray, np.ndarray, list]:
        """High-dim (n + m, d) embeddings of the view's points, their real groups (n,), extra kinds."""
        if self.report is None:
            self.refresh_proxy(emit=False)
        with torch.no_grad():
            return self._embed_view(self.report.models[-1])

    def _embed_view(self, net) -> tuple[np.ndarray, np.ndarray, list]:
        net.eval()
        train, c = self.train, self.settings.view_class
        real = net.embed(train.images[self.view_index].to(self.device))  # (n, d)
        groups = train.groups[self.view_index].to(self.device)
        means, count = segment_mean(real, groups, train.n_groups)  # (G, d), (G,)
        present = count > 0
        bary = means[present].mean(0, keepdim=True)  # (1, d) uniform barycenter
        pooled_idx = (train.labels == c).nonzero().flatten()[:512]
        pooled = net.embed(train.images[pooled_idx].to(self.device)).mean(0, keepdim=True)  # (1, d)
        syn = net.embed(self.run.images.detach()[self.run.labels == c])  # (ipc, d)
        kinds = [f"mean:{train.group_names[a]}" for a in range(train.n_groups) if bool(present[a])]
        kinds += ["barycenter", "pooled"] + ["synthetic"] * len(syn)
        extra = torch.cat([means[present], bary, pooled, syn])
        return (torch.cat([real, extra]).cpu().numpy(), groups.cpu().numpy(), kinds)

    def refresh_embedding(self, *, emit: bool = True) -> Frame:
        t0 = time.perf_counter()
        high, groups, kinds = self.embed_view()
        n = len(groups)
        real_xy, extra_xy = self.projector.project(high[:n], high[n:])
        frame = Frame(self.run.iteration, real_xy, groups, extra_xy, kinds, high)
        self.frames.append(frame)
        self._last_refresh = time.perf_counter()
        self.timings["embedding_ms"] = 1000 * (self._last_refresh - t0)
        if emit:
            self._emit("embedding")
        return frame

    def replay(self) -> list[Frame]:
        """All recorded frames laid out jointly with AlignedUMAP (for a scrubbing slider)."""
        from ..viz.embedding import aligned_replay

        t0 = time.perf_counter()
        layouts = aligned_replay([f.high_dim for f in self.frames], seed=self.settings.seed)
        self.timings["replay_ms"] = 1000 * (time.perf_counter() - t0)
        out = []
        for f, xy in zip(self.frames, layouts):
            n = len(f.real_groups)
            out.append(Frame(f.iteration, xy[:n], f.real_groups, xy[n:], f.extra_kind, f.high_dim))
        return out

    def status(self) -> dict:
        r = self.report
        last = self.run.history[-1] if self.run.history else None
        return {
            "iteration": self.run.iteration,
            "loss": last.loss if last else None,
            "accuracy": r.accuracy if r else None,
            "eod": r.eod if r else None,
            "deo_a": r.deo_a if r else None,
            "worst_group_accuracy": r.worst_group_accuracy if r else None,
            "proxy_iteration": self.reports[-1][0] if self.reports else None,
            "device": str(self.device),
            "error": self.error,
            "timings": dict(self.timings),
        }
