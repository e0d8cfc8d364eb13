"""The docs say what the presets do: docs/protocol.md's tables are generated, every other protocol number checked."""
import functools
import re
from pathlib import Path

import pytest

from fairdd.config import METHOD_PRESETS, PRESETS, distill_config, eval_config, protocol_table

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


# ------------------------------------------------------- protocol numbers anywhere in docs/
# Every preset value in the docs is either generated from the code (a table between markers, compared
# below) or a number in prose next to a protocol word, checked here against the presets: the number must
# be one the presets named in the same paragraph (or bullet, or table row) give for the methods named
# there (every preset / method when none is named; free-form "N iterations" only where a preset is named).
PRESET_WORDS = {
    "fairdd-paper": r"fairdd-paper|FairDD's (?:own )?protocol",
    "paper": r"(?<![-\w])`paper`|preset[= ]\"?paper\b|--preset paper|\bpaper (?:protocol|preset)|COBRA's protocol"
             r"|published protocol",
    "demo": r"`demo`|\"demo\"|--preset demo|\bdemo preset",
    "smoke": r"`smoke`|\"smoke\"|--preset smoke|\bsmoke preset",
}
METHOD_WORDS = {"dm": r"\bDM\b|_DM\b", "dc": r"\bDC\b|_DC\b", "dsa": r"\bDSA\b(?! augmentation)", "idc": r"\bIDC\b",
                "cafe": r"\bCAFE\b"}
NUM = r"(\d{1,3}(?:[ ,\u202f]\d{3})+(?![\d.])|\d+(?:\.\d+)?(?:e-?\d+)?)"
METHOD = r"(?:DM |DC |DSA |IDC |CAFE )?"
# (pattern, field, only where a preset is named): the number is group 1
NUMBER_PATTERNS = [
    (r"--Iteration[ =]" + NUM, "iterations", False), (r"\bIteration=" + NUM, "iterations", False),
    (NUM + r"\s+" + METHOD + r"(?:outer |distillation )?iterations", "iterations", True),
    (r"--batch_real[ =]" + NUM, "batch", False), (r"\bbatch_real=" + NUM, "batch", False),
    (r"\bbatch " + NUM, "batch", True), (NUM + r" real images", "batch", True),
    (r"epoch_eval_train`?[ =]+" + NUM, "eval_epochs", False),
    (NUM + r"(?: \(\+1\))? " + METHOD + "evaluation epochs", "eval_epochs", True),
    (r"evaluat\w*(?: on the decoded images)?,? (?:for )?" + NUM + r"(?: \(\+1\))? epochs", "eval_epochs", True),
    (r"--num_eval[ =]" + NUM, "n_models", False), (r"\bnum_eval=" + NUM, "n_models", False),
    (NUM + r" evaluation models", "n_models", True),
    (r"\$?K\$? = " + NUM, "warm_start", False), (r"--lr_img[ =]" + NUM, "lr_img", False),
    (r"\bmomentum " + NUM, "momentum", False), (r"\bweight decay " + NUM, "weight_decay", False),
    (r"\blr(?:_net)? " + NUM, "lr", False),
]
THRESHOLD = re.compile(r"(?:[≥≤<>]|than|over|above|below|at least|up to)\s*$")


@functools.lru_cache(maxsize=None)
def _preset_values(field: str, presets: tuple, methods: tuple) -> frozenset:
    """The values ``field`` takes under ``presets`` × ``methods`` at IPC 1, 10, 50, 100 (target cobra)."""
    out = set()
    for preset in presets:
        for method in (m for m in methods if preset in METHOD_PRESETS[m].distill):
            e = eval_config(preset=preset, method=method)
            for ipc in (1, 10, 50, 100):
                try:
                    c = distill_config(method=method, preset=preset, ipc=ipc, target="cobra")
                except ValueError:  # loops the reference leaves undefined
                    continue
                out |= {"iterations": {c.iterations}, "batch": {c.batch_real, c.warm_start_batch, e.batch_size},
                        "eval_epochs": {e.epochs, e.epochs - 1}, "n_models": {e.n_models}, "lr_img": {c.lr_img},
                        "warm_start": {c.warm_start_epochs} if method == "dm" else set(),
                        "momentum": {c.momentum, c.warm_start_momentum, c.inner_momentum, e.momentum},
                        "weight_decay": {c.warm_start_weight_decay, c.inner_weight_decay, e.weight_decay},
                        "lr": {c.lr_img, c.lr_net, c.warm_start_lr, e.lr}}[field]
    return frozenset(out)


