"""The layering contract, read from the source: data → targets → matching → distill → evaluate → views.

Every ``import`` in ``fairdd/`` (module level or inside a function: a lazy import is still an arrow;
not one under ``if TYPE_CHECKING:``, which never runs) is an edge of the graph; parent packages'
``__init__`` files are not implied (as import-linter counts them), and ``from pkg import mod`` is an
edge to ``pkg.mod`` alone. The graph has no cycle, and no module imports one of a higher layer
(``LAYERS``, the floors of docs/design.md).
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


def _edges(source: str, name: str, *, is_package: bool, modules: set[str]) -> set[str]:
    """The fairdd modules that the module ``name`` (its ``source``) imports anywhere in its body."""
    package = name if is_package else name.rpartition(".")[0]
    out = set()
    for node in _runtime_nodes(ast.parse(source, name)):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            submodules = {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules}
            out |= submodules
            if len(submodules) < len(node.names):  # a name defined in ``base`` itself
                out.add(base)
    return {m for m in out if (m == "fairdd" or m.startswith("fairdd.")) and m != name}


def _runtime_nodes(tree: ast.AST):
    """Every node of ``tree`` but those under ``if TYPE_CHECKING:`` (imports for annotations never run)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            todo.extend(node.orelse)
        else:
            todo.extend(ast.iter_child_nodes(node))


def _imports(path: Path) -> set[str]:
    return _edges(path.read_text(), _module_name(path), is_package=path.name == "__init__.py", modules=MODULES)


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


def test_the_cli_draws_nothing_itself():
    """Charts live in ``fairdd.viz``: the command line parses, calls and prints."""
    drawing = ("matplotlib", "seaborn", "plotly", "PIL")
    bad = sorted({dep for path in CLI_FILES for dep in _all_imports(PACKAGE / path) if dep.split(".")[0] in drawing})
    assert not bad, f"fairdd's command line imports plotting libraries {bad}; draw in fairdd.viz instead"


CLI_FILES = ("cli.py", "sweeps/cli.py")
# Calls that put a file on disk (or take one away). The command line leaves them to the library, whose
# writers are atomic and keep to fairdd.ownership; it may call a library writer (``result.save(out)``).
_WRITING_CALLS = {"write_text", "write_bytes", "savefig", "mkdir", "makedirs", "unlink", "rmdir", "rmtree",
                  "rename", "touch", "dump", "write_owned", "atomic_write", "OutputFolder"}
_WRITING_MODULES = {"os.remove", "os.replace", "torch.save", "np.save", "numpy.save", "shutil"}
_TO_FILE = {"to_csv", "to_markdown", "to_latex", "to_json", "to_parquet", "to_excel", "to_pickle", "to_html"}


def _file_writes(source: str) -> list[str]:
    """``line: call`` for each call in ``source`` that writes or removes a file itself: ``open``,
    ``_WRITING_CALLS``, ``torch.save`` and the like, a pandas ``to_*`` given a path, a ``write`` other
    than ``sys.stdout.write`` / ``sys.stderr.write``."""
    bad = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        last = name.rpartition(".")[2]
        to_path = last in _TO_FILE and (node.args or any(k.arg in ("path_or_buf", "buf") for k in node.keywords))
        stream = last == "write" and name not in ("sys.stdout.write", "sys.stderr.write")
        if name == "open" or last in _WRITING_CALLS or to_path or stream or any(name == m or name.startswith(m + ".")
                                                              for m in _WRITING_MODULES):
            bad.append((node.lineno, node.col_offset, name))
    return [f"{line}: {name}(...)" for line, _, name in sorted(bad)]


def test_the_cli_writes_no_file_itself():
    """Result files are written by the library (atomic, under fairdd.ownership): the CLI calls a writer."""
    bad = [f"fairdd/{name}:{line}" for name in CLI_FILES for line in _file_writes((PACKAGE / name).read_text())]
    assert not bad, "fairdd's command line writes files itself; call a library writer instead:\n" + "\n".join(bad)


def test_a_file_write_is_found_in_any_spelling():
    source = ("def run(args, out, table):\n"
              "    write_owned(out / 'table.md', lambda p: p.write_text(text))\n"
              "    torch.save(state, out / 'x.pt')\n    fig.savefig(out / 'c.png')\n"
              "    table.to_csv(out / 't.csv')\n    with open(out / 'n.txt', 'w') as f:\n        f.write('x')\n"
              "    shutil.rmtree(out)\n")
    assert [line.split(":")[0] for line in _file_writes(source)] == ["2", "2", "3", "4", "5", "6", "7", "8"]
    fine = ("def run(args, result, report, table):\n    result.save(args.out, overwrite=True)\n"
            "    report.save(args.out)\n    print(table.to_csv(index=False))\n    sys.stdout.write(text)\n"
            "    sweep = Sweep.open(args.dir)\n    name = text.replace('_', ' ')\n")
    assert _file_writes(fine) == []


