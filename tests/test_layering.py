"""The layering contract, read from the source: data → targets → matching → distill → evaluate → views.

Every ``import`` in ``fairdd/`` (module level or inside a function) is an edge of the graph; parent
packages' ``__init__`` files are not implied (as import-linter counts them).
"""
import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(importlib.util.find_spec("fairdd").origin).parent  # the fairdd under test, not imported here


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The fairdd modules ``path`` imports (``from . import x`` counts as module ``pkg.x`` when it is one)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES}
    return {m for m in out if m == "fairdd" or m.startswith("fairdd.")}


MODULES = {_module_name(p) for p in PACKAGE.rglob("*.py")}
GRAPH = {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def _reach(start: str) -> dict[str, str]:
    """Every module ``start`` imports, directly or through others: module → the module importing it."""
    seen, todo = {}, [start]
    while todo:
        mod = todo.pop()
        for dep in GRAPH.get(mod, ()):
            if dep not in seen and dep != start:
                seen[dep] = mod
                todo.append(dep)
    return seen


def _chain(start: str, reach: dict, end: str) -> str:
    path = [end]
    while path[-1] != start:
        path.append(reach[path[-1]])
    return " → ".join(reversed(path))


def _forbidden(start: str, prefix: str) -> list[str]:
    reach = _reach(start)
    return [_chain(start, reach, m) for m in sorted(reach) if m == prefix or m.startswith(prefix + ".")]


def test_results_sit_below_matching():
    bad = _forbidden("fairdd.results", "fairdd.matching")
    assert not bad, "fairdd.results must not import fairdd.matching; offending import chains:\n" + "\n".join(bad)


def test_evaluate_does_not_sit_above_distill():
    bad = _forbidden("fairdd.evaluate", "fairdd.distill")
    assert not bad, "fairdd.evaluate must not import fairdd.distill; offending import chains:\n" + "\n".join(bad)


def test_matchers_import_only_the_strategy_interface_from_targets():
    bad = [f"{mod} imports {dep}" for mod in sorted(GRAPH) if mod.startswith("fairdd.matching")
           for dep in sorted(GRAPH[mod]) if (dep == "fairdd.targets" or dep.startswith("fairdd.targets."))
           and dep != "fairdd.targets.base"]
    assert not bad, "matchers may import only fairdd.targets.base from fairdd.targets:\n" + "\n".join(bad)


def test_targets_do_not_import_matching_or_the_loop():
    bad = [c for top in ("fairdd.matching", "fairdd.distill", "fairdd.evaluate")
           for mod in sorted(GRAPH) if mod.startswith("fairdd.targets") for c in _forbidden(mod, top)]
    assert not bad, "fairdd.targets must sit below matching and the loop; offending chains:\n" + "\n".join(bad)


def test_import_fairdd_leaves_the_heavy_optional_packages_alone():
    heavy = ["umap", "ot", "ipywidgets", "ipyevents", "matplotlib", "submitit"]
    code = f"import sys, fairdd; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", f"import fairdd imported optional heavy packages: {out}"
