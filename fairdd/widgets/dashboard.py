"""The live distillation dashboard: ipywidgets views over a ``DistillController``.

Every control maps to ``controller.set(...)`` or a controller method; the view only renders.
Step, Step ×10 and Play all go through one loop (an asyncio task on the kernel's loop that yields
between steps), so Pause stops any of them and the panels update as they go. A refused setting puts
its widget back and the error stays on screen until the next successful action. Every panel says
which iteration it shows; the panel note says how far the proxy and embedding panels lag.
"""
from __future__ import annotations

import asyncio
import contextlib
import html
import threading
import time

import torch

from ..config import METHODS, PRESETS
from ..data import DATASETS
from ..targets import STRATEGIES
from ..viz import picking, plots
from .controller import DistillController, dataset_availability

__all__ = ["Dashboard"]

EXPLAIN = {
    "eod": "EOD (equalized odds difference, DEO_M): over classes, the largest gap between the best and the "
           "worst group's accuracy within a class, in percentage points. 0 = every group equally served.",
    "deo_a": "DEO_A: the same within-class gap, averaged over classes instead of the worst class.",
    "proxy": "proxy @ N: small networks trained for a few epochs on the synthetic set of iteration N and "
             "scored on the balanced test set — a quick, noisy stand-in for the full evaluation.",
    "bias": "majority share: the fraction of each class drawn in its own (majority) colour. 1/groups = "
            "balanced; 0.9 = 90 % of each class in one colour, the rest spread over the others; 1.0 = only "
            "the majority colour.",
    "severity": "separation: how much the minority groups' images are corrupted (0 = not at all, 5 = most; "
                "CIFAR10-S: 0 = its grayscale group as published, 1–5 = COBRA App. F's corruptions).",
}
EMBEDDING_CAPTION = {
    "pca": "PCA (linear): group means (large dots), their barycenter (★, COBRA's target) and the pooled "
           "mean (✕, vanilla's target) sit where they belong. Watch the synthetic points (◆): vanilla's "
           "drift to the majority colour, COBRA's to the star.",
    "umap": "UMAP (non-linear): neighbourhoods are kept, distances are not — means and the barycenter are "
            "placed approximately. Watch which group cloud the synthetic points (◆) sit in.",
}


