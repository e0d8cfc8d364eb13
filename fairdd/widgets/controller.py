"""The dashboard's state machine, drivable from plain Python (no ipywidgets here).

    ctl = DistillController(dataset="colored-mnist-5k", target="cobra", compare=("vanilla",), preset="demo")
    ctl.advance(10)            # 10 outer iterations of every run + scheduled proxy evaluations / embedding
    ctl.status()               # iteration, loss, EOD, accuracy, timings, error
    ctl.set(target="fairdd")   # validated first; run settings restart the run, view settings never do

**Honest state.** ``set()`` validates the new settings and builds the new run *before* anything
changes: a refused setting raises ``ValueError`` and leaves the running run untouched. Errors are kept
per source in ``ctl.errors`` (settings, step, proxy, embedding, replay, view, listener; ``ctl.error``
joins them): an error stays until the action that failed succeeds (a refused setting until a setting
succeeds, a failed proxy evaluation until one succeeds), and a new run clears the old run's. A step is
transactional: if any run fails half-way, every run is put back with ``Distiller.restore()`` to its
``snapshot()`` (images, momentum, generator, matcher state, iteration, history; a retry equals a clean
run). Errors of proxy evaluations, embedding refreshes and listeners are caught and reported, never
raised out of ``advance()``. Data passed in (``train=``, ``test=``) is recorded as ``dataset="given"``
and its data settings are refused by name; list-valued settings (``groups``, ``compare``) are accepted
as lists of distinct names or refused by name (``normalise_lists``).

**Background proxy evaluations.** With ``ctl.background`` set to an executor (the dashboard uses
``fairdd.widgets.background.proxy_executor()``: worker processes at a lower priority), a scheduled proxy
evaluation trains on copies of the synthetic sets there while the runs step on; ``collect()`` takes its
result in (and refreshes the embedding with its networks). One runs at a time; a result of a run that
was restarted meanwhile is dropped. A new run's first evaluation is a quick one (``QUICK``: fewer
networks and epochs, ``status()["proxy_quick"]``), refined by a full one of the same iteration.

Settings come in three kinds: *run* settings (data, method, target, compare, IPC, preset, device,
seed) restart the run; *view* settings (view class, points per group, embedding kind) redraw the
embedding view only; *schedule* settings (proxy and refresh periods, proxy size) apply from the next
step.

**Compare mode** (``compare=("vanilla", ...)``): extra targets run in lockstep with ``target`` on the
same data and seed. Before each step every extra run's generator is set to the primary run's state,
so each step draws the same networks (and, for targets that sample alike, the same real batches and
augmentations); the primary run is exactly the run it would be alone. Each run gets its own proxy
evaluations, with the same proxy seeds.

**Proxy evaluation** (every ``proxy_every`` iterations): ``proxy_models`` fresh ConvNets are trained
on each current synthetic set for ``proxy_epochs`` epochs (the preset's evaluation network and
protocol, shortened) and scored on the balanced test set: accuracy, EOD, DEO_A, worst group.

**Embedding view**: the real images of one class (``per_group`` per group, fixed at reset), the group
means, the uniform barycenter, the pooled (vanilla) mean (the group means weighted by size) and the primary
run's synthetic images of that class, embedded by the last proxy model and laid out in 2-D by PCA (linear: means and
barycenters land where they belong) or UMAP (``AlignedProjector``: previous layout as init +
Procrustes). Each refresh is recorded for ``replay()``, and its synthetic sets in ``image_history``, so a
view change rebuilds every frame (under the last proxy networks) and the replay survives it.
"""
from __future__ import annotations

import dataclasses
import functools
import itertools
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from ..config import METHODS, PRESETS, distill_config
from ..data import GroupedDataset
from ..distill import Distiller, resolve_device
from ..evaluate import FairnessReport
from ..matching.dm import embed_real
from ..ops import segment_mean
from .background import WorkerPool, evaluate_sets, submit

__all__ = ["Settings", "DistillController", "Frame", "RUN_KEYS", "VIEW_KEYS", "SCHEDULE_KEYS", "dataset_availability"]

log = logging.getLogger(__name__)

DATA_KEYS = ("dataset", "mode", "bias", "severity", "groups", "n_groups", "seed")
RUN_KEYS = DATA_KEYS + ("method", "target", "compare", "ipc", "preset", "device")  # restart the run
VIEW_KEYS = ("view_class", "per_group", "embedding")  # redraw the embedding view only
SCHEDULE_KEYS = ("proxy_every", "proxy_models", "proxy_epochs", "refresh_every", "min_refresh_s")
EMBEDDINGS = ("pca", "umap")
DEVICES = ("auto", "cpu", "cuda")
# the first proxy evaluation of a new run in the background: a smaller one, shown at once as "quick" and
# refined by a full one of the same iteration (restart → first numbers in about a sixth of the time)
QUICK = {"models": 1, "epochs": 10}
# under Play (``share_cores``) the steps leave a pending proxy evaluation a core at most this share of Play's time
# (whichever evaluation it is, one started before Play too); the rest of the time they use every core
PROXY_SHARE = 1 / 4


@dataclass(frozen=True)
class Settings:
    """What the dashboard lets you choose: the data, the run and the view (one line per field)."""

    dataset: str = "colored-mnist-5k"  # which builder (fairdd.datasets.DATASETS); "given": data passed in
    mode: str = "foreground"  # colour the object or the background
    bias: float = 0.9  # majority share: fraction of a class in its own colour
    severity: int = 0  # separation: corruption of the minority groups, 0–5 (CIFAR10-S: 0 = grayscale, 1–5 App. F)
    groups: tuple | None = None  # which colour groups to keep (None = all)
    n_groups: int = 10  # colour palette size
    method: str = "dm"  # matcher
    target: str = "cobra"  # strategy of the primary run
    compare: tuple = ()  # extra strategies run in lockstep with ``target``
    ipc: int = 10  # synthetic images per class
    preset: str = "demo"  # distillation / evaluation preset
    device: str = "auto"  # auto | cpu | cuda
    seed: int = 0  # run seed
    proxy_every: int = 10  # iterations between proxy evaluations
    proxy_models: int = 2  # networks per proxy evaluation
    proxy_epochs: int = 30  # training epochs of each proxy network
    view_class: int = 0  # class shown in the embedding view
    per_group: int = 25  # real points per group in the embedding view
    embedding: str = "pca"  # pca (linear, instant) | umap (needs a numba warm-up)
    refresh_every: int = 10  # iterations between embedding refreshes
    min_refresh_s: float = 1.0  # throttle: at least this long between embedding refreshes


