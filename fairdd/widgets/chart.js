// fairdd's dashboard chart: one small SVG renderer for the spec that fairdd/widgets/chart.py sends.
// No network, no library: points, lines, bands and heatmap cells in data coordinates, a hover tooltip
// from each mark's "tips" (drawn here, no kernel round trip) and a click message {name, index} back.
const NS = "http://www.w3.org/2000/svg";
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
// Every text the chart draws goes through fit(): cut with "…" to its pixel budget, the whole text kept for hover
// (an SVG <title> from text(), a title attribute on a legend entry); nothing is cut anywhere else.
let measure = null;
function widthOf(s, px) {
  measure = measure || document.createElement("canvas").getContext("2d");
  measure.font = `${px}px sans-serif`;
  return measure.measureText(s).width;
}

function fit(s, budget, px) {
  s = String(s);
  if (!(budget < Infinity) || widthOf(s, px) <= budget) return s;
  let lo = 0, hi = s.length;  // the longest start that fits with its "…"
  while (lo < hi) {
    const m = (lo + hi + 1) >> 1;
    if (widthOf(s.slice(0, m).trimEnd() + "…", px) <= budget) lo = m; else hi = m - 1;
  }
  return s.slice(0, lo).trimEnd() + "…";
}

// an SVG <text> of at most `budget` px (Infinity: never cut); when cut, its <title> holds the whole text
function text(attrs, s, px, budget = Infinity) {
  const shown = fit(s, budget, px);
  return `<text ${attrs} font-size="${px}">${esc(shown)}${shown === String(s) ? "" : `<title>${esc(s)}</title>`}</text>`;
}

// Whatever the dashboard's CSS cuts (a one-line caption or status line with "…", fairdd/widgets/layout.py; a group's
// name beside its checkbox) carries its whole text as a title (hover), checked again whenever the page changes.
// A title of the page's own (an explanation) is left as it is; one set here goes when the text fits again.
function titleCut() {
  for (const e of document.querySelectorAll(".fairdd-dashboard *")) {
    if (e instanceof SVGElement || e.tagName === "SELECT" || e.tagName === "STYLE") continue;
    const ours = e.hasAttribute("data-fairdd-cut");
    if (e.title && !ours) continue;
    const cut = e.scrollWidth > e.clientWidth + 1 && e.textContent.trim() !== "" &&
      ["hidden", "clip"].includes(getComputedStyle(e).overflowX);
    if (cut) {
      const t = e.textContent.trim().replace(/\s+/g, " ");
      if (e.title !== t) { e.title = t; e.setAttribute("data-fairdd-cut", ""); }
    } else if (ours) {
      e.removeAttribute("title");
      e.removeAttribute("data-fairdd-cut");
    }
  }
}

function watchCuts() {
  if (window.__fairddCuts) return;
  let queued = false;
  window.__fairddCuts = new MutationObserver(() => {
    // at most one pass per 250 ms (a pass forces a layout of the whole page: ~6 ms, and while playing the page
    // changes with every step)
    if (!queued) { queued = true; setTimeout(() => { queued = false; titleCut(); }, 250); }
  });
  window.__fairddCuts.observe(document.body, {childList: true, subtree: true, characterData: true, attributes: true,
                                              attributeFilter: ["class", "style"]});
  addEventListener("resize", titleCut);
  titleCut();
}

const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

function ramp(t) {
  t = Math.max(0, Math.min(1, t)) * (VIRIDIS.length - 1);
  const i = Math.min(Math.floor(t), VIRIDIS.length - 2), f = t - i, a = VIRIDIS[i], b = VIRIDIS[i + 1];
  return `rgb(${a.map((v, k) => Math.round(v + f * (b[k] - v))).join(",")})`;
}

