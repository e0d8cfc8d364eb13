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
    from fairdd.experiments import FAIRDD_TABLES, PRELIMINARY, published

    cobra_protocol = published("colored-fashion-mnist", "foreground", "dm", 10, "paper")
    assert set(cobra_protocol) == {"cobra"} and cobra_protocol["cobra"][2] == PRELIMINARY  # labelled, not a paper's
    fairdd_protocol = published("colored-fashion-mnist", "foreground", "dm", 10, "fairdd-paper")
    assert fairdd_protocol["fairdd"] == (77.09, 26.87, FAIRDD_TABLES) and "cobra" not in fairdd_protocol
    assert published("cifar10-s", "foreground", "dm", 100, "paper")["cobra"][:2] == (62.4, 9.37)
    assert published("colored-fashion-mnist", "foreground", "dm", 10, "demo") == {}
