"""Turn what the user hands us (a frame or an ``ImpactStore``) into one DuckDB view.

Every chart and report section aggregates in SQL over the ``facts`` view defined here,
so a million rows cost one scan and the chart data holds only the aggregate. Money
stays exact (``DECIMAL(38,18)``) until a chart needs a float.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from melious_impact.billing import EUR_PER_ENERGY_UNIT, check_rate, cost_eur_sql
from melious_impact.periods import DateLike, Period, period
from melious_impact.records import BILLING_COLUMNS, COLUMNS_BY_NAME, IMPACT_COLUMNS, arrow_type

#: Label used where a row carries no team / model / provider / location.
UNTAGGED = "(untagged)"
UNKNOWN = "(unknown)"

# Columns the facts view reads; a frame missing some of them gets NULLs.
_NEEDED = (
    "captured_at",
    "status_code",
    "model",
    "input_tokens",
    "output_tokens",
    *IMPACT_COLUMNS,
    *BILLING_COLUMNS,
    "error_code",
    "latency_ms",
    "team",
    "project",
    "flavor",
    "source",
)


def default_eur_per_energy_unit() -> Decimal:
    """The euro value of one billing energy unit (:data:`melious_impact.billing.EUR_PER_ENERGY_UNIT`)."""
    return EUR_PER_ENERGY_UNIT


def frame_to_arrow(df: pd.DataFrame) -> pa.Table:
    """The columns we read, typed as the store types them (decimals stay exact)."""
    arrays: dict[str, pa.Array] = {}
    n = len(df)
    for name in _NEEDED:
        typ = arrow_type(COLUMNS_BY_NAME[name].kind)
        if name not in df.columns:
            arrays[name] = pa.nulls(n, type=typ)
            continue
        series = df[name]
        if name == "captured_at":
            series = pd.to_datetime(series, utc=True)
        arrays[name] = pa.Array.from_pandas(series, type=typ)
    return pa.table(arrays)


def as_arrow(data: pd.DataFrame | pa.Table) -> pa.Table:
    """The rows as Arrow; convert a frame once and pass the table on to skip repeat conversions."""
    if isinstance(data, pa.Table):
        missing = [c for c in _NEEDED if c not in data.column_names]
        for name in missing:
            data = data.append_column(name, pa.nulls(len(data), type=arrow_type(COLUMNS_BY_NAME[name].kind)))
        return data
    return frame_to_arrow(data)


def _is_store(data: Any) -> bool:
    return hasattr(data, "connect") and hasattr(data, "to_pandas") and not isinstance(data, pd.DataFrame)


class Facts:
    """Request rows loaded once into an in-memory DuckDB table, for many queries.

    Charts and report sections each open their own connection; over a frame that would
    convert and scan the raw rows every time. ``Facts(data)`` does the conversion and the
    per-row work (labels, exact cost) once; :func:`connect` then filters the table.
    """

    def __init__(self, data: Any, *, eur_per_energy_unit: Decimal | None = None) -> None:
        self.eur_per_energy_unit = eur_per_energy_unit
        self.team: str | None = None
        self.con = connect(data, eur_per_energy_unit=eur_per_energy_unit)
        self.con.sql("CREATE TABLE facts_all AS SELECT * FROM facts ORDER BY captured_at")
        #: For a store, this connection also has the store's raw ``requests`` view: rows for
        #: the model part are read through it instead of opening a new connection each time.
        self.raw_con = self.con if _is_store(data) else None

    def for_team(self, team: str) -> Facts:
        """The same table seen through one team (as labelled: untagged rows are ``(untagged)``)."""
        view = object.__new__(Facts)
        view.eur_per_energy_unit, view.con, view.team = self.eur_per_energy_unit, self.con, str(team)
        view.raw_con = self.raw_con
        return view

    def cursor(self, span: Period) -> duckdb.DuckDBPyConnection:
        con = self.con.cursor()
        con.sql("SET TimeZone = 'UTC'")
        where = span.sql_literal("captured_at")
        if self.team is not None:
            where.append("team = '" + self.team.replace("'", "''") + "'")
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        con.sql(f"CREATE OR REPLACE TEMP VIEW facts AS SELECT * FROM main.facts_all {clause}")
        return con


def connect(
    data: Any,
    *,
    start: DateLike | None = None,
    end: DateLike | None = None,
    eur_per_energy_unit: Decimal | None = None,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with a ``facts`` view over the rows captured in ``[start, end)``
    (the convention of :mod:`melious_impact.periods`: a date ``end`` counts its whole day).

    ``data`` is a frame with the requests columns or an ``ImpactStore``. The view adds
    ``day`` (UTC date), ``hour`` (UTC hour), ``cost_eur`` (exact) and labels for missing
    team / model / provider / location, so every query below can group without NULL cases.
    """
    if isinstance(data, Facts):
        if eur_per_energy_unit is not None and eur_per_energy_unit != data.eur_per_energy_unit:
            raise ValueError("these Facts were built with another eur_per_energy_unit")
        return data.cursor(period(start, end))
    con: duckdb.DuckDBPyConnection
    if _is_store(data):
        con = data.connect()
    elif isinstance(data, pd.DataFrame | pa.Table):
        con = duckdb.connect()
        con.register("requests", as_arrow(data))
    else:
        raise TypeError(
            "expected a pandas DataFrame (or pyarrow Table) with the requests columns or an ImpactStore, "
            f"got {type(data).__name__}"
        )
    con.sql("SET TimeZone = 'UTC'")
    rate = check_rate(EUR_PER_ENERGY_UNIT if eur_per_energy_unit is None else eur_per_energy_unit)
    # The view is rebuilt per call with literal bounds: DuckDB views cannot take parameters.
    where = period(start, end).sql_literal("captured_at")
    clause = ("WHERE " + " AND ".join(where)) if where else ""
    con.sql(
        f"""
        CREATE OR REPLACE TEMP VIEW facts AS
        SELECT
            captured_at,
            CAST(captured_at AS DATE) AS day,
            CAST(date_part('hour', captured_at) AS INTEGER) AS hour,
            status_code,
            COALESCE(NULLIF(team, ''), '{UNTAGGED}') AS team,
            COALESCE(NULLIF(project, ''), '{UNTAGGED}') AS project,
            COALESCE(NULLIF(model, ''), '{UNKNOWN}') AS model,
            COALESCE(NULLIF(provider_id, ''), '{UNKNOWN}') AS provider_id,
            COALESCE(NULLIF(location, ''), '{UNKNOWN}') AS location,
            COALESCE(input_tokens, 0) AS input_tokens,
            COALESCE(output_tokens, 0) AS output_tokens,
            CASE WHEN impact_reported THEN energy_kwh END AS energy_kwh,
            CASE WHEN impact_reported THEN carbon_g_co2 END AS carbon_g_co2,
            CASE WHEN impact_reported THEN water_liters END AS water_liters,
            CASE WHEN impact_reported THEN renewable_percent END AS renewable_percent,
            CASE WHEN impact_reported THEN pue END AS pue,
            COALESCE(impact_reported, FALSE) AS impact_reported,
            error_code,
            (error_code IS NOT NULL OR status_code >= 400) AS is_error,
            latency_ms,
            flavor,
            source,
            billing_paid_with,
            -- cost_eur by the one rule of melious_impact.billing, written as SQL there.
            {cost_eur_sql(rate)} AS cost_eur
        FROM requests
        {clause}
        """
    )
    return con


def query(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
    """Run ``sql`` and return a frame; through Arrow so decimals stay exact ``Decimal`` objects
    (DuckDB's own ``.df()`` turns them into floats)."""
    rel = con.sql(sql, params=params or None)
    if rel is None:
        return pd.DataFrame()
    table = rel.to_arrow_table()
    return table.to_pandas(date_as_object=False)


def fetch_one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...] | None:
    """The first row of ``sql`` (``None`` when there is none)."""
    rel = con.sql(sql)
    rows = rel.fetchall() if rel is not None else []
    return tuple(rows[0]) if rows else None


def span(con: duckdb.DuckDBPyConnection) -> tuple[datetime | None, datetime | None]:
    """First and last ``captured_at`` in the facts view (``None`` when it is empty)."""
    row = fetch_one(con, "SELECT min(captured_at), max(captured_at) FROM facts")
    if row is None:
        return None, None
    return row[0], row[1]