class Dashboard:
    """``Dashboard(**settings).widget`` is the whole UI; ``Dashboard(controller=ctl)`` wraps one.

    ``workshop=True`` hides the settings that stall a CPU (paper preset; dc/dsa/idc/cafe without a GPU)
    and shows groups as checkboxes. ``warm_umap`` compiles UMAP in a background thread after the
    widgets show (the UMAP toggle is enabled when it is done). Datasets whose files are missing are
    listed as "unavailable" (``dataset_availability``), with the reasons under "details"."""

    min_render_s = 0.5  # while playing, redraw the loss and image panels at most this often

    def __init__(self, controller: DistillController | None = None, *, workshop: bool = False,
                 warm_umap: bool = True, **settings) -> None:
        import ipywidgets as W

        self.W = W
        self.workshop = workshop
        self.timings: dict[str, float] = {}
        self.shown: dict[str, int | None] = {}
        self._reverting = False
        self._task = None
        self._replay_index: int | None = None
        self.ctl = controller or DistillController(**settings)
        self._build_controls(self.ctl.settings)
        self._build_buttons()
        self._build_panels()
        self._build_inspectors()
        self._build_pointer()
        self.widget = self._layout()
        self.ctl.on_change(self._on_change)
        self._umap_ready = False
        self.controls["embedding"].disabled = True
        self._initial_views()
        self.render_all()
        if warm_umap:
            self._warm_thread = threading.Thread(target=self._warm_umap, daemon=True)
            self._warm_thread.start()
        else:
            self._umap_ready = True
            self.controls["embedding"].disabled = False

    # ----------------------------------------------------------- building
    def _html(self, cls: str):
        w = self.W.HTML()
        w.add_class(cls)
        return w

    def _class_options(self):
        return [(n, i) for i, n in enumerate(self.ctl.train.class_names)]

    def _dataset_options(self, current: str) -> list:
        """Every dataset; those whose files are missing labelled "unavailable" (reasons kept for details)."""
        if getattr(self.ctl, "_given", None) is not None:  # datasets passed in: nothing to choose from
            self.unavailable = {}
            return [("the datasets passed in", current)]
        found = dataset_availability()
        self.unavailable = {n: a.reason for n, a in found.items() if not a.available and n != current}
        return [(f"{n} — unavailable (see details)" if n in self.unavailable else n, n) for n in DATASETS]

    def _build_controls(self, s) -> None:
        W = self.W
        gpu = torch.cuda.is_available()
        devices = ["auto", "cpu"] + (["cuda"] if gpu else [])
        methods = list(METHODS) if (gpu or not self.workshop) else ["dm"]
        presets = [p for p in PRESETS if not (self.workshop and p == "paper")]
        kw = {"layout": W.Layout(width="265px"), "style": {"description_width": "105px"}}
        slider = {"continuous_update": False, **kw}
        self.controls = {
            "dataset": W.Dropdown(options=self._dataset_options(s.dataset), value=s.dataset, description="dataset",
                                  **kw),
            "bias": W.FloatSlider(value=s.bias, min=0.1, max=1.0, step=0.05, description="majority share",
                                  tooltip=EXPLAIN["bias"], **slider),
            "severity": W.IntSlider(value=s.severity, min=0, max=5, description="separation",
                                    tooltip=EXPLAIN["severity"], **slider),
            "method": W.Dropdown(options=methods, value=s.method, description="method", **kw),
            "target": W.Dropdown(options=list(STRATEGIES), value=s.target, description="target", **kw),
            "compare": W.SelectMultiple(options=list(STRATEGIES), value=tuple(s.compare), rows=4,
                                        description="compare with", **kw),
            "ipc": W.BoundedIntText(value=s.ipc, min=1, max=100, description="IPC", **kw),
            "preset": W.Dropdown(options=presets, value=s.preset, description="preset", **kw),
            "device": W.Dropdown(options=devices, value=s.device if s.device in devices else "auto",
                                 description="device", **kw),
            "view_class": W.Dropdown(options=self._class_options(), value=s.view_class, description="view class",
                                     **kw),
            "embedding": W.ToggleButtons(options=[("PCA", "pca"), ("UMAP", "umap")], value=s.embedding,
                                         description="embedding",
                                         style={"button_width": "60px", "description_width": "105px"}),
        }
        for name, w in self.controls.items():
            w.observe(self._on_control(name), names="value")
            w.add_class(f"fairdd-{name}")
        self.groups_widget = W.VBox()
        self._build_groups(s)  # observed there: rebuilt when the dataset changes

    def _build_buttons(self) -> None:
        W = self.W
        self.buttons = {name: W.Button(description=label, layout=W.Layout(width="88px"))
                        for name, label in (("step", "Step"), ("step10", "Step ×10"), ("play", "Play"),
                                            ("pause", "Pause"), ("reset", "Reset"), ("replay", "Replay"))}
        actions = {"step": lambda: self.step(1), "step10": lambda: self.step(10), "play": self.play,
                   "pause": self.pause, "reset": self.reset, "replay": self.replay}
        for name, b in self.buttons.items():
            b.on_click(lambda _, act=actions[name]: act())
            b.add_class(f"fairdd-{name}")

    def _build_panels(self) -> None:
        W = self.W
        for name in ("busy", "iteration", "panel_note", "error", "timing", "unavailable_note"):
            setattr(self, name, self._html(f"fairdd-{name.replace('_', '-')}"))
        self.panel_note.add_class("fairdd-panels")
        self.readout = self._html("fairdd-eod")
        self.unavailable_note.value = self._unavailable_html()
        self.details = W.Accordion(children=[W.VBox([self.timing, self.unavailable_note])],
                                   titles=("details (timings, device, unavailable datasets)",))
        self.details.selected_index = None
        self.captions = {k: self._html(f"fairdd-caption-{k}") for k in ("fairness", "embedding", "grid", "heatmap",
                                                                        "loss")}
        self.images = {name: W.Image(format="png", layout=W.Layout(width=width, height="auto", object_fit="contain"))
                       for name, width in (("fairness", "640px"), ("embedding", "520px"), ("heatmap", "440px"),
                                           ("loss", "380px"))}
        for name, cls in (("embedding", "fairdd-umap"), ("fairness", "fairdd-fairness"), ("heatmap", "fairdd-heatmap")):
            self.images[name].add_class(cls)
        self.grid_images: dict = {}
        self.grid_box = W.HBox(layout=W.Layout(flex_flow="row wrap"))
        self.grid_box.add_class("fairdd-grids")
        self.replay_slider = W.IntSlider(value=0, min=0, max=0, description="replay", disabled=True)
        self.replay_slider.add_class("fairdd-replay-slider")
        self.replay_slider.observe(lambda ch: self._show_replay(ch["new"]), names="value")

    def _unavailable_html(self) -> str:
        if not self.unavailable:
            return ""
        rows = "".join(f"<li><b>{n}</b>: {html.escape(r)}</li>" for n, r in self.unavailable.items())
        return f"<small>Datasets marked unavailable (their files are not here):<ul>{rows}</ul></small>"

    def _layout(self):
        W, c = self.W, self.controls
        restart_note = W.HTML("<small>Changing these <b>restarts the run</b> (iteration 0):</small>")
        view_note = W.HTML("<small>View only (never restarts):</small>")
        widget = W.VBox([
            W.HBox([W.HTML("<b style='font-size:16px'>fairdd — live distillation</b>&nbsp;&nbsp;"),
                    *self.buttons.values(), self.busy]),
            W.HBox([self.iteration, self.readout]), self.error, self.panel_note,
            restart_note,
            W.HBox([W.VBox([c["dataset"], self.groups_widget]),
                    W.VBox([c["bias"], c["severity"], c["method"]]),
                    W.VBox([c["target"], c["compare"]]),
                    W.VBox([c["ipc"], c["preset"], c["device"]])]),
            W.HTML(f"<small style='color:#555'>{EXPLAIN['bias']}</small>"),
            W.HBox([view_note, c["view_class"], c["embedding"]]),
            W.HBox([W.VBox([self.captions["fairness"], self.images["fairness"]]),
                    W.VBox([self.captions["embedding"], self.images["embedding"], self.hover, self.replay_slider,
                            self.inspect_box["point"], self.pick_hook])]),
            W.HBox([W.VBox([self.captions["grid"], self.grid_box]),
                    W.VBox([self.captions["heatmap"], self.images["heatmap"], self.inspect_box["cell"]]),
                    W.VBox([self.captions["loss"], self.images["loss"]])]),
            W.HTML(f"<small style='color:#555'><b>EOD</b>: {EXPLAIN['eod']} <b>DEO_A</b>: {EXPLAIN['deo_a']} "
                   f"<b>proxy @ N</b>: {EXPLAIN['proxy']}</small>"),
            self.details,
        ])
        widget.add_class("fairdd-dashboard")
        return widget

    def _group_names(self, s) -> tuple[list[str], bool]:
        """The groups to show and whether they can be chosen: a colour set's whole palette (choosable;
        the names of the dataset's own construction), else the dataset's own groups (race, gender,
        grayscale/colour...: fixed by the dataset)."""
        from .. import datasets

        if getattr(self.ctl, "_given", None) is not None or "groups" not in datasets.options(s.dataset):
            return list(self.ctl.train.group_names), False
        palettes = self.__dict__.setdefault("_palettes", {})
        key = (s.dataset, s.n_groups)
        if s.groups is None:  # every colour kept: the data names its palette
            palettes[key] = list(self.ctl.train.group_names)
        elif key not in palettes:  # a subset kept from the start: read the whole palette once
            palettes[key] = list(datasets.load(s.dataset, split="test", n_groups=s.n_groups).group_names)
        return palettes[key], True

    def _build_groups(self, s) -> None:
        """(Re)build the groups control for the current dataset (after every restart)."""
        W = self.W
        names, choosable = self._group_names(s)
        chosen = set(s.groups or names) if choosable else set(names)
        self._groups_choosable = choosable
        title = "groups (colours kept)" if choosable else "groups (fixed by the dataset)"
        old = self.controls.pop("groups", None)
        if old is not None:
            old.close()
        if self.workshop or not choosable:
            self.group_boxes = {n: W.Checkbox(value=n in chosen, description=n, indent=False, disabled=not choosable,
                                              layout=W.Layout(width="auto" if not choosable else "80px"))
                                for n in names}
            for box in self.group_boxes.values():
                box.observe(self._on_groups, names="value")
            columns = "repeat(3, 80px)" if choosable else "repeat(2, auto)"
            self.groups_widget.children = [W.HTML(f"<small>{title}</small>"),
                                           W.GridBox(list(self.group_boxes.values()),
                                                     layout=W.Layout(grid_template_columns=columns))]
        else:
            self.group_boxes = {}
            self.controls["groups"] = W.SelectMultiple(options=names, value=tuple(n for n in names if n in chosen),
                                                       description="groups", rows=3, layout=W.Layout(width="265px"),
                                                       style={"description_width": "105px"})
            self.controls["groups"].observe(self._on_control("groups"), names="value")
            self.controls["groups"].add_class("fairdd-groups")
            self.groups_widget.children = [self.controls["groups"]]
        self.groups_widget.add_class("fairdd-groups-box")
        self._groups_key = (s.dataset, s.n_groups)

    def _build_inspectors(self) -> None:
        """"Inspect" pickers under the embedding (a synthetic point ◆ → its image, ringed in the view) and
        under the heatmap (a (class, group) cell → its test images with the proxy networks' answers)."""
        W = self.W
        kw = {"layout": W.Layout(width="200px"), "style": {"description_width": "70px"}}
        self.inspect = {"point": W.Dropdown(description="inspect ◆", **kw),
                        "cell_class": W.Dropdown(description="cell: class", **kw),
                        "cell_group": W.Dropdown(description="group", **kw)}
        self.inspect_images = {k: W.Image(format="png", layout=W.Layout(width=w, height="auto", object_fit="contain",
                                                                       display="none"))
                               for k, w in (("point", "120px"), ("cell", "440px"))}
        self.inspect_captions = {k: self._html(f"fairdd-inspect-{k}-caption") for k in ("point", "cell")}
        for name, w in self.inspect.items():
            w.add_class(f"fairdd-inspect-{name.replace('_', '-')}")
            w.observe(self._on_inspect, names="value")
        for name, img in self.inspect_images.items():
            img.add_class(f"fairdd-inspect-{name}-image")
        self.inspect_box = {
            "point": W.VBox([W.HBox([self.inspect["point"], self.inspect_images["point"]]),
                             self.inspect_captions["point"]]),
            "cell": W.VBox([W.HBox([self.inspect["cell_class"], self.inspect["cell_group"]]),
                            self.inspect_captions["cell"], self.inspect_images["cell"]]),
        }
        self._inspect_options()
        self._render_point()  # nothing picked yet: the captions say what picking does
        self._render_cell()

    def _build_pointer(self) -> None:
        """Clicks and hovers on the embedding and heatmap PNGs (ipyevents): a click on a ◆ or a heatmap
        cell picks it in the drop-downs above (the keyboard path), a hover over a ◆ names it. The pixel
        maps recorded at render time turn the pointer back into data coordinates (``viz.picking``)."""
        from ipyevents import Event

        W = self.W
        self.pixel_maps: dict[str, picking.PixelMap] = {}
        self.point_px = None  # (ipc, 2) the shown frame's ◆ in natural PNG px
        self.hover = self._html("fairdd-hover")
        self.hover.layout = W.Layout(min_height="20px")
        self.pick_hook = self._html("fairdd-pick-hook")  # the ◆ pixels for browser tests, never shown
        self.pick_hook.layout = W.Layout(display="none")
        self.pointer_events = [  # clicks unthrottled (a throttle may drop one), moves at most every 80 ms
            Event(source=self.images["embedding"], watched_events=["click"]),
            Event(source=self.images["embedding"], watched_events=["mousemove", "mouseleave"], wait=80,
                  throttle_or_debounce="throttle"),
            Event(source=self.images["heatmap"], watched_events=["click"]),
        ]
        for ev, panel in zip(self.pointer_events, ("embedding", "embedding", "heatmap")):
            ev.on_dom_event(lambda event, panel=panel: self.pointer(panel, event))

    def _record_points(self, frame) -> None:
        """Remember where the shown frame's ◆ landed in the PNG (for clicks, hovers and the test hook)."""
        syn = frame.extra_xy[[k == "synthetic" for k in frame.extra_kind]]  # (ipc, 2)
        pm = self.pixel_maps["embedding"]
        self.point_px = pm.to_pixel(syn).reshape(-1, 2)  # (ipc, 2)
        points = ",".join(f"[{x:.1f},{y:.1f}]" for x, y in self.point_px)
        self.pick_hook.value = f"<span data-size='[{pm.width},{pm.height}]' data-points='[{points}]'></span>"

    def pointer(self, panel: str, event: dict) -> int | tuple | None:
        """Handle an ipyevents mouse event on ``panel`` ("embedding" or "heatmap"). Returns what is under
        the pointer: a ◆ index, a (class, group) cell, or ``None`` (then a click does nothing)."""
        pm = self.pixel_maps.get(panel)
        at = None if pm is None else picking.pointer_position(event, (pm.width, pm.height))
        if event.get("type") == "mouseleave" or at is None:
            self.hover.value = ""
            return None
        px, scale = at
        if panel == "heatmap":
            hit = self._cell_at(pm, px)
        else:
            hit = None if self.point_px is None else picking.nearest(self.point_px, px, radius=12 * scale)
        if event.get("type") == "mousemove":
            self.hover.value = "" if hit is None else (
                f"<small>◆ {hit} (class {self.ctl.train.class_names[self.ctl.settings.view_class]!r}) — "
                "click to see its image</small>")
        elif event.get("type") == "click" and hit is not None and not self.inspect["point"].disabled:
            self._pick(panel, hit)
        return hit

    def _cell_at(self, pm: picking.PixelMap, px) -> tuple[int, int] | None:
        """The heatmap's (class, group) cell under a natural-pixel position: rows are classes, columns groups."""
        if not pm.inside(px) or self.ctl.report is None:
            return None
        x, y = pm.to_data(px)
        c, a = round(float(y)), round(float(x))
        n_c, n_g = self.ctl.report.n_classes, self.ctl.report.n_groups
        return (c, a) if 0 <= c < n_c and 0 <= a < n_g else None

    def _pick(self, panel: str, hit) -> None:
        """Select a clicked ◆ or cell in its drop-down(s): the same path as picking it there."""
        if panel == "embedding":
            if hit in [v for _, v in self.inspect["point"].options]:  # a stale frame may show more ◆ than IPC
                self.inspect["point"].value = hit
            return
        c, a = hit
        cls, group = self.inspect["cell_class"], self.inspect["cell_group"]
        changed = cls.value != c
        self._reverting = True  # one redraw for a new cell, not one per drop-down
        try:
            cls.value = c
        finally:
            self._reverting = False
        if group.value != a:
            group.value = a
        elif changed:
            self._render_cell()

    def _inspect_options(self) -> None:
        """Picker choices for the current run (IPC, class and group names); a pick is kept when it still exists."""
        train, s = self.ctl.train, self.ctl.settings
        options = {"point": [("—", None)] + [(f"◆ {i}", i) for i in range(s.ipc)],
                   "cell_class": [("—", None)] + self._class_options(),
                   "cell_group": [("—", None)] + [(n, a) for a, n in enumerate(train.group_names)]}
        self._reverting = True
        try:
            for name, opts in options.items():
                w = self.inspect[name]
                keep = w.value if w.value in [v for _, v in opts] else None
                if list(w.options) != opts:
                    w.options = opts
                w.value = keep
        finally:
            self._reverting = False

    def _on_inspect(self, change) -> None:
        if self._reverting:
            return
        if change["owner"] is self.inspect["point"]:
            frames = self.ctl.replay_frames if self._replay_index is not None else self.ctl.frames
            if frames:
                self._render_embedding(frames[self._replay_index if self._replay_index is not None else -1],
                                       replay=self._replay_index is not None)
            self._render_point()
        else:
            self._render_cell()

    def _render_point(self) -> None:
        i = self.inspect["point"].value
        self.inspect_images["point"].layout.display = "none" if i is None else None
        if i is None:
            self.inspect_images["point"].value = b""
            self.inspect_captions["point"].value = "<small>pick a synthetic point ◆ to see its image</small>"
            return

        def draw():
            fig, ax = plots.new_figure(1.4, 1.4)
            img = self.ctl.synthetic_image(i)  # (c, h, w)
            ax.imshow(img.permute(1, 2, 0).numpy().squeeze(), cmap="gray" if img.shape[0] == 1 else None,
                      interpolation="nearest")
            ax.axis("off")
            self.inspect_images["point"].value = plots.fig_to_png(fig)
        self._timed("point", draw)
        s = self.ctl.settings
        self.inspect_captions["point"].value = (
            f"<small>◆ {i}: synthetic image {i} of class {self.ctl.train.class_names[s.view_class]!r} "
            f"({s.target}), iteration {self.ctl.iteration}; ringed in the embedding view</small>")

    def _render_cell(self) -> None:
        c, a = self.inspect["cell_class"].value, self.inspect["cell_group"].value
        empty = c is None or a is None or not self.ctl.proxy_nets
        self.inspect_images["cell"].layout.display = "none" if empty else None
        if empty:
            self.inspect_images["cell"].value = b""
            self.inspect_captions["cell"].value = ("<small>pick a heatmap cell (class and group) to see its test "
                                                   "images with the proxy networks' answers</small>")
            return
        ex = self.ctl.cell_examples(c, a)
        names, m = self.ctl.test.class_names, ex["predicted"].shape[0]

        def draw():
            import matplotlib.pyplot as plt

            k = max(1, len(ex["index"]))
            fig, axes = plt.subplots(1, k, figsize=(0.95 * k + 0.2, 1.45), squeeze=False)
            for j, ax in enumerate(axes[0]):
                ax.axis("off")
                if j >= len(ex["index"]):
                    continue
                img = ex["images"][j]
                ax.imshow(img.permute(1, 2, 0).numpy().squeeze(), cmap="gray" if img.shape[0] == 1 else None,
                          interpolation="nearest")
                right = int(ex["right"][j])
                guess = names[int(ex["predicted"][-1, j])]
                ax.set_title(f"{guess}\n{'✓' if right == m else '✗' if right == 0 else '~'} {right}/{m}",
                             fontsize=8, color="#060" if right == m else "#b00")
            self.inspect_images["cell"].value = plots.fig_to_png(fig)
        self._timed("cell", draw)
        n = int(((self.ctl.test.labels == c) & (self.ctl.test.groups == a)).sum())
        self.inspect_captions["cell"].value = (
            f"<small>cell ({names[c]!r}, {self.ctl.test.group_names[a]!r}): the first {len(ex['index'])} of "
            f"{n} test images; title: the last proxy network's answer and how many of the {m} proxy networks "
            f"got it right (proxy @ {ex['iteration']}, {self.ctl.settings.target})</small>")

    def _on_groups(self, change) -> None:
        if self._reverting:
            return
        if not self._groups_choosable:  # the dataset's own groups: shown, not chosen
            self._reverting = True
            try:
                change["owner"].value = change["old"]
            finally:
                self._reverting = False
            return
        chosen = tuple(n for n, b in self.group_boxes.items() if b.value)
        value = None if len(chosen) == len(self.group_boxes) else chosen
        with self._working("groups"):
            try:
                self.ctl.set(groups=value)
                self._initial_views()
            except ValueError:
                self._reverting = True
                try:
                    current = set(self.ctl.settings.groups or self.group_boxes)
                    for n, b in self.group_boxes.items():
                        b.value = n in current
                finally:
                    self._reverting = False
            self.render_all()

    def _warm_umap(self) -> None:
        from ..viz.embedding import warm_up_umap

        self.captions["embedding"].value = self._embedding_caption(note="UMAP is warming up (≈20 s); PCA meanwhile.")
        try:
            self.timings["umap_warmup_ms"] = 1000 * warm_up_umap()
        except Exception as exc:  # noqa: BLE001 - UMAP stays off, PCA works
            self.timings["umap_warmup_error"] = 0.0
            self.captions["embedding"].value = self._embedding_caption(note=f"UMAP unavailable: {exc}")
            return
        self._umap_ready = True
        self.controls["embedding"].disabled = self.ctl.playing
        self.captions["embedding"].value = self._embedding_caption()

    @contextlib.contextmanager
    def _working(self, what: str):
        """Show "working…" and disable the buttons and controls for a long action."""
        self.busy.value = f"<span style='color:#a60'>⏳ working… ({what})</span>"
        self._enable(False)
        try:
            yield
        finally:
            self._enable(True)
            self.busy.value = ""  # last: an empty indicator means everything is drawn and enabled

    def _enable(self, on: bool, *, keep_pause: bool = False) -> None:
        for name, w in self.controls.items():
            w.disabled = (not on) or (name == "embedding" and not self._umap_ready)
        for box in getattr(self, "group_boxes", {}).values():
            box.disabled = not on or not self._groups_choosable
        for w in getattr(self, "inspect", {}).values():
            w.disabled = not on
        for name, b in self.buttons.items():  # last: Step enabled again means the controls are too
            b.disabled = not on and not (keep_pause and name == "pause")

    # ----------------------------------------------------------- controls
    def _on_control(self, name: str):
        def handler(change) -> None:
            if self._reverting:
                return
            value = change["new"]
            if name == "groups":
                value = tuple(value) if len(value) < len(self.controls["groups"].options) else None
            restart = name not in ("view_class", "embedding")
            with self._working(f"{name}"):
                try:
                    self.ctl.set(**{name: value})
                except ValueError:
                    self._revert(name, change["old"])
                    self.render_status()  # nothing else changed
                    return
                if restart:
                    self._initial_views()
                    self.render_all()
                else:  # a view change: only the embedding panel
                    if self.ctl.frames:
                        self._render_embedding(self.ctl.frames[-1])
                    self.render_status()
        return handler

    def _revert(self, name: str, old) -> None:
        self._reverting = True
        try:
            self.controls[name].value = old
        finally:
            self._reverting = False

    def _initial_views(self) -> None:
        """After a restart: the proxy and embedding at iteration 0, controls that depend on the data."""
        if self.ctl.report is None:
            self.ctl._refresh_proxy_safely()
        if not self.ctl.frames and self.ctl.report is not None:
            self.ctl._refresh_embedding_safely()
        if self._groups_key != (self.ctl.settings.dataset, self.ctl.settings.n_groups):
            self._build_groups(self.ctl.settings)
        self._inspect_options()
        opts = self._class_options()
        if list(self.controls["view_class"].options) != opts:
            self._reverting = True
            try:
                self.controls["view_class"].options = opts
                self.controls["view_class"].value = self.ctl.settings.view_class
            finally:
                self._reverting = False

    def step(self, n: int = 1):
        """``n`` steps through Play's loop (Pause stops it). Returns the asyncio task in a notebook,
        the number of steps done in plain Python."""
        return self.play(max_steps=n)

    def reset(self) -> None:
        with self._working("reset"):
            try:
                self.ctl.reset()
            except Exception as exc:  # noqa: BLE001 - shown
                self.ctl.error = f"reset failed: {type(exc).__name__}: {exc}"
            self._initial_views()
            self.render_all()  # inside: "working…" goes away only once the panels are drawn

    def play(self, max_steps: int | None = None):
        """Step until Pause (or ``max_steps``). In a notebook this schedules an asyncio task that yields
        between steps and returns it; without a running loop it steps here and returns the count."""
        if self.ctl.playing:
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            if max_steps is None:
                return None  # plain Python: Play forever would never return
            return self._play_sync(max_steps)
        self.ctl.playing = True
        self._task = loop.create_task(self.play_async(max_steps))
        return self._task

    def _begin_play(self) -> None:
        if self._replay_index is not None:  # stepping leaves the replay for the live view
            self._clear_replay()
        self.ctl.playing = True
        self._enable(False, keep_pause=True)
        self.busy.value = "<span style='color:#060'>▶ running… (Pause stops)</span>"
        self.render_status()

    def _end_play(self) -> None:
        self.ctl.playing = False
        self.render_stale()  # every panel at the last iteration (or its last proxy/embedding, labelled)
        self._enable(True)
        self.busy.value = ""

    def _play_sync(self, max_steps: int) -> int:
        self._begin_play()
        done = 0
        try:
            while self.ctl.playing and done < max_steps:
                if not self.ctl.advance(1):
                    break
                done += 1
        finally:
            self._end_play()
        return done

    async def play_async(self, max_steps: int | None = None) -> int:
        """Step while playing (or ``max_steps``), yielding to the event loop between steps."""
        self._begin_play()
        done = 0
        try:
            while self.ctl.playing and (max_steps is None or done < max_steps):
                if not self.ctl.advance(1):
                    break
                done += 1
                await asyncio.sleep(0.01)
        finally:
            self._end_play()
        return done

    def pause(self) -> None:
        self.ctl.playing = False
        self.render_status()

    def replay(self) -> None:
        with self._working("replay"):
            try:
                frames = self.ctl.replay()
            except Exception as exc:  # noqa: BLE001
                self.ctl.error = f"replay: {exc}"
                self.render_status()
                return
            self.replay_slider.max = len(frames) - 1
            if self.replay_slider.value == len(frames) - 1:
                self._show_replay(len(frames) - 1)
            else:
                self.replay_slider.value = len(frames) - 1
        self.replay_slider.disabled = False

    def _show_replay(self, i: int) -> None:
        frames = self.ctl.replay_frames
        if frames and 0 <= i < len(frames):
            self._replay_index = i
            self._render_embedding(frames[i], replay=True)

    def _clear_replay(self) -> None:
        self._replay_index = None
        self.replay_slider.disabled = True
        self.replay_slider.max = 0
        self.shown.pop("embedding", None)  # the live view is drawn again

    # ------------------------------------------------------------ rendering
    def _on_change(self, ctl, what: str) -> None:
        if what in ("reset", "view"):
            self._clear_replay()
        if what == "reset":  # a new run: say so at once, the panels follow
            self.point_px = None  # the ◆ of the old run's view are not clickable
            self._rebuild_grids()
            self.shown.clear()
            self.render_status()
        if what != "step":
            return
        now = time.perf_counter()
        if not ctl.playing or now - getattr(self, "_last_render", 0.0) >= self.min_render_s:
            self._render_loss()
            self._render_grids()
            self._last_render = now
        if ctl.frames and ctl.frames[-1].iteration == ctl.iteration and self._replay_index is None:
            self._render_embedding(ctl.frames[-1])
        if ctl.reports and ctl.reports[-1][0] == ctl.iteration:
            self._render_heatmap()
            self._render_fairness()
        self.render_status()  # last: the readout changing means every panel is drawn

    def render_all(self) -> None:
        self._rebuild_grids()
        self._render_loss()
        self._render_grids()
        if self.ctl.frames and self._replay_index is None:
            self._render_embedding(self.ctl.frames[-1])
        self._render_heatmap()
        self._render_fairness()
        self.render_status()

    def render_stale(self) -> None:
        """Redraw only the panels behind what the controller has (after a throttled Play)."""
        ctl, it = self.ctl, self.ctl.iteration
        self._rebuild_grids()
        if self.shown.get("loss") != it:
            self._render_loss()
        if self.shown.get("grid") != it:
            self._render_grids()
        if ctl.frames and self._replay_index is None and self.shown.get("embedding") != ctl.frames[-1].iteration:
            self._render_embedding(ctl.frames[-1])
        if ctl.reports and self.shown.get("heatmap") != ctl.reports[-1][0]:
            self._render_heatmap()
        if ctl.reports and self.shown.get("fairness") != ctl.reports[-1][0]:
            self._render_fairness()
        self.render_status()

    def render_status(self) -> None:
        st = self.ctl.status()
        it = st["iteration"]
        self.iteration.value = f"<b style='font-size:15px'>iteration {it}</b>"
        self.shown["status"] = it
        if st["eod"] is not None:
            loss = "—" if st["loss"] is None else format(st["loss"], ".3g")
            self.readout.value = (
                f"&nbsp; loss {loss} · <abbr title='{EXPLAIN['proxy']}'>proxy @ {st['proxy_iteration']}</abbr>: "
                f"accuracy {st['accuracy']:.1f}% · <b><abbr title='{EXPLAIN['eod']}'>EOD</abbr> {st['eod']:.1f}</b> · "
                f"<abbr title='{EXPLAIN['deo_a']}'>DEO_A</abbr> {st['deo_a']:.1f} · "
                f"worst group {st['worst_group_accuracy']:.1f}%")
        else:
            self.readout.value = "&nbsp; no proxy evaluation yet"
        self.panel_note.value = "<small>" + self._panel_note(it) + "</small>"
        t = {**st["timings"], **self.timings}
        self.timing.value = ("<small>" + " · ".join(f"{k} {v:.0f}" for k, v in sorted(t.items()))
                             + f" · device {st['device']}" + ("" if not self.ctl.playing else " · playing")
                             + "</small>")
        self.error.value = (f"<span style='color:#b00'>⚠ {st['error']}</span>" if st["error"] else "")

    def _panel_note(self, it: int) -> str:
        s = self.ctl.settings
        parts = []
        for name, label in (("loss", "loss"), ("grid", "synthetic images"), ("fairness", "fairness & heatmap"),
                            ("embedding", "embedding")):
            shown = self.shown.get(name)
            if shown is None:
                continue
            lag = it - shown
            parts.append(f"{label} @ {shown}" + (f" (lag {lag})" if lag > 0 else ""))
        return ("panels show: " + " · ".join(parts)
                + f" — proxy every {s.proxy_every}, embedding every {s.refresh_every} iterations")

    def _timed(self, name: str, draw) -> None:
        import matplotlib

        t0 = time.perf_counter()
        with matplotlib.rc_context(plots.DASHBOARD_RC):
            draw()
        self.timings[f"render_{name}_ms"] = 1000 * (time.perf_counter() - t0)

    def _colour(self, target: str, i: int) -> str:
        return plots.strategy_colour(target, i)

    def _render_loss(self) -> None:
        def draw():
            fig, ax = plots.new_figure(4.2, 2.8)
            for i, (target, run) in enumerate(self.ctl.runs.items()):
                plots.plot_loss(ax, run.history, label=target, color=self._colour(target, i))
            if len(self.ctl.runs) > 1:
                ax.legend(fontsize=9)
            self.images["loss"].value = plots.fig_to_png(fig)
        self._timed("loss", draw)
        it = self.ctl.iteration
        self.shown["loss"] = it
        self.captions["loss"].value = f"<b>matching loss</b> ({self.ctl.settings.method}), iteration {it}"

    def _rebuild_grids(self) -> None:
        targets = list(self.ctl.runs)
        if list(self.grid_images) == targets:
            return
        W = self.W
        self.grid_images = {t: W.Image(format="png", layout=W.Layout(height="auto", object_fit="contain"))
                            for t in targets}
        self.grid_labels = {t: W.HTML() for t in targets}
        for img in self.grid_images.values():
            img.add_class("fairdd-grid")
        self.grid_box.children = [W.VBox([self.grid_labels[t], self.grid_images[t]]) for t in targets]

    def _render_grids(self) -> None:
        t0 = time.perf_counter()
        s = self.ctl.settings
        width = 420 if len(self.ctl.runs) == 1 else 300
        for target, run in self.ctl.runs.items():
            png, w, h = plots.grid_png(self.ctl.train.display(run.images.detach().cpu()), run.labels.cpu(),
                                       target_width=width)
            shown_w = min(w, width)
            img = self.grid_images[target]
            img.value = png
            img.layout.width = f"{shown_w}px"
            more = f", first 10 of {s.ipc} per class" if s.ipc > 10 else ""
            self.grid_labels[target].value = f"<b>{target}</b>: iteration {run.iteration}{more}"
        self.timings["render_grid_ms"] = 1000 * (time.perf_counter() - t0)
        self.shown["grid"] = self.ctl.iteration
        self.captions["grid"].value = "<b>synthetic images</b> (one row per class)"

    def _embedding_caption(self, frame=None, note: str = "") -> str:
        s = self.ctl.settings
        text = EMBEDDING_CAPTION[s.embedding]
        dist = ""
        if frame is not None and frame.distances:
            d = frame.distances
            dist = (f"<br>synthetic mean → barycenter <b>{d['barycenter']:.2f}</b> · → pooled mean "
                    f"<b>{d['pooled']:.2f}</b> (real points' typical spread {d['spread']:.2f}; embedding space)")
        head = (f"<b>embedding view</b>, class {self.ctl.train.class_names[s.view_class]!r}"
                + (f", iteration {frame.iteration}" if frame is not None else ""))
        note = f"<br><i>{note}</i>" if note else ""
        return f"{head}<br><small style='color:#555'>{text}{dist}</small>{note}"

    def _render_embedding(self, frame, *, replay: bool = False) -> None:
        def draw():
            fig, ax = plots.new_figure(4.8, 3.6)
            plots.plot_embedding(ax, frame, self.ctl.train.group_names)
            self._ring_point(ax, frame)
            ax.set_title(("replay: " if replay else "") + f"{frame.kind.upper()}, iteration {frame.iteration}")
            ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1, 0.5))
            self.images["embedding"].value, self.pixel_maps["embedding"] = picking.render_png(fig, ax)
        self._timed("embedding", draw)
        self._record_points(frame)
        self.shown["embedding"] = frame.iteration
        if self.inspect["point"].value is not None and not replay:
            self._render_point()  # the picked point's image at the live iteration
        note = "" if self._umap_ready or self.ctl.settings.embedding == "umap" else \
            "UMAP is warming up (≈20 s); PCA meanwhile."
        caption = self._embedding_caption(frame, note=note)
        self.captions["embedding"].value = ("<b style='color:#a60'>replay</b> (slider) — " + caption) if replay else caption

    def _ring_point(self, ax, frame) -> None:
        """Ring the synthetic point picked under the view ("inspect ◆") and label it."""
        i = self.inspect["point"].value if hasattr(self, "inspect") else None
        syn = frame.extra_xy[[k == "synthetic" for k in frame.extra_kind]]  # (ipc, 2)
        if i is None or i >= len(syn):
            return
        ax.scatter(*syn[i], s=260, facecolors="none", edgecolors="#D55E00", linewidths=2.2, zorder=5)
        ax.annotate(f"◆ {i}", syn[i], textcoords="offset points", xytext=(8, 8), fontsize=10, color="#D55E00",
                    weight="bold", zorder=6)

    def _majority(self):
        return self.ctl.train.cell_counts().argmax(1).tolist()  # (C,)

    def _render_heatmap(self) -> None:
        if self.ctl.report is None:
            return
        it = self.ctl.reports[-1][0]

        def draw():
            fig, ax = plots.new_figure(4.8, 3.8)
            plots.plot_group_heatmap(ax, self.ctl.report.by_group, majority=self._majority(), fontsize=9,
                                     title=f"{self.ctl.settings.target}: proxy @ {it}")
            self.images["heatmap"].value, self.pixel_maps["heatmap"] = picking.render_png(fig, ax)
        self._timed("heatmap", draw)
        self.shown["heatmap"] = it
        if self.inspect["cell_class"].value is not None and self.inspect["cell_group"].value is not None:
            self._render_cell()  # the picked cell follows the new proxy evaluation
        self.captions["heatmap"].value = (f"<b>accuracy per (class, group) %</b>, proxy @ {it}"
                                          "<br><small style='color:#555'>white box: the class's majority colour "
                                          "in training. A bright box in a dark row = the class is learned for "
                                          "its majority colour only.</small>")

    def _floors(self) -> dict:
        from ..viz.noise_floor import report_noise_floor

        cache = self.__dict__.setdefault("_floor_cache", {})
        out = {}
        for target, reports in self.ctl.reports_by.items():
            its, lo, hi = [], [], []
            for it, r in reports:
                key = (id(r), target)
                if key not in cache:
                    cache[key] = report_noise_floor(r, n_draws=400, seed=it)
                nf = cache[key]
                its.append(it)
                lo.append(nf.eod_band[0])
                hi.append(nf.eod_band[1])
            out[target] = (its, lo, hi)
        return out

    def _render_fairness(self) -> None:
        if not self.ctl.reports:
            return
        it = self.ctl.reports[-1][0]

        def draw():
            import matplotlib.pyplot as plt

            fig, axes = plt.subplots(1, 2, figsize=(7.4, 3.4))
            plots.plot_fairness(axes, self.ctl.curves(), floors=self._floors())
            fig.tight_layout(rect=(0, 0.12, 1, 1))
            self.images["fairness"].value = plots.fig_to_png(fig)
        self._timed("fairness", draw)
        self.shown["fairness"] = it
        names = " vs ".join(self.ctl.runs)
        self.captions["fairness"].value = (
            f"<b>fairness over time</b> ({names}), proxy evaluations up to iteration {it}"
            "<br><small style='color:#555'>Shaded: the EOD a perfectly fair model of the same accuracy would "
            "show on this test set by chance (5–95 %); a curve inside the band is as fair as can be measured."
            "</small>")

    def _ipython_display_(self) -> None:  # pragma: no cover - notebook only
        from IPython.display import display

        display(self.widget)
