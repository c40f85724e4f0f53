"""Request rows as one DuckDB view, ``facts``, for the charts, the report and the dashboards.

Every chart and report section aggregates in SQL over the ``facts`` view that
:func:`connect` defines over a frame, an Arrow table or an ``ImpactStore``, so a million rows
cost one scan and a chart holds only its aggregate. Money stays exact (``DECIMAL(38,18)``)
until a chart needs a float.

A page with many sections reads a :class:`Cube` instead: the rows summed once per day,
team, cell and status, which the same SQL reads as it reads the rows. Its size grows with
days, teams and cells, not with rows, so a report over a year of traffic holds a few
hundred thousand groups, never the rows.

Queries count with ``sum(n)`` (1 per row, the group's size in a cube), take the first and
last instants from ``first_at``/``last_at`` and read the flags and products listed in
:func:`connect`; results come back through :func:`query` with decimals exact.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from melious_impact.billing import EUR_PER_ENERGY_UNIT, check_rate, cost_eur_sql
from melious_impact.frames import is_store
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
    if not isinstance(data, pd.DataFrame):
        raise TypeError(
            "expected a pandas DataFrame (or pyarrow Table) with the requests columns or an ImpactStore, "
            f"got {type(data).__name__}"
        )
    return frame_to_arrow(data)


#: ``captured_at`` as the UTC wall clock (a plain TIMESTAMP). Days, hours and months are taken
#: from it: the same values as from the TIMESTAMPTZ in UTC, without the time-zone calendar,
#: which costs several times more per row.
_UTC_WALL = "make_timestamp(epoch_us(captured_at))"


def utc_instant(wall: str) -> str:
    """The TIMESTAMPTZ of a UTC wall-clock TIMESTAMP expression (no time-zone calendar)."""
    return f"make_timestamptz(epoch_us({wall}))"


def connect(
    data: Any,
    *,
    start: DateLike | None = None,
    end: DateLike | None = None,
    eur_per_energy_unit: Decimal | None = None,
    team: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with a ``facts`` view over the rows captured in ``[start, end)``
    (the convention of :mod:`melious_impact.periods`: a date ``end`` counts its whole day).

    ``data`` is a frame with the requests columns, an Arrow table, an ``ImpactStore`` or a
    :class:`Cube`. The view adds ``day`` (UTC date), ``hour`` (UTC hour), ``cost_eur``
    (exact) and labels for missing team / model / provider / location, so every query can
    group without NULL cases; ``team`` keeps one team (as labelled: untagged rows are
    ``(untagged)``).

    The view has the columns of a :class:`Cube` too, so one query reads either: ``n`` (1 per
    row; count with ``sum(n)``), ``first_at``/``last_at`` (``captured_at``), the products
    ``renewable_energy`` (renewable % x kWh) and ``pue_energy`` (PUE x kWh), ``it_energy_kwh``
    (kWh / PUE where PUE >= 1) and the flags ``has_tokens``, ``has_renewable``, ``has_pue``,
    ``pue_ok`` (PUE >= 1), ``energy_positive`` and ``hourly`` (``slot`` is the UTC hour).
    """
    if isinstance(data, Cube):
        if eur_per_energy_unit is not None and eur_per_energy_unit != data.eur_per_energy_unit:
            raise ValueError("this Cube was built with another eur_per_energy_unit")
        return data.cursor(period(start, end), team)
    con: duckdb.DuckDBPyConnection
    if is_store(data):
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
    team_clause = "" if team is None else f"WHERE team = {_text(team)}"
    con.sql(
        f"""
        CREATE OR REPLACE TEMP VIEW facts AS
        SELECT *,
            1 AS n,
            captured_at AS first_at,
            captured_at AS last_at,
            {utc_instant(f"date_trunc('hour', {_UTC_WALL})")} AS slot,
            TRUE AS hourly,
            renewable_percent * energy_kwh AS renewable_energy,
            pue * energy_kwh AS pue_energy,
            CASE WHEN pue >= 1 THEN energy_kwh / pue END AS it_energy_kwh,
            (input_tokens > 0 OR output_tokens > 0) AS has_tokens,
            renewable_percent IS NOT NULL AS has_renewable,
            pue IS NOT NULL AS has_pue,
            coalesce(pue >= 1, FALSE) AS pue_ok,
            coalesce(energy_kwh > 0, FALSE) AS energy_positive
        FROM (
            SELECT
                captured_at,
                CAST({_UTC_WALL} AS DATE) AS day,
                CAST(hour({_UTC_WALL}) AS INTEGER) AS hour,
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
        )
        {team_clause}
        """
    )
    return con


