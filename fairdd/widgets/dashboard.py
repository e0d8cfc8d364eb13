"""The live distillation dashboard: ipywidgets views over a ``DistillController``.

The view is a list of panels (``fairdd.widgets.panels``: synthetic images, fairness over time,
embedding, heatmap, loss), each redrawn when the controller event it follows arrives, as a small SVG
chart whose data the kernel sends (``fairdd.widgets.chart``) — milliseconds per update instead of a
matplotlib PNG. At 1280×720 the first screen holds the images, the fairness chart and the embedding;
the controls sit in a sidebar of tabs (run · view · inspect · details); ``presenter=True`` (or the
view tab's toggle) enlarges every font for a projector.

Step, Step ×10 and Play go through one loop (an asyncio task that yields between steps), so Pause
stops any of them. In a notebook or under Voila, proxy evaluations run in a background thread
(``DistillController.background``): the controls never wait for them, and every panel says which
iteration its numbers are from. A refused setting puts its widget back; its error stays on screen until
that kind of action succeeds (``DistillController.errors``). Group edits are staged and applied once.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import html
import threading
import time

import torch

from ..config import METHODS, PRESETS
from ..data import DATASETS
from ..targets import STRATEGIES
from . import layout
from .background import release_omp_pool
from .controller import QUICK, DistillController, dataset_availability

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
QUICK_NOTE = (" A quick proxy (the first of a new run: {models} network, {epochs} epochs) is shown at once and "
              "replaced by the full one of the same iteration.").format(**QUICK)


class Dashboard:
    """``Dashboard(**settings).widget`` is the whole UI; ``Dashboard(controller=ctl)`` wraps one.

    ``workshop=True`` hides the settings that stall a CPU (paper preset; dc/dsa/idc/cafe without a GPU)
    and shows groups as checkboxes. ``presenter=True`` starts with large fonts. ``warm_umap`` compiles
    UMAP in a background thread after the widgets show (the UMAP toggle is enabled when it is done).
    Datasets whose files are missing are listed as "unavailable", with the reasons under "details".
    """

    min_render_s = 0.5  # while playing, redraw the throttled panels (images, loss) at most this often

    def __init__(self, controller: DistillController | None = None, *, workshop: bool = False,
                 presenter: bool = False, warm_umap: bool = True, **settings) -> None:
        import ipywidgets as W

        from .panels import panels

        self.W, self.workshop = W, workshop
        self.timings: dict[str, float] = {}
        self._reverting = False
        self._task = None
        self._ui_thread = threading.current_thread()
        self._deferred: collections.deque = collections.deque()  # controller events from the step thread
        self._stepper = None  # a thread for Play's steps (set where an event loop runs)
        self._inflight = None  # the step running there (a concurrent.futures.Future), if any
        self._play_gen = 0  # each Play loop's number: a loop whose number is not the last one stops
        self._availability = None  # the datasets' file check running in the step thread, if any
        self._last_render = 0.0
        self.replay_index: int | None = None
        self.picked_point: int | None = None
        self._workers = self._start_workers() if controller is None or controller.background is None else (None, None)
        self.ctl = controller or DistillController(**settings)
        self.presenter, self.sidebar_shown = presenter, not presenter  # a projector hides the settings at first
        self._use_background()
        self._build_controls(self.ctl.settings)
        self._build_buttons()
        self._build_status()
        self.panels = {cls.name: cls(self) for cls in panels()}
        self._build_inspectors()
        self.widget = self._layout()
        self.ctl.on_change(self._on_change)
        self._umap_ready = not warm_umap
        self.controls["embedding"].disabled = warm_umap
        self._initial_views()
        self.render_all()
        # UMAP's warm-up (numba, ~6 s of CPU) in the layout worker waits for the first proxy evaluation (``_poll``):
        # both are idle-class and would share the spare CPU, delaying the first numbers by seconds
        self._warm_later = warm_umap and self.ctl.layouts is not None
        self._warming = self._start_umap_warm_up() if warm_umap and not self._warm_later else None

    # ----------------------------------------------------------- building
    @property
    def sizes(self) -> dict:
        """Each panel's box for the current mode, sidebar and number of runs (``fairdd.widgets.layout``)."""
        return layout.sizes(presenter=self.presenter, sidebar=self.sidebar_shown, runs=len(self.ctl.runs))

    @property
    def font(self) -> int:
        """The chart text size in px for the current mode."""
        return self.sizes["font"]

    @staticmethod
    def _start_workers():
        """Start the worker processes now, in an event loop: proxy evaluations, and UMAP layouts.

        They import PyTorch while the kernel builds the data and the widgets (the first proxy evaluation then
        waits for no start-up). Returns ``(proxy pool, layout pool)``, or ``(None, None)`` outside a loop.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return None, None
        from .background import proxy_executor, worker_info

        pools = proxy_executor(), proxy_executor(workers=1)
        for pool in pools:
            pool.submit(worker_info)
        return pools

    def _use_background(self) -> None:
        """Run proxy evaluations, UMAP and steps off the UI thread in a notebook or under Voila.

        In a running event loop: proxy evaluations and UMAP layouts in worker processes of lower priority
        (``fairdd.widgets.background``), polled; steps in a thread of their own.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        from concurrent.futures import ThreadPoolExecutor

        from .background import proxy_executor

        if self.ctl.background is None:
            self.ctl.background = self._workers[0] or proxy_executor()
        if self.ctl.layouts is None:
            self.ctl.layouts = self._workers[1] or proxy_executor(workers=1)
        self._stepper = ThreadPoolExecutor(1, thread_name_prefix="fairdd-step")
        self._poller = loop.create_task(self._poll())

    async def _poll(self) -> None:
        """Take in background proxy results while idle (Play's loop takes them in between steps).

        The result is taken in in the step thread (its embedding refresh runs the proxy network: the UI
        thread never computes), then drawn here.
        """
        while True:
            await asyncio.sleep(0.2)
            if self._availability is not None and self._availability.done():
                self._show_availability(self._availability.result())
            if self._warm_later and self.ctl.report is not None:
                self._warm_later, self._warming = False, self._start_umap_warm_up()
            if self._warming is not None and self._warming.done():
                self._umap_warmed(self._warming)
            if not self.ctl.playing and self.ctl.result_waiting and (self._inflight is None or self._inflight.done()):
                job = self._inflight = self._stepper.submit(self.ctl.collect)
                await asyncio.wrap_future(job)
                if not self.ctl.playing:  # a Play started meanwhile draws it itself
                    self._flush()

    def _show_availability(self, found: dict) -> None:
        """Label the datasets whose files are missing (the check ran after the page showed)."""
        self._availability = None
        w = self.controls["dataset"]
        self._reverting = True
        try:
            value = w.value
            w.options = self._dataset_options(value, found)
            w.value = value
        finally:
            self._reverting = False
        self.unavailable_note.value = self._unavailable_html()

    def _html(self, cls: str):
        w = self.W.HTML()
        w.add_class(cls)
        return w

    def _class_options(self):
        return [(n, i) for i, n in enumerate(self.ctl.train.class_names)]

    def _dataset_options(self, current: str, found: dict | None = None) -> list:
        """Return every dataset; those whose files are missing labelled "unavailable" (reasons kept for details).

        In an event loop the files are checked in the step thread after the page shows (``_poll`` labels
        them): the check loads each test split, a large part of the page load otherwise.
        """
        if self.ctl.given_data:  # datasets passed in: nothing to choose from
            self.unavailable = {}
            return [("the datasets passed in", current)]
        if found is None and self._stepper is not None:
            self._availability = self._inflight = self._stepper.submit(dataset_availability)  # actions wait for it
            found = {}
        found = dataset_availability() if found is None else found
        self.unavailable = {n: a.reason for n, a in found.items() if not a.available and n != current}
        return [(f"{n} — unavailable (see details)" if n in self.unavailable else n, n) for n in DATASETS]

    def _build_controls(self, s) -> None:
        W = self.W
        gpu = torch.cuda.is_available()
        devices = ["auto", "cpu"] + (["cuda"] if gpu else [])
        methods = list(METHODS) if (gpu or not self.workshop) else ["dm"]
        presets = [p for p in PRESETS if not (self.workshop and p == "paper")]
        targets = [t for t, cls in STRATEGIES.items() if not cls.reads("mix")]  # cobra-mix: the trade-off explorer's
        kw = {"layout": W.Layout(width="280px"), "style": {"description_width": "105px"}}
        slider = {"continuous_update": False, **kw}
        self.controls = {
            "dataset": W.Dropdown(options=self._dataset_options(s.dataset), value=s.dataset, description="dataset",
                                  **kw),
            "bias": W.FloatSlider(value=0.9 if s.bias is None else s.bias, min=0.1, max=1.0, step=0.05,
                                  description="majority share", tooltip=EXPLAIN["bias"], **slider),
            "severity": W.IntSlider(value=s.severity or 0, min=0, max=5, description="separation",
                                    tooltip=EXPLAIN["severity"], **slider),
            "method": W.Dropdown(options=methods, value=s.method, description="method", **kw),
            "target": W.Dropdown(options=targets, value=s.target, description="target", **kw),
            "compare": W.SelectMultiple(options=targets, value=tuple(s.compare), rows=3,
                                        description="compare with", **kw),
            "ipc": W.BoundedIntText(value=s.ipc, min=1, max=100, description="IPC", **kw),
            "preset": W.Dropdown(options=presets, value=s.preset, description="preset", **kw),
            "device": W.Dropdown(options=devices, value=s.device if s.device in devices else "auto",
                                 description="device", **kw),
            "view_class": W.Dropdown(options=self._class_options(), value=s.view_class, description="view class",
                                     **kw),
            "embedding": W.ToggleButtons(options=[("PCA", "pca"), ("UMAP", "umap")], value=s.embedding,
                                         description="embedding",
                                         style={"button_width": "70px", "description_width": "105px"}),
            "proxy_every": W.BoundedIntText(value=s.proxy_every, min=1, max=10_000, description="proxy every",
                                            tooltip=EXPLAIN["proxy"], **kw),
        }
        for name, w in self.controls.items():
            w.observe(self._on_control(name), names="value")
            w.add_class(f"fairdd-{name}")
        self.presenter_toggle = W.Checkbox(value=self.presenter, description="presenter (large fonts)", indent=False)
        self.presenter_toggle.add_class("fairdd-presenter-toggle")
        self.presenter_toggle.observe(lambda ch: self.set_presenter(ch["new"]), names="value")
        self.presenter_button = W.ToggleButton(value=self.presenter, description="presenter", layout=W.Layout(width="auto"),
                                               tooltip="large fonts for a projector; the settings fold away")
        self.settings_button = W.ToggleButton(value=self.sidebar_shown, description="settings", layout=W.Layout(width="auto"),
                                              tooltip="show or hide the settings sidebar")
        W.link((self.presenter_button, "value"), (self.presenter_toggle, "value"))
        self.settings_button.observe(lambda ch: self.set_sidebar(ch["new"]), names="value")
        for name, w in (("presenter-button", self.presenter_button), ("settings-button", self.settings_button)):
            w.add_class(f"fairdd-{name}")
        self.groups_widget = W.VBox()
        self.groups_widget.add_class("fairdd-groups-box")
        self.apply_groups = W.Button(description="apply groups (restarts)", disabled=True,
                                     layout=W.Layout(width="200px"))
        self.apply_groups.add_class("fairdd-apply-groups")
        self.apply_groups.on_click(lambda _: self.apply_group_edits())
        self._build_groups(s)

    def _build_buttons(self) -> None:
        W = self.W
        self.buttons = {name: W.Button(description=label, layout=W.Layout(width="auto", padding="0 12px"))
                        for name, label in (("step", "Step"), ("step10", "Step ×10"), ("play", "Play"),
                                            ("pause", "Pause"), ("reset", "Reset"), ("replay", "Replay"))}
        actions = {"step": lambda: self.step(1), "step10": lambda: self.step(10), "play": self.play,
                   "pause": self.pause, "reset": self.reset, "replay": self.replay}
        for name, b in self.buttons.items():
            b.on_click(lambda _, act=actions[name]: act())
            b.add_class(f"fairdd-{name}")

    def _build_status(self) -> None:
        W = self.W
        for name in ("busy", "iteration", "panel_note", "error", "timing", "unavailable_note"):
            setattr(self, name, self._html(f"fairdd-{name.replace('_', '-')}"))
        self.panel_note.add_class("fairdd-panels")
        self.readout = self._html("fairdd-eod")
        for w in (self.panel_note, self.readout, self.error, self.busy):
            w.add_class("fairdd-line")  # one line each (cut with "…"): the layout's budget holds
        self.unavailable_note.value = self._unavailable_html()
        self.replay_slider = W.IntSlider(value=0, min=0, max=0, description="replay", disabled=True,
                                         layout=W.Layout(width="360px", min_width="360px", display="none"))
        self.replay_slider.add_class("fairdd-replay-slider")
        self.replay_slider.observe(lambda ch: self._show_replay(ch["new"]), names="value")

    def _unavailable_html(self) -> str:
        if not self.unavailable:
            return ""
        rows = "".join(f"<li><b>{n}</b>: {html.escape(r)}</li>" for n, r in self.unavailable.items())
        return f"<small>Datasets marked unavailable (their files are not here):<ul>{rows}</ul></small>"

    def _sidebar(self):
        W, c = self.W, self.controls
        small = lambda text: W.HTML(f"<small style='color:#555'>{text}</small>")  # noqa: E731
        run = W.VBox([small("Changing these <b>restarts the run</b> (iteration 0):"), c["dataset"], self.groups_widget,
                      c["bias"], c["severity"], c["method"], c["target"], c["compare"], c["ipc"], c["preset"],
                      c["device"]])
        view = W.VBox([small("View only (never restarts):"), c["view_class"], c["embedding"], c["proxy_every"],
                       self.presenter_toggle, small(EXPLAIN["bias"])])
        inspect = W.VBox([self.inspect_box["point"], self.inspect_box["cell"]])
        details = W.VBox([small(f"<b>EOD</b>: {EXPLAIN['eod']} <b>DEO_A</b>: {EXPLAIN['deo_a']} "
                                f"<b>proxy @ N</b>: {EXPLAIN['proxy']}"), self.timing, self.unavailable_note])
        tabs = W.Tab(children=[run, view, inspect, details])
        for i, title in enumerate(("run", "view", "inspect", "details")):
            tabs.set_title(i, title)
        tabs.add_class("fairdd-sidebar")
        self.tabs = tabs
        return tabs

    def _layout(self):
        W = self.W
        row = lambda slot: W.HBox([p.widget for p in self.panels.values() if p.slot == slot],  # noqa: E731
                                  layout=W.Layout(flex_flow="row nowrap"))
        self.sidebar = self._sidebar()
        self.sidebar.layout.display = None if self.sidebar_shown else "none"
        title = W.HTML("<b style='font-size:1.15em'>fairdd — live distillation</b>&nbsp;")
        title.add_class("fairdd-title")
        header = W.HBox([title, *self.buttons.values(), self.settings_button, self.presenter_button, self.iteration,
                         self.busy])
        header.add_class("fairdd-header")
        note = W.HBox([self.replay_slider, self.panel_note])
        widget = W.VBox([W.HTML(layout.CSS), header, self.readout, self.error, note,
                         W.HBox([self.sidebar, W.VBox([row("top"), row("bottom")])])])
        widget.add_class("fairdd-dashboard")
        if self.presenter:
            widget.add_class("fairdd-presenter")
        return widget

    def set_presenter(self, on: bool) -> None:
        """Switch to large fonts for a projector (or back).

        The settings fold away (the "settings" button shows them) and every panel is redrawn in its box for
        the new mode.
        """
        self.presenter = on
        (self.widget.add_class if on else self.widget.remove_class)("fairdd-presenter")
        if self.settings_button.value == on:
            self.settings_button.value = not on  # redraws through set_sidebar
        else:
            self._refit()

    def set_sidebar(self, on: bool) -> None:
        """Show or hide the settings sidebar; the panels take the room it leaves (redrawn in their new boxes)."""
        self.sidebar_shown = on
        self.sidebar.layout.display = None if on else "none"
        self._refit()

    def _refit(self) -> None:
        for p in self.panels.values():
            p.update(force=True)

    def _group_names(self, s) -> tuple[list[str], bool]:
        """Return the groups to show and whether they can be chosen.

        A colour set's whole palette (choosable), else the dataset's own groups (race, gender, grayscale/colour...:
        fixed by the dataset).
        """
        from .. import datasets

        if self.ctl.given_data or "groups" not in datasets.options(s.dataset):
            return list(self.ctl.train.group_names), False
        palettes = self.__dict__.setdefault("_palettes", {})
        key = (s.dataset, s.n_groups)
        if s.groups is None:  # every colour kept: the data names its palette
            palettes[key] = list(self.ctl.train.group_names)
        elif key not in palettes:  # a subset kept from the start: read the whole palette once
            palettes[key] = list(datasets.load(s.dataset, split="test", n_groups=s.n_groups).group_names)
        return palettes[key], True

    def _build_groups(self, s) -> None:
        """(Re)build the groups control for the current dataset (after every restart).

        Edits are staged: "apply groups" restarts the run once for any number of ticks.
        """
        W = self.W
        names, choosable = self._group_names(s)
        chosen = set(s.groups or names) if choosable else set(names)
        self._groups_choosable = choosable
        title = "groups (colours kept)" if choosable else "groups (fixed by the dataset)"
        old = self.controls.pop("groups", None)
        if old is not None:
            old.close()
        self.group_boxes = {}
        if self.workshop or not choosable:
            self.group_boxes = {n: W.Checkbox(value=n in chosen, description=n, indent=False, disabled=not choosable,
                                              tooltip=n,  # a long name is cut with "…": whole on hover
                                              layout=W.Layout(width="auto" if not choosable else "80px"))
                                for n in names}
            for box in self.group_boxes.values():
                box.observe(self._on_groups, names="value")
            columns = "repeat(3, 80px)" if choosable else "repeat(2, auto)"
            grid = W.GridBox(list(self.group_boxes.values()), layout=W.Layout(grid_template_columns=columns))
            self.groups_widget.children = [W.HTML(f"<small>{title}</small>"), grid] + (
                [self.apply_groups] if choosable else [])
        else:
            self.controls["groups"] = W.SelectMultiple(options=names, value=tuple(n for n in names if n in chosen),
                                                       description="groups", rows=3, layout=W.Layout(width="280px"),
                                                       style={"description_width": "105px"})
            self.controls["groups"].observe(self._on_groups, names="value")
            self.controls["groups"].add_class("fairdd-groups")
            self.groups_widget.children = [self.controls["groups"], self.apply_groups]
        self.apply_groups.disabled = True
        self._groups_key = (s.dataset, s.n_groups)

    def staged_groups(self) -> tuple | None:
        """Return the groups ticked now (``None`` = all), applied or not."""
        if "groups" in self.controls:
            w = self.controls["groups"]
            chosen = tuple(w.value)
            return None if len(chosen) == len(w.options) else chosen
        chosen = tuple(n for n, b in self.group_boxes.items() if b.value)
        return None if len(chosen) == len(self.group_boxes) else chosen

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
        self.apply_groups.disabled = self.staged_groups() == self.ctl.settings.groups

    def apply_group_edits(self) -> None:
        """Apply the staged group ticks: one restart however many boxes changed."""
        value = self.staged_groups()
        with self._working("groups"):
            try:
                self.ctl.set(groups=value)
            except ValueError:
                self._show_groups(self.ctl.settings.groups)
                self.render_status()
                return
            self._initial_views()
            self.render_all()
        self.apply_groups.disabled = True

    def _show_groups(self, groups) -> None:
        self._reverting = True
        try:
            if "groups" in self.controls:
                w = self.controls["groups"]
                w.value = tuple(w.options) if groups is None else tuple(groups)
            for n, b in self.group_boxes.items():
                b.value = groups is None or n in groups
        finally:
            self._reverting = False
        self.apply_groups.disabled = True

    def _build_inspectors(self) -> None:
        """"Inspect" pickers.

        A synthetic point ◆ → its image (ringed in the embedding view); a (class, group) cell → its test images with
        the proxy networks' answers. A click on a ◆ or a heatmap cell picks it here (the keyboard path and the
        pointer path are one).
        """
        W = self.W
        kw = {"layout": W.Layout(width="200px"), "style": {"description_width": "70px"}}
        self.inspect = {"point": W.Dropdown(description="inspect ◆", **kw),
                        "cell_class": W.Dropdown(description="cell: class", **kw),
                        "cell_group": W.Dropdown(description="group", **kw)}
        self.inspect_images = {"point": W.Image(format="png", layout=W.Layout(width="96px", height="auto",
                                                                             object_fit="contain", display="none"))}
        self.inspect_cell = W.HTML()  # the picked cell's test images, each with its answers under it
        self.inspect_cell.add_class("fairdd-inspect-cell-images")
        self.inspect_captions = {k: self._html(f"fairdd-inspect-{k}-caption") for k in ("point", "cell")}
        for name, w in self.inspect.items():
            w.add_class(f"fairdd-inspect-{name.replace('_', '-')}")
            w.observe(self._on_inspect, names="value")
        for name, img in self.inspect_images.items():
            img.add_class(f"fairdd-inspect-{name}-image")
        self.inspect_box = {
            "point": W.VBox([W.HBox([self.inspect["point"], self.inspect_images["point"]]),
                             self.inspect_captions["point"]]),
            "cell": W.VBox([self.inspect["cell_class"], self.inspect["cell_group"], self.inspect_captions["cell"],
                            self.inspect_cell]),
        }
        self._inspect_options()
        self._render_point()
        self._render_cell()

    def pick_point(self, i: int) -> None:
        """Pick the main run's ◆ ``i`` (a click in the embedding view): the same path as the drop-down."""
        if i in [v for _, v in self.inspect["point"].options] and not self.inspect["point"].disabled:
            self.inspect["point"].value = i
            self._show_inspect()

    def pick_cell(self, c: int, a: int) -> None:
        """Pick the (class, group) cell (a click on the heatmap): one redraw, not one per drop-down."""
        cls, group = self.inspect["cell_class"], self.inspect["cell_group"]
        if cls.disabled:
            return
        self._reverting = True
        try:
            cls.value, group.value = c, a
        finally:
            self._reverting = False
        self._render_cell()
        self._show_inspect()

    def _show_inspect(self) -> None:
        """Open the inspect tab, unfolding the settings sidebar where it was folded (presenter mode)."""
        self.tabs.selected_index = 2
        if not self.sidebar_shown:
            self.settings_button.value = True  # through set_sidebar: the panels are redrawn in their new boxes

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
        self.picked_point = self.inspect["point"].value

    def _on_inspect(self, change) -> None:
        if self._reverting:
            return
        if change["owner"] is self.inspect["point"]:
            self.picked_point = change["new"]
            self.panels["embedding"].update()
            self._render_point()
        else:
            self._render_cell()

    def _render_point(self) -> None:
        from ..viz import plots

        i = self.inspect["point"].value
        self.inspect_images["point"].layout.display = "none" if i is None else None
        if i is None:
            self.inspect_images["point"].value = b""
            self.inspect_captions["point"].value = "<small>pick a synthetic point ◆ (or click one) to see its image</small>"
            return
        img = self.ctl.synthetic_image(i)  # (c, h, w)
        self.inspect_images["point"].value = plots.grid_png(img[None], torch.zeros(1, dtype=torch.long),
                                                            target_width=96)[0]
        s = self.ctl.settings
        self.inspect_captions["point"].value = (
            f"<small>◆ {i}: synthetic image {i} of class {self.ctl.train.class_names[s.view_class]!r} "
            f"({s.target}), iteration {self.ctl.iteration}; ringed in the embedding view</small>")

    def _render_cell(self) -> None:
        c, a = self.inspect["cell_class"].value, self.inspect["cell_group"].value
        if c is None or a is None or not self.ctl.proxy_nets:
            self.inspect_cell.value = ""
            self.inspect_captions["cell"].value = ("<small>pick a heatmap cell (class and group, or click it) to "
                                                   "see its test images with the proxy networks' answers</small>")
            return
        ex = self.ctl.cell_examples(c, a)
        self._timed("cell", lambda: self._draw_cell(ex, c))
        names, m = self.ctl.test.class_names, ex["predicted"].shape[0]
        n = int(((self.ctl.test.labels == c) & (self.ctl.test.groups == a)).sum())
        self.inspect_captions["cell"].value = (
            f"<small>cell ({names[c]!r}, {self.ctl.test.group_names[a]!r}): the first {len(ex['index'])} of "
            f"{n} test images; under each: the last proxy network's answer and how many of the {m} proxy networks "
            f"got it right (proxy @ {ex['iteration']}, {self.ctl.settings.target})</small>")

    def _draw_cell(self, ex: dict, c: int) -> None:
        """Show the cell's test images as HTML: each image (a small PNG, pixels kept square) with its answers under it.

        No figure is drawn: a picked cell follows every proxy evaluation, on the UI thread.
        """
        import base64

        from ..viz import plots

        names, m = self.ctl.test.class_names, ex["predicted"].shape[0]
        items = []
        for j, img in enumerate(ex["images"]):
            png = plots.grid_png(img[None], torch.zeros(1, dtype=torch.long), scale=1)[0]
            right = int(ex["right"][j])
            mark, colour = ("✓", "#060") if right == m else ("✗", "#b00") if right == 0 else ("~", "#b60")
            answer = html.escape(str(names[int(ex["predicted"][-1, j])]))
            items.append(f"<figure class='fairdd-cell-example'><img class='fairdd-inspect-cell-image' "
                         f"src='data:image/png;base64,{base64.b64encode(png).decode()}' alt='test image "
                         f"{int(ex['index'][j])}'><figcaption style='color:{colour}'>{answer}<br>{mark} {right}/{m}"
                         "</figcaption></figure>")
        self.inspect_cell.value = f"<div class='fairdd-cell-examples'>{''.join(items)}</div>"

    def _start_umap_warm_up(self):
        """Compile UMAP (numba, about 6 s of CPU) where the layouts run: the layout worker, else a thread here.

        Returns the job (a ``concurrent.futures.Future``); the embedding toggle is enabled when it is done
        (``_poll`` in a loop, the thread itself otherwise).
        """
        from concurrent.futures import Future

        from ..viz.embedding import warm_up_umap

        if self.ctl.layouts is not None:
            try:
                return self.ctl.layouts.submit(warm_up_umap)
            except Exception:  # noqa: BLE001 - a worker that cannot start: UMAP here (``_elsewhere`` does too)
                self.ctl.layouts = None
        job = Future()

        def warm() -> None:
            try:
                job.set_result(warm_up_umap())
            except Exception as exc:  # noqa: BLE001 - shown on the toggle
                job.set_exception(exc)
            self._umap_warmed(job)

        threading.Thread(target=warm, daemon=True).start()
        return job

    def _umap_warmed(self, job) -> None:
        """Enable the UMAP toggle after its warm-up (or say on the toggle why UMAP is unavailable)."""
        from concurrent.futures.process import BrokenProcessPool

        self._warming = None
        try:
            self.timings["umap_warmup_ms"] = 1000 * job.result()
        except BrokenProcessPool:  # the layout worker died or never started: UMAP runs here instead
            self.ctl.layouts = None
            self._warming = self._start_umap_warm_up()
            return
        except Exception as exc:  # noqa: BLE001 - UMAP stays off, PCA works
            self.timings["umap_warmup_error"] = 0.0
            self.controls["embedding"].tooltip = f"UMAP unavailable: {exc}"
            return
        self._umap_ready = True
        self.controls["embedding"].disabled = self.ctl.playing

    @contextlib.contextmanager
    def _working(self, what: str):
        """Show "working…" and disable the buttons and controls for a long action (after the step in flight).

        An action taken while playing (a setting changed, the groups applied) stops Play first, as Pause does.
        """
        if self.ctl.playing:
            self.pause()
        self._settle()
        self.busy.value = f"<span style='color:#a60'>⏳ working… ({what})</span>"
        self._enable(False)
        try:
            yield
        finally:
            self._enable(True)
            self.busy.value = ""  # last: an empty indicator means everything is drawn and enabled

    def _inapplicable(self) -> set:
        """Return the data controls that mean nothing to the running data.

        Given data: every one. Otherwise the majority share where the dataset's record declares no imbalance knob
        (``DatasetRecord.imbalance``: ``bias``, cifar10-s's ``skew``, a registered dataset's own).
        """
        from .. import datasets

        if self.ctl.given_data:
            return {"dataset", "bias", "severity"}
        name = self.ctl.settings.dataset
        knob = datasets.imbalance_knob(name, strict=False)
        return set() if knob is not None and knob in datasets.options(name) else {"bias"}

    def _enable(self, on: bool, *, keep_pause: bool = False) -> None:
        off = self._inapplicable()
        for name, w in self.controls.items():
            w.disabled = (not on) or (name == "embedding" and not self._umap_ready) or name in off
        for box in self.group_boxes.values():
            box.disabled = not on or not self._groups_choosable
        self.apply_groups.disabled = not on or self.staged_groups() == self.ctl.settings.groups
        for w in getattr(self, "inspect", {}).values():
            w.disabled = not on
        self._enable_buttons(on, keep_pause=keep_pause)  # last: Step enabled again means the controls are too

    def _enable_buttons(self, on: bool, *, keep_pause: bool = False) -> None:
        for name, b in self.buttons.items():
            b.disabled = not on and not (keep_pause and name == "pause")

    # ----------------------------------------------------------- controls
    def _on_control(self, name: str):
        def handler(change) -> None:
            if self._reverting:
                return
            with self._working(name):
                try:
                    self.ctl.set(**{name: change["new"]})
                except ValueError:
                    self._revert(name, change["old"])
                    self.render_status()  # nothing else changed
                    return
                if name not in ("view_class", "embedding", "proxy_every"):  # a restart
                    self._initial_views()
                    self.render_all()
                else:
                    self.render_status()
        return handler

    def _revert(self, name: str, old) -> None:
        self._reverting = True
        try:
            self.controls[name].value = old
        finally:
            self._reverting = False

    def _initial_views(self) -> None:
        """Refresh what depends on the run, after a restart.

        The proxy and embedding at iteration 0 (in the background where there is one), the controls that depend on
        the data.
        """
        self.ctl.ensure_views()
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

    def _settle(self) -> None:
        """Wait for the step still running in the step thread, and draw what it changed.

        After a Pause that is at most one step; every action that reads or changes the runs starts here.
        """
        if self._inflight is not None:
            self._inflight.result()
        self.ctl.cancel_step = False
        self._flush()

    def _flush(self) -> None:
        """Take in the controller events that arrived from the step thread, here on the UI thread.

        Each panel redraws once for any number of them (coalesced).
        """
        events = []
        while self._deferred:
            events.append(self._deferred.popleft())
        for what in dict.fromkeys(events):
            self._on_change(self.ctl, what)

    def step(self, n: int = 1):
        """Take ``n`` steps through Play's loop (Pause stops it).

        Returns the asyncio task in a notebook, the number of steps done in plain Python.
        """
        return self.play(max_steps=n)

    def reset(self) -> None:
        """Restart the run with the current settings (the Reset button)."""
        with self._working("reset"):
            try:
                self.ctl.reset()
            except Exception as exc:  # noqa: BLE001 - shown
                self.ctl.error = f"reset failed: {type(exc).__name__}: {exc}"
            self._initial_views()
            self.render_all()  # inside: "working…" goes away only once the panels are drawn

    def play(self, max_steps: int | None = None):
        """Step until Pause (or ``max_steps``).

        In a notebook this schedules an asyncio task that yields between steps and returns it; without a running
        loop it steps here and returns the count.
        """
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
        self._settle()
        self._play_gen += 1  # a loop still waiting for its last step stops, even before this one starts
        self.ctl.playing = True
        self._task = loop.create_task(self.play_async(max_steps))
        return self._task

    def _begin_play(self, max_steps: int | None = None) -> None:
        if self.replay_index is not None:  # stepping leaves the replay for the live view
            self._clear_replay()
        self.ctl.playing = True
        self.ctl.share_cores = max_steps is None  # Play shares the cores with the proxy worker; Step ×N does not
        # only the buttons: a setting changed while playing stops Play first (``_working``); disabling and
        # enabling every control was 42 of a Step's 55 widget messages
        self._enable_buttons(False, keep_pause=True)
        self.busy.value = "<span style='color:#060'>▶ running… (Pause stops)</span>"
        self.render_status()

    def _end_play(self) -> None:
        self._flush()
        self.ctl.playing = self.ctl.share_cores = False
        if self._inflight is None or self._inflight.done():  # else the cancelled step's end would race it
            self.ctl.catch_up_proxy()
        self.render_stale()  # every panel at the last iteration (or its last proxy/embedding, labelled)
        self._enable(True)
        self.busy.value = ""

    def _play_sync(self, max_steps: int) -> int:
        self._begin_play(max_steps)
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
        """Step while playing (or ``max_steps``).

        With a step thread, each step runs there while the UI thread draws the newest state of the one
        before (coalesced) and stays free for Pause; without one, the steps run here, yielding to the event
        loop between them.
        """
        self._begin_play(max_steps)
        gen = self._play_gen = self._play_gen + 1
        done = 0
        more = lambda: self.ctl.playing and gen == self._play_gen and (max_steps is None or done < max_steps)  # noqa: E731
        try:
            if self._stepper is None:
                while more() and self.ctl.advance(1):
                    done += 1
                    await asyncio.sleep(0.005)
                return done
            job = self._inflight = self._step_elsewhere()
            while True:
                done += bool(await asyncio.wrap_future(job))
                go_on = job.result() and more()
                if gen == self._play_gen:
                    job = self._inflight = self._step_elsewhere() if go_on else None
                self._flush()  # the UI thread draws while the next step runs
                release_omp_pool()  # what the drawing started would slow the step in flight for the rest of it
                if not go_on:
                    return done
        finally:
            if gen == self._play_gen:  # a newer loop owns the UI
                self._end_play()

    def _step_elsewhere(self):
        """Submit one step to the step thread, this (UI) thread's idle OpenMP threads released first."""
        release_omp_pool()
        return self._stepper.submit(self.ctl.advance, 1)

    def pause(self) -> None:
        """Stop now (the Pause button).

        The step in flight is undone when it ends (``ctl.cancel_step``; the runs stay as they are on screen)
        and the controls show idle at once; the next action waits for that step (``_settle``), no redraw is
        waited for.
        """
        self.ctl.playing = False
        if self._inflight is not None and not self._inflight.done():
            self.ctl.cancel_step = True
            self._enable(True)
            self.busy.value = ""
        self.render_status()

    def replay(self) -> None:
        """Replay the recorded frames on the slider (the Replay button); too few frames show an error."""
        with self._working("replay"):
            try:
                frames = self.ctl.replay()
            except ValueError:  # too few frames: the controller keeps the error until a replay succeeds
                self.render_status()
                return
            self.replay_slider.max = len(frames) - 1
            if self.replay_slider.value == len(frames) - 1:
                self._show_replay(len(frames) - 1)
            else:
                self.replay_slider.value = len(frames) - 1
            self.render_status()
        self.replay_slider.disabled = False
        self.replay_slider.layout.display = None

    def _show_replay(self, i: int) -> None:
        if 0 <= i < len(self.ctl.replay_frames):
            self.replay_index = i
            self.panels["embedding"].update()

    def _clear_replay(self) -> None:
        self.replay_index = None
        self.replay_slider.disabled = True
        self.replay_slider.layout.display = "none"
        self.replay_slider.max = 0

    # ------------------------------------------------------------ rendering
    @property
    def shown(self) -> dict[str, int | None]:
        """Which iteration each panel shows (the embedding: its frame's), and the status line's."""
        out = {name: (p.shown[0] if isinstance(p.shown, tuple) else p.shown) for name, p in self.panels.items()}
        return {**out, "status": getattr(self, "_status_shown", None)}

    def _on_change(self, ctl, what: str) -> None:
        if threading.current_thread() is not self._ui_thread:  # from the step thread: drawn by _flush()
            self._deferred.append(what)
            return
        if what in ("reset", "view"):
            self._clear_replay()
        if what == "reset":  # a new run: say so at once, nothing of the old run stays on screen
            for p in self.panels.values():
                p.update(force=True)
        now = time.perf_counter()
        throttled = ctl.playing and now - self._last_render < self.min_render_s
        drew = {name: what in p.inputs and not (p.throttle and throttled) and what != "reset" and p.update()
                for name, p in self.panels.items()}
        if any(drew.values()) and not throttled:
            self._last_render = now
        if drew.get("heatmap") and None not in (self.inspect["cell_class"].value, self.inspect["cell_group"].value):
            self._render_cell()  # the picked cell follows the new proxy evaluation
        if what == "step" and self.picked_point is not None and self.replay_index is None:
            self._render_point()  # the picked point's image at the live iteration
        self.render_status()  # last: the readout changing means every panel is drawn

    def render_all(self) -> None:
        """Redraw every panel and the status line."""
        for p in self.panels.values():
            p.update(force=True)
        self.render_status()

    def render_stale(self) -> None:
        """Redraw only the panels behind what the controller has (after a throttled Play)."""
        for p in self.panels.values():
            p.update()
        self.render_status()

    @staticmethod
    def _readout(st: dict) -> str:
        from ..report import shown

        parts = []
        for target, r in st["runs"].items():
            loss = "—" if r["loss"] is None else format(r["loss"], ".3g")
            if r["eod"] is None:
                parts.append(f"<b>{target}</b>: loss {loss} · no proxy evaluation yet")
                continue
            why = r.get("undefined", {})
            v = {k: shown(r[k], why.get(k), ".1f") + ("%" if "accuracy" in k and r[k] == r[k] else "")  # NaN: no %
                 for k in ("accuracy", "eod", "deo_a", "worst_group_accuracy")}
            quick = "quick " if r.get("proxy_quick") else ""
            parts.append(
                f"<b>{target}</b>: loss {loss} · <abbr title='{EXPLAIN['proxy']}{QUICK_NOTE if quick else ''}'>"
                f"{quick}proxy @ {r['proxy_iteration']}</abbr>: "
                f"accuracy {v['accuracy']} · <b><abbr title='{EXPLAIN['eod']}'>EOD</abbr> {v['eod']}</b> · "
                f"<abbr title='{EXPLAIN['deo_a']}'>DEO_A</abbr> {v['deo_a']} · "
                f"worst group {v['worst_group_accuracy']}")
        running = "" if st["evaluating"] is None else \
            f" · <i style='color:#a60'>evaluating proxy @ {st['evaluating']}…</i>"
        return "".join(f"<div>{p}{running if i == 0 else ''}</div>" for i, p in enumerate(parts))

    def render_status(self) -> None:
        """Show the iteration, the readout of the runs' numbers and any error."""
        st = self.ctl.status()
        it = st["iteration"]
        self.iteration.value = f"<b style='font-size:1.1em'>&nbsp;iteration {it}</b>"
        self._status_shown = it
        self.readout.value = self._readout(st)
        self.panel_note.value = "<small>" + self._panel_note(it) + "</small>"
        t = {**st["timings"], **self.timings, **{f"render_{n}_ms": p.ms for n, p in self.panels.items()}}
        self.timing.value = ("<small>" + " · ".join(f"{k} {v:.0f}" for k, v in sorted(t.items()))
                             + f" · device {st['device']}" + ("" if not self.ctl.playing else " · playing")
                             + "</small>")
        self.error.value = (f"<span style='color:#b00'>⚠ {html.escape(st['error'])}</span>" if st["error"] else "")

    def _panel_note(self, it: int) -> str:
        s = self.ctl.settings
        parts = []
        for name, shown in self.shown.items():
            if shown is None or name == "status":
                continue
            lag = it - shown
            parts.append(f"{self.panels[name].title} @ {shown}" + (f" (lag {lag})" if lag > 0 else ""))
        return ("panels show: " + " · ".join(parts)
                + f" — proxy every {s.proxy_every}, embedding every {s.refresh_every} iterations")

    def _timed(self, name: str, draw) -> None:
        t0 = time.perf_counter()
        draw()
        self.timings[f"render_{name}_ms"] = 1000 * (time.perf_counter() - t0)

    def _ipython_display_(self) -> None:  # pragma: no cover - notebook only
        from IPython.display import display

        display(self.widget)
