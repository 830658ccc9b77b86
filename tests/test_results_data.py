"""docs/results.md quotes the transfer studies' numbers; the studies' own files are kept in docs/data/
(``transfer.json`` for the unified base, ``transfer_modular.json`` for the modular one). Every row and summary
line the study's renderer writes from those files must stand in the page as written, so a page edited by hand or
a file replaced without the page fails here."""

from __future__ import annotations

import json
from pathlib import Path

from crabplus.evaluate.seeds import render_seed_transfer

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "docs" / "results.md"


def transfer_tables() -> dict[str, dict]:
    """docs/data's files that hold a transfer table over seeds (rows and per-method summaries)."""
    tables = {}
    for path in sorted((REPO / "docs" / "data").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and {"rows", "methods", "level"} <= set(data):
            tables[path.name] = data
    return tables


def test_the_results_page_quotes_every_transfer_table_as_its_file_holds_it():
    tables = transfer_tables()
    assert "transfer.json" in tables  # the unified study's, which the page's first transfer table quotes
    lines = RESULTS.read_text(encoding="utf-8").splitlines()
    for name, table in tables.items():
        rendered = [line for line in render_seed_transfer(table).splitlines() if line.startswith("| ")]
        rows = rendered[1 : 1 + len(table["rows"])]  # after the header: one line per dataset and metric
        summaries = rendered[-len(table["methods"]) :]
        for line in rows:
            cells = [c.strip() for c in line.strip("|").split("|")]
            start, intervals = f"| {cells[0]} | {cells[1]} |", " | ".join(cells[3:])
            assert any(doc.startswith(start) and intervals in doc for doc in lines), (name, line)
        for line in summaries:
            assert any(line in doc for doc in lines), (name, line)
