"""The live distillation dashboard: ipywidgets views over a ``DistillController``.

Every control maps to ``controller.set(...)`` or a controller method; the view only renders. Play
runs as an asyncio task on the kernel's loop that yields between steps, so buttons keep working.
"""
from __future__ import annotations

import asyncio
import time

import torch

from ..config import METHODS, PRESETS
from ..data import COLOR_NAMES, DATASETS
from ..targets import STRATEGIES
from ..viz import plots
from ..viz.embedding import warm_up_umap
from .controller import DistillController

__all__ = ["Dashboard"]


class Dashboard:
    """``Dashboard(**settings).widget`` is the whole UI; ``Dashboard(controller=ctl)`` wraps one."""

    def __init__(self, controller: DistillController | None = None, **settings) -> None:
        import ipywidgets as W

        self.timings: dict[str, float] = {"umap_warmup_ms": 1000 * warm_up_umap()}
        self.ctl = controller or DistillController(**settings)
        s = self.ctl.settings
        devices = ["auto", "cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        lay = W.Layout(width="260px")
        self.controls = {
            "dataset": W.Dropdown(options=list(DATASETS), value=s.dataset, description="dataset", layout=lay),
            "groups": W.SelectMultiple(options=list(COLOR_NAMES[: s.n_groups]),
                                       value=tuple(s.groups or COLOR_NAMES[: s.n_groups]),
                                       description="groups", rows=4, layout=lay),
            "bias": W.FloatSlider(value=s.bias, min=0.1, max=1.0, step=0.05, description="imbalance",
                                  continuous_update=False, layout=lay),
            "severity": W.IntSlider(value=s.severity, min=0, max=5, description="separation",
                                    continuous_update=False, layout=lay),
            "method": W.Dropdown(options=list(METHODS), value=s.method, description="method", layout=lay),
            "target": W.Dropdown(options=list(STRATEGIES), value=s.target, description="target", layout=lay),
            "ipc": W.BoundedIntText(value=s.ipc, min=1, max=100, description="IPC", layout=lay),
            "preset": W.Dropdown(options=list(PRESETS), value=s.preset, description="preset", layout=lay),
            "device": W.Dropdown(options=devices, value=s.device if s.device in devices else "auto",
                                 description="device", layout=lay),
            "view_class": W.Dropdown(options=[(n, i) for i, n in enumerate(self.ctl.train.class_names)],
                                     value=s.view_class, description="view class", layout=lay),
        }
        for name, w in self.controls.items():
            w.observe(self._on_control(name), names="value")
            w.add_class(f"fairdd-{name}")
        self.buttons = {name: W.Button(description=label, layout=W.Layout(width="90px"))
                        for name, label in (("step", "Step"), ("step10", "Step ×10"), ("play", "Play"),
                                            ("pause", "Pause"), ("reset", "Reset"), ("replay", "Replay"))}
        self.buttons["step"].on_click(lambda _: self.step(1))
        self.buttons["step10"].on_click(lambda _: self.step(10))
        self.buttons["play"].on_click(lambda _: self.play())
        self.buttons["pause"].on_click(lambda _: self.pause())
        self.buttons["reset"].on_click(lambda _: self.reset())
        self.buttons["replay"].on_click(lambda _: self.replay())
        for name, b in self.buttons.items():
            b.add_class(f"fairdd-{name}")
        self.iteration = W.HTML()
        self.iteration.add_class("fairdd-iteration")
        self.readout = W.HTML()
        self.readout.add_class("fairdd-eod")
        self.timing = W.HTML()
        self.error = W.HTML()
        self.error.add_class("fairdd-error")
        self.images = {name: W.Image(format="png", layout=W.Layout(width=width))
                       for name, width in (("loss", "360px"), ("embedding", "420px"), ("grid", "360px"),
                                           ("heatmap", "420px"))}
        self.images["embedding"].add_class("fairdd-umap")
        self.replay_slider = W.IntSlider(value=0, min=0, max=0, description="replay", disabled=True)
        self.replay_slider.observe(lambda ch: self._show_replay(ch["new"]), names="value")
        self._replay_frames: list = []
        c = self.controls
        self.widget = W.VBox([
            W.HTML("<b>fairdd — live distillation</b>"),
            W.HBox([W.VBox([c["dataset"], c["groups"]]), W.VBox([c["bias"], c["severity"], c["method"], c["target"]]),
                    W.VBox([c["ipc"], c["preset"], c["device"], c["view_class"]])]),
            W.HBox(list(self.buttons.values())),
            W.HBox([self.iteration, self.readout]), self.timing, self.error,
            W.HBox([self.images["loss"], self.images["embedding"]]),
            W.HBox([self.images["grid"], self.images["heatmap"]]),
            self.replay_slider,
        ])
        self.ctl.on_change(self._on_change)
        self.ctl.refresh_proxy(emit=False)
        self.ctl.refresh_embedding(emit=False)
        self.render_all()

    # ----------------------------------------------------------- controls
    def _on_control(self, name: str):
        def handler(change) -> None:
            value = change["new"]
            if name == "groups":
                value = tuple(value) if len(value) < len(self.controls["groups"].options) else None
            try:
                self.ctl.set(**{name: value})
                self.ctl.refresh_proxy(emit=False)
                self.ctl.refresh_embedding(emit=False)
            except Exception as exc:  # noqa: BLE001 - shown, the controller kept its last good state
                self.ctl.error = f"cannot set {name}={value!r}: {exc}"
            self.render_all()
        return handler

    def step(self, n: int = 1) -> None:
        self.ctl.advance(n)

    def reset(self) -> None:
        self.ctl.reset()
        self.ctl.refresh_proxy(emit=False)
        self.ctl.refresh_embedding(emit=False)
        self.render_all()

    def play(self) -> asyncio.Task | None:
        """Start stepping until Pause; returns the asyncio task (None without a running loop)."""
        if self.ctl.playing:
            return None
        self.ctl.playing = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:  # plain Python: nothing to schedule on
            self.ctl.playing = False
            return None
        self._task = loop.create_task(self.play_async())
        return self._task

    async def play_async(self, max_steps: int | None = None) -> int:
        """Step while playing (or ``max_steps``), yielding to the event loop between steps."""
        self.ctl.playing = True
        done = 0
        while self.ctl.playing and (max_steps is None or done < max_steps):
            if not self.ctl.advance(1):
                break
            done += 1
            await asyncio.sleep(0.01)
        self.ctl.playing = False
        self.render_status()
        return done

    def pause(self) -> None:
        self.ctl.playing = False
        self.render_status()

    def replay(self) -> None:
        try:
            self._replay_frames = self.ctl.replay()
        except Exception as exc:  # noqa: BLE001
            self.ctl.error = f"replay: {exc}"
            self.render_status()
            return
        self.replay_slider.max = len(self._replay_frames) - 1
        self.replay_slider.disabled = False
        self.replay_slider.value = len(self._replay_frames) - 1
        self._show_replay(self.replay_slider.value)

    def _show_replay(self, i: int) -> None:
        if self._replay_frames:
            self._render_embedding(self._replay_frames[i])

    # ------------------------------------------------------------ rendering
    min_render_s = 0.5  # while playing, redraw the loss and image panels at most this often

    def _on_change(self, ctl, what: str) -> None:
        if what in ("step", "error"):
            now = time.perf_counter()
            if not ctl.playing or now - getattr(self, "_last_render", 0.0) >= self.min_render_s:
                self._render_loss()
                self._render_grid()
                self._last_render = now
            if ctl.frames and ctl.frames[-1].iteration == ctl.iteration:
                self._render_embedding(ctl.frames[-1])
            if ctl.reports and ctl.reports[-1][0] == ctl.iteration:
                self._render_heatmap()
            self.render_status()  # last: the readout changing means every panel is drawn

    def render_all(self) -> None:
        self._render_loss()
        self._render_grid()
        if self.ctl.frames:
            self._render_embedding(self.ctl.frames[-1])
        self._render_heatmap()
        self.render_status()

    def render_status(self) -> None:
        st = self.ctl.status()
        self.iteration.value = f"<b>iteration {st['iteration']}</b>"
        if st["eod"] is not None:
            self.readout.value = (f"&nbsp; loss {'—' if st['loss'] is None else format(st['loss'], '.4g')} · "
                                  f"proxy @ {st['proxy_iteration']}: accuracy {st['accuracy']:.1f}% · "
                                  f"<b>EOD {st['eod']:.1f}</b> · DEO_A {st['deo_a']:.1f} · "
                                  f"worst group {st['worst_group_accuracy']:.1f}%")
        t = {**st["timings"], **self.timings}
        self.timing.value = ("<small>" + " · ".join(f"{k} {v:.0f}" for k, v in sorted(t.items()))
                             + f" · device {st['device']}" + ("" if not self.ctl.playing else " · playing") + "</small>")
        self.error.value = f"<span style='color:#b00'>{st['error']}</span>" if st["error"] else ""

    def _timed(self, name: str, draw) -> None:
        t0 = time.perf_counter()
        draw()
        self.timings[f"render_{name}_ms"] = 1000 * (time.perf_counter() - t0)

    def _render_loss(self) -> None:
        def draw():
            fig, ax = plots.new_figure(4, 2.6)
            plots.plot_loss(ax, self.ctl.run.history, label=self.ctl.settings.target)
            ax.set_title(f"{self.ctl.settings.method} · {self.ctl.settings.target}")
            self.images["loss"].value = plots.fig_to_png(fig)
        self._timed("loss", draw)

    def _render_grid(self) -> None:
        def draw():
            run = self.ctl.run
            fig, ax = plots.new_figure(4, 4)
            plots.plot_images(ax, self.ctl.train.display(run.images.detach().cpu()), run.labels.cpu(),
                              title=f"synthetic set, iteration {run.iteration}")
            self.images["grid"].value = plots.fig_to_png(fig)
        self._timed("grid", draw)

    def _render_embedding(self, frame) -> None:
        def draw():
            fig, ax = plots.new_figure(4.6, 3.6)
            plots.plot_embedding(ax, frame, self.ctl.train.group_names)
            ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1, 0.5))
            self.images["embedding"].value = plots.fig_to_png(fig)
        self._timed("embedding", draw)

    def _render_heatmap(self) -> None:
        if self.ctl.report is None:
            return

        def draw():
            fig, ax = plots.new_figure(4.6, 3.4)
            plots.plot_group_heatmap(ax, self.ctl.report.by_group,
                                     title=f"proxy accuracy per (class, group) %, iteration {self.ctl.reports[-1][0]}")
            self.images["heatmap"].value = plots.fig_to_png(fig)
        self._timed("heatmap", draw)

    def _ipython_display_(self) -> None:  # pragma: no cover - notebook only
        from IPython.display import display

        display(self.widget)