function shape(kind, r) {
  switch (kind) {
    case "diamond": return `M0,${-r}L${r},0L0,${r}L${-r},0Z`;
    case "square": return `M${-r},${-r}H${r}V${r}H${-r}Z`;
    case "cross": { const w = r / 3; return `M${-r},${-r + w}L${-w},0L${-r},${r - w}L${-r + w},${r}L0,${w}L${r - w},${r}L${r},${r - w}L${w},0L${r},${-r + w}L${r - w},${-r}L0,${-w}L${-r + w},${-r}Z`; }
    case "star": {
      let d = "";
      for (let k = 0; k < 10; k++) {
        const a = Math.PI / 5 * k - Math.PI / 2, q = k % 2 ? r * 0.45 : r;
        d += `${k ? "L" : "M"}${(q * Math.cos(a)).toFixed(2)},${(q * Math.sin(a)).toFixed(2)}`;
      }
      return d + "Z";
    }
    default: return `M${-r},0A${r},${r} 0 1,0 ${r},0A${r},${r} 0 1,0 ${-r},0Z`;
  }
}

function extent(panel) {
  const xs = [], ys = [];
  for (const l of panel.layers || []) {
    if (l.kind === "band") { xs.push(...l.x); ys.push(...l.lo, ...l.hi); }
    else if (l.kind !== "cells") { xs.push(...l.x); ys.push(...l.y); }
  }
  const fin = (v) => v.filter((u) => u !== null && Number.isFinite(u));
  const pad = ([a, b]) => (a === b ? [a - 1, b + 1] : [a - 0.06 * (b - a), b + 0.06 * (b - a)]);
  const fx = fin(xs), fy = fin(ys);
  return [panel.xlim || (fx.length ? pad([Math.min(...fx), Math.max(...fx)]) : [0, 1]),
          panel.ylim || (fy.length ? pad([Math.min(...fy), Math.max(...fy)]) : [0, 1])];
}

