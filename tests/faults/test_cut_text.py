"""Fault class: a text cut to fit the dashboard's pixel budget loses its end for good.

A legend with ten groups called "a very long protected group name number 7" clipped the names with no way to
read them; heatmap column names ran out of the chart; a status line cut with "…" by CSS had no hover. The rule:
every text the chart draws goes through one helper (``fit``/``text`` in ``fairdd/widgets/chart.js``) that cuts it
to its budget with "…" and keeps the whole text as an SVG ``<title>`` (a legend entry: a ``title`` attribute);
whatever the page's CSS cuts (captions, status lines, group names) gets its whole text as a ``title`` from one
watcher in the same file. The cases here run the helper in node with a fixed font metric (0.6 em per character);
``tests/test_browser.py`` renders ten long-named groups in chromium and checks every cut on the page.
"""
from __future__ import annotations

import json
import re

from chartjs import CHART_JS
from chartjs import node_eval as _node

LONG = "a very long protected group name number 7"


def _code(js: str) -> str:
    return re.sub(r"(?m)^\s*//.*$|\s//\s.*$", "", js)


def test_every_svg_text_of_the_chart_is_drawn_by_the_one_helper():
    code = _code(CHART_JS.read_text())
    assert code.count("<text") == 1, [line.strip() for line in code.splitlines() if "<text" in line]
    assert "function text(" in code and "<title>" in code


def test_a_text_wider_than_its_budget_is_cut_with_an_ellipsis_and_keeps_the_whole_text_as_its_title():
    svg = _node(f"text('x=\"1\"', {json.dumps(LONG)}, 10, 90)")
    shown = re.match(r"<text [^>]*>([^<]*)<title>([^<]*)</title></text>$", svg)
    assert shown, svg
    assert shown.group(1).endswith("…") and 0.6 * 10 * len(shown.group(1)) <= 90, svg
    assert shown.group(2) == LONG and LONG.startswith(shown.group(1)[:-1])


def test_a_text_that_fits_is_drawn_whole_with_no_title():
    assert _node("text('x=\"1\"', 'red', 10, 90)") == '<text x="1" font-size="10">red</text>'
    assert _node(f"text('x=\"1\"', {json.dumps(LONG)}, 10)") == f'<text x="1" font-size="10">{LONG}</text>'  # no budget


def test_markup_in_a_cut_name_is_escaped_in_the_text_and_in_its_title():
    svg = _node("text('', 'group <b>&amp; \"quoted\" and more words', 10, 60)")
    assert "<b>" not in svg and "&lt;b&gt;" in svg.split("<title>")[1] and "&quot;quoted&quot;" in svg, svg


def test_a_budget_too_small_for_any_letter_leaves_the_ellipsis_and_the_whole_text_on_hover():
    svg = _node("text('', 'abc', 10, 4)")
    assert svg == '<text  font-size="10">…<title>abc</title></text>', svg


def test_a_legend_entry_in_a_side_column_is_cut_to_the_column_with_its_whole_name_as_title():
    html = _node(f"legend([{{label: {json.dumps(LONG)}, color: '#000', shape: 'circle'}}, "
                 "{label: 'red', color: '#f00', shape: 'circle'}], 12, 90, 0)")
    first, second = html.split("</span>")[:2]
    assert f'title="{LONG}"' in first and first.rstrip().endswith("…"), first
    assert "title=" not in second and second.endswith(" red"), second  # whole: no title


def test_the_entries_of_a_legend_below_share_the_line():
    html = _node(f"legend([{{label: {json.dumps(LONG)}, color: '#000'}}, {{label: {json.dumps(LONG)}, color: '#111'}}],"
                 " 12, 0, 400)")
    labels = re.findall(r"</svg> ([^<]*)</span>", html)
    assert len(labels) == 2 and all(s.endswith("…") for s in labels), html
    # each label within its half of the line, beside its 1.6 em mark and the gaps
    assert all(0.6 * 0.85 * 12 * len(s) <= 200 - 1.6 * 12 - 0.6 * 12 - 10 for s in labels), labels
    assert html.count(f'title="{LONG}"') == 2
