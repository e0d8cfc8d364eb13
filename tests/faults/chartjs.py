"""Run the dashboard chart's JavaScript (``fairdd/widgets/chart.js``) in node, for the fault tests.

Not a test module: ``node_eval`` evaluates an expression with the module's exports in scope, under a canvas whose
text is 0.6 em per character (so budgets in the tests are exact), and returns its JSON value.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

CHART_JS = Path(__file__).resolve().parents[2] / "fairdd" / "widgets" / "chart.js"
STUB = ("globalThis.document = {createElement: () => ({getContext: () => ({font: '', measureText(s) "
        "{ return {width: 0.6 * parseFloat(this.font) * [...s].length}; }})})};\n")


def _node() -> str:
    """The system's node, else the one Playwright ships (a test dependency): never skipped for want of node."""
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        import playwright

        bundled = Path(playwright.__file__).resolve().parent / "driver" / "node"
        assert bundled.exists(), f"no node: neither on PATH nor Playwright's {bundled}"
        node = str(bundled)
    return node


def node_eval(expression: str):
    """Evaluate ``expression`` (JavaScript, with ``fit``, ``legend``, ``legendBox`` and ``text`` in scope) in node."""
    node = _node()
    script = (STUB + f"const {{fit, legend, legendBox, text}} = await import({json.dumps(CHART_JS.as_uri())});\n"
              f"console.log(JSON.stringify({expression}));\n")
    done = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
