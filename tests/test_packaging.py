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


def _conda_listed() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = [dep for dep in env["dependencies"] if isinstance(dep, str)]
    for sub in (dep for dep in env["dependencies"] if isinstance(dep, dict)):  # "- pip:" for what conda lacks
        deps += sub.get("pip", [])
    return {_name(dep): dep for dep in deps}


def _pyproject_wanted() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():  # every extra: notebooks, dev, docs, ...
        reqs += extra
    return {CONDA_NAMES.get(_name(r), _name(r)): r for r in reqs if _name(r) != "fairdd"}


def test_environment_yml_lists_the_pyproject_dependencies():
    wanted, listed = _pyproject_wanted(), _conda_listed()
    missing = sorted(set(wanted) - set(listed))
    assert not missing, f"environment.yml lacks {missing}"
    for name, req in wanted.items():  # same lower bounds
        bound = re.search(r">=\s*([\w.]+)", req)
        if bound:
            assert f">={bound.group(1)}" in listed[name], f"{name}: pyproject {req!r} vs environment.yml {listed[name]!r}"


def test_environment_yml_lists_nothing_pyproject_lacks():
    extra = sorted(set(_conda_listed()) - set(_pyproject_wanted()) - {"python", "pip"})
    assert not extra, f"environment.yml lists {extra}, which pyproject.toml does not"


def _repository_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        return [ROOT / name for name in out.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (an unpacked sdist): walk the tree
        skip = {".git", ".venv", "results", "cache", "_build", "__pycache__", ".pytest_cache"}
        return [p for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]


# Places that exist only in the workspace fairdd was written in, never in a clone of it.
OUTSIDE = ("../" + "shared", "METHOD" + ".md", "/" + "work/")


def test_no_file_refers_to_a_path_outside_the_repository():
    offenders = []
    for path in _repository_files():
        if not path.is_file() or path.suffix in (".png", ".pdf", ".gz", ".pt", ".npz"):
            continue
        text = path.read_bytes().decode("utf-8", errors="ignore")
        for needle in OUTSIDE:
            for line_no, line in enumerate(text.splitlines(), 1):
                if needle in line:
                    offenders.append(f"{path.relative_to(ROOT)}:{line_no}: {needle}")
    assert not offenders, "references outside the repository:\n" + "\n".join(offenders)


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
