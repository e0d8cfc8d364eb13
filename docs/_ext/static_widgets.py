"""Interactive outputs as plain HTML, for a documentation site that must work with no network.

An executed notebook keeps each ipywidgets output as a *view* (a model id) plus the saved widget
state; drawing it needs a widget manager in JavaScript, which a static site would have to load from
a CDN. :func:`flatten_widgets` instead renders every view from its saved state into HTML the page
shows as it is: boxes as flex rows and columns, ``Output`` widgets as their captured outputs (the
figure an ``interact`` drew at its default values), ``Image`` widgets as inline PNGs, anywidgets (the dashboard's charts) drawn by their own saved
JavaScript, and controls as disabled form elements showing their default values. The reader sees the default view; moving the
controls needs a running notebook, and a note under each view says so.
"""
from __future__ import annotations

import base64
import html
import itertools
import json
from typing import Any

_ANYWIDGET_IDS = itertools.count()  # a page-unique element id per drawn anywidget
VIEW = "application/vnd.jupyter.widget-view+json"
STATE = "application/vnd.jupyter.widget-state+json"
NOTE = ("Static view of an interactive output, drawn at its default settings. "
        "Run the notebook to move the controls.")
_CSS = {"width", "height", "max_width", "min_width", "max_height", "min_height", "flex", "flex_flow",
        "display", "align_items", "justify_content", "object_fit", "margin", "padding", "border",
        "visibility", "grid_template_columns", "grid_gap"}
# rows wrap: a dashboard wider than the page column goes on below instead of off the side
_BOXES = {"VBoxModel": "column", "HBoxModel": "row wrap", "BoxModel": "row wrap", "GridBoxModel": "row wrap"}
_TEXT_INPUTS = {"TextModel", "IntTextModel", "FloatTextModel", "BoundedIntTextModel", "BoundedFloatTextModel",
                "TextareaModel"}


def _style(layout: dict) -> str:
    css = {k.replace("_", "-"): v for k, v in layout.items() if k in _CSS and v not in (None, "")}
    return "; ".join(f"{k}: {v}" for k, v in css.items())


class _Renderer:
    def __init__(self, state: dict[str, Any]):
        self.state = state

    def model(self, ref: str) -> dict | None:
        return self.state.get(ref.removeprefix("IPY_MODEL_")) if isinstance(ref, str) else None

    def layout(self, s: dict) -> dict:
        m = self.model(s.get("layout", ""))
        return m["state"] if m else {}

    def label(self, s: dict) -> str:
        d = s.get("description") or ""
        return f'<span class="fairdd-sw-label">{html.escape(d)}</span> ' if d else ""

    def render(self, ref: str) -> str:
        m = self.model(ref)
        if m is None:
            return ""
        name, s = m["model_name"], m["state"]
        layout = self.layout(s)
        if layout.get("display") == "none" or layout.get("visibility") == "hidden":
            return ""
        classes = " ".join(["fairdd-sw", *s.get("_dom_classes", [])])
        style = _style(layout)
        inner = self._inner(name, s, m)
        return f'<div class="{html.escape(classes)}" style="{html.escape(style)}">{inner}</div>'

    def _inner(self, name: str, s: dict, m: dict) -> str:
        esc = html.escape
        if name in _BOXES:
            flow = _BOXES[name]
            kids = "".join(self.render(c) for c in s.get("children", []))
            return f'<div style="display: flex; flex-flow: {flow}; gap: 4px 12px">{kids}</div>'
        if name in ("AccordionModel", "TabModel", "StackModel"):
            titles = list(s.get("titles") or [])
            parts = []
            for i, child in enumerate(s.get("children", [])):
                title = titles[i] if i < len(titles) and titles[i] else f"section {i + 1}"
                opened = " open" if s.get("selected_index") == i else ""
                parts.append(f"<details{opened}><summary>{esc(title)}</summary>{self.render(child)}</details>")
            return "".join(parts)
        if name == "OutputModel":
            return "".join(render_output(o) for o in s.get("outputs", []))
        if name == "ImageModel":
            data = next((b["data"] for b in m.get("buffers", []) if b.get("path") == ["value"]), None)
            if data is None:
                return ""
            fmt = s.get("format") or "png"
            mime = "image/svg+xml" if fmt == "svg+xml" else f"image/{fmt}"
            return f'<img src="data:{mime};base64,{data}" alt="" style="max-width: 100%">'
        if name in ("HTMLModel", "HTMLMathModel"):
            return self.label(s) + (s.get("value") or "")
        if name == "AnyModel" and s.get("_esm"):
            return _anywidget(s)
        if name == "LabelModel":
            return esc(s.get("value") or "")
        if name in ("FloatSliderModel", "IntSliderModel", "FloatLogSliderModel"):
            value = s.get("value")
            return (f'{self.label(s)}<input type="range" disabled min="{s.get("min")}" max="{s.get("max")}" '
                    f'step="{s.get("step")}" value="{value}"> <code>{esc(str(value))}</code>')
        if name in ("IntRangeSliderModel", "FloatRangeSliderModel"):
            return f'{self.label(s)}<code>{esc(str(s.get("value")))}</code>'
        if name in ("DropdownModel", "SelectModel", "RadioButtonsModel", "SelectMultipleModel"):
            labels = s.get("_options_labels", [])
            chosen = s.get("index")
            chosen = set(chosen) if isinstance(chosen, list) else {chosen}
            opts = "".join(f'<option{" selected" if i in chosen else ""}>{esc(str(lab))}</option>'
                           for i, lab in enumerate(labels))
            multiple = ' multiple size="{}"'.format(s.get("rows") or len(labels)) if name == "SelectMultipleModel" else ""
            return f"{self.label(s)}<select disabled{multiple}>{opts}</select>"
        if name == "ToggleButtonsModel":
            labels = s.get("_options_labels", [])
            buttons = "".join(f'<button disabled{" class=fairdd-sw-on" if i == s.get("index") else ""}>'
                              f"{esc(str(lab))}</button>" for i, lab in enumerate(labels))
            return self.label(s) + buttons
        if name in ("ButtonModel", "ToggleButtonModel"):
            return f"<button disabled>{esc(s.get('description') or '')}</button>"
        if name == "CheckboxModel":
            checked = " checked" if s.get("value") else ""
            return f'<input type="checkbox" disabled{checked}> {esc(s.get("description") or "")}'
        if name in _TEXT_INPUTS:
            return f'{self.label(s)}<input disabled value="{esc(str(s.get("value", "")))}">'
        if name in ("FloatProgressModel", "IntProgressModel"):  # e.g. tqdm.auto's bars
            return f'{self.label(s)}<progress max="{s.get("max")}" value="{s.get("value")}"></progress>'
        return f"<code>[{esc(name)}]</code>"


