"""Frames -> plain table structures for the templates, with exact values kept for ``data-value``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from melious_impact.report._html import fmt, fmt_money, raw

#: Cell kinds: how a column is shown (the exact value always goes to data-value).
KINDS = ("text", "int", "num", "money", "pct")


@dataclass(frozen=True)
class Cell:
    col: str
    text: str
    value: str
    numeric: bool


@dataclass(frozen=True)
class Table:
    id: str
    headers: list[tuple[str, str]]  # (column key, label)
    rows: list[tuple[str, list[Cell]]]  # (row key, cells)

    @property
    def empty(self) -> bool:
        return not self.rows


def _show(value: Any, kind: str) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    if kind == "text":
        return str(value)
    if kind == "int":
        return f"{int(value):,}"
    if kind == "money":
        return fmt_money(value)
    if kind == "pct":
        return f"{float(value):.1f}%"
    return fmt(value)


def _value(value: Any, kind: str) -> str:
    if kind != "text":
        return raw(value)
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def table(
    table_id: str,
    df: pd.DataFrame,
    columns: list[tuple[str, str, str]],
    *,
    key: str | None = None,
    limit: int = 50,
) -> Table:
    """``columns``: (frame column, header label, kind). Rows beyond ``limit`` are dropped."""
    cols = [(c, label, kind) for c, label, kind in columns if c in df.columns]
    rows = []
    for rec in df.head(limit).to_dict("records"):
        cells = [Cell(c, _show(rec[c], kind), _value(rec[c], kind), kind != "text") for c, _, kind in cols]
        rows.append((str(rec[key]) if key else "", cells))
    return Table(table_id, [(c, label) for c, label, _ in cols], rows)