function ticks([a, b], n = 5) {
  const step0 = (b - a) / n, mag = Math.pow(10, Math.floor(Math.log10(step0 || 1)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0) || mag;
  const out = [];
  for (let v = Math.ceil(a / step) * step; v <= b + 1e-9; v += step) out.push(+v.toFixed(10));
  return out;
}

function drawPanel(svg, panel, box, font) {
  const g = document.createElementNS(NS, "g");
  const cats = panel.cats;
  const m = {l: panel.ylabel || cats ? 3.6 * font : panel.axes === false ? 0.6 * font : 2.4 * font, r: 10, t: panel.title ? 1.8 * font : 8,
             b: panel.xlabel || cats ? 3.0 * font : 10};
  if (cats) {  // room for the category names, never more than a share of the box (long names run out of it)
    m.l = Math.min(0.3 * box.w, Math.max(m.l, 0.62 * font * Math.max(...cats.y.map((s) => String(s).length)) + 1.6 * font));
    m.b = Math.min(0.3 * box.h, Math.max(m.b, 0.62 * font * Math.max(...cats.x.map((s) => String(s).length)) * 0.75 + 1.6 * font));
  }
  const W = box.w - m.l - m.r, H = box.h - m.t - m.b;
  const [xl, yl] = cats ? [[-0.5, cats.x.length - 0.5], [cats.y.length - 0.5, -0.5]] : extent(panel);
  const X = (v) => box.x + m.l + (v - xl[0]) / (xl[1] - xl[0]) * W;
  const Y = (v) => box.y + m.t + H - (v - yl[0]) / (yl[1] - yl[0]) * H;
  let s = "";
  if (panel.title) s += text(`x="${box.x + m.l + W / 2}" y="${box.y + font * 1.2}" text-anchor="middle" font-weight="bold"`, panel.title, font, W);
  s += `<rect x="${X(xl[0])}" y="${box.y + m.t}" width="${W}" height="${H}" fill="none" stroke="#999"/>`;
  if (cats) {
    // a column's name runs down and to the left at 50° from its tick (its glyphs h high): cut where it would reach
    // the box's bottom or left
    const a = 50 * Math.PI / 180, h = 0.85 * font, down = (m.b - 0.4 * font - 2 - h * Math.cos(a)) / Math.sin(a);
    cats.x.forEach((c, i) => { s += text(`transform="translate(${X(i)},${box.y + m.t + H + 0.4 * font}) rotate(-50)" text-anchor="end"`, c,
                                         0.85 * font, Math.min(down, (X(i) - box.x - 2 - h * Math.sin(a)) / Math.cos(a))); });
    cats.y.forEach((c, i) => { s += text(`x="${X(xl[0]) - 4}" y="${Y(i) + 0.35 * font}" text-anchor="end"`, c, 0.85 * font, m.l - 6); });
  } else if (panel.axes !== false) {
    for (const v of ticks(xl)) s += text(`x="${X(v)}" y="${box.y + m.t + H + font}" text-anchor="middle"`, v, 0.85 * font);
    for (const v of ticks(yl)) s += `<line x1="${X(xl[0])}" x2="${X(xl[1])}" y1="${Y(v)}" y2="${Y(v)}" stroke="#eee"/>` +
                                    text(`x="${X(xl[0]) - 4}" y="${Y(v) + 0.35 * font}" text-anchor="end"`, v, 0.85 * font);
  }
  if (panel.xlabel) s += text(`x="${box.x + m.l + W / 2}" y="${box.y + box.h - 4}" text-anchor="middle"`, panel.xlabel, 0.9 * font, W);
  if (panel.ylabel) s += text(`transform="translate(${box.x + font},${box.y + m.t + H / 2}) rotate(-90)" text-anchor="middle"`, panel.ylabel, 0.9 * font, H);
  for (const l of panel.layers || []) s += layer(l, X, Y, font);
  g.innerHTML = s;
  svg.appendChild(g);
}

function attrs(l, i, tip) {
  return (tip != null ? ` data-tip="${esc(tip)}"` : "") + (l.name ? ` data-name="${esc(l.name)}" data-index="${i}"` : "");
}

function layer(l, X, Y, font) {
  const col = (i) => (Array.isArray(l.color) ? l.color[i] : l.color || "#333");
  const tips = l.tips || [];
  let s = "";
  if (l.kind === "band") {
    const up = l.x.map((x, i) => `${X(x)},${Y(l.hi[i])}`), down = l.x.map((x, i) => `${X(x)},${Y(l.lo[i])}`).reverse();
    return `<polygon points="${up.concat(down).join(" ")}" fill="${l.color}" fill-opacity="${l.opacity ?? 0.15}"${attrs(l, 0, l.tip)}/>`;
  }
  if (l.kind === "line") {
    const pts = l.x.map((x, i) => (l.y[i] === null ? null : `${X(x)},${Y(l.y[i])}`)).filter((p) => p);
    s += `<polyline points="${pts.join(" ")}" fill="none" stroke="${col(0)}" stroke-width="${l.width ?? 2}"${l.dash ? ` stroke-dasharray="${l.dash}"` : ""}/>`;
    if (l.markers !== false) l.x.forEach((x, i) => { if (l.y[i] !== null) s += `<circle cx="${X(x)}" cy="${Y(l.y[i])}" r="${l.size ?? 3}" fill="${col(0)}"${attrs(l, i, tips[i])}/>`; });
    return s;
  }
  if (l.kind === "cells") {
    l.values.forEach((row, r) => row.forEach((v, c) => {
      const fill = v === null ? "#ddd" : ramp((v - (l.vmin ?? 0)) / ((l.vmax ?? 100) - (l.vmin ?? 0)));
      s += `<rect x="${X(c - 0.5)}" y="${Y(r - 0.5)}" width="${X(c + 0.5) - X(c - 0.5)}" height="${Y(r + 0.5) - Y(r - 0.5)}" fill="${fill}" stroke="#fff" stroke-width="0.5"` +
           ` data-tip="${esc((l.tips || [])[r]?.[c] ?? v)}"${l.name ? ` data-name="${esc(l.name)}" data-row="${r}" data-col="${c}"` : ""}/>`;
      if (l.labels !== false && v !== null && X(1) - X(0) > 1.9 * font) s += text(`x="${X(c)}" y="${Y(r) + 0.3 * font}" text-anchor="middle" fill="${v > 60 ? "#000" : "#fff"}" pointer-events="none"`, Math.round(v), 0.7 * font);
    }));
    for (const [r, c] of l.outline || []) s += `<rect x="${X(c - 0.5) + 1}" y="${Y(r - 0.5) + 1}" width="${X(c + 0.5) - X(c - 0.5) - 2}" height="${Y(r + 0.5) - Y(r - 0.5) - 2}" fill="none" stroke="#fff" stroke-width="2.5" pointer-events="none"/>`;
    return s;
  }
  l.x.forEach((x, i) => {  // points
    const r = Array.isArray(l.size) ? l.size[i] : l.size ?? 4;
    s += `<path class="fairdd-mark" d="${shape(l.shape, r)}" transform="translate(${X(x)},${Y(l.y[i])})" fill="${col(i)}" fill-opacity="${l.opacity ?? 1}" stroke="${l.stroke ?? "#000"}" stroke-width="${l.stroke_width ?? 0.6}"${attrs(l, i, tips[i])}/>`;
    if (l.text) s += text(`x="${X(x) + r + 2}" y="${Y(l.y[i]) - r}" font-weight="bold" fill="${col(i)}" pointer-events="none"`, Array.isArray(l.text) ? l.text[i] : l.text, 0.85 * font);
  });
  return s;
}

// each entry has a column of the side legend (`column` px) or an equal share of the one line below (`width` px):
// its label is cut to what is left beside its mark, the whole label in the entry's title when cut
function legend(items, font, column, width) {
  items = items || [];
  const share = column || width / Math.max(1, items.length);
  return items.map((it) => {
    const mw = it.shape ? font : 1.6 * font;
    const mark = it.shape ? `<svg width="${font}" height="${font}"><path d="${shape(it.shape, font / 2.4)}" transform="translate(${font / 2},${font / 2})" fill="${it.color}" stroke="#000" stroke-width="0.5"/></svg>`
      : `<svg width="${mw}" height="${font}"><line x1="0" x2="${mw}" y1="${font / 2}" y2="${font / 2}" stroke="${it.color}" stroke-width="${it.band ? font * 0.7 : 2}" stroke-opacity="${it.band ? 0.25 : 1}"${it.dash ? ` stroke-dasharray="${it.dash}"` : ""}/></svg>`;
    const label = fit(it.label, share - mw - 0.6 * font - (column ? 4 : 10), 0.85 * font);
    const title = label === String(it.label) ? "" : ` title="${esc(it.label)}"`;
    return `<span class="fairdd-legend-item"${title} style="${column ? "display:block;overflow:hidden;" : "margin-right:10px;"}white-space:nowrap">${mark} ${esc(label)}</span>`;
  }).join("");
}

// The chart stays in its box (spec.width × spec.height): a side legend takes its width from the box, a legend below is
// one line (it never wraps: the dashboard's layout counts one line for it). A side legend taller than the chart flows
// into more columns of spec.legend_side px (col), each taken from the chart's width, never more than half of it: the
// columns narrow instead (their labels cut, whole on hover). w: what is left for the plots.
function legendBox(spec) {
  const font = spec.font || 12, h = spec.height || 300, width = spec.width || 400;
  const lh = Math.ceil(0.85 * font * 1.3), pad = Math.round(1.8 * font);
  const rows = Math.max(1, Math.floor((h - pad) / lh)), cols = Math.max(1, Math.ceil((spec.legend || []).length / rows));
  const col = Math.min(spec.legend_side || 0, Math.floor(width / 2 / cols)), side = col * cols;
  return {h, lh, pad, rows, cols, col, side, w: width - side};
}

// A hover tip sits right of its mark, or left of it where the right would leave the chart's box (a panel's
// box clips what leaves it: the heatmap's last column, the loss curve at the screen's edge); it wraps to the
// box's width and is kept inside it.
function placeTip(tip, el, mark) {
  const b = el.getBoundingClientRect(), r = mark.getBoundingClientRect();
  tip.style.maxWidth = `${Math.max(60, b.width - 2)}px`;
  tip.style.display = "block";
  const tw = tip.offsetWidth, th = tip.offsetHeight;
  let left = r.right - b.left + 6;
  if (left + tw > b.width) left = r.left - b.left - 6 - tw;
  tip.style.left = `${Math.max(0, Math.min(left, b.width - tw))}px`;
  tip.style.top = `${Math.max(0, Math.min(r.top - b.top - 4, b.height - th))}px`;
}

function render({model, el}) {
  el.style.position = "relative";
  const box = document.createElement("div"), root = document.createElement("div"), tip = document.createElement("div"),
    leg = document.createElement("div");
  tip.className = "fairdd-tip";
  tip.style.cssText = "position:absolute;display:none;pointer-events:none;background:rgba(255,255,255,0.95);border:1px solid #888;border-radius:3px;padding:2px 6px;z-index:10;white-space:pre-wrap;box-sizing:border-box;";
  box.append(root, leg);
  el.append(box, tip);
  const draw = () => {
    const t0 = performance.now();
    const spec = model.get("spec") || {}, font = spec.font || 12, panels = spec.panels || [];
    const {h, lh, pad, rows, col, side, w} = legendBox(spec);
    const pw = w / Math.max(1, panels.length);
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("width", w); svg.setAttribute("height", h);
    svg.setAttribute("font-family", "sans-serif");
    panels.forEach((p, k) => drawPanel(svg, p, {x: k * pw, y: 0, w: pw, h}, font));
    root.replaceChildren(svg);
    leg.innerHTML = legend(spec.legend, font, side && col, w);
    box.style.display = side ? "flex" : "block";
    leg.style.cssText = side ? `width:${side}px;height:${h}px;overflow:hidden;padding-top:${pad}px;box-sizing:border-box;` +
        `display:grid;grid-auto-flow:column;grid-auto-columns:${col}px;grid-template-rows:repeat(${rows},${lh}px);line-height:${lh}px`
      : `width:${w}px;white-space:nowrap;overflow:hidden;line-height:1.3`;
    leg.className = "fairdd-legend";
    leg.style.fontSize = `${0.85 * font}px`;
    leg.style.fontFamily = "sans-serif";  // the font fit() measures with
    tip.style.fontSize = `${font}px`;
    el.dataset.version = String(model.get("version"));  // a test waits on what was painted
    el.dataset.title = spec.key || "";
    el.dataset.paintMs = (performance.now() - t0).toFixed(2);  // the benchmark reads the browser's share
  };
  el.addEventListener("mouseover", (e) => {
    const t = e.target.closest("[data-tip]");
    if (!t || !el.contains(t)) { tip.style.display = "none"; return; }
    tip.textContent = t.dataset.tip;
    placeTip(tip, el, t);
  });
  el.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  el.addEventListener("click", (e) => {
    const t = e.target.closest("[data-name]");
    if (!t) return;
    model.send({event: "click", name: t.dataset.name, index: t.dataset.index === undefined ? null : +t.dataset.index,
                row: t.dataset.row === undefined ? null : +t.dataset.row, col: t.dataset.col === undefined ? null : +t.dataset.col});
  });
  model.on("change:spec", draw);
  draw();
  watchCuts();
}

export default {render};
export {fit, legend, legendBox, text};  // for tests (node)
