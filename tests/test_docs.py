from __future__ import annotations

from pathlib import Path

from lexboard.docs import DOCS

DOCS_DIR = Path(__file__).parents[1] / "docs"


def test_generated_docs_are_current() -> None:
    for name, make in DOCS.items():
        assert (DOCS_DIR / name).read_text() == make(), f"docs/{name} is stale: run make docs"
