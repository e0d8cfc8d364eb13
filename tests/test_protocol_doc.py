"""docs/protocol.md carries every preset's values; it must say what the code does."""
from pathlib import Path

from fairdd.config import protocol_table

DOC = Path(__file__).resolve().parents[1] / "docs" / "protocol.md"


def _doc_table() -> str:
    text = DOC.read_text()
    start, end = "<!-- protocol-table:start -->\n", "<!-- protocol-table:end -->"
    assert start in text and end in text, "docs/protocol.md lost its table markers"
    return text[text.index(start) + len(start):text.index(end)]


def test_the_documented_preset_table_is_the_code():
    assert _doc_table() == protocol_table(), ("docs/protocol.md and the presets disagree: paste "
                                              "fairdd.config.protocol_table() between the markers")


def test_the_table_shows_the_paper_values_it_claims():
    rows = {tuple(c.strip() for c in line.strip("|").split("|")[:3]): [c.strip() for c in line.strip("|").split("|")]
            for line in _doc_table().splitlines()[2:]}
    dm = rows[("paper", "dm", "10")]
    assert dm[3:6] == ["2600", "1", "600"] and dm[9] == "10 (0.01, 0, 0) / 0" and dm[13:16] == ["1501 (752)", "on", "5"]
    cafe = rows[("paper", "cafe", "10")]
    assert cafe[4] == "0.1, ×½ at 1200/1600/1800" and cafe[7] == "off" and cafe[13:16] == ["1001 (502)", "off", "2"]
    assert rows[("paper", "idc", "50")][6] == "30 / 0"
    assert rows[("fairdd-paper", "dc", "10")][10] == "sum" and rows[("paper", "dc", "10")][10] == "mean"
    assert all("COBRA" in r[-1] for k, r in rows.items() if k[0] == "paper")
    assert all("FairDD" in r[-1] for k, r in rows.items() if k[0] == "fairdd-paper")


def test_published_numbers_stand_beside_their_own_protocol_only():
    from fairdd.experiments import FAIRDD_TABLES, PRELIMINARY, compare, run_setting

    def beside(target, preset, dataset="colored-fashion-mnist", method="dm", ipc=10):
        return compare(run_setting(dataset=dataset, method=method, target=target, ipc=ipc, preset=preset))

    assert beside("cobra", "paper").source == PRELIMINARY  # labelled, not a paper's
    assert not beside("fairdd", "paper").matched and not beside("cobra", "fairdd-paper").matched
    fairdd = beside("fairdd", "fairdd-paper")
    assert (fairdd.accuracy, fairdd.eod, fairdd.source) == (77.09, 26.87, FAIRDD_TABLES)
    cobra = beside("cobra", "paper", dataset="cifar10-s", ipc=100)
    assert (cobra.accuracy, cobra.eod) == (62.4, 9.37)
    assert not beside("fairdd", "demo").matched


def test_grid_files_under_a_published_preset_restate_none_of_its_numbers_differently():
    from fairdd.config import distill_config, eval_config
    from fairdd.sweeps import load_spec

    checked = 0
    for path in sorted((DOC.parents[1] / "benchmarks" / "grids").glob("*.toml")):
        spec = load_spec(path)
        if spec.preset not in ("paper", "fairdd-paper"):
            continue
        for cell in spec.cells():
            want_eval = eval_config(preset=cell.preset, method=cell.method)
            assert cell.eval_config() == want_eval and cell.n_models == want_eval.n_models, (path.name, cell.id)
            assert cell.distill_config() == distill_config(
                method=cell.method, target=cell.distill_config().target, ipc=cell.ipc, preset=cell.preset,
                seed=cell.seed, dataset=cell.dataset), (path.name, cell.id)
            checked += 1
    assert checked >= 33 + 54  # cobra_table1.toml and app_f_cifar10s.toml
