import pytest
import torch

import fairdd

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def digits_train():
    """colored-digits (sklearn 8×8 upsampled to 16 px), 4 colour groups, bias 0.75: fast."""
    return fairdd.datasets.load("colored-digits", split="train", n_groups=4, bias=0.75, size=16, seed=0)


@pytest.fixture(scope="session")
def digits_test():
    return fairdd.datasets.load("colored-digits", split="test", n_groups=4, size=16, seed=0)


@pytest.fixture(scope="session")
def mnist_train():
    return fairdd.datasets.load("colored-mnist-5k", split="train", seed=0, style="clean")


@pytest.fixture(scope="session")
def mnist_test():
    return fairdd.datasets.load("colored-mnist-5k", split="test", seed=0, style="clean")


SMOKE = dict(preset="smoke", device="cpu", depth=2)


@pytest.fixture(scope="session")
def umap_warm():
    """UMAP compiles for ~20 s on first use: pay it once per test session."""
    from fairdd.viz.embedding import warm_up_umap

    return warm_up_umap()


# ------------------------------------------------------------------ the fault-class table (issue #21)
# One test file per class of fault that fairdd closes by design, tests/faults/test_<class>.py (ownership
# of files, verified caches, disk errors, types at the boundary, unmeasurable fairness, sweep truth,
# controller truth, nothing waits forever), one test per case (a row); the rows of the bad-input table
# (tests/test_bad_inputs.py) carry ``@pytest.mark.fault_class("<class>")``. The terminal summary counts
# the rows and their outcomes per class and source, so a run shows how many cases each class has and
# how many hold. (No tests/faults/conftest.py: a second module named ``conftest`` would shadow this one
# for the test modules that ``from conftest import SMOKE``.)
_FAULT_OUTCOMES: dict = {}


def pytest_configure(config):
    config.addinivalue_line("markers", "fault_class(name): the fault class a row of the bad-input table belongs to")


def pytest_collection_modifyitems(items):
    for item in items:
        path = item.path
        marker = item.get_closest_marker("fault_class")
        if marker is not None:
            item.user_properties.append(("fault_class", (marker.args[0], path.stem.removeprefix("test_"))))
        elif path.parent.name == "faults" and path.name.startswith("test_"):
            item.user_properties.append(("fault_class", (path.stem.removeprefix("test_"), "faults/")))


def pytest_runtest_logreport(report):
    if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
        return
    where = dict(report.user_properties).get("fault_class")
    if where is not None:
        from collections import Counter

        _FAULT_OUTCOMES.setdefault(where[0], {}).setdefault(where[1], Counter())[report.outcome] += 1


def pytest_terminal_summary(terminalreporter):
    if not _FAULT_OUTCOMES:
        return
    terminalreporter.section("fault classes (rows per class)")
    for fault_class in sorted(_FAULT_OUTCOMES):
        sources = _FAULT_OUTCOMES[fault_class]
        parts = "; ".join(f"{source}: " + ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
                          for source, counts in sorted(sources.items()))
        terminalreporter.write_line(f"{fault_class:<24} {parts}")