#: The number of rows, over rows or a cube's groups (a BIGINT, as ``count(*)`` gives).
COUNT = "CAST(coalesce(sum(n), 0) AS BIGINT)"


def count_where(condition: str) -> str:
    """The number of rows meeting ``condition``, over rows or a cube's groups."""
    return f"CAST(coalesce(sum(n) FILTER (WHERE {condition}), 0) AS BIGINT)"


def require_hours(con: duckdb.DuckDBPyConnection) -> None:
    """``ValueError`` unless every row of the ``facts`` view has its UTC hour (a cube keeps
    hours only for short periods): a query by the hour must then read the rows."""
    # over rows ``hourly`` is the constant TRUE: DuckDB answers without scanning them
    if fetch_one(con, "SELECT 1 FROM facts WHERE NOT hourly LIMIT 1") is not None:
        raise ValueError("these rows are summed by the day: a query by the hour needs the rows themselves")


def _text(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


#: Columns a cube is grouped by, besides its segment: a query that filters or groups on
#: them (or on whether a sum is missing) reads the cube as it would read the rows.
CUBE_KEYS = (
    "day",
    "team",
    "model",
    "provider_id",
    "location",
    "impact_reported",
    "is_error",
    "has_tokens",
    "has_renewable",
    "has_pue",
    "pue_ok",
    "energy_positive",
)
#: Summed columns; each sum is missing exactly where the rows' values are (the cube is
#: grouped by whether each is missing), so ``x IS NOT NULL`` reads the same on both.
CUBE_SUMS = (
    "input_tokens",
    "output_tokens",
    "energy_kwh",
    "carbon_g_co2",
    "water_liters",
    "cost_eur",
    "renewable_energy",
    "pue_energy",
    "it_energy_kwh",
)
#: A period whose rows span at most this long is charted by the hour (as the charts choose).
HOURLY_SPAN = timedelta(days=3)


class Cube:
    """The rows summed per UTC day x team x model x provider x location x status flags, in DuckDB.

    Built in one pass over a store (Parquet projection, rows at or after ``end`` skipped by
    their statistics) or a frame, it holds sums and counts (cost as an exact ``DECIMAL``
    sum), the first and last capture instant of each group, and, for the rows of a team
    that spans at most three days in ``[start, end)``, the UTC hour (those charts go by the
    hour). The same pass sums the rows per month x UTC hour of day x cell x status too
    (:meth:`by_hour_of_day`, for the scenarios). Its size grows with days, teams and cells,
    not with rows.

    :func:`connect` on a cube gives a ``facts`` view over the groups that the same SQL
    reads as it reads the rows (see :func:`connect`): counts are ``sum(n)``. The cube
    answers exactly for the periods it was cut at, ``[start - (end - start), start)``,
    ``[start, end)``, everything before ``end`` and their unions; any other period, or a
    query that needs what the cube does not hold, reads the rows again (:attr:`rows`).
    """

    def __init__(
        self,
        data: Any,
        start: DateLike | None = None,
        end: DateLike | None = None,
        *,
        eur_per_energy_unit: Decimal | None = None,
    ) -> None:
        if isinstance(data, Cube):
            data = data.rows
        #: The rows the cube sums: the store, or the frame as an Arrow table (converted once).
        self.rows: Any = data if is_store(data) else as_arrow(data)
        self.eur_per_energy_unit = eur_per_energy_unit
        self.team: str | None = None
        span = period(start, end)
        self.end = span.end
        cuts = [span.start - (span.end - span.start), span.start] if span.start and span.end else []
        cuts = cuts if cuts else [span.start] if span.start else []
        #: Instants the cube's segments start at (a row's segment: how many are <= it).
        self.cuts: list[datetime] = cuts
        self.con = connect(self.rows, end=span.end, eur_per_energy_unit=eur_per_energy_unit)
        period_start = span.start.isoformat() if span.start else None
        in_period = f"captured_at >= TIMESTAMPTZ '{period_start}'" if period_start else "TRUE"
        seg = (
            " + ".join(f"CAST(captured_at >= TIMESTAMPTZ '{c.isoformat()}' AS INTEGER)" for c in cuts) or "0"
        )
        keys = ", ".join(CUBE_KEYS)
        sums = ", ".join(f"sum({c}) AS {c}" for c in CUBE_SUMS)
        limit_us = int(HOURLY_SPAN.total_seconds()) * 1_000_000
        hour_keys = ", ".join(k for k in CUBE_KEYS if k not in ("day", "team"))
        self.con.sql(
            f"""
            CREATE TABLE cube AS
            WITH short AS (
                SELECT team FROM facts WHERE {in_period} GROUP BY team
                HAVING epoch_us(max(captured_at)) - epoch_us(min(captured_at)) <= {limit_us}
            ), flagged AS (
                SELECT * EXCLUDE (hourly), {seg} AS seg,
                       ({in_period} AND team IN (SELECT team FROM short)) AS hourly,
                       energy_kwh IS NULL AS no_energy, carbon_g_co2 IS NULL AS no_carbon,
                       water_liters IS NULL AS no_water, cost_eur IS NULL AS no_cost,
                       {utc_instant(f"date_trunc('month', {_UTC_WALL})")} AS month_slot
                FROM facts
            ), marked AS (
                SELECT *, CASE WHEN hourly THEN hour END AS day_hour,
                       CASE WHEN hourly THEN slot ELSE {utc_instant("CAST(day AS TIMESTAMP)")} END AS day_slot
                FROM flagged
            )
            -- one scan, two sets of groups: by day (every page query) and by month x hour
            -- of day x cell (the scenarios' workload)
            SELECT seg, {keys},
                   grouping(day_slot) = 1 AS by_hour_of_day,
                   CASE WHEN grouping(day_slot) = 1 THEN TRUE ELSE hourly END AS hourly,
                   CASE WHEN grouping(day_slot) = 1 THEN hour ELSE day_hour END AS hour,
                   CASE WHEN grouping(day_slot) = 1 THEN month_slot ELSE day_slot END AS slot,
                   count(*) AS n, min(captured_at) AS first_at, max(captured_at) AS last_at,
                   {sums}
            FROM marked
            GROUP BY GROUPING SETS (
                (seg, {keys}, hourly, day_hour, day_slot, no_energy, no_carbon, no_water, no_cost),
                (seg, month_slot, hour, {hour_keys}, no_energy, no_carbon, no_water, no_cost)
            )
            -- in a fixed order: a query's float sums then add the groups in the same order
            -- every time (the aggregate hands them over in any order)
            ORDER BY ALL
            """
        )
        #: For a store, this connection also has the store's ``requests`` view (rows for the
        #: model part are read through it instead of opening a new connection each time).
        self.raw_con = self.con if is_store(data) else None

    def __len__(self) -> int:
        row = fetch_one(self.con, "SELECT count(*) FROM main.cube")
        return int(row[0]) if row else 0

    def for_team(self, team: str) -> Cube:
        """The same cube seen through one team (as labelled: untagged rows are ``(untagged)``)."""
        view = object.__new__(Cube)
        view.__dict__.update(self.__dict__)
        view.team = str(team)
        return view

    def _segments(self, span: Period) -> tuple[int, int] | None:
        """The segments making up ``span`` (first, last), or None when the cube was not cut there."""
        if span.start is None:
            first = 0
        elif span.start in self.cuts:
            first = self.cuts.index(span.start) + 1
        else:
            return None
        if span.end is None or span.end == self.end:
            if span.end != self.end:
                return None
            last = len(self.cuts)
        elif span.end in self.cuts:
            last = self.cuts.index(span.end)
        else:
            return None
        return first, last

    def by_hour_of_day(
        self, start: DateLike | None = None, end: DateLike | None = None
    ) -> duckdb.DuckDBPyConnection:
        """A connection whose ``facts`` view is the rows of ``[start, end)`` summed per month,
        UTC hour of day, model, provider, location and status (no day, no team): what the
        scenarios' hourly workload reads. Over the rows when the cube cannot answer."""
        if self.team is not None:
            raise ValueError("the groups by hour of day are not kept per team")
        return self.cursor(period(start, end), by_hour_of_day=True)

    def cursor(
        self, span: Period, team: str | None = None, *, by_hour_of_day: bool = False
    ) -> duckdb.DuckDBPyConnection:
        """A connection whose ``facts`` view is the cube's groups in ``span`` (for the cube's
        team, or ``team``); over the rows when the cube cannot answer for ``span``."""
        team = team if team is not None else self.team
        segs = self._segments(span)
        if segs is None:  # not a period the cube was cut at: the rows themselves, exactly
            return connect(
                self.rows,
                start=span.start,
                end=span.end,
                eur_per_energy_unit=self.eur_per_energy_unit,
                team=team,
            )
        con = self.con.cursor()
        con.sql("SET TimeZone = 'UTC'")
        where = [
            f"seg BETWEEN {segs[0]} AND {segs[1]}",
            "by_hour_of_day" if by_hour_of_day else "NOT by_hour_of_day",
        ]
        if team is not None:
            where.append(f"team = {_text(team)}")
        con.sql(f"CREATE OR REPLACE TEMP VIEW facts AS SELECT * FROM main.cube WHERE {' AND '.join(where)}")
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
    row = fetch_one(con, "SELECT min(first_at), max(last_at) FROM facts")
    if row is None:
        return None, None
    return row[0], row[1]
