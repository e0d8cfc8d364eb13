import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"torch": "pytorch"}


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[]", req, maxsplit=1)[0].strip().lower()


def test_environment_yml_lists_the_pyproject_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    reqs = project["dependencies"] + extras["notebooks"] + extras["dev"]
    wanted = {CONDA_NAMES.get(_name(r), _name(r)): r for r in reqs if _name(r) != "fairdd"}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    listed = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str):
            listed[_name(dep)] = dep
    missing = sorted(set(wanted) - set(listed))
    assert not missing, f"environment.yml lacks {missing}"
    for name, req in wanted.items():  # same lower bounds
        bound = re.search(r">=\s*([\w.]+)", req)
        if bound:
            assert f">={bound.group(1)}" in listed[name], f"{name}: pyproject {req!r} vs environment.yml {listed[name]!r}"


def test_import_fairdd_stays_light():
    code = ("import sys, fairdd; heavy = [m for m in ('matplotlib', 'umap', 'ot', 'ipywidgets', 'seaborn', "
            "'sklearn', 'mlxtend', 'pandas') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_library_never_prints():
    offenders = []
    for path in (ROOT / "fairdd").rglob("*.py"):
        if path.name in ("cli.py", "__main__.py"):
            continue
        if re.search(r"^\s*print\(", path.read_text(), flags=re.M):
            offenders.append(path.name)
    assert not offenders
