"""The docs' generated tables, filled from the code: when the site is built, and in the markdown files.

Each table sits between ``<!-- name:start -->`` and ``<!-- name:end -->`` in a page; ``TABLES`` names the
``fairdd.config`` function that writes it. As a Sphinx extension (``conf.py``) it fills them while
each page is read, so the site always shows the code's values; run as a script
(``make doc-tables``) it writes them into the markdown files, which ``tests/test_protocol_doc.py``
compares with the code (so the files read on GitHub stay right too).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1]
# page (without .md) → marker name → the fairdd.config function writing the table
TABLES = {
    "method": {"preset-summary": "preset_summary_table"},
    "protocol": {"protocol-table": "protocol_table", "target-protocols": "target_protocol_table"},
}


def fill(text: str, tables: dict[str, str]) -> str:
    """Replace the body of every marked table in ``text`` with what its function writes now."""
    import fairdd.config as config

    for marker, function in tables.items():
        start, end = f"<!-- {marker}:start -->\n", f"<!-- {marker}:end -->"
        if start not in text or end not in text:
            raise ValueError(f"the page lost its {marker} markers ({start.strip()} ... {end})")
        text = text[:text.index(start) + len(start)] + getattr(config, function)() + text[text.index(end):]
    return text


def _on_source_read(app, docname: str, source: list) -> None:
    if docname in TABLES:
        source[0] = fill(source[0], TABLES[docname])


def setup(app) -> dict:
    """Register the extension: fill the tables as each page is read."""
    app.connect("source-read", _on_source_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def write_pages(docs: Path = DOCS) -> list[str]:
    """Fill the tables in the markdown files (atomically); return the pages that changed."""
    changed = []
    for page, tables in TABLES.items():
        path = docs / f"{page}.md"
        text = path.read_text()
        new = fill(text, tables)
        if new != text:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                f.write(new)
            os.replace(tmp, path)
            changed.append(path.name)
    return changed


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(DOCS.parent))  # this checkout's fairdd
    print("updated:", ", ".join(write_pages()) or "nothing (every table is current)")
