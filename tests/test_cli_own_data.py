"""The CLI and sweeps on your own data: ``--dataset folder:PATH`` with its column flags, and the same in a grid."""
import json
import sys
from pathlib import Path

import pytest

from fairdd.cli import main
from fairdd.sweeps import Sweep, parse_spec

sys.path.insert(0, str(Path(__file__).parent / "data"))
from own_fixtures import write_fairface, write_image_folder, write_waterbirds  # noqa: E402


@pytest.fixture
def birds(tmp_path, monkeypatch):
    monkeypatch.setenv("FAIRDD_DATA", str(tmp_path / "fd"))  # the decoded-image cache goes there
    return write_waterbirds(tmp_path / "waterbirds")


def test_datasets_describe_prints_the_card(birds, capsys):
    assert main(["datasets", "describe", f"folder:{birds}", "--size", "8", "--ipc", "3"]) == 0
    out = capsys.readouterr().out
    assert "largest/smallest" in out and "EOD noise floor" in out
    assert "training cell ('0', '1') has 2 image(s), fewer than ipc=3" in out


def test_datasets_list_points_to_folder_datasets_with_the_flags_they_take(capsys):
    import fairdd
    from fairdd.cli import _FOLDER_FLAGS

    assert set(_FOLDER_FLAGS) <= set(fairdd.datasets.options("folder:."))  # every listed flag reaches the loader
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "your own data: --dataset folder:PATH (flags: --metadata --image-column --label --group" in out


def test_distill_and_evaluate_a_folder_dataset_at_the_smoke_preset(birds, tmp_path, capsys, monkeypatch):
    res = tmp_path / "res"
    monkeypatch.chdir(tmp_path)
    assert main(["distill", "--dataset", "folder:waterbirds", "--label", "y", "--group", "place", "--size", "8",
                 "--target", "cobra", "--ipc", "3", "--preset", "smoke", "--out", str(res)]) == 0
    captured = capsys.readouterr()
    assert "training cell ('0', '1') has 2 image(s), fewer than ipc=3" in captured.err  # the card, before the run
    info = json.loads((res / "config.json").read_text())["dataset"]["info"]
    assert info["name"] == "folder:waterbirds" and info["size"] == 8 and info["label"] == "y"
    # the test set is rebuilt from the result's record: the folder, its columns, the size
    assert main(["evaluate", str(res), "--preset", "smoke", "--n-models", "1"]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "eod" in out
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert main(["evaluate", str(res), "--preset", "smoke", "--n-models", "1"]) == 2
    assert f"distilled from the folder 'waterbirds' (at {birds})" in capsys.readouterr().err


def test_folder_flags_reach_the_loader_and_bad_ones_are_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FAIRDD_DATA", str(tmp_path / "fd"))
    root = write_fairface(tmp_path / "ff")
    argv = ["datasets", "describe", f"folder:{root}", "--metadata", "fairface_label_train.csv", "--image-column",
            "file", "--label", "gender", "--group", "race", "--split-column", "none", "--size", "8"]
    assert main(argv) == 0
    assert "East Asian" in capsys.readouterr().out
    assert main(argv[:-2] + ["--label", "sex", "--size", "8"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no column for label='sex'; its columns are" in err
    assert main(["distill", "--dataset", f"folder:{root}", "--mode", "foreground", "--out", str(tmp_path / "x")]) == 2
    assert "--mode 'foreground' does not apply to dataset 'folder:" in capsys.readouterr().err
    pets = write_image_folder(tmp_path / "pets")  # class folders, groups in a table: --label none
    assert main(["datasets", "describe", f"folder:{pets}", "--metadata", "groups.csv", "--image-column", "file",
                 "--label", "none", "--group", "setting", "--split-column", "none", "--size", "8"]) == 0
    out = capsys.readouterr().out
    assert "cat" in out and "outdoor" in out


def test_a_sweep_over_a_folder_dataset(birds, tmp_path):
    text = f"""
[sweep]
preset = "smoke"
seeds = [0]
n_models = 1
device = "cpu"
[grid]
dataset = ["folder:{birds}"]
target = ["vanilla", "cobra"]
ipc = [1]
[data]
label = "y"
group = "place"
size = 8
[overrides]
iterations = 2
depth = 2
[evaluate]
depth = 2
"""
    spec = parse_spec(text)
    cells = spec.cells()
    assert cells[0].data == {"label": "y", "group": "place", "size": 8}
    assert "/" not in cells[0].id and ":" not in cells[0].id  # one folder per cell
    sweep = Sweep(spec, tmp_path / "sweep")
    sweep.run("inline")
    assert sweep.status().counts["done"] == 2
    with pytest.raises(ValueError, match="data knob 'label' applies to none of the grid's datasets"):
        parse_spec(text.replace(f"folder:{birds}", "colored-digits"))


def test_the_example_grid_runs_from_the_repository_root(tmp_path, monkeypatch):
    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(root)  # the grid names the shipped folder relative to a clone's root
    monkeypatch.setenv("FAIRDD_DATA", str(tmp_path / "fd"))
    spec = parse_spec((root / "benchmarks" / "grids" / "your_own_data.toml").read_text())
    sweep = Sweep(spec, tmp_path / "sweep")
    sweep.run("inline")
    assert sweep.status().counts["done"] == 2
