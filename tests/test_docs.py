"""The documentation site's sources agree with the repository (the build itself runs as `make docs`)."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _toctree_entries() -> set[str]:
    entries = set()
    for page in DOCS.glob("*.md"):
        for block in re.findall(r"```\{toctree\}\n(.*?)```", page.read_text(), flags=re.S):
            entries |= {line.strip() for line in block.splitlines() if line.strip() and not line.startswith(":")}
    return entries


def test_every_notebook_is_rendered_in_the_docs():
    notebooks = {f"notebooks/{p.stem}" for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert notebooks and notebooks <= _toctree_entries(), sorted(notebooks - _toctree_entries())


def test_every_docs_page_is_in_a_toctree():
    pages = {p.stem for p in DOCS.glob("*.md")} - {"index"}
    missing = sorted(pages - _toctree_entries())
    assert not missing, f"docs pages in no toctree: {missing}"


def test_readme_links_resolve():
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)#\s]+)\)", readme) + re.findall(r'<img src="([^"]+)"', readme)
    local = [t for t in targets if not re.match(r"[a-z]+://", t)]
    assert local, "the README links no local file"
    missing = [t for t in local if not (ROOT / t).exists()]
    assert not missing, f"README links missing files: {missing}"


def _ext():
    import sys

    sys.path.insert(0, str(DOCS / "_ext"))
    import static_widgets

    return static_widgets


def test_widget_views_become_static_html_of_their_default_view():
    import nbformat

    sw = _ext()
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="

    def model(name, **state):
        return {"model_name": name, "model_module": "@jupyter-widgets/controls", "model_module_version": "2.0.0",
                "state": {"layout": "IPY_MODEL_lay", **state}}

    state = {
        "lay": model("LayoutModel", width="300px"),
        "box": model("VBoxModel", children=["IPY_MODEL_s", "IPY_MODEL_out", "IPY_MODEL_img", "IPY_MODEL_hidden"],
                     _dom_classes=["widget-interact"]),
        "s": model("FloatSliderModel", description="majority", value=0.9, min=0.5, max=1.0, step=0.05),
        "out": model("OutputModel", outputs=[{"output_type": "display_data", "metadata": {},
                                              "data": {"image/png": png, "text/plain": "<Figure>"}},
                                             {"output_type": "stream", "name": "stdout", "text": "a < b\n"}]),
        "img": {**model("ImageModel", format="png"), "buffers": [{"path": ["value"], "data": png, "encoding": "base64"}]},
        "hidden": model("HTMLModel", value="SECRET", layout="IPY_MODEL_none"),
        "none": model("LayoutModel", display="none"),
    }
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("W.interact(...)")
    cell.outputs = [nbformat.v4.new_output("display_data", data={
        sw.VIEW: {"model_id": "box", "version_major": 2, "version_minor": 0}, "text/plain": "interactive(...)"})]
    nb.cells = [cell]
    nb.metadata["widgets"] = {sw.STATE: {"state": state, "version_major": 2, "version_minor": 0}}

    assert sw.flatten_widgets(nb) == 1
    html = cell.outputs[0]["data"]["text/html"]
    assert list(cell.outputs[0]["data"]) == ["text/html"] and "widgets" not in nb.metadata
    assert html.count(f"data:image/png;base64,{png}") == 2  # the interact's figure and the Image widget
    assert 'type="range" disabled min="0.5" max="1.0" step="0.05" value="0.9"' in html and "majority" in html
    assert "a &lt; b" in html and "SECRET" not in html and "width: 300px" in html and sw.NOTE in html

    cell.outputs = [nbformat.v4.new_output("display_data", data={sw.VIEW: {"model_id": "gone"}})]
    nb.metadata["widgets"] = {sw.STATE: {"state": state}}
    import pytest

    with pytest.raises(ValueError, match="gone"):
        sw.flatten_widgets(nb)


def test_a_missed_wake_up_costs_one_poll_slice_not_the_cell_limit():
    """The notebook runner's waits for kernel messages come in slices: a wait that sleeps through a
    message's arrival (the hang seen with widget cells) ends after one slice, and the next finds it."""
    import asyncio
    import time
    from queue import Empty

    _ext()
    from executed_notebooks import sliced

    calls = []

    async def get_msg(timeout=None):
        calls.append(timeout)
        if len(calls) == 1:  # this wait never wakes, though the reply is there
            await asyncio.sleep(timeout)
            raise Empty
        return {"msg_type": "execute_reply"}

    t0 = time.perf_counter()
    assert asyncio.run(sliced(get_msg, slice_s=0.05)(timeout=60))["msg_type"] == "execute_reply"
    assert time.perf_counter() - t0 < 5 and calls == [0.05, 0.05]

    async def silent(timeout=None):
        await asyncio.sleep(timeout)
        raise Empty

    t0 = time.perf_counter()
    import pytest

    with pytest.raises(Empty):  # nothing comes: Empty after the whole timeout, as before
        asyncio.run(sliced(silent, slice_s=0.05)(timeout=0.3))
    assert 0.29 < time.perf_counter() - t0 < 5