def _check_int(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer ≥ {low}; got {value!r}")


def validate_settings(s: Settings) -> None:
    """Every check that needs no data; raises ``ValueError`` naming the setting and what is allowed."""
    from ..targets import STRATEGIES

    for name in ("proxy_every", "proxy_models", "proxy_epochs", "refresh_every", "per_group", "ipc", "n_groups"):
        _check_int(name, getattr(s, name), 1)
    _check_int("view_class", s.view_class, 0)
    if s.dataset != "given":  # given data: no construction settings (recorded as None)
        _check_int("severity", s.severity, 0)
    _check_int("seed", s.seed, 0)
    if isinstance(s.min_refresh_s, bool) or not isinstance(s.min_refresh_s, (int, float)) \
            or not math.isfinite(s.min_refresh_s) or s.min_refresh_s < 0:
        raise ValueError(f"min_refresh_s must be a finite number ≥ 0; got {s.min_refresh_s!r}")
    choices = dict(embedding=EMBEDDINGS, device=DEVICES, preset=PRESETS, method=METHODS, target=tuple(STRATEGIES))
    for name, allowed in choices.items():
        if getattr(s, name) not in allowed:
            raise ValueError(f"{name} must be one of {list(allowed)}; got {getattr(s, name)!r}")
    if not isinstance(s.compare, tuple):
        raise ValueError(f"compare must be a tuple of targets; got {s.compare!r}")
    bad = [t for t in s.compare if t not in STRATEGIES]
    if bad:
        raise ValueError(f"compare: unknown target(s) {bad}; allowed: {list(STRATEGIES)}")
    if len(set(s.compare)) != len(s.compare) or s.target in s.compare:
        raise ValueError(f"compare must name targets other than target={s.target!r}, each once; got {s.compare!r}")


LIST_KEYS = {"groups": "group", "compare": "target"}  # list-valued settings and what they list
GIVEN_KEYS = ("dataset", "mode", "bias", "severity", "groups", "n_groups")  # describe how a dataset is built


def normalise_lists(changes: dict) -> dict:
    """Return ``changes`` with each list-valued setting (``groups``, ``compare``) as a tuple of names.

    Or raise a ``ValueError`` naming the setting: a list, tuple or array of distinct strings is accepted
    (``groups``: at least one, ``None`` = every group; ``compare``: ``None`` or empty = no comparison); one
    string, a set (no order), a mapping, a number or a non-string element is refused.
    """
    out = dict(changes)
    for key, item in LIST_KEYS.items():
        if key not in out:
            continue
        value = out[key]
        if value is None:
            out[key] = () if key == "compare" else None
            continue
        if isinstance(value, str):
            raise ValueError(f"{key} must be a list of {item} names, not one string; got {value!r} "
                             f"(write [{value!r}])")
        if not isinstance(value, (list, tuple, np.ndarray)):
            raise ValueError(f"{key} must be a list of {item} names (list or tuple); got {type(value).__name__} "
                             f"{value!r}")
        bad = [v for v in value if not isinstance(v, (str, np.str_))]
        if bad:
            raise ValueError(f"{key} must hold {item} names (strings); got {bad!r} in {list(value)!r}")
        names = tuple(str(v) for v in value)
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"{key} names each {item} once; got {twice} more than once in {list(names)}")
        if key == "groups" and not names:
            raise ValueError("groups must name at least one group (None keeps every group); got []")
        out[key] = names
    return out


def _refuse_data_keys(changes: dict, why: str) -> None:
    """Refuse data settings on a controller built from given data: it has no dataset to rebuild."""
    bad = sorted(k for k in changes if k in GIVEN_KEYS)
    if bad:
        raise ValueError(f"{why}: the data settings {bad} cannot be set (they describe how a dataset is built); "
                         "build a new controller with other data instead")


def dataset_availability(names=None) -> dict:
    """Return ``{name: Availability}`` for every dataset (``fairdd.datasets.availability``), never raising.

    A loader that fails in a way the registry does not expect counts as unavailable, its error the reason.
    """
    from .. import datasets

    out = {}
    for name in datasets.DATASETS if names is None else names:
        try:
            out[name] = datasets.availability(name)
        except Exception as exc:  # noqa: BLE001 - a broken file must grey its entry out, not the dashboard
            out[name] = datasets.Availability(name, False, f"{type(exc).__name__}: {exc}")
    return out


@dataclass
class Frame:
    """One embedding refresh: 2-D positions, what each extra point is, and high-dim distances."""

    iteration: int
    real_xy: np.ndarray  # (n, 2)
    real_groups: np.ndarray  # (n,)
    extra_xy: np.ndarray  # (m, 2)
    extra_kind: list  # m labels: "mean:<group>", "barycenter", "pooled", "synthetic"
    high_dim: np.ndarray = field(repr=False, default=None)  # (n + m, d) for replays
    distances: dict = field(default_factory=dict)  # synthetic mean → barycenter / pooled mean (embedding space)
    kind: str = "pca"  # the projection that placed it
    serial: int = 0  # unique per controller: a rebuilt frame at the same iteration is new data (never an id())


@dataclass(frozen=True)
class Published:
    """The runs at the end of the last finished step: what the UI thread draws from.

    ``images`` are detached copies (never the tensors a step in another thread is updating) and
    ``history_len`` each run's number of recorded losses, so every panel shows one consistent iteration
    of every run. ``serial`` is unique per controller (each publication is new data).
    """

    serial: int
    iteration: int
    images: dict  # target → (n, c, h, w) tensor, a copy
    history_len: dict  # target → len(run.history) at that step


