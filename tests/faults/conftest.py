"""The fault-class table: one test file per class of fault, one test per case (a row).

Each ``test_<class>.py`` here holds the cases of one class of fault that fairdd closes by design
(ownership of files, verified caches, disk errors, types at the boundary, unmeasurable fairness,
sweep truth, controller truth, nothing waits forever). The terminal summary counts the rows per
class, so a run shows how many cases each class has and how many hold.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

_OUTCOMES: dict[str, Counter] = {}


def pytest_runtest_logreport(report):
    if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
        return
    path = Path(report.nodeid.split("::", 1)[0])
    if path.parent.name != "faults" or not path.name.startswith("test_"):
        return
    fault_class = path.stem.removeprefix("test_")
    _OUTCOMES.setdefault(fault_class, Counter())[report.outcome] += 1


def pytest_terminal_summary(terminalreporter):
    if not _OUTCOMES:
        return
    terminalreporter.section("fault classes (rows per class)")
    for fault_class in sorted(_OUTCOMES):
        counts = _OUTCOMES[fault_class]
        parts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
        terminalreporter.write_line(f"{fault_class:<24} {parts}")