def _table_cells(table: str) -> list[str]:
    """One text per body cell of a markdown table: its column header, its row label and the cell, read
    both ways ("20000 DM iterations", "evaluation 1000 epochs"), so a preset named by either counts."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in table.strip().splitlines()]
    header, body = rows[0], [r for r in rows[2:] if len(r) == len(rows[0])]
    return [f"{header[j]} | {row[0]} | {row[j]} {row[0]} | {row[0]} {row[j]}" for row in body
            for j in range(1, len(row))]


def _blocks(text: str) -> list[str]:
    """Paragraphs, bullets and table cells, without generated tables and code blocks that name no preset."""
    text = re.sub(r"<!-- ([\w-]+):start -->.*?<!-- \1:end -->", "", text, flags=re.S)
    text = re.sub(r"```.*?```", lambda m: m.group(0) if "--preset" in m.group(0) else "", text, flags=re.S)
    blocks = []
    for block in re.split(r"\n\s*\n|\n(?=\s*[-*] )|\n(?=\|)(?<!\|\n)|(?<=\|)\n(?!\|)", text):
        is_table = block.lstrip().startswith("|") and block.count("\n") >= 2
        blocks += _table_cells(block) if is_table else [block] if block.strip() else []
    return blocks


def protocol_contradictions(text: str) -> list[str]:
    """Every protocol number in ``text`` (markdown) that the presets it names do not give."""
    found = []
    for block in _blocks(text):
        if re.search(r"K\$? = IPC\b", block):
            found.append("K = IPC (COBRA's K is 10 except 50 at IPC 50, 100 at IPC 100)")
        presets = tuple(p for p, word in PRESET_WORDS.items() if re.search(word, block))
        methods = tuple(m for m, word in METHOD_WORDS.items() if re.search(word, block)) or tuple(METHOD_PRESETS)
        for pattern, field, needs_preset in NUMBER_PATTERNS:
            for match in re.finditer(pattern, block):
                if (needs_preset and not presets) or THRESHOLD.search(block[:match.start()]):
                    continue
                value = float(re.sub(r"[ ,\u202f]", "", match.group(1)))
                allowed = _preset_values(field, presets or PRESETS, methods)
                if value not in allowed:
                    found.append(f"{match.group(0)!r}: {field} under {list(presets or PRESETS)} for {list(methods)} "
                                 f"is one of {sorted(allowed)}")
    return found


def _generated_tables():
    """docs/_ext/generated_tables.py, the one list of generated tables (also a Sphinx extension)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("generated_tables", DOC.parent / "_ext" / "generated_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_generated_table_in_the_docs_is_the_code():
    gen = _generated_tables()
    assert {"protocol-table", "target-protocols", "preset-summary"} <= {m for t in gen.TABLES.values() for m in t}
    for page, tables in gen.TABLES.items():
        text = (DOC.parent / f"{page}.md").read_text()
        assert gen.fill(text, tables) == text, f"docs/{page}.md and the code disagree: run `make doc-tables`"


def test_filling_rewrites_a_stale_table_and_keeps_the_rest(tmp_path):
    gen = _generated_tables()
    for page in gen.TABLES:
        (tmp_path / f"{page}.md").write_text((DOC.parent / f"{page}.md").read_text())
    stale = (tmp_path / "method.md").read_text().replace("| DM iterations | 2600 |", "| DM iterations | 20000 |")
    (tmp_path / "method.md").write_text(stale)
    assert gen.write_pages(tmp_path) == ["method.md"]
    assert (tmp_path / "method.md").read_text() == (DOC.parent / "method.md").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["method.md", "protocol.md"]  # no temporary file left
    with pytest.raises(ValueError, match="lost its preset-summary markers"):
        gen.fill("no markers here", {"preset-summary": "preset_summary_table"})


def test_no_protocol_number_in_the_docs_contradicts_the_presets():
    pages = sorted(p for p in DOC.parent.glob("*.md") if p.name != "changelog.md")
    assert len(pages) >= 10
    bad = {p.name: protocol_contradictions(p.read_text()) for p in pages}
    assert not any(bad.values()), f"protocol numbers the presets do not give: { {k: v for k, v in bad.items() if v} }"


@pytest.mark.parametrize("text", [
    "`distill` defaults to `--preset paper` (20000 DM iterations, 1000 evaluation epochs).",
    "the ConvNet is first trained for $K$ = IPC epochs before embeddings are taken.",
    "- **DM, `paper`** — `run_dm.sh`: `--Iteration 20000 --batch_real 256`.",
    "Under `fairdd-paper`, DC sets are evaluated for 1000 epochs without augmentation.",
    "COBRA's protocol warm-starts with K = 20 epochs for DM.",
    "| field | `paper` (the default) | `demo` |\n|---|---|---|\n| DM iterations | 20000 | 200 |",
    "| field | `paper` (the default) | `demo` |\n|---|---|---|\n| DM evaluation epochs | 1000 | 100 |",
    "`smoke` runs 3 DM iterations with 5 evaluation models.",
    "Evaluation trains fresh ConvNets with SGD (lr 0.03, momentum 0.9, weight decay 5e-4).",
    "Evaluation trains fresh ConvNets with SGD (lr 0.01, momentum 0.95, weight decay 5e-4).",
    "Evaluation trains fresh ConvNets with SGD (lr 0.01, momentum 0.9, weight decay 1e-4).",
])
def test_the_docs_check_finds_a_planted_protocol_number(text):
    assert protocol_contradictions(text), text


@pytest.mark.parametrize("text", [
    "`distill` defaults to `--preset paper` (2600 DM iterations, 1501 evaluation epochs).",
    "- **`fairdd-paper`** — `scripts/main_DM.sh`: `Iteration=20000`, `batch_real=256`, `num_eval=10`.",
    "Under `fairdd-paper`, DC sets are evaluated for 300 (+1) epochs without augmentation.",
    "A long run (≥ 500 iterations) under `demo` uses the probe.",
    "Benchmarks ran 50 iterations of the loop.",
    "Evaluation trains fresh ConvNets with SGD (lr 0.01, momentum 0.9, weight decay 5e-4, batch 256).",
    "| field | `paper` (the default) | `demo` |\n|---|---|---|\n| DM iterations | 2600 | 200 |",
])
def test_the_docs_check_passes_what_the_presets_give(text):
    assert protocol_contradictions(text) == []


def test_the_documented_way_to_declare_a_protocol_works():
    from fairdd.targets import STRATEGIES

    code = re.search(r"```python\n(.*?register_strategy.*?)```", DOC.read_text(), re.S).group(1)
    exec(compile(code, "docs/protocol.md", "exec"), {})
    try:
        c = distill_config(target="my-barycenter", ipc=50)
        assert (c.distance, c.warm_start_epochs) == ("l1", 50)
    finally:
        del STRATEGIES["my-barycenter"]