def _all_imports(path: Path) -> set[str]:
    """Every module ``path`` imports (fairdd's or not), anywhere in its body."""
    tree = ast.parse(path.read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return names | {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and not n.level}


def test_import_fairdd_leaves_the_heavy_optional_packages_alone():
    heavy = ["umap", "ot", "ipywidgets", "ipyevents", "matplotlib", "submitit"]
    code = f"import sys, fairdd; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", f"import fairdd imported optional heavy packages: {out}"


# ------------------------------------------------------------------ layers (issue #24)
# Lowest first. A module may import modules of its own layer or of lower ones, never of a higher one.
# ``name.*`` is a package and everything in it; a bare name is that one module; the longest entry
# that matches a module gives its layer, so ``fairdd.sweeps.cli`` (the sweep commands) sits with the CLI.
LAYERS = (
    ("base", ("fairdd.ops", "fairdd.validate", "fairdd.io", "fairdd.ownership", "fairdd.display", "fairdd.palette",
              "fairdd.provenance", "fairdd.profiling", "fairdd.synthetic")),
    ("models and measures", ("fairdd.models", "fairdd.augment", "fairdd.stacked", "fairdd.barycenter",
                             "fairdd.metrics", "fairdd.report", "fairdd.results", "fairdd.tables")),
    ("data", ("fairdd.data.*", "fairdd.datasets")),
    ("targets", ("fairdd.targets.*", "fairdd.toy")),
    ("config", ("fairdd.config", "fairdd.levers", "fairdd.train")),
    ("matching", ("fairdd.matching.*",)),
    ("loop", ("fairdd.distill", "fairdd.evaluate", "fairdd.published", "fairdd")),  # ``fairdd``: the public API
    ("sweeps", ("fairdd.sweeps.*",)),
    ("experiments", ("fairdd.experiments.*",)),
    ("viz", ("fairdd.viz.*",)),
    ("widgets", ("fairdd.widgets.*",)),
    ("cli", ("fairdd.cli", "fairdd.__main__", "fairdd.sweeps.cli")),
)


def _layer(module: str) -> int | None:
    """The index in ``LAYERS`` of ``module``'s layer (the longest matching entry), None if none matches."""
    best, rank = -1, None
    for i, (_, entries) in enumerate(LAYERS):
        for entry in entries:
            stem = entry.removesuffix(".*")
            hit = module == stem or (entry.endswith(".*") and module.startswith(stem + "."))
            if hit and len(stem) > best:
                best, rank = len(stem), i
    return rank


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One import cycle per strongly connected component of ``graph`` with more than one module
    (Tarjan's algorithm), each as ``[a, b, ..., a]``."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = {stack.pop()}
            while v not in component:
                component.add(stack.pop())
            on_stack.difference_update(component)
            if len(component) > 1:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_cycle_through(graph, min(c), c) for c in components]


def _cycle_through(graph: dict[str, set[str]], start: str, component: set[str]) -> list[str]:
    """The shortest import path from ``start`` back to itself inside ``component`` (breadth first)."""
    came_from, todo = {}, [start]
    while todo:
        mod = todo.pop(0)
        for dep in sorted(graph.get(mod, ())):
            if dep == start:
                path = [mod]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]  # start → ... → mod → start
            if dep in component and dep not in came_from:
                came_from[dep] = mod
                todo.append(dep)
    raise AssertionError(f"no cycle through {start}")


def _circle(start: str) -> set[str]:
    """The modules that ``start`` imports and that import ``start`` back, directly or not."""
    return {m for m in [start, *_reach(start)] if m == start or start in _reach(m)}


def test_every_module_has_a_layer():
    missing = sorted(m for m in MODULES if _layer(m) is None)
    assert not missing, ("these modules belong to no layer; add each to LAYERS in tests/test_layering.py:\n"
                         + "\n".join(missing))


def test_the_import_graph_has_no_cycle():
    cycles = _cycles(GRAPH)
    circles = [" → ".join(c) + f"\n    (the circle: {', '.join(sorted(_circle(c[0])))})" for c in cycles]
    assert not cycles, "import cycles in fairdd (a lazy import counts):\n" + "\n".join(circles)


def test_no_module_imports_a_higher_layer():
    bad = [f"{mod} ({LAYERS[_layer(mod)][0]}) imports {dep} ({LAYERS[_layer(dep)][0]})"
           for mod in sorted(GRAPH) for dep in sorted(GRAPH[mod])
           if _layer(mod) is not None and _layer(dep) is not None and _layer(dep) > _layer(mod)]
    order = " < ".join(name for name, _ in LAYERS)
    assert not bad, f"upward imports (layers, lowest first: {order}):\n" + "\n".join(bad)


def test_the_graph_counts_imports_inside_functions_and_relative_ones():
    source = ("from . import io\nfrom .ops import cell_index\n\n"
              "def f():\n    from ..sweeps import Sweep\n    import fairdd.viz.plots\n"
              "if TYPE_CHECKING:\n    from ..widgets import Dashboard\n")
    got = _edges(source, "fairdd.data.colored", is_package=False,
                 modules={"fairdd.data.io", "fairdd.sweeps", "fairdd.viz.plots"})
    assert got == {"fairdd.data.io", "fairdd.data.ops", "fairdd.sweeps", "fairdd.viz.plots"}  # not the type-only one


def test_a_cycle_is_found_and_spelled_out():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e2"}, "e2": {"e"}}
    assert sorted(_cycles(graph)) == [["a", "b", "c", "a"], ["e", "e2", "e"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_layers_are_read_by_the_longest_entry():
    assert LAYERS[_layer("fairdd.sweeps.cli")][0] == "cli"
    assert LAYERS[_layer("fairdd.sweeps.run")][0] == "sweeps"
    assert LAYERS[_layer("fairdd")][0] == "loop"
    assert _layer("fairdd.nothing_declares_this") is None
