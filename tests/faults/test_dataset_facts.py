"""Fault class: a fact about a dataset kept anywhere but its record.

Every dataset is one ``DatasetRecord`` (``fairdd/data/catalog/<name>.py``) and every part of fairdd reads
it: the loader and its knobs, classes and groups, the files it needs, whether fairdd can download them,
IDC's factor, the published severity, the sizes the time estimate uses. The class opened with six lists
of dataset names in five modules (the CLI's downloadable sets, the registry's builders and file sets,
the IDC factor's face sets, the estimate's class counts and sizes, the dashboard's severity rule); a
dataset added to one list and not the others was half-known. The rows: no module outside the catalog
and the loaders names a dataset in a list, and a dataset registered from this file (``tinted-squares``,
which no list names) is known everywhere.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import fairdd
from fairdd.cli import main
from fairdd.config import distill_config
from fairdd.data.dataset import GroupedDataset

PACKAGE = Path(fairdd.__file__).parent
# the loaders' own modules may name the datasets they build (their folders, their branches)
LOADER_MODULES = ("data/colored.py", "data/faces.py", "data/cifar10s.py", "data/sources.py")
NAME = "tinted-squares"
TINY_IDC = dict(device="cpu", depth=2, width=8, iterations=1, outer_loop=1, inner_loop=1, batch_real=8)


def load_tinted_squares(*, split: str = "train", bias: float = 0.8, tint: float = 0.5, seed: int = 0,
                        download: bool = False) -> GroupedDataset:
    """A square on the left (class 0) or right (class 1) of a 16 px image, red or blue (group); ``tint``
    is this dataset's own knob (how strongly the group colours the square)."""
    rng = np.random.RandomState(2 * seed + (split == "test"))
    n = 48 if split == "train" else 24
    labels = np.arange(n) % 2
    own = rng.rand(n) < (bias if split == "train" else 0.5)
    groups = np.where(own, labels, 1 - labels) if split == "train" else (np.arange(n) // 2) % 2
    x = rng.rand(n, 3, 16, 16).astype(np.float32) * 0.2
    for i in range(n):
        cols = slice(2, 7) if labels[i] == 0 else slice(9, 14)
        x[i, :, 5:11, cols] += 0.3
        x[i, 0 if groups[i] == 0 else 2, 5:11, cols] += tint
    return GroupedDataset(images=torch.from_numpy((x - 0.5) / 0.5), labels=torch.from_numpy(labels),
                          groups=torch.from_numpy(groups.astype(np.int64)), class_names=("left", "right"),
                          group_names=("red", "blue"),
                          info=dict(name=NAME, split=split, bias=bias, tint=tint, seed=seed))


RECORD = fairdd.datasets.DatasetRecord(
    name=NAME, loader=load_tinted_squares, classes=("left", "right"), group_attribute="tint",
    groups=("red", "blue"), image_size=16, train_size=48, idc_factor=((1, 4), (100, 3)), downloadable=True)


@pytest.fixture
def tinted():
    """``tinted-squares`` registered for one test, then removed."""
    fairdd.datasets.register(RECORD)
    try:
        yield RECORD
    finally:
        fairdd.datasets.unregister(NAME)


def _named_datasets(path: Path, names: set) -> list[str]:
    """Lines of ``path`` where a tuple, list, set or dict key, or a comparison, names a dataset."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            values = node.elts
        elif isinstance(node, ast.Dict):
            values = node.keys
        elif isinstance(node, ast.Compare):
            values = [node.left, *node.comparators]
        else:
            continue
        hits = [v.value for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str)
                and v.value.lower() in names]
        if hits:
            out.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {hits}")
    return out


def test_no_module_outside_the_catalog_and_the_loaders_lists_dataset_names():
    names = set(fairdd.datasets.DATASETS)
    files = [p for p in PACKAGE.rglob("*.py") if "catalog" not in p.parts
             and str(p.relative_to(PACKAGE)) not in LOADER_MODULES]
    found = [hit for path in files for hit in _named_datasets(path, names)]
    assert not found, "dataset facts belong in the dataset's record (fairdd/data/catalog/):\n" + "\n".join(found)


def test_a_registered_dataset_loads_by_name_with_its_own_knob(tinted):
    assert NAME in fairdd.datasets.DATASETS and "tint" in fairdd.datasets.options("Tinted-Squares")
    train = fairdd.datasets.load(NAME, split="train", tint=0.3)
    assert train.info["tint"] == 0.3 and train.class_names == tinted.classes and train.group_names == tinted.groups
    assert tuple(train.images.shape[1:]) == (tinted.channels, tinted.image_size, tinted.image_size)
    assert len(train) == tinted.train_size
    with pytest.raises(ValueError, match=r"dataset 'tinted-squares' does not take \['skew'\]; it takes: \['bias'"):
        fairdd.datasets.load(NAME, skew=0.5)


def test_a_registered_dataset_distils_at_the_smoke_preset(tinted):
    train = fairdd.datasets.load(NAME, split="train")
    result = fairdd.distill(train, method="dm", target="cobra", ipc=1, preset="smoke", device="cpu", depth=2,
                            iterations=2)
    assert result.images.shape == (2, 3, 16, 16) and torch.isfinite(result.images).all()


def test_its_declared_idc_factor_reaches_the_paper_preset(tinted):
    assert [distill_config(method="idc", ipc=ipc, dataset=NAME).factor for ipc in (1, 99, 100)] == [4, 4, 3]
    config = fairdd.distill(fairdd.datasets.load(NAME), method="idc", target="vanilla", ipc=1, preset="paper",
                            **TINY_IDC).config
    assert config["factor"] == 4


def test_a_set_loaded_by_name_carries_the_name_its_record_is_read_by():
    def unnamed(*, split="train"):
        return load_tinted_squares(split=split).subset(torch.arange(8))

    entry = fairdd.datasets.DatasetRecord(name="unnamed-squares", loader=unnamed, classes=("left", "right"),
                                          group_attribute="tint", groups=("red", "blue"), image_size=16,
                                          idc_factor=((1, 4),))
    fairdd.datasets.register(entry)
    try:
        train = fairdd.datasets.load("Unnamed-Squares")
        config = fairdd.distill(train, method="idc", target="vanilla", ipc=1, preset="paper", **TINY_IDC).config
    finally:
        fairdd.datasets.unregister(entry.name)
    assert train.info["name"] == "unnamed-squares" and config["factor"] == 4


def test_the_cli_distils_it_with_its_own_knob_and_lists_it(tinted, tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["distill", "--dataset", NAME, "--knob", "tint=0.2", "--ipc", "1", "--preset", "smoke",
                 "--device", "cpu", "--out", str(out), "--set", "iterations=2", "--set", "depth=2"]) == 0
    assert fairdd.load_result(out).dataset["info"]["tint"] == 0.2
    assert main(["distill", "--dataset", NAME, "--knob", "shade=1", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "--knob shade 1 does not apply to dataset 'tinted-squares'" in err and "'tint'" in err
    assert main(["datasets"]) == 0
    assert any(line.startswith(NAME) and "available" in line for line in capsys.readouterr().out.splitlines())


def test_a_sweep_grid_takes_it_and_its_own_knob_as_an_axis(tinted, tmp_path):
    from fairdd.sweeps.grid import parse_spec

    text = (f'[sweep]\npreset = "smoke"\nseeds = [0]\n[grid]\ndataset = ["{NAME}"]\ntarget = ["vanilla"]\n'
            'ipc = [1]\ntint = [0.2, 0.4]\n')
    cells = parse_spec(text).cells()
    assert sorted(c.data["tint"] for c in cells) == [0.2, 0.4]


def test_the_time_estimate_reads_its_classes_and_size(tinted):
    from fairdd.sweeps.estimate import estimate_cell
    from fairdd.sweeps.grid import Cell

    def eval_seconds(dataset):
        cell = Cell(dataset=dataset, method="dm", target="whole", ipc=1, seed=0, preset="smoke", n_models=1)
        return estimate_cell(cell).eval_s

    assert eval_seconds(NAME) < eval_seconds("colored-digits")  # 48 training images against 1442


def test_download_is_offered_where_the_record_says_so(tinted, tmp_path, capsys):
    assert main(["distill", "--dataset", "colored-digits", "--download", "--out", str(tmp_path / "x")]) == 2
    assert "--download applies to " in (err := capsys.readouterr().err) and NAME in err
    assert main(["distill", "--dataset", NAME, "--download", "--ipc", "1", "--preset", "smoke", "--device", "cpu",
                 "--out", str(tmp_path / "y"), "--set", "iterations=1", "--set", "depth=2"]) == 0


def test_availability_loads_only_what_needs_files(tinted):
    calls = []

    def missing(*, split="train", root=None):
        calls.append(split)
        raise FileNotFoundError(f"no squares under {root}")

    shipped = fairdd.datasets.DatasetRecord(name="shipped-squares", loader=missing, classes=("a",),
                                            group_attribute="g", groups=("x",), image_size=8)
    brought = fairdd.datasets.DatasetRecord(name="brought-squares", loader=missing, classes=("a",),
                                            group_attribute="g", groups=("x",), image_size=8, files="squares/")
    for entry in (shipped, brought):
        fairdd.datasets.register(entry)
    try:
        assert fairdd.datasets.availability("shipped-squares").available and calls == []
        report = fairdd.datasets.availability("brought-squares", root="/nowhere")
        assert not report.available and "no squares under /nowhere" in report.reason and calls == ["test"]
    finally:
        for entry in (shipped, brought):
            fairdd.datasets.unregister(entry.name)


def test_the_sweep_records_its_canonical_knobs(tinted):
    from fairdd.data.registry import canonical_knobs

    knobs = canonical_knobs(NAME, {"tint": 0.2})
    assert knobs == {"bias": 0.8, "tint": 0.2, "download": False, "data_seed": 0}
    json.dumps(knobs)


def test_the_protocol_table_names_the_datasets_whose_record_sets_idc_factor(tinted):
    from fairdd.config import protocol_table

    row = next(line for line in protocol_table().splitlines() if line.startswith("| paper | idc | 10 |"))
    assert "| 2 (BFFHQ, UTKFace, tinted-squares 4; 3 at IPC ≥ 100) |" in row


def test_the_dashboard_runs_idc_with_the_records_factor(tinted):
    """The dashboard built its runs without ``dataset=``: IDC under the paper preset got factor 2, not 4."""
    from fairdd.widgets import DistillController

    ctl = DistillController(dataset=NAME, method="idc", target="vanilla", ipc=1, preset="paper", device="cpu")
    assert ctl.run.config.factor == 4
