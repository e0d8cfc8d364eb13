"""No function in fairdd/ is longer than MAX_LINES lines of code.

A line of code is a non-blank line of the function (its ``def`` line and signature included, nested
functions included) that is neither a comment nor part of a docstring. Counted from the AST, so
the count is the same on every machine.
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 60

# Functions longer than MAX_LINES today, each with its length when it was listed. This list must
# shrink to empty: shorten a function, then delete its entry (the test fails on stale entries, and
# on a listed function that grew).
ALLOWED_LONG = {
}


def _docstring_lines(tree: ast.AST) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                lines.update(range(first.lineno, first.end_lineno + 1))
    return lines


def function_lengths(path: Path) -> dict[str, int]:
    """Lines of code of every function and method in ``path``, keyed by dotted name."""
    source = path.read_text(encoding="utf-8")
    text = source.splitlines()
    tree = ast.parse(source)
    docs = _docstring_lines(tree)
    out = {}

    def code_lines(node) -> int:
        return sum(1 for i in range(node.lineno, node.end_lineno + 1)
                   if i not in docs and text[i - 1].strip() and not text[i - 1].strip().startswith("#"))

    def visit(node, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out[prefix + child.name] = code_lines(child)
                visit(child, prefix + child.name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return out


def _all_lengths() -> dict[str, int]:
    lengths = {}
    for path in sorted((ROOT / "fairdd").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        lengths.update({f"{rel}::{name}": n for name, n in function_lengths(path).items()})
    return lengths


def test_the_counter_counts_code_not_docstrings_comments_or_blanks(tmp_path):
    f = tmp_path / "m.py"
    f.write_text('def f(a,\n      b):\n    """Doc.\n\n    More.\n    """\n    # a comment\n\n    x = 1\n'
                 '    def g():\n        return """not a\n        docstring"""\n    return x\n')
    assert function_lengths(f) == {"f": 7, "f.g": 3}


def test_no_function_is_longer_than_the_limit():
    lengths = _all_lengths()
    too_long = {k: n for k, n in lengths.items() if n > MAX_LINES and k not in ALLOWED_LONG}
    assert not too_long, f"functions longer than {MAX_LINES} lines of code: {too_long}"
    grew = {k: (lengths[k], n) for k, n in ALLOWED_LONG.items() if k in lengths and lengths[k] > n}
    assert not grew, f"listed long functions grew (now, listed): {grew}"
    stale = sorted(k for k in ALLOWED_LONG if lengths.get(k, 0) <= MAX_LINES)
    assert not stale, f"delete these entries from ALLOWED_LONG (gone or now within {MAX_LINES} lines): {stale}"
