import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock.txt"


def _name(req: str) -> str:
    return Requirement(req).name.lower().replace("_", "-")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _locked() -> dict[str, Version]:
    """The lock's pin of each package for this interpreter and platform (lines whose markers match)."""
    pins = {}
    for line in LOCK.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate():
            (spec,) = req.specifier
            assert spec.operator == "==", f"lock line {line!r} is not a pin"
            pins[_name(req.name)] = Version(spec.version)
    return pins


def test_lock_pins_every_dependency_of_every_extra_within_its_range():
    project, pins = _pyproject(), _locked()
    reqs = [Requirement(r) for r in project["dependencies"]]
    reqs += [Requirement(r) for extra in project["optional-dependencies"].values() for r in extra]
    wanted = [r for r in reqs if _name(r.name) != project["name"] and (r.marker is None or r.marker.evaluate())]
    missing = sorted({_name(r.name) for r in wanted} - set(pins))
    assert not missing, f"{LOCK.name} lacks {missing}: run `make lock` and commit requirements/lock.txt"
    outside = [f"{r} (locked {pins[_name(r.name)]})" for r in wanted
               if not r.specifier.contains(pins[_name(r.name)], prereleases=True)]
    assert not outside, f"locked versions outside pyproject's ranges: {outside}; run `make lock`"


def test_lock_honours_its_input_pins():
    pins = _locked()
    for line in (ROOT / "requirements" / "lock.in").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            req = Requirement(line)
            assert req.specifier.contains(pins[_name(req.name)]), f"{req} vs locked {pins[_name(req.name)]}"


def test_environment_yml_installs_every_extra_through_the_lock():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [dep for dep in env["dependencies"] if isinstance(dep, str)]
    assert sorted(_name(dep.split("=")[0]) for dep in conda) == ["pip", "python"], conda  # pip installs the rest
    (pip_lines,) = [dep["pip"] for dep in env["dependencies"] if isinstance(dep, dict)]
    assert "-c requirements/lock.txt" in pip_lines
    (editable,) = [line for line in pip_lines if line.startswith("-e ")]
    extras = Requirement("fairdd" + editable.removeprefix("-e .")).extras
    assert extras == set(_pyproject()["optional-dependencies"]), f"{editable!r} vs pyproject's extras"


def test_make_installs_every_venv_through_the_lock():
    out = subprocess.run(["make", "-n", "-B", ".venv/.dev", ".venv/.docs"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    installs = [line for line in out.splitlines() if "pip install" in line and "--upgrade pip" not in line]
    assert len(installs) >= 4, out  # torch, fairdd, the dev extra, the docs extra
    unlocked = [line for line in installs if "-c requirements/lock.txt" not in line]
    assert not unlocked, f"installs that ignore the lock: {unlocked}"
    prerequisites = subprocess.run(["make", "-p", "-n", ".venv/.core"], cwd=ROOT, capture_output=True,
                                   text=True).stdout
    assert re.search(r"^\.venv/\.core:.*requirements/lock\.txt", prerequisites, flags=re.M), \
        "the venv stamp must depend on the lock (a changed lock reinstalls)"


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