def _anywidget(s: dict) -> str:
    """An anywidget (e.g. the dashboard's SVG charts) drawn by its own JavaScript from its saved state:
    the module comes from the state as a data: URL and gets a read-only model (nothing is fetched)."""
    uid = f"fairdd-aw-{next(_ANYWIDGET_IDS)}"
    esm = base64.b64encode(s["_esm"].encode()).decode()
    state = {k: v for k, v in s.items() if not k.startswith("_") and k != "layout"}
    return (f'<div id="{uid}"></div><script type="module">'
            f'const mod = await import("data:text/javascript;base64,{esm}");'
            f'const state = {json.dumps(state)};'
            'const model = {get: (k) => state[k], set() {}, save_changes() {}, on() {}, off() {}, send() {}};'
            f'(mod.default.render || mod.render)({{model, el: document.getElementById("{uid}")}});'
            '</script>')


def render_output(out: dict) -> str:
    """One nbformat output (as an Output widget stores it) as HTML."""
    kind = out.get("output_type")
    if kind == "stream":
        return f"<pre>{html.escape(out.get('text', ''))}</pre>"
    if kind == "error":
        return f"<pre>{html.escape(out.get('ename', ''))}: {html.escape(out.get('evalue', ''))}</pre>"
    data = out.get("data", {})
    for mime in ("image/png", "image/jpeg"):
        if mime in data:
            payload = data[mime]
            payload = payload if isinstance(payload, str) else "".join(payload)
            return f'<img src="data:{mime};base64,{payload.strip()}" alt="" style="max-width: 100%">'
    if "image/svg+xml" in data:
        svg = data["image/svg+xml"]
        svg = svg if isinstance(svg, str) else "".join(svg)
        return '<img src="data:image/svg+xml;base64,{}" alt="">'.format(base64.b64encode(svg.encode()).decode())
    if "text/html" in data:
        text = data["text/html"]
        return text if isinstance(text, str) else "".join(text)
    if "text/plain" in data:
        text = data["text/plain"]
        return f"<pre>{html.escape(text if isinstance(text, str) else ''.join(text))}</pre>"
    return ""


def flatten_widgets(nb) -> int:
    """Replace every widget view in ``nb`` (an executed nbformat notebook, changed in place) by static
    HTML drawn from the saved widget state, and drop that state so the page loads no widget manager.
    Returns the number of views replaced; a view whose model is missing from the state is an error."""
    state = nb.metadata.get("widgets", {}).get(STATE, {}).get("state", {})
    renderer = _Renderer(state)
    count = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(VIEW)
            if view is None:
                continue
            model_id = view["model_id"]
            if model_id not in state:
                raise ValueError(f"widget view {model_id} has no saved state (was the notebook executed "
                                 "with store_widget_state?)")
            body = renderer.render(model_id)
            has_controls = any(tag in body for tag in ("<input", "<select", "<button"))
            note = f'<p class="fairdd-sw-note">{NOTE}</p>' if has_controls else ""
            out["data"] = {"text/html": f'<div class="fairdd-static-widget">{body}{note}</div>'}
            count += 1
    nb.metadata.pop("widgets", None)
    return count
