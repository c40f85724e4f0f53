"""Helpers shared by the report tests: error-only rows, a store holding given rows and page
parsing (data-* values)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from melious_impact.records import COLUMN_NAMES, empty_row
from melious_impact.store.impact_store import ImpactStore

START = datetime(2026, 1, 1, tzinfo=UTC)


def errors_only_rows(team: str, n: int, start: datetime = START) -> pd.DataFrame:
    """Rows of a team whose every request failed: no tokens, no impact, no billing."""
    rows = []
    for i in range(n):
        row = empty_row()
        row.update(
            captured_at=start + timedelta(hours=5 * i + 1),
            endpoint="/v1/chat/completions",
            status_code=429,
            error_code="INFERENCE_3207",
            model="glm-4.7",
            team=team,
            record_id=f"err{team}{i:08d}",
        )
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMN_NAMES))


class _Values(HTMLParser):
    """Collects data-* attributes by element id, table cells by (table, row key, column)."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, str]] = {}
        self.cells: dict[tuple[str, str, str], str] = {}
        self.charts: list[dict[str, str]] = []
        self._table: list[str] = []
        self._row: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.by_id[a["id"]] = a
        if tag == "table":
            self._table.append(a.get("id", ""))
        elif tag == "tr":
            self._row.append(a.get("data-key", ""))
        elif tag == "td" and "data-col" in a and self._table and self._row:
            self.cells[(self._table[-1], self._row[-1], a["data-col"])] = a.get("data-value", "")
        elif tag == "figure" and "chart" in a.get("class", ""):
            self.charts.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._table:
            self._table.pop()
        elif tag == "tr" and self._row:
            self._row.pop()


def stored(rows: pd.DataFrame, root: Path) -> ImpactStore:
    """A real store at ``root`` holding ``rows``, flushed to its files."""
    store = ImpactStore(root)
    store.append(rows)
    store.flush()
    return store


def parse_page(path: Path) -> _Values:
    p = _Values()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def num(value: str) -> float | None:
    return None if value in ("", None) else float(value)
