"""The documentation site's sources agree with the repository (the build itself runs as `make docs`)."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _toctree_entries() -> set[str]:
    entries = set()
    for page in DOCS.glob("*.md"):
        for block in re.findall(r"```\{toctree\}\n(.*?)```", page.read_text(), flags=re.S):
            entries |= {line.strip() for line in block.splitlines() if line.strip() and not line.startswith(":")}
    return entries


def test_every_notebook_is_rendered_in_the_docs():
    notebooks = {f"notebooks/{p.stem}" for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert notebooks and notebooks <= _toctree_entries(), sorted(notebooks - _toctree_entries())


def test_every_docs_page_is_in_a_toctree():
    pages = {p.stem for p in DOCS.glob("*.md")} - {"index"}
    missing = sorted(pages - _toctree_entries())
    assert not missing, f"docs pages in no toctree: {missing}"


def test_readme_links_resolve():
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)#\s]+)\)", readme) + re.findall(r'<img src="([^"]+)"', readme)
    local = [t for t in targets if not re.match(r"[a-z]+://", t)]
    assert local, "the README links no local file"
    missing = [t for t in local if not (ROOT / t).exists()]
    assert not missing, f"README links missing files: {missing}"
