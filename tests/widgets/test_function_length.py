"""No function in the dashboard code is longer than 60 lines of code (blank lines, comments and
docstrings not counted): a longer one is split into named steps."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "fairdd"
FILES = sorted((ROOT / "widgets").glob("*.py")) + [ROOT / "viz" / "embedding.py"]
LIMIT = 60


def code_lines(source: str, fn: ast.AST) -> int:
    docs = set()
    for node in ast.walk(fn):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and body \
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            docs.update(range(body[0].lineno, body[0].end_lineno + 1))
    lines = source.splitlines()[fn.lineno - 1: fn.end_lineno]
    return sum(1 for i, line in enumerate(lines, start=fn.lineno)
               if line.strip() and not line.strip().startswith("#") and i not in docs)


def test_the_counter_counts_code_only():
    src = 'def f():\n    """doc\n    more"""\n\n    # note\n    a = 1\n    return a\n'
    assert code_lines(src, ast.parse(src).body[0]) == 3  # def, a = 1, return


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_function_over_60_lines(path):
    source = path.read_text()
    long = {n.name: code_lines(source, n) for n in ast.walk(ast.parse(source))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and code_lines(source, n) > LIMIT}
    assert not long, f"{path.name}: functions over {LIMIT} lines of code: {long}"
