"""The report's numbers, computed in SQL over the ``facts`` view (no charting, no HTML).

Everything here is exact or plainly defined: sums of the figures the API reported
(rows with ``impact_reported``), cost in exact decimals, and the renewable share
weighted by energy. The executive summary compares each figure with the period of equal
length just before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import pandas as pd

from melious_impact import units
from melious_impact.charts.source import COUNT, connect, count_where, fetch_one, query, span
from melious_impact.periods import parse_bound, period
from melious_impact.reporting.boundary import RENEWABLE_LABEL

#: Summary figures: key -> (label, unit, SQL over facts). Units are in the keys.
SUMMARY_SQL: dict[str, tuple[str, str, str]] = {
    "energy_kwh": ("Energy", "kWh", "sum(energy_kwh)"),
    "carbon_kg_co2e": ("Carbon", "kg CO2e", "sum(carbon_g_co2) / 1000"),
    "water_m3": ("On-site water", "m³", "sum(water_liters) / 1000"),  # cooling water only
    "renewable_percent": (
        RENEWABLE_LABEL,  # the grid's share, not the supplier's certificates
        "%",
        "sum(renewable_energy) / nullif(sum(CASE WHEN has_renewable THEN energy_kwh END), 0)",
    ),
    "cost_eur": ("Cost", "EUR", "sum(cost_eur)"),
    "requests": ("Requests", "requests", COUNT),
}

BREAKDOWNS = ("team", "model", "provider_id", "location")

#: What share of a breakdown row's requests its sums cover, in percent rounded *down* to
#: one decimal (a row short of all its requests never reads 100): energy, carbon and water
#: all reported, and a known cost. The sums skip the rest, so a table says how many.
COVERED_SQL = f"""
               floor(1000.0 * {count_where("energy_kwh IS NOT NULL AND carbon_g_co2 IS NOT NULL AND water_liters IS NOT NULL")}
                     / {COUNT}) / 10 AS impact_covered_percent,
               floor(1000.0 * {count_where("cost_eur IS NOT NULL")} / {COUNT}) / 10 AS cost_covered_percent"""


@dataclass(frozen=True)
class Figure:
    """One summary figure for the period and the previous period of equal length."""

    key: str
    label: str
    unit: str
    value: float | Decimal | int | None
    previous: float | Decimal | int | None

    @property
    def change_text(self) -> str:
        """The change against the previous period: relative, or in points for a share."""
        if self.value is None or self.previous is None:
            return "no earlier data"
        if self.unit == "%":  # a share: a relative change of a percentage misleads
            diff = float(self.value) - float(self.previous)
            return f"{'+' if diff > 0 else ''}{units.number(diff)} pp vs previous period"
        pct = self.change_percent
        if pct is None:
            return "no earlier data"
        return f"{'+' if pct > 0 else ''}{units.number(pct)}% vs previous period"

    @property
    def shown_unit(self) -> str:
        """The unit the figure is shown in (:mod:`melious_impact.units` picks it by magnitude)."""
        if self.unit == "%":
            return ""
        unit = units.choose(self.key, [self.value])
        return unit.symbol if unit is not None else self.unit

    @property
    def shown_value(self) -> str:
        """The figure as people read it: ``12.3`` (kg CO2e), ``1,204.50`` (EUR), ``87%``."""
        if self.value is None:
            return units.MISSING
        if self.unit == "%":
            return units.percent(self.value)
        if self.key == "cost_eur":
            return units.money(self.value, currency="")
        if self.key == "requests":
            return units.count(self.value)
        unit = units.choose(self.key, [self.value])
        return units.number(unit.convert(self.value) if unit is not None else self.value)

    @property
    def change_percent(self) -> float | None:
        if self.value is None or self.previous is None or float(self.previous) == 0:
            return None
        return (float(self.value) - float(self.previous)) / abs(float(self.previous)) * 100


def page_units(figures: list[Figure]) -> dict[str, str]:
    """The unit of each quantity on a page, from its summary figures: tables and charts
    below them use the same, so a quantity never shows in two units on one page."""
    out: dict[str, str] = {}
    for f in figures:
        q = units.metric_quantity(f.key)
        unit = units.choose(f.key, [f.value])
        if q is not None and unit is not None:
            out[q] = unit.symbol
    return out


def shown_in(page: dict[str, str]) -> Callable[[Any, str], str]:
    """``show(value, column)`` for templates: the value with its unit, in the page's unit."""

    def show(value: Any, column: str) -> str:
        q = units.metric_quantity(column)
        unit = units.unit_of(column, page[q]) if q in page else None
        return units.quantity(value, column, unit)

    return show


