"""Impact over time, stacked by team (or any other grouping column)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import altair as alt
import pandas as pd

from melious_impact import units
from melious_impact.charts._common import (
    HEIGHT,
    SCHEME,
    WIDTH,
    ChartLike,
    check_metric,
    empty_chart,
    tip,
)
from melious_impact.charts.source import COUNT, connect, fetch_one, query, require_hours

STACKABLE = (
    "energy_kwh",
    "carbon_g_co2",
    "water_liters",
    "cost_eur",
    "input_tokens",
    "output_tokens",
    "requests",
)
GROUPS = ("team", "project", "model", "provider_id", "location")
FREQS = ("hour", "day", "week", "month")


def _auto_freq(first: datetime, last: datetime) -> str:
    days = (last - first).total_seconds() / 86400
    if days <= 3:
        return "hour"
    if days <= 120:
        return "day"
    return "week" if days <= 730 else "month"


def impact_series(
    data: Any,
    metric: str = "energy_kwh",
    *,
    by: str = "team",
    freq: str = "auto",
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
) -> pd.DataFrame:
    """The aggregate behind :func:`impact_over_time`: ``period``, ``by``, ``value``."""
    check_metric(metric, STACKABLE)
    if by not in GROUPS:
        raise ValueError(f"by must be one of {', '.join(GROUPS)}; got {by!r}")
    con = connect(data, start=start, end=end)
    first, last = fetch_one(con, "SELECT min(first_at), max(last_at) FROM facts") or (None, None)
    if first is None:
        return pd.DataFrame({"period": [], by: [], "value": []})
    if freq == "auto":
        freq = _auto_freq(first, last)
    if freq not in FREQS:
        raise ValueError(f"freq must be 'auto' or one of {', '.join(FREQS)}; got {freq!r}")
    if freq == "hour":
        require_hours(con)
    value = COUNT if metric == "requests" else f"sum({metric})"
    df = query(
        con,
        f"""
        SELECT date_trunc('{freq}', slot) AS period, {by}, CAST({value} AS DOUBLE) AS value
        FROM facts GROUP BY 1, 2 ORDER BY 1, 2
        """,
    )
    df["period"] = pd.to_datetime(df["period"], utc=True).dt.tz_localize(None)
    df.attrs["freq"] = freq
    return df


def impact_over_time(
    data: Any,
    metric: str = "energy_kwh",
    *,
    by: str = "team",
    freq: str = "auto",
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    unit: str | None = None,
) -> ChartLike:
    """Stacked ``metric`` per period (hour/day/week/month, UTC) and ``by`` group.

    ``metric`` is ``energy_kwh``, ``carbon_g_co2``, ``water_liters`` or ``cost_eur`` (or a
    token count or ``requests``). Only rows with reported impact count towards the
    impact metrics; ``cost_eur`` counts every billed row. Energy, carbon and water are
    drawn in a readable unit (:mod:`melious_impact.units`: Wh/kWh/MWh, g/kg/t CO2e,
    mL/L/m³) picked from the largest period total, or in ``unit`` (e.g. ``"kg CO2e"``).
    """
    df = impact_series(data, metric, by=by, freq=freq, start=start, end=end)
    if df.empty:
        return empty_chart("No requests in this period")
    shown = None
    if units.metric_quantity(metric) in ("energy", "carbon", "water"):
        shown = (
            units.unit_of(metric, unit)
            if unit is not None
            else units.choose(metric, df.groupby("period")["value"].sum())
        )
    if shown is not None:
        df = df.assign(value=df["value"] * shown.factor)
    title = units.header(metric, shown)
    freq_used = df.attrs.get("freq", "day")
    time_unit = {
        "hour": "yearmonthdatehours",
        "day": "yearmonthdate",
        "week": "yearmonthdate",
        "month": "yearmonth",
    }[freq_used]
    # Bars stack clearly for a few dozen periods; beyond that an area reads better.
    n_periods = df["period"].nunique()
    mark = alt.Chart(df).mark_bar() if n_periods <= 90 else alt.Chart(df).mark_area()
    chart: ChartLike = mark.encode(
        x=alt.X(f"{time_unit}(period):T", title=f"{freq_used.capitalize()} (UTC)"),
        y=alt.Y("sum(value):Q", title=title, stack="zero"),
        color=alt.Color(f"{by}:N", title=by.replace("_", " "), scale=alt.Scale(scheme=SCHEME)),
        order=alt.Order(f"{by}:N"),
        tooltip=[
            alt.Tooltip(f"{time_unit}(period):T", title=freq_used),
            tip(f"{by}:N"),
            alt.Tooltip("sum(value):Q", title=title, format=units.D3_NUMBER),
        ],
    ).properties(width=WIDTH, height=HEIGHT, title=f"{title} by {units.label(by).lower()}")
    return chart
