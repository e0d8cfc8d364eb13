"""Execute every notebook top to bottom with SMOKE on (papermill's parameters), under a per-notebook limit."""
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CELL_LIMIT_S = 180  # any one cell (the run fails past it); SMOKE cells take seconds
NOTEBOOK_LIMIT_S = 600  # a whole notebook, wall clock: generous, the shared 2-core machines stall at times


def test_every_notebook_has_a_parameters_cell():
    import nbformat

    assert len(NOTEBOOKS) == 8
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1 and "SMOKE = False" in tagged[0].source, path.name
        assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{path.name}: strip outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_with_smoke(path, tmp_path):
    """papermill injects SMOKE = True after the parameters cell; the docs' runner executes the notebook
    (an nbclient client that cannot sleep through a missed zmq wake-up: docs/_ext/executed_notebooks.py)."""
    import sys

    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    sys.path.insert(0, str(ROOT / "docs" / "_ext"))
    from executed_notebooks import run

    nb = parameterize_notebook(load_notebook_node(str(path)), {"SMOKE": True}, kernel_name="python3")
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
    t0 = time.perf_counter()
    run(nb, cell_limit_s=CELL_LIMIT_S, cwd=tmp_path)
    assert time.perf_counter() - t0 < NOTEBOOK_LIMIT_S
    nbformat.write(nb, tmp_path / path.name)
    _check_outputs(nb, path, tmp_path)


def _images(outputs) -> list[str]:
    return [o["data"]["image/png"] for o in outputs if "image/png" in o.get("data", {})]


def _check_outputs(nb, path, cwd) -> None:
    """What an executed notebook shows and writes: no figure shown twice in one cell or one widget
    output (a figure returned *and* drawn), and files that do not overwrite each other."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    shown = [_images(c.get("outputs", [])) for c in nb.cells if c.cell_type == "code"]
    shown += [_images(w["state"].get("outputs", [])) for w in state.values() if w.get("model_name") == "OutputModel"]
    for images in shown:
        assert len(images) == len(set(images)), f"{path.name}: a figure is shown twice"
    if path.stem.startswith("05_"):  # the demo's summary table and the sweep's grid table are both kept
        figures = cwd / "results" / "figures_smoke"
        demo, sweep = (figures / "demo_table.tex").read_text(), (figures / "sweep_table" / "table.tex").read_text()
        assert demo != sweep and "Colored MNIST" not in demo and "colored-digits" in demo


def test_notebook_maths_is_latex():
    """Maths in markdown is written as $...$ (MathJax renders it), never as raw Φ_{T_a} text."""
    import re

    import nbformat

    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "markdown":
                continue
            text = re.sub(r"`[^`]*`|\$\$.*?\$\$|\$[^$]*\$", "", cell.source, flags=re.S)  # code and maths
            raw = re.findall(r".{0,20}(?:[_^]\{|[ΦΣΔπμ‖≤]).{0,20}", text)
            assert not raw, f"{path.name}: maths outside $...$: {raw}"


def test_notebook_outputs_are_ignored_by_git():
    """What a notebook run writes under notebooks/results/ is ignored by git."""
    import subprocess

    probe = "notebooks/results/study_smoke.json"
    rc = subprocess.run(["git", "check-ignore", "-q", probe], cwd=ROOT).returncode
    assert rc == 0, f"{probe} is not ignored by .gitignore"


def _install_cell(path):
    import nbformat

    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "install" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{path.name}: one cell tagged 'install'"
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert first_code is cells[0], f"{path.name}: the install cell comes first"
    return cells[0].source


class _Shell:
    def __init__(self):
        self.calls = []

    def run_line_magic(self, name, line):
        self.calls.append((name, line))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_install_cell_is_a_no_op_locally_and_installs_on_colab(path, monkeypatch):
    import sys
    import types

    source = _install_cell(path)
    shell = _Shell()
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(source, path.name, "exec"), {"get_ipython": lambda: shell})
    assert shell.calls == []  # locally: nothing installed, nothing enabled
    enabled = []
    colab = types.ModuleType("google.colab")
    colab.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: enabled.append(True))
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    exec(compile(source, path.name, "exec"), {"get_ipython": lambda: shell})
    assert shell.calls and shell.calls[0][0] == "pip" and "install" in shell.calls[0][1] and "git+" in shell.calls[0][1]
    assert enabled == [True]
    # where pip gets fairdd is one setting, the FAIRDD_PIP_SPEC environment variable (see docs/getting-started.md)
    monkeypatch.setenv("FAIRDD_PIP_SPEC", "fairdd[notebooks] @ git+https://example.org/my/fairdd")
    shell.calls.clear()
    exec(compile(source, path.name, "exec"), {"get_ipython": lambda: shell})
    assert shell.calls == [("pip", 'install -q "fairdd[notebooks] @ git+https://example.org/my/fairdd"')]


def test_install_cells_are_the_same_in_every_notebook():
    assert len({_install_cell(path) for path in NOTEBOOKS}) == 1


def _parameters(path) -> dict:
    """The values a notebook's ``parameters`` cell assigns (plain assignments)."""
    import nbformat

    cell = next(c for c in nbformat.read(path, as_version=4).cells if "parameters" in c.metadata.get("tags", []))
    params: dict = {}
    exec(cell.source, params)  # noqa: S102 - the notebook's own parameters cell
    return params


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if "DATASET" in _parameters(p)], ids=lambda p: p.stem)
def test_a_notebooks_default_dataset_ships_with_fairdd(path, tmp_path):
    """Every notebook's default DATASET loads with no data folder at all (not, say, "colored-mnist", whose
    MNIST files are not shipped: a FileNotFoundError outside SMOKE)."""
    import fairdd

    params = _parameters(path)
    found = fairdd.datasets.availability(params["DATASET"], root=tmp_path / "no-data-here")
    assert found.available, (path.name, params["DATASET"], found.reason)
