import json

import pytest
import torch

import fairdd
from fairdd.results import DistillResult

from conftest import SMOKE


def test_save_and_load_round_trip(digits_train, tmp_path):
    result = fairdd.distill(digits_train, target="fairdd", ipc=2, iterations=2, **SMOKE)
    result.save(tmp_path / "r")
    names = sorted(p.name for p in (tmp_path / "r").iterdir())
    assert names[:3] == [".fairdd-manifest.json", "config.json", "grid.png"] and names[3].startswith("history-") \
        and names[4].startswith("tensors-") and len(names) == 5
    loaded = fairdd.load_result(tmp_path / "r")
    assert torch.equal(loaded.images, result.images) and torch.equal(loaded.labels, result.labels)
    assert loaded.config == json.loads(json.dumps(result.config)) and loaded.history == result.history
    raw = torch.load(tmp_path / "r" / names[4], weights_only=True)
    assert set(raw) == {"images", "labels"}
    # saving again replaces the folder atomically (when asked) and leaves no temporary siblings
    with pytest.raises(FileExistsError, match="overwrite=True"):
        result.save(tmp_path / "r")
    result.save(tmp_path / "r", overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_corrupted_or_foreign_results_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a fairdd result folder"):
        fairdd.load_result(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="config.json is corrupted"):
        fairdd.load_result(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="is not a fairdd result"):
        fairdd.load_result(tmp_path)
    DistillResult(torch.zeros(2, 3, 8, 8), torch.tensor([0, 1])).save(tmp_path / "ok")
    tensors = next((tmp_path / "ok").glob("tensors-*.pt"))
    tensors.write_bytes(b"\x80\x04truncated")
    with pytest.raises(ValueError, match="does not match its checksum"):
        fairdd.load_result(tmp_path / "ok")
    # a pickle that is not weights-only (arbitrary object) is refused, not executed (version-1 layout:
    # no checksum to stop it first)
    DistillResult(torch.zeros(2, 3, 8, 8), torch.tensor([0, 1])).save(tmp_path / "evil")
    meta = json.loads((tmp_path / "evil" / "config.json").read_text())
    (tmp_path / "evil" / "config.json").write_text(json.dumps({**meta, "version": 1}))
    torch.save({"images": object()}, tmp_path / "evil" / "tensors.pt")
    with pytest.raises(ValueError, match="not a readable"):
        fairdd.load_result(tmp_path / "evil")
