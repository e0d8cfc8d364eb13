"""docs/your-own-data.md: every example marked with a layout runs on a tiny folder written in that layout."""
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "data"))
from own_fixtures import write_fairface, write_image_folder, write_waterbirds  # noqa: E402

PAGE = (ROOT / "docs" / "your-own-data.md").read_text()
EXAMPLES = re.findall(r"<!-- layout: ([\w-]+) -->\n```python\n(.*?)```", PAGE, flags=re.S)
WRITERS = {"waterbirds": write_waterbirds, "fairface": write_fairface, "image-folder": write_image_folder}
FOLDERS = {"waterbirds": "waterbirds", "fairface": "fairface", "image-folder": "pets"}


def test_the_page_has_an_example_per_layout():
    assert {layout for layout, _ in EXAMPLES} == set(WRITERS)


@pytest.mark.parametrize("layout,code", EXAMPLES, ids=[f"{layout}-{i}" for i, (layout, _) in enumerate(EXAMPLES)])
def test_example_runs_on_its_layout(layout, code, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("FAIRDD_DATA", raising=False)  # the cache goes under tmp_path/data/cache
    monkeypatch.chdir(tmp_path)
    WRITERS[layout](tmp_path / FOLDERS[layout])
    exec(compile(code, f"your-own-data.md[{layout}]", "exec"), {})
    assert capsys.readouterr().out or "print(" not in code
