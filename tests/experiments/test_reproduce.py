"""``fairdd.experiments.reproduce``: the tables it writes itself, and the one-line plan of a protocol."""
import json

import pytest

from fairdd.config import distill_config, eval_config
from fairdd.experiments.reproduce import protocol_summary, reproduce, reproduce_latex, reproduce_markdown


def test_reproduce_with_out_writes_both_tables_as_owned_files(tmp_path):
    out = tmp_path / "rep"
    frame = reproduce(dataset="colored-digits", preset="smoke", targets=["random"], n_models=1, device="cpu", out=out)
    assert (out / "table.md").read_text() == reproduce_markdown(frame) + "\n"
    assert (out / "table.tex").read_text() == reproduce_latex(frame)
    assert "random" in reproduce_markdown(frame) and r"\begin{table}" in reproduce_latex(frame)
    files = json.loads((out / ".fairdd-manifest.json").read_text())["files"]
    assert {files[n]["what"] for n in ("table.md", "table.tex")} == {"reproduce table"}


def test_reproduce_without_out_writes_no_table(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    reproduce(dataset="colored-digits", preset="smoke", targets=["random"], n_models=1, device="cpu")
    assert list(tmp_path.iterdir()) == []


def test_protocol_summary_uses_the_presets_iterations_and_evaluation_models():
    text = protocol_summary(method="dm", ipc=10, targets=["random", "vanilla", "cobra"], preset="paper")
    protocol = eval_config(preset="paper", method="dm")
    for target in ("vanilla", "cobra"):
        its = distill_config(method="dm", target=target, ipc=10, preset="paper").iterations
        assert f"{target} ({its} iterations)" in text
    evaluation = f"each evaluated with {protocol.n_models} models × {protocol.epochs} epochs"
    assert text.endswith(f"the random subset, {evaluation}")
    assert "with 3 models" in protocol_summary(targets=["cobra"], preset="paper", n_models=3)
    with pytest.raises(ValueError, match="n_models"):
        protocol_summary(targets=["cobra"], preset="paper", n_models=0)
    with pytest.raises(ValueError, match="iterations"):
        protocol_summary(targets=["cobra"], preset="paper", iterations=0)
