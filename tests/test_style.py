"""Docstring style of the public modules: numpydoc, checked by ruff's pydocstyle rules (as fairlearn does).

Every module in ``PUBLIC_MODULES`` must pass ``ruff check --select D`` under the numpy convention.
To bring another module under the check, document it and add its path (a file, or a folder for a
whole subpackage) to ``PUBLIC_MODULES``; the list only grows.
"""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PUBLIC_MODULES = (
    "fairdd/barycenter.py",
    "fairdd/config.py",
    "fairdd/data",
    "fairdd/display.py",
    "fairdd/distill.py",
    "fairdd/evaluate.py",
    "fairdd/matching",
    "fairdd/metrics.py",
    "fairdd/palette.py",
    "fairdd/report.py",
    "fairdd/synthetic.py",
    "fairdd/tables.py",
    "fairdd/targets",
    "fairdd/viz/paper.py",
    "fairdd/viz/plots.py",
    "fairdd/sweeps",
    "fairdd/widgets",
)
# Every D rule of the numpy convention, D105 included: a magic method says in one line what it checks
# (``__post_init__``) or gives (``__repr__``, ``__len__``).
RUFF_ARGS = ("check", "--isolated", "--select", "D",
             "--config", "lint.pydocstyle.convention = 'numpy'", "--output-format", "concise")


def test_public_modules_have_numpydoc_docstrings():
    missing = [m for m in PUBLIC_MODULES if not (ROOT / m).exists()]
    assert not missing, f"PUBLIC_MODULES names paths that do not exist: {missing}"
    try:
        import ruff  # noqa: F401
    except ImportError:
        raise AssertionError("ruff is not installed; it is part of the dev extra: pip install -e '.[dev]'")
    run = subprocess.run([sys.executable, "-m", "ruff", *RUFF_ARGS, *PUBLIC_MODULES], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 0, f"ruff's pydocstyle (numpy) check failed:\n{run.stdout}{run.stderr}"
