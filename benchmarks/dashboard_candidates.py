"""Which library should draw the dashboard's charts? Each candidate draws the same data in a real browser
under Voila (offline ``fairdd`` template, chromium at 1280×720), and per update we measure:

- kernel ms: the update call in the kernel (build the data, set the widget's traits: serialisation and
  sending included, since an ipywidgets trait change is sent as it is set);
- bytes: what the browser's kernel websocket receives between the click and the end of the update
  (the widget messages plus the kernel's busy/idle status, the same for every candidate);
- paint ms: in the browser, from the first websocket message of the update to the last DOM change of
  the candidate's output (plus one animation frame); for the PNG, to the decoded image.

The data (``scene``): an embedding scatter (10 groups × 150 real points, 2 runs × 10 synthetic points,
10 group means, the barycenter and the pooled mean: 1532 points), fairness over time (2 runs × 4 lines
at the evaluated iterations, with a noise band each) and a 10 × 10 heatmap per run. Each update moves
the points a little and adds an evaluation, as a dashboard step does.

Candidates: ``chart`` (fairdd's anywidget SVG chart, ``fairdd.widgets.chart``), ``plotly`` (plotly
``FigureWidget``, SVG traces), ``bqplot`` (bqplot ``Figure``s) and ``png`` (matplotlib figures as PNGs in
an ``ipywidgets.Image``, the dashboard before issue 23). plotly and bqplot are not dependencies of
fairdd; install them only for this benchmark::

    pip install plotly==7.1.0 bqplot==0.13.1
    python benchmarks/dashboard_candidates.py [--repeats 5] [--candidates chart plotly bqplot png]

Prints a Markdown table (medians over ``--repeats`` updates after one warm-up update) and ``uptime``.
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]
CANDIDATES = ("chart", "plotly", "bqplot", "png")
GROUPS, PER_GROUP, IPC, RUNS = 10, 150, 10, ("cobra", "vanilla")
COLOURS = ["#e6194b", "#f58231", "#ffe119", "#bfef45", "#3cb44b", "#42d4f4", "#4363d8", "#911eb4", "#f032e6", "#a9a9a9"]
RUN_COLOURS = {"cobra": "#0072B2", "vanilla": "#E69F00"}
LONG = 120_000  # ms: one update, on a loaded machine


# ----------------------------------------------------------------- the data (kernel side)
def scene(step: int) -> dict:
    """The same data for every candidate at update ``step`` (deterministic)."""
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 4, (GROUPS, 2))  # (G, 2)
    real = centres[:, None, :] + rng.normal(0, 1, (GROUPS, PER_GROUP, 2))  # (G, n, 2)
    drift = np.random.default_rng(step + 1).normal(0, 0.05, real.shape)
    real = real + drift
    syn = {r: rng.normal(0, 2, (IPC, 2)) * (1 - 0.02 * step) for r in RUNS}  # (IPC, 2) per run
    its = np.arange(0, 10 * (step + 3), 10)  # evaluated iterations
    curves = {r: {k: (40 + 30 * (1 - np.exp(-its / 60)) * (1 if r == "cobra" else 0.3) + rng.normal(0, 2, len(its)))
                  for k in ("accuracy", "worst", "eod", "deo_a")} for r in RUNS}
    heat = {r: np.clip(rng.normal(50, 25, (10, GROUPS)) + step, 0, 100) for r in RUNS}  # (C, G)
    return {"real": real, "means": real.mean(1), "syn": syn, "its": its, "curves": curves, "heat": heat,
            "bary": real.mean(1).mean(0), "pooled": real.reshape(-1, 2).mean(0)}


def chart_candidate():
    from fairdd.widgets.chart import Chart

    charts = [Chart() for _ in range(3)]

    def update(step: int) -> None:
        d = scene(step)
        layers = [{"kind": "points", "x": d["real"][a, :, 0].tolist(), "y": d["real"][a, :, 1].tolist(),
                   "color": COLOURS[a], "size": 3.5, "tips": [f"real, group {a}"] * PER_GROUP} for a in range(GROUPS)]
        layers += [{"kind": "points", "shape": "diamond", "x": d["syn"][r][:, 0].tolist(), "y": d["syn"][r][:, 1].tolist(),
                    "color": RUN_COLOURS[r], "size": 5, "name": r} for r in RUNS]
        layers += [{"kind": "points", "shape": "star", "x": [float(d["bary"][0])], "y": [float(d["bary"][1])],
                    "color": "#0072B2", "size": 11}]
        charts[0].show({"width": 480, "height": 300, "panels": [{"title": "embedding", "layers": layers}]})
        lines = [{"kind": "line", "x": d["its"].tolist(), "y": d["curves"][r][k].tolist(), "color": RUN_COLOURS[r],
                  "tips": [f"{r} {k} {v:.1f}" for v in d["curves"][r][k]]} for r in RUNS for k in d["curves"][r]]
        band = [{"kind": "band", "x": d["its"].tolist(), "lo": (d["curves"][r]["eod"] - 10).tolist(),
                 "hi": (d["curves"][r]["eod"] + 10).tolist(), "color": RUN_COLOURS[r]} for r in RUNS]
        charts[1].show({"width": 640, "height": 220, "panels": [{"title": "fairness", "layers": band + lines}]})
        charts[2].show({"width": 480, "height": 260, "panels": [
            {"title": r, "cats": {"x": [str(a) for a in range(GROUPS)], "y": [str(c) for c in range(10)]},
             "layers": [{"kind": "cells", "values": d["heat"][r].tolist(), "name": "cell"}]} for r in RUNS]})

    return charts, update


def plotly_candidate():
    """FigureWidgets built with their traces and first data: traces added or edited before the page shows
    reach no view (the page drew empty axes and, at times, ignored every later update)."""
    import plotly.graph_objects as go

    d0 = scene(0)
    real, syn, its, cur = d0["real"], d0["syn"], d0["its"], d0["curves"]
    emb = [go.Scatter(x=real[a, :, 0], y=real[a, :, 1], mode="markers", marker={"size": 5, "color": COLOURS[a]},
                      name=f"group {a}") for a in range(GROUPS)]
    emb += [go.Scatter(x=syn[r][:, 0], y=syn[r][:, 1], mode="markers",
                       marker={"symbol": "diamond", "size": 9, "color": RUN_COLOURS[r]}, name=r) for r in RUNS]
    emb += [go.Scatter(x=[d0["bary"][0]], y=[d0["bary"][1]], mode="markers",
                       marker={"symbol": "star", "size": 14, "color": "#0072B2"}, name="barycenter")]
    fair = []
    for r in RUNS:
        fair += [go.Scatter(x=its, y=cur[r]["eod"] - 10, mode="lines", line={"width": 0}, showlegend=False),
                 go.Scatter(x=its, y=cur[r]["eod"] + 10, mode="lines", fill="tonexty", line={"width": 0},
                            fillcolor="rgba(0,0,0,0.1)", showlegend=False)]
        fair += [go.Scatter(x=its, y=cur[r][k], mode="lines+markers", line={"color": RUN_COLOURS[r]}, name=f"{r} {k}")
                 for k in cur[r]]
    heat = [go.Heatmap(z=d0["heat"][r], zmin=0, zmax=100, colorscale="Viridis", showscale=False) for r in RUNS]
    emb, fair = go.FigureWidget(emb, layout={"width": 480, "height": 300}), go.FigureWidget(fair, layout={"width": 640, "height": 220})
    heat = go.FigureWidget(heat, layout={"width": 480, "height": 260})

    def update(step: int) -> None:
        d = scene(step)
        with emb.batch_update():
            for a in range(GROUPS):
                emb.data[a].x, emb.data[a].y = d["real"][a, :, 0], d["real"][a, :, 1]
            for i, r in enumerate(RUNS):
                emb.data[GROUPS + i].x, emb.data[GROUPS + i].y = d["syn"][r][:, 0], d["syn"][r][:, 1]
            emb.data[-1].x, emb.data[-1].y = [d["bary"][0]], [d["bary"][1]]
        with fair.batch_update():
            j = 0
            for r in RUNS:
                eod = d["curves"][r]["eod"]
                fair.data[j].x, fair.data[j].y = d["its"], eod - 10
                fair.data[j + 1].x, fair.data[j + 1].y = d["its"], eod + 10
                j += 2
                for k in d["curves"][r]:
                    fair.data[j].x, fair.data[j].y = d["its"], d["curves"][r][k]
                    j += 1
        with heat.batch_update():
            for i, r in enumerate(RUNS):
                heat.data[i].z = d["heat"][r]

    return [emb, fair, heat], update


def bqplot_candidate():
    import bqplot as bq

    d0 = scene(0)
    sx, sy = bq.LinearScale(), bq.LinearScale()
    real = [bq.Scatter(x=d0["real"][a, :, 0], y=d0["real"][a, :, 1], scales={"x": sx, "y": sy}, colors=[COLOURS[a]],
                       default_size=12) for a in range(GROUPS)]
    syn = [bq.Scatter(x=d0["syn"][r][:, 0], y=d0["syn"][r][:, 1], scales={"x": sx, "y": sy}, marker="diamond",
                      colors=[RUN_COLOURS[r]]) for r in RUNS]
    star = bq.Scatter(x=[d0["bary"][0]], y=[d0["bary"][1]], scales={"x": sx, "y": sy}, marker="cross", colors=["#0072B2"])  # bqplot has no star
    emb = bq.Figure(marks=real + syn + [star], axes=[bq.Axis(scale=sx), bq.Axis(scale=sy, orientation="vertical")],
                    layout={"width": "480px", "height": "300px"}, animation_duration=0)
    fx, fy = bq.LinearScale(), bq.LinearScale(min=0, max=100)
    lines = {r: bq.Lines(x=d0["its"], y=[d0["curves"][r][k] for k in d0["curves"][r]], scales={"x": fx, "y": fy},
                         colors=[RUN_COLOURS[r]]) for r in RUNS}
    bands = {r: bq.Lines(x=[d0["its"], d0["its"][::-1]], y=[d0["curves"][r]["eod"] - 10, d0["curves"][r]["eod"][::-1] + 10],
                         fill="inside", fill_opacities=[0.15], scales={"x": fx, "y": fy}, colors=[RUN_COLOURS[r]])
             for r in RUNS}
    fair = bq.Figure(marks=list(bands.values()) + list(lines.values()), axes=[bq.Axis(scale=fx),
                     bq.Axis(scale=fy, orientation="vertical")], layout={"width": "640px", "height": "220px"},
                     animation_duration=0)
    cs = bq.ColorScale(scheme="viridis", min=0, max=100)
    heats = {r: bq.GridHeatMap(color=d0["heat"][r], scales={"row": bq.OrdinalScale(), "column": bq.OrdinalScale(),
                                                              "color": cs}) for r in RUNS}
    heat = [bq.Figure(marks=[h], layout={"width": "240px", "height": "260px"}, animation_duration=0) for h in heats.values()]

    def update(step: int) -> None:
        d = scene(step)
        for a, m in enumerate(real):
            with m.hold_sync():
                m.x, m.y = d["real"][a, :, 0], d["real"][a, :, 1]
        for r, m in zip(RUNS, syn):
            with m.hold_sync():
                m.x, m.y = d["syn"][r][:, 0], d["syn"][r][:, 1]
        with star.hold_sync():
            star.x, star.y = [d["bary"][0]], [d["bary"][1]]
        for r in RUNS:
            eod = d["curves"][r]["eod"]
            with lines[r].hold_sync():
                lines[r].x, lines[r].y = d["its"], [d["curves"][r][k] for k in d["curves"][r]]
            with bands[r].hold_sync():
                bands[r].x, bands[r].y = [d["its"], d["its"][::-1]], [eod - 10, eod[::-1] + 10]
            heats[r].color = d["heat"][r]

    return [emb, fair, *heat], update


def png_candidate():
    import ipywidgets as W
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fairdd.viz.plots import fig_to_png

    images = [W.Image(format="png") for _ in range(3)]

    def update(step: int) -> None:
        d = scene(step)
        fig, ax = plt.subplots(figsize=(4.8, 3.0), dpi=100)
        for a in range(GROUPS):
            ax.scatter(d["real"][a, :, 0], d["real"][a, :, 1], s=6, color=COLOURS[a])
        for r in RUNS:
            ax.scatter(d["syn"][r][:, 0], d["syn"][r][:, 1], marker="D", color=RUN_COLOURS[r])
        ax.scatter(*d["bary"], marker="*", s=150, color="#0072B2")
        images[0].value = fig_to_png(fig)
        fig, ax = plt.subplots(figsize=(6.4, 2.2), dpi=100)
        for r in RUNS:
            eod = d["curves"][r]["eod"]
            ax.fill_between(d["its"], eod - 10, eod + 10, alpha=0.15, color=RUN_COLOURS[r])
            for k in d["curves"][r]:
                ax.plot(d["its"], d["curves"][r][k], "o-", color=RUN_COLOURS[r], ms=3)
        images[1].value = fig_to_png(fig)
        fig, axes = plt.subplots(1, 2, figsize=(4.8, 2.6), dpi=100)
        for ax, r in zip(axes, RUNS):
            ax.imshow(d["heat"][r], vmin=0, vmax=100, cmap="viridis")
        images[2].value = fig_to_png(fig)
        plt.close("all")

    return images, update


BUILDERS = {"chart": chart_candidate, "plotly": plotly_candidate, "bqplot": bqplot_candidate, "png": png_candidate}


def app(names: list[str]):
    """The page: per candidate an "update" button, its charts and a line with the kernel time of its last update."""
    import ipywidgets as W

    rows = []
    for name in names:
        try:
            widgets, update = BUILDERS[name]()
        except Exception as exc:  # noqa: BLE001 - a candidate that cannot be built is reported, not fatal
            rows.append(W.HTML(f"<div class='cand-error' data-name='{name}'>{type(exc).__name__}: {exc}</div>"))
            continue
        done = W.HTML("")
        done.add_class(f"cand-done-{name}")
        button = W.Button(description=f"update {name}")
        button.add_class(f"cand-button-{name}")
        state = {"step": 0}

        def click(_, update=update, done=done, state=state) -> None:
            state["step"] += 1
            t0 = time.perf_counter()
            update(state["step"])
            done.value = f"<span data-step='{state['step']}' data-ms='{1000 * (time.perf_counter() - t0):.3f}'>ok</span>"

        button.on_click(click)
        if name != "plotly":  # plotly's traces carry their first data (an edit before the page shows is lost)
            update(0)
        box = W.VBox([W.HBox([button, done]), W.HBox(widgets)])
        box.add_class(f"cand-{name}")
        rows.append(box)
    return W.VBox(rows)


# ----------------------------------------------------------------- the browser side
INIT = """(() => {
  window.__ws = [];
  const Orig = window.WebSocket;
  window.WebSocket = class extends Orig {
    constructor(...a) {
      super(...a);
      this.addEventListener('message', (ev) => {
        const n = typeof ev.data === 'string' ? new Blob([ev.data]).size : (ev.data.byteLength ?? ev.data.size);
        window.__ws.push([performance.now(), n]);
      });
    }
  };
})();"""
WATCH = """(name) => {
  window.__mut = window.__mut || {};
  window.__mut[name] = 0;
  const box = document.querySelector(`.cand-${name}`);
  new MutationObserver((records) => {
    const el = (m) => (m.target.nodeType === 1 ? m.target : m.target.parentElement);  // a text node: its parent
    if (records.some((m) => !el(m).closest(`.cand-done-${name}, .cand-button-${name}`)))
      window.__mut[name] = performance.now();
  }).observe(box, {subtree: true, childList: true, attributes: true, characterData: true});
}"""


def _notebook(folder: Path, names: list[str]) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"import sys; sys.path.insert(0, {str(HERE)!r})\n"
                                          f"import dashboard_candidates as dc\ndc.app({names!r})")]
    path = folder / "candidates.ipynb"
    nbformat.write(nb, path)
    return path


def _one_update(page, name: str, step: int) -> dict:
    t_click = page.evaluate(f"window.__mut['{name}'] = 0, performance.now()")
    page.click(f".cand-button-{name}")
    page.wait_for_selector(f".cand-done-{name} span[data-step='{step}']", timeout=LONG)
    # the widget messages may land after the "done" line's: wait for the charts' own change, then quiet
    page.wait_for_function(f"window.__mut['{name}'] > 0 && performance.now() - window.__mut['{name}'] > 400",
                           timeout=LONG, polling=50)
    page.evaluate("""(name) => Promise.all([...document.querySelectorAll(`.cand-${name} img`)].map((i) => i.decode()
                      .then(() => { window.__mut[name] = Math.max(window.__mut[name], performance.now()); })))""", name)
    got = page.evaluate("""([name, t0]) => {
      const msgs = window.__ws.filter(([t]) => t >= t0);
      const first = msgs.length ? msgs[0][0] : t0;
      return {bytes: msgs.reduce((s, [, n]) => s + n, 0), paint: window.__mut[name] - first};
    }""", [name, t_click])
    got["kernel"] = float(page.get_attribute(f".cand-done-{name} span", "data-ms"))
    return got


def measure_one(name: str, repeats: int) -> tuple[dict | None, str | None]:
    """One candidate on its own page and kernel (no candidate waits behind another's front end)."""
    from playwright.sync_api import TimeoutError as Timeout
    from playwright.sync_api import sync_playwright

    from fairdd.widgets.app import serve

    folder = Path(tempfile.mkdtemp(prefix=f"fairdd-candidates-{name}-"))
    nb = _notebook(folder, [name])
    with serve(nb, workdir=folder / "voila") as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        outside, console = [], []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(
            ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")) else None)
        page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
        page.add_init_script(INIT)
        page.goto(url, timeout=LONG)
        page.wait_for_selector(f".cand-{name}, .cand-error", timeout=LONG)
        page.wait_for_timeout(3000)
        page.screenshot(path=str(folder / "page.png"), full_page=True)
        error = page.inner_text(".cand-error") if page.query_selector(".cand-error") else None
        out = None
        if error is None:
            page.evaluate(WATCH, name)
            try:
                runs = [_one_update(page, name, k + 1) for k in range(repeats + 1)][1:]  # the first: warm-up
                out = {k: statistics.median(r[k] for r in runs) for k in ("kernel", "bytes", "paint")}
            except Timeout:
                error = f"no change painted within {LONG / 1000:.0f} s of an update"
        browser.close()
    if outside:
        error = f"requests left the machine: {outside[:3]}"
    if console:
        error = (error + "; " if error else "") + f"browser console errors: {console[:3]}"
    print(f"  {name}: {json.dumps(out)} {error or ''} (page and log: {folder})", flush=True)
    return out, error


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=CANDIDATES)
    args = ap.parse_args(argv)
    load0 = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    out, errors = {}, {}
    for name in args.candidates:
        got, error = measure_one(name, args.repeats)
        if got is not None:
            out[name] = got
        if error is not None:
            errors[name] = error
    load1 = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"load: {load0} → {load1}")
    print("| candidate | kernel ms / update | bytes / update | browser paint ms |")
    print("|---|---:|---:|---:|")
    for name, r in out.items():
        print(f"| {name} | {r['kernel']:.1f} | {r['bytes']:.0f} | {r['paint']:.1f} |")
    for name, e in errors.items():
        print(f"| {name} | could not run: {e} | | |")
    if any(math.isnan(r["paint"]) for r in out.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
