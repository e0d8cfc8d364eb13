"""The dashboard's controller opens a dataset built from your own files (given, or by folder:PATH)."""
import fairdd
from fairdd.widgets import DistillController

FAST = dict(preset="smoke", proxy_every=2, refresh_every=2, min_refresh_s=0.0, proxy_epochs=2, per_group=6,
            device="cpu")


def test_controller_runs_on_a_folder_dataset(tmp_path):
    root = fairdd.datasets.example_folder()
    train = fairdd.datasets.from_folder(root, size=16, cache_dir=tmp_path)
    test = fairdd.datasets.from_folder(root, split="test", size=16, cache_dir=tmp_path)
    ctl = DistillController(train=train, test=test, target="cobra", compare=("vanilla",), **FAST)
    assert ctl.advance(2) == 2
    st = ctl.status()
    assert st["iteration"] == 2 and st["eod"] is not None
    assert ctl.train.group_names == ("cool", "warm")


def test_controller_opens_a_folder_dataset_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv("FAIRDD_DATA", str(tmp_path))  # the decoded-image cache
    name = f"folder:{fairdd.datasets.example_folder()}"
    ctl = DistillController(dataset=name, target="cobra", compare=(), **FAST)
    assert ctl.train.info["name"] == name and ctl.test.info["split"] == "test"
    assert ctl.advance(1) == 1
