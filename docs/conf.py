"""Sphinx configuration for the fairdd documentation (``make docs``).

The notebooks in ``notebooks/`` are copied into ``docs/notebooks/`` (ignored by git) and executed by
nbclient on every build: with ``FAIRDD_SMOKE=1`` (the default of ``make docs``, and what CI runs) each
shrinks to its smoke settings and its page says so under the title; ``make docs FULL=1`` sets
``FAIRDD_SMOKE=0`` and runs them at the demo preset, for publishing. Interactive outputs (ipywidgets)
are drawn as static HTML of their default view (docs/_ext/static_widgets.py) and MathJax is served from
the site, so the built site works with no network.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # document this checkout's fairdd, installed or not

import fairdd  # noqa: E402
import nbformat  # noqa: E402

project = "fairdd"
author = "the fairdd authors"
copyright = "the fairdd authors"
release = version = fairdd.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",  # MathJax 3 served from the site itself (below), not a CDN
    "sphinx.ext.viewcode",
    "generated_tables",  # docs/_ext: the preset tables filled from fairdd.config while each page is read
]
exclude_patterns = ["_build", "_ext", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints", "conf.py"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}

# --- notebooks: executed here on every build, their interactive outputs drawn as static HTML ----------
os.environ.setdefault("FAIRDD_SMOKE", "1")  # the kernel inherits it; each notebook reads it
# the notebooks' kernel imports this checkout's fairdd too
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
sys.path.insert(0, str(DOCS / "_ext"))
from executed_notebooks import execute, write_if_changed  # noqa: E402

_nb_dir = DOCS / "notebooks"
_nb_dir.mkdir(exist_ok=True)
_sources = {p.name: p for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))}
for _stale in _nb_dir.glob("*.ipynb"):
    if _stale.name not in _sources:
        _stale.unlink()
_SMOKE = os.environ["FAIRDD_SMOKE"] == "1"
_SMOKE_NOTE = ("```{note}\nThis page was executed in SMOKE mode: tiny data and a few iterations, so its numbers "
               "show the pipeline, not the method. Run the notebook yourself, or build the site with "
               "`make docs FULL=1`, for the demo preset.\n```")
for _name, _src in _sources.items():
    _nb = nbformat.read(_src, as_version=4)
    # seconds per cell (SMOKE cells take seconds, so past 180 s something is wrong); FULL: no limit
    execute(_nb, cell_limit_s=180 if _SMOKE else None)
    if _SMOKE:  # say so under the title
        _nb.cells.insert(1, nbformat.v4.new_markdown_cell(_SMOKE_NOTE))
    write_if_changed(_nb, _nb_dir / _name)

nb_execution_mode = "off"  # executed above
nb_ipywidgets_js: dict = {}  # no widget manager: widget views are static HTML (docs/_ext/static_widgets.py)
nb_merge_streams = True
nb_render_markdown_format = "myst"

myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# --- API reference: numpy-style docstrings, signatures without the type clutter ----------------------
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_default_options = {"members": False, "show-inheritance": False}
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False

# --- HTML ---------------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"fairdd {release}"
html_static_path = ["_static"]
html_css_files = ["static_widgets.css"]
# MathJax from the site itself (the pip package sphinx-mathjax-offline ships it), so the maths renders
# with no network: the one script and its fonts are copied into _static/mathjax after the build.
mathjax_path = "mathjax/tex-chtml.js"
html_theme_options = {"navigation_with_keys": True}


# --- docstrings are written as plain text with maths (|𝒜|, Φ_{T_{a|c}}): keep reStructuredText from
# reading a "|" as a substitution reference. Tables, ``literals`` and literal blocks are left alone.
def _escape_bars(app, what, name, obj, options, lines):
    literal_indent = None
    for i, line in enumerate(lines):
        indent = len(line) - len(line.lstrip())
        if literal_indent is not None and line.strip() and indent <= literal_indent:
            literal_indent = None
        if literal_indent is None and not line.lstrip().startswith(("|", "+-", "+=")):
            parts = line.split("``")
            lines[i] = "``".join(p.replace("|", r"\|") if k % 2 == 0 else p for k, p in enumerate(parts))
        if line.rstrip().endswith("::") and literal_indent is None:
            literal_indent = indent


def _copy_mathjax(app, exc):
    import importlib.util
    import shutil

    if exc is not None or app.builder.format != "html":
        return
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("MathJax is served from the site: pip install sphinx-mathjax-offline (in the [docs] extra)")
    src = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax"
    dst = Path(app.outdir) / "_static" / "mathjax"
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / "tex-chtml.js", dst / "tex-chtml.js")
    shutil.copytree(src / "output" / "chtml" / "fonts" / "woff-v2", dst / "output" / "chtml" / "fonts" / "woff-v2",
                    dirs_exist_ok=True)


def setup(app):
    app.connect("autodoc-process-docstring", _escape_bars)
    app.connect("build-finished", _copy_mathjax)
