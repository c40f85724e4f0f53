"""What each page says about its own boundary: coverage of every total, and the optional lines.

Read-only over the ``facts`` view: the coverage of each summary figure (how many of the
period's requests carry it) and the energy aggregate the optional lines of
:mod:`melious_impact.model.boundary_lines` are computed from. Nothing here changes a
reported figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb

from melious_impact.charts.source import COUNT, count_where, fetch_one, query
from melious_impact.reporting import boundary
from melious_impact.reporting._sections import Section, guarded

#: Summary key -> the facts column whose non-missing rows the figure covers (None: all rows).
COVERAGE_COLUMNS: dict[str, str | None] = {
    "energy_kwh": "energy_kwh",
    "carbon_kg_co2e": "carbon_g_co2",
    "water_m3": "water_liters",
    "water_liters": "water_liters",
    "renewable_percent": "renewable_percent",
    "cost_eur": "cost_eur",
    "requests": None,
}

ENERGY_SQL = f"""
SELECT provider_id, location,
       {COUNT} AS requests,
       sum(energy_kwh) AS energy_kwh,
       sum(it_energy_kwh) FILTER (WHERE pue_ok) AS it_energy_kwh,
       {count_where("NOT pue_ok")} AS requests_without_pue,
       sum(energy_kwh) FILTER (WHERE NOT pue_ok) AS energy_without_pue_kwh,
       sum(carbon_g_co2) AS carbon_g_co2,
       {count_where("carbon_g_co2 IS NOT NULL")} AS requests_with_carbon
FROM facts WHERE energy_kwh IS NOT NULL
GROUP BY 1, 2 ORDER BY 1, 2
"""


def coverage(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """Per summary figure: requests it covers, requests in the period, and the share (%)."""
    cols = {k: c for k, c in COVERAGE_COLUMNS.items() if c is not None}
    parts = ", ".join(count_where(_present(c)) for c in cols.values())
    row = fetch_one(con, f"SELECT {COUNT}, {parts} FROM facts") or (0,) * (len(cols) + 1)
    total = int(row[0] or 0)
    out: dict[str, dict[str, Any]] = {}
    for (key, _), n in zip(cols.items(), row[1:], strict=True):
        covered = int(n or 0)
        out[key] = {
            "covered": covered,
            "total": total,
            "missing": total - covered,
            "share_percent": 100.0 * covered / total if total else None,
        }
    return out


def _present(column: str) -> str:
    """The condition that a row has ``column`` (a cube keeps a flag for the renewable share)."""
    return "has_renewable" if column == "renewable_percent" else f"{column} IS NOT NULL"


def check_lines(lines: Iterable[str] | None) -> tuple[str, ...]:
    """The optional line names asked for, or ``ValueError`` naming the known ones."""
    from melious_impact.model.boundary_lines import LINE_NAMES

    if lines is None:
        return ()
    if isinstance(lines, str):
        lines = [lines]
    asked = tuple(dict.fromkeys(str(x) for x in lines))
    unknown = [x for x in asked if x not in LINE_NAMES]
    if unknown:
        raise ValueError(f"unknown optional line {', '.join(unknown)}; choose from {', '.join(LINE_NAMES)}")
    return asked


def lines_section(
    con: duckdb.DuckDBPyConnection,
    lines: tuple[str, ...],
    market: Mapping[str, Any] | str | Path | None,
) -> Section:
    """The optional lines asked for, each computed apart from the reported figures."""

    def build(sec: Section) -> None:
        from melious_impact.model import boundary_lines as bl

        sec.note = boundary.OPTIONAL_LINES_NOTE
        if not lines and market is None:
            sec.ok = False
            sec.note = "No optional line was asked for."
            return
        energy = query(con, ENERGY_SQL)
        found: list[bl.AddedLine] = []
        if "offsite_water" in lines:
            found.append(bl.offsite_water_line(energy))
        if "embodied_carbon" in lines:
            found.append(bl.embodied_carbon_line(energy))
        if market is not None:
            found.append(bl.market_based_line(energy, market))
        sec.facts["lines"] = [_view(line) for line in found]

    return guarded("added_lines", "Beyond the boundary", build)


def _view(line: Any) -> dict[str, Any]:
    """What the template shows of a line: carbon in kg CO2e, water in litres."""
    scale, unit = (1000.0, "kg CO2e") if line.unit == "g CO2e" else (1.0, line.unit)

    def shown(x: float | None) -> float | None:
        return None if x is None else x / scale

    return {
        "line": line,
        "value": shown(line.value),
        "low": shown(line.low),
        "high": shown(line.high),
        "unit": unit,
        "share": line.covered_share_percent,
        "location_based": shown(line.location_based),
    }
