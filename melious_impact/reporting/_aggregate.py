"""Aggregated stand-ins for request rows, so the model and forecast parts scale to 1M rows.

The forecast part sums request rows per day; the scenario part predicts expected
impact, which is linear in tokens, and prices token totals. Handing them one row per
(day, team) or per (model, site, hour) instead of one per request gives the same totals
in a fraction of the time. The intensity fit and the anomaly search need no stand-in: they
run in DuckDB on every row (:func:`melious_impact.fit_intensity` and
:meth:`~melious_impact.model.fit.IntensityModel.anomalies` over the store).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import duckdb
import pandas as pd

from melious_impact.charts.source import COUNT, count_where, query, require_hours, utc_instant
from melious_impact.periods import period

#: Above this many requests in the period, the report's scenarios run on the hourly workload
#: (:func:`hourly_workload`: the same expected values, not a sample).
AGGREGATE_SCENARIOS_ABOVE = 200_000

_SUMS = f"""
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(energy_kwh) AS energy_kwh,
    sum(carbon_g_co2) AS carbon_g_co2,
    sum(water_liters) AS water_liters,
    sum(cost_eur) AS cost_eur,
    {COUNT} AS n_requests,
    {count_where("energy_kwh IS NOT NULL")} AS n_energy_kwh,
    {count_where("carbon_g_co2 IS NOT NULL")} AS n_carbon_g_co2,
    {count_where("water_liters IS NOT NULL")} AS n_water_liters,
    {count_where("cost_eur IS NOT NULL")} AS n_cost_eur
"""


#: The hourly workload's impact sums, as a scenario's ``observed`` reads them: a group with a
#: reported request that lacks a figure has that figure missing (as the rows themselves would
#: give), never the smaller sum of the others.
_WORKLOAD_SUMS = f"""
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    CASE WHEN {count_where("impact_reported AND energy_kwh IS NULL")} = 0
         THEN sum(energy_kwh) END AS energy_kwh,
    CASE WHEN {count_where("impact_reported AND carbon_g_co2 IS NULL")} = 0
         THEN sum(carbon_g_co2) END AS carbon_g_co2,
    CASE WHEN {count_where("impact_reported AND water_liters IS NULL")} = 0
         THEN sum(water_liters) END AS water_liters,
    sum(cost_eur) AS cost_eur,
    {COUNT} AS n_requests,
    bool_or(impact_reported) AS impact_reported
"""


def _as_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Give aggregated rows the columns the other parts read, with the exact cost as credits."""
    df["captured_at"] = pd.to_datetime(df["captured_at"], utc=True)
    if "impact_reported" in df.columns:  # the workload says which groups hold reported requests
        df["impact_reported"] = df["impact_reported"].fillna(False).astype(bool)
    else:
        df["impact_reported"] = df["energy_kwh"].notna()
    df["billing_paid_with"] = "credits"
    df["billing_credits"] = [v if isinstance(v, Decimal) else None for v in df["cost_eur"]]
    df["billing_energy"] = None
    df["status_code"] = 200
    return df


def daily_rows(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per (UTC day, team): what ``forecast``/``budget_status`` sum, pre-summed."""
    df = query(
        con,
        f"""
        SELECT CAST(day AS TIMESTAMPTZ) AS captured_at, team, {_SUMS}
        FROM facts GROUP BY day, team ORDER BY day, team
        """,
    )
    return _as_rows(df)


def hourly_workload(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per (model, provider, location, month, UTC hour of day) with token and impact totals.

    The model's carbon depends on time only through the grid profile (location x month x
    hour of day), so each row is stamped at that hour on the 15th of its month. ``con``'s
    ``facts`` view holds rows or a cube's groups by hour of day (``cube.by_hour_of_day(...)``;
    its day groups refuse).
    """
    require_hours(con)
    df = query(
        con,
        f"""
        SELECT date_trunc('month', slot) + INTERVAL 14 DAY
                   + to_hours(CAST(hour AS BIGINT)) + INTERVAL 30 MINUTE AS captured_at,
               model, provider_id, location, {_WORKLOAD_SUMS}
        FROM facts
        WHERE NOT is_error AND has_tokens
        GROUP BY date_trunc('month', slot), hour, model, provider_id, location
        ORDER BY 1, 2, 3, 4
        """,
    )
    for col in ("provider_id", "location"):  # the facts view labels unknowns; the model wants NULLs
        df[col] = df[col].where(df[col] != "(unknown)", None)
    return _as_rows(df)


def unreported_workload(con: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> pd.DataFrame:
    """The requests without reported impact in ``[start, end)``, summed per (model, provider,
    location, month, UTC hour of day) and per which token counts are missing or zero.

    What ``fill_missing`` estimates is linear in the tokens within such a group (the cell's
    per-token energy, the grid of that location, month and hour), so estimating each group
    once and weighting by its ``n_requests`` gives the sums and counts of estimating every
    request. ``con`` has the raw ``requests`` view (a store's, or a frame registered by
    :func:`~melious_impact.charts.source.connect`); keys keep their missing values.
    """
    where, params = period(start, end).sql("captured_at")
    where.append("NOT coalesce(impact_reported, FALSE)")
    # grouped by the UTC month and hour of day (wall clock: no time-zone calendar per row),
    # each group then stamped at that hour on the 15th of its month
    wall = "make_timestamp(epoch_us(captured_at))"
    stamp = utc_instant(
        "month_utc + INTERVAL 14 DAY + to_hours(CAST(hour_utc AS BIGINT)) + INTERVAL 30 MINUTE"
    )
    df = query(
        con,
        f"""
        SELECT {stamp} AS captured_at, model, provider_id, location,
               CAST(sum(input_tokens) AS DOUBLE) AS input_tokens,
               CAST(sum(output_tokens) AS DOUBLE) AS output_tokens,
               count(*) AS n_requests
        FROM (SELECT *, date_trunc('month', {wall}) AS month_utc, hour({wall}) AS hour_utc
              FROM requests WHERE {" AND ".join(where)})
        GROUP BY month_utc, hour_utc, model, provider_id, location,
                 input_tokens IS NULL, output_tokens IS NULL,
                 coalesce(input_tokens, 0) > 0, coalesce(output_tokens, 0) > 0
        ORDER BY 1, 2, 3, 4
        """,
        list(params),
    )
    df["captured_at"] = pd.to_datetime(df["captured_at"], utc=True)
    df["impact_reported"] = False
    return df