def _summary_row(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    cols = ", ".join(f"{sql} AS {key}" for key, (_, _, sql) in SUMMARY_SQL.items())
    row = fetch_one(con, f"SELECT {cols} FROM facts")
    return dict(zip(SUMMARY_SQL, row or (None,) * len(SUMMARY_SQL), strict=True))


def summary(data: Any, start: datetime, end: datetime, **kw: Any) -> list[Figure]:
    """The executive summary's figures for ``[start, end)`` against the period before."""
    now = _summary_row(connect(data, start=start, end=end, **kw))
    before = _summary_row(connect(data, start=start - (end - start), end=start, **kw))
    return [
        Figure(key, label, unit, now[key], before[key] if before["requests"] else None)
        for key, (label, unit, _) in SUMMARY_SQL.items()
    ]


def breakdown(con: duckdb.DuckDBPyConnection, by: str) -> pd.DataFrame:
    """Per ``by`` value: requests, errors, tokens, energy, carbon, water, cost, carbon share, and
    the share of its requests the sums cover (``impact_covered_percent``: energy, carbon and
    water all reported; ``cost_covered_percent``: a known cost)."""
    if by not in BREAKDOWNS:
        raise ValueError(f"by must be one of {', '.join(BREAKDOWNS)}; got {by!r}")
    return query(
        con,
        f"""
        SELECT {by} AS key,
               {COUNT} AS requests,
               {count_where("is_error")} AS errors,
               sum(input_tokens) AS input_tokens,
               sum(output_tokens) AS output_tokens,
               sum(energy_kwh) AS energy_kwh,
               sum(carbon_g_co2) / 1000 AS carbon_kg_co2e,
               sum(water_liters) AS water_liters,
               sum(cost_eur) AS cost_eur,
               100 * sum(carbon_g_co2) / nullif(sum(sum(carbon_g_co2)) OVER (), 0) AS carbon_share_percent,
               {COVERED_SQL}
        FROM facts GROUP BY 1 ORDER BY carbon_kg_co2e DESC NULLS LAST, requests DESC, key
        """,
    )


def per_token(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Observed intensities per model x provider x location (rows with reported impact).

    Each ratio divides a figure by the tokens (or energy) of the rows that carry that figure,
    so a reported row without, say, carbon lowers no intensity."""
    return query(
        con,
        f"""
        SELECT model, provider_id, location,
               {COUNT} AS requests,
               1e6 * sum(energy_kwh) / nullif(sum(input_tokens + output_tokens)
                   FILTER (WHERE energy_kwh IS NOT NULL), 0) AS wh_per_1k_tokens,
               1000 * sum(carbon_g_co2) / nullif(sum(input_tokens + output_tokens)
                   FILTER (WHERE carbon_g_co2 IS NOT NULL), 0) AS g_co2e_per_1k_tokens,
               1e6 * sum(water_liters) / nullif(sum(input_tokens + output_tokens)
                   FILTER (WHERE water_liters IS NOT NULL), 0) AS ml_water_per_1k_tokens,
               sum(carbon_g_co2) FILTER (WHERE energy_kwh IS NOT NULL)
                   / nullif(sum(energy_kwh) FILTER (WHERE carbon_g_co2 IS NOT NULL), 0) AS grid_g_per_kwh
        FROM facts WHERE impact_reported
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        """,
    )


def quality(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """How much of the period's traffic carries its own impact figures, and why not."""
    row = fetch_one(
        con,
        f"""
        SELECT {COUNT},
               {count_where("impact_reported")},
               {count_where("is_error")},
               {count_where("NOT impact_reported AND NOT is_error")},
               {count_where("cost_eur IS NULL")}
        FROM facts
        """,
    ) or (0, 0, 0, 0, 0)
    total, reported, errors, unreported_ok, no_cost = (int(v or 0) for v in row)
    return {
        "requests": total,
        "reported": reported,
        "errors": errors,
        "unreported_ok": unreported_ok,
        "no_cost": no_cost,
        "reported_share_percent": (100 * reported / total) if total else None,
    }


def bounds(data: Any, start: Any, end: Any) -> tuple[datetime, datetime]:
    """The report period (:mod:`melious_impact.periods`): given bounds, else the whole UTC
    days the data spans; with no data at all, one day (today, or next to the given bound)."""
    given = period(start, end)
    lo, hi = given.start, given.end
    if lo is None or hi is None:
        first, last = span(connect(data, start=lo, end=hi))
        if first is None or last is None:  # no data: an empty report of one day
            day = timedelta(days=1)
            if lo is None and hi is None:
                lo = parse_bound(datetime.now(UTC).date(), end=False)
            lo = lo if lo is not None else hi - day if hi is not None else None
            hi = hi if hi is not None else lo + day if lo is not None else None
        else:
            # An open side ends at the whole UTC days the data spans (a date end counts its day).
            lo = lo if lo is not None else parse_bound(first.astimezone(UTC).date(), end=False)
            hi = hi if hi is not None else parse_bound(last.astimezone(UTC).date(), end=True)
    if lo is None or hi is None or hi <= lo:
        raise ValueError(f"the report period is empty: end ({hi}) must be after start ({lo})")
    return lo, hi