class DistillController:
    """Owns the datasets, one ``Distiller`` per target, proxy reports and embedding frames.

    Reports changes to listeners (``on_change(callback)``: ``callback(controller, what)``, ``what`` one of reset,
    step, proxy, embedding, view, settings, replay, error).
    """

    def __init__(self, *, train: GroupedDataset | None = None, test: GroupedDataset | None = None,
                 **settings) -> None:
        if (train is None) != (test is None):
            raise ValueError("train and test must be given together (the proxy evaluation scores on test); "
                             f"got train={'a dataset' if train is not None else None}, "
                             f"test={'a dataset' if test is not None else None}")
        self._given = (train, test) if train is not None else None
        if self._given is not None:
            _refuse_data_keys(settings, "built from given data")
        self.settings = Settings(**normalise_lists(settings))
        if self._given is not None:  # recorded as what they are: given, not built
            self.settings = dataclasses.replace(self.settings, dataset="given", mode=None, bias=None, severity=None,
                                                groups=None, n_groups=train.n_groups)
        validate_settings(self.settings)
        self._data_cache: dict = {}
        self._listeners: list[Callable] = []
        self.timings: dict[str, float] = {}
        self.errors: dict[str, str] = {}
        self.playing = False
        self._share_clock = None  # under Play: [its start, seconds a core was left since] (``share_cores``)
        self.cancel_step = False  # set by Pause while a step runs in another thread: that step is undone
        self.background = None  # an Executor: proxy evaluations run there (``collect()`` takes their results)
        self.layouts = None  # an Executor: UMAP layouts and replays run there (waited for), else here
        self._pending = None  # (generation, iteration, future) of the proxy evaluation in the background
        self._generation = 0  # bumped by each new run: a late result of an old run is dropped
        self._serials = itertools.count(1)  # frames and publications: a key that never repeats
        self.train, self.test = self._data_for(self.settings)
        self._check_view(self.settings, self.train)
        self._start(self._make_runs(self.settings, self.train))

    @property
    def share_cores(self) -> bool:
        """Whether Play (the button, no step count) runs: its steps leave proxy evaluations a share of a core.

        Set by the dashboard; setting it on starts the count of Play's time (``PROXY_SHARE``).
        """
        return self._share_clock is not None

    @share_cores.setter
    def share_cores(self, on: bool) -> None:
        if bool(on) != self.share_cores:
            self._share_clock = [time.perf_counter(), 0.0] if on else None

    @property
    def given_data(self) -> bool:
        """Whether the datasets were passed in (then the data settings are refused)."""
        return self._given is not None

    @property
    def error(self) -> str | None:
        """Every error not yet cleared, one per source.

        Sources: settings, step, proxy, embedding, replay, view, listener. An error stays until the action that
        failed succeeds (or a new run replaces it).
        """
        return " · ".join(self.errors.values()) or None

    @error.setter
    def error(self, message: str | None) -> None:  # the dashboard's own failures (e.g. a reset)
        if message is None:
            self.errors.clear()
        else:
            self.errors["dashboard"] = message

    # --------------------------------------------------------------- listeners
    def on_change(self, callback: Callable[["DistillController", str], None]) -> None:
        """Call ``callback(controller, what)`` after every change (``what``: see the class docstring)."""
        self._listeners.append(callback)

    def _emit(self, what: str) -> None:
        for cb in list(self._listeners):
            try:
                cb(self, what)
            except Exception as exc:  # noqa: BLE001 - a broken view must not break the run
                self.errors["listener"] = f"a listener failed on {what!r}: {type(exc).__name__}: {exc}"
                log.warning("listener %r failed on %r", cb, what, exc_info=True)

    def _fail(self, source: str, message: str) -> None:
        self.errors[source] = message
        self.playing = False
        self._emit("error")

    # ---------------------------------------------------------------- settings
    def set(self, **changes) -> None:
        """Change settings.

        Validated (and the new run built) before anything changes: a refused setting raises ``ValueError`` and
        leaves the running run as it was, the error in ``error``.
        """
        names = {f.name for f in dataclasses.fields(Settings)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown}; allowed: {sorted(names)}")
        what = ", ".join(f"{k}={v!r}" for k, v in changes.items())
        old = self.settings
        try:
            if self._given is not None:
                _refuse_data_keys(changes, "this controller was built from given data")
            new = dataclasses.replace(old, **normalise_lists(changes))
            validate_settings(new)
            restart = any(getattr(old, k) != getattr(new, k) for k in RUN_KEYS)
            train, test = self._data_for(new) if restart else (self.train, self.test)
            self._check_view(new, train)
            runs = self._make_runs(new, train) if restart else None
        except Exception as exc:
            self._fail("settings", f"cannot set {what}: {exc}")
            raise ValueError(f"cannot set {what}: {exc}") from exc
        self.settings = new
        self.errors.pop("settings", None)
        if restart:
            self.train, self.test = train, test
            self._start(runs)
        elif any(getattr(old, k) != getattr(new, k) for k in VIEW_KEYS):
            self._new_view()
            try:
                self._rebuild_frames()
                self.errors.pop("view", None)
            except Exception as exc:  # noqa: BLE001 - e.g. UMAP failing: the view says so
                self._fail("view", f"view {what} failed: {type(exc).__name__}: {exc}")
            self._emit("view")
        else:
            self._emit("settings")

    def _data_for(self, s: Settings) -> tuple[GroupedDataset, GroupedDataset]:
        from .. import datasets

        if self._given is not None:
            return self._given
        key = tuple(getattr(s, k) for k in DATA_KEYS)
        if key not in self._data_cache:
            allowed = datasets.options(s.dataset)  # the colour knobs mean nothing to cifar10-s or the faces
            kw = {k: v for k, v in dict(mode=s.mode, severity=s.severity, n_groups=s.n_groups, seed=s.seed,
                                        groups=list(s.groups) if s.groups else None).items() if k in allowed}
            if s.severity == 0 and "severity" in kw:  # separation 0 = the published set, the record's severity
                kw["severity"] = datasets.record(s.dataset).published_severity  # (CIFAR10-S: None, grayscale)
            knob = datasets.imbalance_knob(s.dataset, strict=False)  # "bias", cifar10-s's "skew", a registered one's
            imbalance = {knob: s.bias} if knob in allowed else {}
            self._data_cache = {key: (datasets.load(s.dataset, split="train", **imbalance, **kw),
                                      datasets.load(s.dataset, split="test", **kw))}
        return self._data_cache[key]

    @staticmethod
    def _check_view(s: Settings, train: GroupedDataset) -> None:
        if not 0 <= s.view_class < train.n_classes:
            raise ValueError(f"view_class must be in [0, {train.n_classes}); got {s.view_class}")

    def _make_runs(self, s: Settings, train: GroupedDataset) -> dict[str, Distiller]:
        device = resolve_device(s.device)
        runs = {}
        for target in (s.target, *s.compare):
            config = distill_config(method=s.method, target=target, ipc=s.ipc, preset=s.preset, seed=s.seed,
                                    dataset=None if self._given is not None else s.dataset)
            runs[target] = Distiller(train, config, device=device)
        return runs

    # --------------------------------------------------------------------- run
    def _start(self, runs: dict[str, Distiller]) -> None:
        self.playing = False
        self._generation += 1  # a proxy evaluation of the old run still in the background is dropped
        self._drop_jobs()
        self._pending = None
        for source in ("step", "proxy", "embedding", "replay", "view"):  # errors of the old run go with it
            self.errors.pop(source, None)
        self.runs = runs
        self.run = runs[self.settings.target]
        self.device = self.run.device
        self._publish()
        self.reports_by: dict[str, list[tuple[int, FairnessReport]]] = {t: [] for t in runs}
        self.proxy_nets: tuple = ()  # the primary run's networks of its last proxy evaluation
        self.quick: set[int] = set()  # iterations whose recorded evaluations are the quick ones (QUICK)
        self.image_history: list[tuple[int, torch.Tensor]] = []  # (iteration, primary images) per refresh
        self._new_view()
        self._emit("reset")

    def _new_view(self) -> None:
        """Start a new view: a new class or projection.

        The view's points, a fresh projector and the frames rebuilt from the recorded synthetic sets
        (``image_history``), so a replay survives a view change.
        """
        self.frames: list[Frame] = []
        self.replay_frames: list[Frame] = []
        self._frames_behind = 0  # recorded sets before ``frames[0]`` not framed yet (``_rebuild_frames``)
        self._last_refresh = -float("inf")
        self._pick_view_points()
        s = self.settings
        if s.embedding == "umap":
            from ..viz.embedding import AlignedProjector

            self.projector = AlignedProjector(seed=s.seed)
        else:
            from ..viz.embedding import PCAProjector

            self.projector = PCAProjector()

    def reset(self) -> None:
        """Start a fresh run with the current settings (iteration 0); replays and reports are cleared."""
        self.errors.clear()
        self._start(self._make_runs(self.settings, self.train))

    def _pick_view_points(self) -> None:
        """Pick the view's real points, ``per_group`` of each group of the view class (seeded).

        Kept while the data, the class, ``per_group`` and the seed stay: a PCA↔UMAP switch reuses them and their
        embeddings (``_embed_real`` keys on this index).
        """
        s, train = self.settings, self.train
        key, kept = (s.view_class, s.per_group, s.seed), getattr(self, "_view_of", None)
        if kept is not None and kept[0] is train and kept[1] == key:
            return
        self._view_of = (train, key)
        gen = torch.Generator().manual_seed(s.seed)
        idx = (train.labels == s.view_class).nonzero().flatten()
        groups = train.groups[idx]
        keys = torch.rand(len(idx), generator=gen)
        picked = []
        for a in range(train.n_groups):  # once per view change, not a hot path
            members = idx[groups == a]
            picked.append(members[torch.argsort(keys[groups == a])[: s.per_group]])
        self.view_index = torch.cat(picked)  # (n,)

    def _publish(self) -> None:
        """Publish every run's state after a finished step (or a new run): ``published``, one assignment."""
        self.published = Published(next(self._serials), self.run.iteration,
                                   {t: r.images.detach().cpu().clone() for t, r in self.runs.items()},
                                   {t: len(r.history) for t, r in self.runs.items()})

    def _published_sets(self) -> dict:
        """Return each run's ``DistillResult`` with the published images (the step's, never one half-updated)."""
        pub = self.published
        return {t: dataclasses.replace(run.result(), images=pub.images[t].clone(),
                                       history=[h.as_dict() for h in run.history[:pub.history_len[t]]])
                for t, run in self.runs.items()}

    @property
    def iteration(self) -> int:
        """The primary run's iteration, as published at the end of its last finished step."""
        return self.published.iteration

    @property
    def reports(self) -> list[tuple[int, FairnessReport]]:
        """The primary run's proxy reports, ``(iteration, FairnessReport)`` in order."""
        return self.reports_by[self.settings.target]

    def step(self) -> bool:
        """Take one outer iteration of every run, all or nothing.

        On error, every run is put back exactly as it was (``Distiller.snapshot()/restore()``), the error is
        recorded. Returns success. A step that ends with ``cancel_step`` set (Pause, from another thread,
        while it ran) is undone the same way, without an error: the runs are as they were when Pause was
        pressed.
        """
        t0 = time.perf_counter()
        snaps = {t: r.snapshot() for t, r in self.runs.items()}
        start = self.run.generator.get_state()
        try:
            for target, run in self.runs.items():
                if run is not self.run:
                    run.generator.set_state(start)  # lockstep: the same draws as the primary run
                run.step()
        except Exception as exc:  # noqa: BLE001 - shown in the dashboard; the runs are restored
            for target, run in self.runs.items():
                run.restore(snaps[target])
            self._fail("step", f"step {self.iteration + 1} failed (undone): {type(exc).__name__}: {exc}")
            return False
        if self.cancel_step:
            for target, run in self.runs.items():
                run.restore(snaps[target])
            return False
        self._publish()
        self.errors.pop("step", None)
        self.timings["step_ms"] = 1000 * (time.perf_counter() - t0)
        return True

    def advance(self, n: int = 1) -> int:
        """Take up to ``n`` steps with the scheduled proxy evaluations and embedding refreshes.

        Never raises for a failing step, evaluation or listener. Returns the number of steps done. With
        ``background`` set, a proxy evaluation is started there (one at a time) and taken in by ``collect()``.
        """
        _check_int("n", n, 0)
        self.collect()
        done, threads = 0, torch.get_num_threads()  # this thread's (OpenMP: per thread)
        try:
            for _ in range(n):
                clock, t0 = self._leave_a_core(threads), time.perf_counter()
                stepped = self.step()
                went_on = stepped and self._after_step()
                if clock is not None:  # a core was left for this iteration
                    clock[1] += time.perf_counter() - t0
                done += stepped
                if not went_on:
                    break
        finally:
            torch.set_num_threads(threads)
        self._emit("step")
        return done

    def _after_step(self) -> bool:
        """Start the proxy evaluation and embedding refresh this iteration is scheduled for; whether both went."""
        it, s = self.iteration, self.settings
        ok = True
        if it % s.proxy_every == 0:
            ok = self._refresh_proxy_safely()
        if ok and it % s.refresh_every == 0 and time.perf_counter() - self._last_refresh >= s.min_refresh_s:
            if self.report is None:  # no proxy networks yet: keep the set, embedded when they come
                self._remember_images()
            else:
                ok = self._refresh_embedding_safely()
        return ok

    def _leave_a_core(self, threads: int) -> list | None:
        """Under Play, step on one PyTorch thread fewer (at least one) while a proxy evaluation runs, within its share.

        The proxy worker is idle-class: it runs only on a core nothing else wants. With the steps' threads
        spinning on every core (``background.release_omp_pool``) it got none, and no evaluation finished
        in 30 s of Play (206 iterations) on 2 cores; the fairness chart stood still. A core is left for the
        next iteration while the time it was left stays under ``PROXY_SHARE`` of Play's: an evaluation that
        takes long (a full one started before Play, one sharing its core with UMAP's compilation) slows
        Play no more than a quick one. Step and Step ×10 keep every core: they end within seconds, and the
        worker then has the machine. Returns Play's clock when a core is left (the iteration's time is
        added to it), else ``None``.
        """
        clock = self._share_clock  # read once: Pause clears it from the UI thread
        running = clock is not None and self._pending is not None and not self._pending[2].done()
        left = running and clock[1] < PROXY_SHARE * (time.perf_counter() - clock[0])
        want = max(1, threads - 1) if left else threads
        if torch.get_num_threads() != want:
            torch.set_num_threads(want)
        return clock if left else None

    def ensure_views(self) -> None:
        """Compute the proxy evaluation and embedding of the current iteration if there are none yet.

        That is after a restart; in the background when ``background`` is set.
        """
        if self.report is None and self._pending is None:
            if self.background is not None:
                self._remember_images()
                self._start_proxy(kind="quick")
            else:
                self._refresh_proxy_safely()
        if not self.frames and self.report is not None:
            self._refresh_embedding_safely()

    def _refresh_proxy_safely(self) -> bool:
        if self.background is not None:
            return self._start_proxy()
        try:
            self.refresh_proxy(emit=False)
        except Exception as exc:  # noqa: BLE001
            self._fail("proxy", f"proxy evaluation at iteration {self.iteration} failed: {type(exc).__name__}: {exc}")
            return False
        return True

    def _refresh_embedding_safely(self) -> bool:
        try:
            self.refresh_embedding(emit=False)
        except Exception as exc:  # noqa: BLE001
            self._fail("embedding",
                       f"embedding refresh at iteration {self.iteration} failed: {type(exc).__name__}: {exc}")
            return False
        return True

    # ------------------------------------------------------ background proxy
    @property
    def evaluating(self) -> int | None:
        """The iteration whose proxy evaluation runs in the background, or ``None``."""
        return None if self._pending is None else self._pending[1]

    @property
    def result_waiting(self) -> bool:
        """Whether a background proxy evaluation has finished and waits for ``collect()``."""
        return self._pending is not None and self._pending[2].done()

    def _start_proxy(self, *, kind: str = "scheduled") -> bool:
        """Start a proxy evaluation of every run's current set in ``background``.

        ``kind``: "quick" (a new run's first, ``QUICK``'s size), "refine" (the full one of the quick one's
        iteration) or "scheduled" (under Play, ``share_cores``: ``QUICK``'s size too, labelled quick; the
        iteration on screen gets a full one when Play stops, ``catch_up_proxy``). While one runs a new one
        is skipped, not queued (``collect()`` catches a skipped one up), except that a full one of an older
        iteration gives way (it stops in its worker, its result no longer waited for): a refine to any, any
        to Play's (a full one, started before Play, took 15 s of its share of a core in the browser).
        """
        pending = self._pending
        play = kind == "scheduled" and self.share_cores
        if pending is not None and not (pending[1] < self.iteration and (
                pending[3] == "refine" or (play and pending[3] == "scheduled"))):
            return True
        try:
            sets = self._published_sets()  # copies: the runs step on meanwhile
        except Exception as exc:  # noqa: BLE001 - e.g. non-finite images
            self._fail("proxy", f"proxy evaluation at iteration {self.iteration} failed: {type(exc).__name__}: {exc}")
            return False
        if pending is not None:  # the one given way stops in its worker
            self._drop_jobs()
        try:
            kind = "play" if play else kind
            ticket = self.background.ticket() if isinstance(self.background, WorkerPool) else None
            job = submit(self.background, self._proxy_job(self.iteration, quick=kind in ("quick", "play"),
                                                          ticket=ticket), sets, self.test)
        except Exception as exc:  # noqa: BLE001 - e.g. a process pool whose workers could not start or died
            log.warning("proxy evaluations run in this process from now on: the background executor refused "
                        "a job (%s: %s)", type(exc).__name__, exc)
            self.background = None
            return self._refresh_proxy_safely()
        self._pending = (self._generation, self.iteration, job, kind)
        return True

    def catch_up_proxy(self) -> bool:
        """Start a full evaluation of the current iteration when Play ended past the last full one.

        While playing, scheduled evaluations are skipped while one runs, and Play's own are quick ones; when
        Play stops, the iteration on screen gets a full evaluation if one was skipped since the last or the
        last is quick. Returns whether one was started.
        """
        every, last = self.settings.proxy_every, (self.reports[-1][0] if self.reports else None)
        if self.background is None or self._pending is not None or last is None:
            return False
        if self.iteration // every <= last // every and last not in self.quick:  # nothing skipped, a full one
            return False
        return self._start_proxy()

    def _proxy_job(self, iteration: int, *, quick: bool = False, ticket: int | None = None) -> functools.partial:
        """Return the proxy evaluation of ``iteration`` as a picklable call ``job(sets, test)``.

        For a worker process; ``ticket``: the worker pool's, so that ``_drop_jobs`` can stop it.
        """
        s = self.settings
        models, epochs = (min(s.proxy_models, QUICK["models"]), min(s.proxy_epochs, QUICK["epochs"])) if quick \
            else (s.proxy_models, s.proxy_epochs)
        return functools.partial(evaluate_sets, models=models, epochs=epochs, preset=s.preset,
                                 seed=s.seed + iteration, device=self.device, primary=s.target, ticket=ticket)

    def _drop_jobs(self) -> None:
        """Stop the background evaluations handed out so far, whose results will not be taken (``WorkerPool``).

        Each stops before its next training batch; elsewhere (a thread pool) they run to their end.
        """
        if isinstance(self.background, WorkerPool):
            self.background.drop_all()

    def collect(self) -> bool:
        """Take in a finished background proxy evaluation; return whether anything new came in.

        Reports, proxy networks, then the embedding at that iteration's networks. Called by ``advance()`` and
        by the dashboard while idle. A quick one (the first of a run) is refined at once by a full one of the
        same iteration, unless the run has moved on; a scheduled one skipped meanwhile is started now.
        """
        if self._pending is None or not self._pending[2].done():
            return False
        generation, it, job, kind = self._pending
        quick = kind in ("quick", "play")  # Play's are QUICK-sized too, labelled so
        self._pending = None
        if generation != self._generation:
            return False
        try:
            nets, reports, ms = job.result()
        except Exception as exc:  # noqa: BLE001
            self._fail("proxy", f"proxy evaluation at iteration {it} failed: {type(exc).__name__}: {exc}")
            return True
        self._take(nets, reports, it, ms, quick=quick)
        if not self.frames and self.image_history:  # the sets kept before the first networks came
            self._rebuild_frames_safely()
        self._refresh_embedding_safely()  # new networks: the current view embedded under them (the caption's "nets @")
        every = self.settings.proxy_every
        if kind == "quick" and it == self.iteration:
            self._start_proxy(kind="refine")
        elif self.iteration // every > it // every or (kind == "play" and not self.share_cores):
            self._start_proxy()  # one was skipped while this one ran, or Play ended: the screen's gets a full one
        self._emit("proxy")
        return True

    def _evaluate(self, sets: dict, iteration: int) -> tuple:
        """Train and score the proxy networks of each run's set (same proxy seed for all)."""
        return self._proxy_job(iteration)(sets, self.test)

    def _take(self, nets: tuple, reports: dict, iteration: int, ms: float, *, quick: bool = False) -> None:
        """Record an evaluation; one of the same iteration as the last (a quick one refined) replaces it."""
        self.proxy_nets = tuple(net.to(self.device) for net in nets)
        for target, report in reports.items():  # one list operation each: the UI thread may read meanwhile
            series = self.reports_by[target]
            if series and series[-1][0] == iteration:
                series[-1] = (iteration, report)
            else:
                series.append((iteration, report))
        (self.quick.add if quick else self.quick.discard)(iteration)
        self.errors.pop("proxy", None)
        self.timings["quick_proxy_ms" if quick else "proxy_ms"] = ms

    # -------------------------------------------------------------------- views
    def refresh_proxy(self, *, emit: bool = True) -> FairnessReport:
        """Proxy-evaluate every run here and now (same proxy seed for all); returns the primary run's report."""
        nets, reports, ms = self._evaluate(self._published_sets(), self.iteration)
        self._take(nets, reports, self.iteration, ms)
        if emit:
            self._emit("proxy")
        return self.report

    @property
    def report(self) -> FairnessReport | None:
        """The primary run's last proxy report (``None`` before the first)."""
        return self.reports[-1][1] if self.reports else None

    def embed_view(self) -> tuple[np.ndarray, np.ndarray, list]:
        """Embed the view's points: high-dim (n + m, d) embeddings, real groups (n,) and extra kinds.

        Extra kinds: ``mean:<group>``, ``barycenter``, ``pooled``, ``synthetic`` for the primary run's ◆ and
        ``synthetic:<target>`` for each compared run's.
        """
        if self.report is None:
            self.refresh_proxy(emit=False)
        images = self.published.images
        with torch.no_grad():
            real = self._embed_real(self.proxy_nets[-1])
            return self._embed_synthetic(self.proxy_nets[-1], real, [images])[0]

    def _embed_real(self, net) -> tuple:
        """Return the view's real points, group means, barycenter and pooled mean under ``net``.

        Once per proxy network and view: kept while both stay (a refresh between two proxy evaluations embeds
        only the synthetic images).
        """
        index, cached = self.view_index, getattr(self, "_real_cache", None)  # read once: a view change may swap it
        if cached is not None and cached[0] is net and cached[1] is index:
            return cached[2]
        value = self._embed_real_now(net, index)
        self._real_cache = (net, index, value)
        return value

    def _embed_real_now(self, net, index: torch.Tensor) -> tuple:
        """Embed the view's real points ``index`` (all of one class); return them with their groups and means."""
        net.eval()
        train = self.train
        c = int(train.labels[index[0]])  # the view's class, from its own points (not a setting read apart)
        real = embed_real(net, train.images[index].to(self.device), None, None)  # (n, d), in chunks
        groups = train.groups[index].to(self.device)
        means, count = segment_mean(real, groups, train.n_groups)  # (G, d), (G,)
        present = count > 0
        bary = means[present].mean(0, keepdim=True)  # (1, d) uniform barycenter
        # the pooled mean: the same group means weighted by the class's group sizes (an unbiased estimate of the
        # mean over all its images, with no image embedded twice)
        size = torch.bincount(train.groups[train.labels == c], minlength=train.n_groups).to(means)[present]  # (G',)
        pooled = (size @ means[present] / size.sum()).unsqueeze(0)  # (1, d)
        kinds = [f"mean:{train.group_names[a]}" for a in range(train.n_groups) if bool(present[a])]
        return real, groups.cpu().numpy(), torch.cat([means[present], bary, pooled]), kinds + ["barycenter", "pooled"]

    def _embed_synthetic(self, net, real_part: tuple, sets: list[dict]) -> list[tuple[np.ndarray, np.ndarray, list]]:
        """Embed the view class's synthetic images of each of ``sets`` ({target: images}), in one batch.

        Returns one ``(high-dim points, real groups, kinds)`` per set: the real part's points, then each run's ◆
        (the primary run first, dict order).
        """
        real, groups, extra, kinds = real_part
        c, labels = self.settings.view_class, self.run.labels
        mine = labels.to(self.device) == c
        syn = embed_real(net, torch.cat([imgs.to(self.device)[mine] for images in sets for imgs in images.values()]),
                         None, None)  # cache-sized chunks on a CPU: a long session's replay holds thousands
        count = int(mine.sum())
        out = []
        for k, images in enumerate(sets):
            part = syn[k * count * len(images):(k + 1) * count * len(images)]  # (runs · ipc, d)
            names = [["synthetic" if t == self.settings.target else f"synthetic:{t}"] * count for t in images]
            out.append((torch.cat([real, extra, part]).cpu().numpy(), groups, list(kinds) + sum(names, [])))
        return out

    def _frame(self, iteration: int, high: np.ndarray, groups: np.ndarray, kinds: list, *,
               xy: tuple | None = None) -> Frame:
        """Make the frame of one embedded set; ``xy``: its 2-D positions (real, extra) if placed already, else now."""
        n = len(groups)
        kinds_arr = np.array(kinds)
        syn_mean = high[n:][kinds_arr == "synthetic"].mean(0)  # (d,)
        scale = np.linalg.norm(high[:n] - high[:n].mean(0), axis=1).mean()  # typical spread of the real points
        distances = {name: float(np.linalg.norm(syn_mean - high[n:][kinds_arr == name][0]))
                     for name in ("barycenter", "pooled")}
        distances["spread"] = float(scale)
        real_xy, extra_xy = self._project(high[:n], high[n:]) if xy is None else xy
        return Frame(iteration, real_xy, groups, extra_xy, kinds, high, distances, self.settings.embedding,
                     next(self._serials))

    def _elsewhere(self, fn, *args, **kwargs):
        """Call ``fn`` in ``layouts`` (waiting for it, without holding the GIL) or here when there is none."""
        if self.layouts is not None:
            try:
                job = submit(self.layouts, fn, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - e.g. a process pool whose worker could not start or died
                log.warning("layouts run in this process from now on: the layout executor refused a job (%s: %s)",
                            type(exc).__name__, exc)
                self.layouts = None
            else:
                return job.result()
        return fn(*args, **kwargs)

    def _project(self, real: np.ndarray, extra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lay out one frame: PCA here (instant), UMAP through ``_elsewhere`` (the projector's state kept here)."""
        if self.settings.embedding != "umap":
            return self.projector.project(real, extra)
        from ..viz.embedding import project_with

        real_xy, extra_xy, self.projector.previous = self._elsewhere(project_with, self.projector, real, extra)
        return real_xy, extra_xy

    def _remember_images(self) -> None:
        """Keep the current iteration's synthetic sets in ``image_history`` (embedded once networks exist)."""
        if not self.image_history or self.image_history[-1][0] != self.iteration:
            self.image_history.append((self.iteration, self.published.images))

    def _rebuild_frames_safely(self) -> None:
        try:
            self._rebuild_frames()
        except Exception as exc:  # noqa: BLE001 - e.g. UMAP failing: the view says so
            self._fail("view", f"embedding the recorded sets failed: {type(exc).__name__}: {exc}")

    def refresh_embedding(self, *, emit: bool = True) -> Frame:
        """Embed and lay out the current iteration's view; its synthetic sets join ``image_history``."""
        t0 = time.perf_counter()
        if self.report is None:
            self.refresh_proxy(emit=False)
        self._remember_images()  # copies: a step in another thread never changes them
        images = self.image_history[-1][1]
        with torch.no_grad():
            real = self._embed_real(self.proxy_nets[-1])
            frame = self._frame(self.iteration, *self._embed_synthetic(self.proxy_nets[-1], real, [images])[0])
        if self.frames and self.frames[-1].iteration == frame.iteration:  # the same iteration under newer networks
            self.frames[-1] = frame
        else:
            self.frames.append(frame)
        self._last_refresh = time.perf_counter()
        self.timings["embedding_ms"] = 1000 * (self._last_refresh - t0)
        if emit:
            self._emit("embedding")
        return frame

    def _rebuild_frames(self, *, every: bool = False) -> None:
        """Rebuild the frames after a view change: the last recorded set's now, ``every`` one for a replay.

        One frame per recorded synthetic set, all under the last proxy networks (the real points embedded once), so
        Replay works across class and PCA↔UMAP switches. A view change frames only the last set (what is on
        screen; a switch then costs the same after 300 recorded sets as after 3) and ``replay()`` the others.
        """
        if not self.proxy_nets or not self.image_history:
            return
        t0 = time.perf_counter()
        net, umap = self.proxy_nets[-1], self.settings.embedding == "umap"
        history = self.image_history if every else self.image_history[-1:]
        with torch.no_grad():
            real = self._embed_real(net)
            points = self._embed_synthetic(net, real, [images for _, images in history])
        n = len(real[1])
        if umap:  # the last one laid out now; the others by replay() only (a UMAP layout each would take seconds)
            xys = [(np.full((n, 2), np.nan, np.float32), np.full((len(h) - n, 2), np.nan, np.float32))
                   for h, _, _ in points[:-1]] + [None]
        else:  # PCA: one projection of the real points (the same in every frame) and of every frame's extra points
            real_xy, extra_xy = self._project(points[-1][0][:n], np.concatenate([h[n:] for h, _, _ in points]))
            real_xy.flags.writeable = False  # shared by the frames
            xys = [(real_xy, e) for e in np.split(extra_xy, np.cumsum([len(h) - n for h, _, _ in points])[:-1])]
        self.frames = [self._frame(it, *embedded, xy=xy) for (it, _), embedded, xy in zip(history, points, xys)]
        self._frames_behind = len(self.image_history) - len(history)
        self._last_refresh = time.perf_counter()
        self.timings["view_ms"] = 1000 * (self._last_refresh - t0)

    def synthetic_image(self, index: int) -> torch.Tensor:
        """Return the primary run's ``index``-th synthetic image of the view class, (c, h, w) in [0, 1].

        The images are the ◆ points of the embedding view, in order.
        """
        syn = self.published.images[self.settings.target][self.run.labels.cpu() == self.settings.view_class]
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < len(syn):
            raise ValueError(f"index must be an integer in [0, {len(syn)}); got {index!r}")
        return self.train.display(syn[index:index + 1].cpu())[0]

    def cell_examples(self, cls: int, group: int, *, k: int = 8) -> dict:
        """Return up to ``k`` test images of the (class, group) cell, with the primary run's last answers.

        The answers of its last proxy evaluation: ``images`` (k, c, h, w) in [0, 1], ``index`` (k,) into the test set,
        ``predicted`` (M, k) each proxy network's class, ``right`` (k,) how many of the M got it right,
        ``iteration`` of that evaluation.
        """
        test = self.test
        for name, value, n in (("cls", cls, test.n_classes), ("group", group, test.n_groups)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < n:
                raise ValueError(f"{name} must be an integer in [0, {n}); got {value!r}")
        if not self.proxy_nets:
            raise ValueError("no proxy evaluation yet: step once or call refresh_proxy()")
        from ..train import predict

        index = ((test.labels == cls) & (test.groups == group)).nonzero().flatten()[:k]  # (k,)
        images = test.images[index].to(self.device)
        with torch.no_grad():
            predicted = torch.stack([predict(net, images) for net in self.proxy_nets]).cpu()  # (M, k)
        return {"images": test.display(test.images[index]), "index": index, "predicted": predicted,
                "right": (predicted == cls).sum(0), "iteration": self.reports[-1][0]}

    def replay(self) -> list[Frame]:
        """Return all recorded frames for a scrubbing slider.

        UMAP: laid out jointly with AlignedUMAP; PCA: as recorded, already aligned. Kept in ``replay_frames``
        until the next reset or view change.
        """
        t0 = time.perf_counter()
        if self._frames_behind:  # a view change framed only the last recorded set
            self._rebuild_frames(every=True)
        if len(self.frames) < 2:
            message = f"a replay needs at least 2 recorded frames; got {len(self.frames)}"
            if not self.proxy_nets and len(self.image_history) >= 2:  # kept, waiting for the networks to embed them
                message += (f" ({len(self.image_history)} synthetic sets are kept and become frames when this run's "
                            f"first proxy evaluation finishes)")
            self._fail("replay", f"replay: {message}")
            raise ValueError(message)
        self.errors.pop("replay", None)
        if self.settings.embedding == "umap":
            from ..viz.embedding import aligned_replay

            layouts = self._elsewhere(aligned_replay, [f.high_dim for f in self.frames], seed=self.settings.seed)
            out = []
            for f, xy in zip(self.frames, layouts):
                n = len(f.real_groups)
                out.append(dataclasses.replace(f, real_xy=xy[:n], extra_xy=xy[n:], serial=next(self._serials)))
        else:
            out = list(self.frames)
        self.replay_frames = out
        self.timings["replay_ms"] = 1000 * (time.perf_counter() - t0)
        self._emit("replay")
        return out

    def curves(self) -> dict[str, dict[str, list]]:
        """Per target, the proxy metrics against iteration: {target: {"iteration": [...], "eod": [...], ...}}."""
        out = {}
        for target, reports in self.reports_by.items():
            cols = {"iteration": [it for it, _ in reports]}
            for k in ("accuracy", "eod", "deo_a", "worst_group_accuracy"):
                cols[k] = [getattr(r, k) for _, r in reports]
            out[target] = cols
        return out

    def status(self) -> dict:
        """Return the primary run's numbers, the compared runs' and what is still running.

        ``iteration``, ``loss``, proxy metrics and the iteration they are from; ``runs``: the same per target
        (compare mode); ``evaluating``: the iteration of a proxy evaluation still running in the background;
        ``error`` and ``timings``.
        """
        per = {t: self._run_status(t) for t in self.runs}
        return {**per[self.settings.target], "runs": per, "targets": list(self.runs),
                "embedding_iteration": self.frames[-1].iteration if self.frames else None,
                "evaluating": self.evaluating, "device": str(self.device), "error": self.error,
                "timings": dict(self.timings)}

    def _run_status(self, target: str) -> dict:
        pub, reports = self.published, self.reports_by[target]
        r = reports[-1][1] if reports else None
        n = pub.history_len[target]
        last = self.runs[target].history[n - 1] if n else None
        return {"iteration": pub.iteration, "loss": last.loss if last else None,
                "accuracy": r.accuracy if r else None, "eod": r.eod if r else None, "deo_a": r.deo_a if r else None,
                "worst_group_accuracy": r.worst_group_accuracy if r else None,
                "undefined": dict(r.undefined) if r else {},  # metric → why the test set cannot measure it
                "proxy_iteration": reports[-1][0] if reports else None,
                "proxy_quick": bool(reports) and reports[-1][0] in self.quick}
