"""Frames -> plain table structures for the templates, with exact values kept for ``data-value``.

Every cell's text comes from :mod:`melious_impact.units` (one number format, one unit per
quantity on a page, labels instead of column names); the exact value goes to ``data-value``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from melious_impact import units
from melious_impact.reporting._html import raw


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


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _value(value: Any, kind: str) -> str:
    if kind not in ("text", "metric", "date"):
        return raw(value)
    return "" if _missing(value) else str(value)


def _unit(column: str, symbols: Mapping[str, str], values: Any) -> units.Unit | None:
    q = units.metric_quantity(column)
    if q is not None and q in symbols:
        return units.unit_of(column, symbols[q])
    return units.choose(column, values)


def table(
    table_id: str,
    df: pd.DataFrame,
    columns: list[tuple[str, str, str]],
    *,
    key: str | None = None,
    limit: int = 50,
    page_units: Mapping[str, str] | None = None,
) -> Table:
    """``columns``: (frame column, header label, kind). Rows beyond ``limit`` are dropped.

    ``page_units``: the page's unit per quantity (``{"carbon": "kg CO2e", ...}``), so a
    table shows a quantity in the same unit as the figures above it; without it each
    ``qty`` column (and each metric of ``amount`` columns) gets one unit from its values.
    """
    symbols = dict(page_units or {})
    cols = [(c, label, kind) for c, label, kind in columns if c in df.columns]
    shown = df.head(limit)
    col_units = {c: _unit(c, symbols, shown[c]) for c, _, kind in cols if kind == "qty"}
    amount_cols = [c for c, _, kind in cols if kind == "amount"]
    metric_units: dict[str, units.Unit | None] = {}
    if amount_cols and "metric" in shown.columns:
        metric_units = units.units_by_metric(
            ((str(m), g[c]) for m, g in shown.groupby("metric", sort=False) for c in amount_cols), symbols
        )
    rows = []
    for rec in shown.to_dict("records"):
        metric = str(rec["metric"]) if "metric" in rec and not _missing(rec["metric"]) else None
        cells = []
        for c, _, kind in cols:
            unit = col_units.get(c) if kind == "qty" else metric_units.get(metric or "")
            cells.append(
                Cell(c, units.show(rec[c], kind, unit, metric), _value(rec[c], kind), kind != "text")
            )
        rows.append((str(rec[key]) if key else "", cells))
    headers = [
        (c, units.header(c, col_units[c]) if kind == "qty" and col_units.get(c) else label)
        for c, label, kind in cols
    ]
    return Table(table_id, headers, rows)
