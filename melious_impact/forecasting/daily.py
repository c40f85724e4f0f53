"""Daily totals per group from request rows, in the user's time zone, computed in DuckDB.

A day is a calendar day in ``tz`` (``captured_at`` is stored in UTC). Every metric is
additive: ``requests`` counts rows (a pre-summed row with ``n_requests`` counts that many),
the others sum the column. Days inside a group's history that have no rows are real zeros
(no requests, no spend); days before a group's first row are not part of its history (the
team did not exist yet).

The sums are one ``GROUP BY`` day x group in DuckDB, whatever holds the rows: over a store
only the needed columns are read and rows outside the requested period are skipped by the
Parquet row groups' ``captured_at`` statistics; a pandas frame is registered with DuckDB
(its needed columns, cleaned as below) and runs the same query. pandas sees one row per
(group, day), never the requests.

``cost_eur`` sums are exact ``DECIMAL(38, 18)`` sums of the cost rule's SQL form
(:func:`melious_impact.billing.cost_eur_sql`), returned as ``Decimal``; they become floats
only where the statistical model needs them (:func:`series_matrix`). A frame's billing
amounts (or its own ``cost_eur`` column) are read as the store would hold them, rounded to
18 decimal places. Impact columns are summed as reported: rows without a usable
``environment_impact`` add nothing, so fill them first (``mi.fill_missing``) when coverage
matters.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from melious_impact.billing import check_rate, cost_eur_sql
from melious_impact.forecasting.costs import DEFAULT_EUR_PER_ENERGY_UNIT, to_decimal
from melious_impact.frames import as_frame, is_store
from melious_impact.periods import DateLike, Period, period

#: Metrics that can be forecast and budgeted.
METRICS: tuple[str, ...] = (
    "energy_kwh",
    "carbon_g_co2",
    "water_liters",
    "input_tokens",
    "output_tokens",
    "requests",
    "cost_eur",
)

#: Label used for rows whose group column (e.g. ``team``) is empty.
UNTAGGED = "(untagged)"

#: Metrics a request may lack; :func:`daily_totals` can count the requests that carry each.
COUNTED_METRICS: tuple[str, ...] = ("energy_kwh", "carbon_g_co2", "water_liters", "cost_eur")

_MONEY = "DECIMAL(38, 18)"
_MONEY_ARROW = pa.decimal128(38, 18)


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    return metric


def check_tz(tz: str) -> str:
    """``tz`` when pandas and DuckDB both know it as a time zone; ``ValueError`` otherwise."""
    try:
        pd.Timestamp(0, tz="UTC").tz_convert(tz)
    except Exception as exc:  # pytz/zoneinfo raise different types for unknown zones
        raise ValueError(f"unknown time zone {tz!r}: use an IANA name such as 'Europe/Paris'") from exc
    return tz


def local_dates(captured_at: pd.Series, tz: str) -> pd.Series:
    """Calendar dates (naive midnight timestamps) of UTC instants in time zone ``tz``."""
    ts = pd.to_datetime(captured_at, utc=True)
    local = ts.dt.tz_convert(check_tz(tz))
    return local.dt.tz_localize(None).dt.normalize()


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# -- the rows as one DuckDB view --------------------------------------------------------


def _label_sql(column: str, kind: str = "string") -> str:
    """A group column as text, empty or missing values labelled :data:`UNTAGGED` (booleans
    spelled as Python writes them, as a frame's labels are)."""
    text = (
        f"CASE WHEN {column} THEN 'True' WHEN NOT {column} THEN 'False' END"
        if kind == "bool"
        else f"CAST({column} AS VARCHAR)"
    )
    return f"coalesce(nullif({text}, ''), {_text(UNTAGGED)})"


def _store_view(
    con: duckdb.DuckDBPyConnection,
    groups: Sequence[str],
    metrics: Sequence[str],
    counts: bool,
    rate: Decimal,
    span: Period,
) -> None:
    from melious_impact.records import COLUMN_NAMES, COLUMNS_BY_NAME

    for g in groups:
        if g not in COLUMN_NAMES:
            raise ValueError(f"cannot group by {g!r}: no such column")
    cols = ["captured_at AS ts"]
    cols += [f"{_label_sql(_ident(g), COLUMNS_BY_NAME[g].kind)} AS {_ident(g)}" for g in groups]
    for m in metrics:
        if m == "cost_eur":
            cols.append(f"{cost_eur_sql(rate)} AS cost_eur")
        elif m != "requests":
            cols.append(f"CAST({m} AS DOUBLE) AS {m}")
    if counts:
        cols.append("CAST(1 AS BIGINT) AS _n")
        for m in metrics:
            if m in COUNTED_METRICS:
                value = cost_eur_sql(rate) if m == "cost_eur" else m
                cols.append(f"CAST({value} IS NOT NULL AS BIGINT) AS _n_{m}")
    where = ["captured_at IS NOT NULL", *span.sql_literal("captured_at")]
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW _rows AS SELECT {', '.join(cols)} FROM requests WHERE {' AND '.join(where)}"
    )


def _money_array(values: Any) -> pa.Array:
    """Exact decimals as the store holds them (18 places; ``None`` for missing)."""
    from melious_impact.records import quantize_money

    out = []
    for v in values:
        d = to_decimal(v)
        out.append(None if d is None else quantize_money(d))
    return pa.array(out, type=_MONEY_ARROW)


def _frame_view(
    con: duckdb.DuckDBPyConnection,
    df: pd.DataFrame,
    groups: Sequence[str],
    metrics: Sequence[str],
    counts: bool,
    rate: Decimal,
    span: Period,
) -> None:
    if "captured_at" not in df.columns:
        raise ValueError("request rows need a captured_at column")
    for g in groups:
        if g not in df.columns:
            raise ValueError(f"cannot group by {g!r}: no such column")
    arrays: dict[str, pa.Array] = {
        # microseconds, as the store keeps them (a nanosecond never crosses a midnight)
        "ts": pa.Array.from_pandas(
            pd.to_datetime(df["captured_at"], utc=True).dt.floor("us"), type=pa.timestamp("us", "UTC")
        )
    }
    for g in groups:
        s = df[g].astype(object)
        labels = s.where(s.notna() & (s.astype(str) != ""), UNTAGGED).astype(str)
        arrays[g] = pa.array(labels.tolist(), type=pa.string())
    cost = ""
    for m in metrics:
        if m == "requests":
            continue
        if m == "cost_eur":
            if "cost_eur" in df.columns:  # the caller's own costs (e.g. add_cost_eur at another rate)
                arrays["cost_eur"] = _money_array(df["cost_eur"])
                cost = "cost_eur"
            else:
                n = len(df)
                paid = df["billing_paid_with"] if "billing_paid_with" in df.columns else [None] * n
                arrays["billing_paid_with"] = pa.array(
                    [v if isinstance(v, str) else None for v in paid], type=pa.string()
                )
                for col in ("billing_credits", "billing_energy"):
                    arrays[col] = _money_array(df[col] if col in df.columns else [None] * n)
                cost = cost_eur_sql(rate)
        elif m in df.columns:
            arrays[m] = pa.Array.from_pandas(
                pd.to_numeric(df[m], errors="coerce").astype(float), type=pa.float64()
            )  # NaN becomes NULL
        else:
            raise ValueError(f"request rows have no {m!r} column")
    summed = "n_requests" in df.columns  # pre-summed rows: their counts are n_<metric> columns
    if summed:  # a pre-summed row stands for n_requests requests, in every count
        arrays["_n"] = pa.Array.from_pandas(
            pd.to_numeric(df["n_requests"], errors="coerce").fillna(0).astype(float)
        )
    elif counts:
        arrays["_n"] = pa.array(np.ones(len(df)))
    if counts:
        for m in metrics:
            if m not in COUNTED_METRICS:
                continue
            if summed:
                col = f"n_{m}"
                arrays[f"_n_{m}"] = (
                    pa.Array.from_pandas(pd.to_numeric(df[col], errors="coerce").fillna(0).astype(float))
                    if col in df.columns
                    else pa.nulls(len(df), type=pa.float64())  # coverage not known
                )
    con.register("_frame", pa.table(arrays))
    cols = ["ts", *(_ident(g) for g in groups)]
    cols += [m for m in metrics if m not in ("requests", "cost_eur")]
    if "cost_eur" in metrics:
        cols.append(f"{cost} AS cost_eur")
    if "_n" in arrays:
        cols.append("_n")
    if counts:
        for m in metrics:
            if m in COUNTED_METRICS:
                value = cost if m == "cost_eur" else m
                cols.append(f"_n_{m}" if summed else f"CAST({value} IS NOT NULL AS DOUBLE) AS _n_{m}")
    where = ["ts IS NOT NULL", *span.sql_literal("ts")]
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW _rows AS SELECT {', '.join(cols)} FROM _frame WHERE {' AND '.join(where)}"
    )


@contextmanager
def rows_view(
    data: Any,
    *,
    groups: Sequence[str] = (),
    metrics: Sequence[str] = (),
    counts: bool = False,
    eur_per_energy_unit: Decimal | str | int | float = DEFAULT_EUR_PER_ENERGY_UNIT,
    start: DateLike | None = None,
    end: DateLike | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection with a ``_rows`` view over the requests in ``[start, end)``.

    Columns: ``ts`` (captured_at, UTC; rows without one are left out), each of ``groups``
    (text, :data:`UNTAGGED` for empty values), each of ``metrics`` but ``requests``
    (DOUBLE; ``cost_eur`` as ``DECIMAL(38, 18)`` by the cost rule), ``_n`` (requests a row
    stands for) with ``counts`` or for a frame of pre-summed rows (its ``n_requests``), and
    with ``counts`` ``_n_<metric>`` (requests carrying each metric of
    :data:`COUNTED_METRICS`; NULL when not known). ``data``: a store or a frame.
    """
    rate = check_rate(eur_per_energy_unit)
    span = period(start, end)
    if is_store(data):
        con = data.connect()
        try:
            _store_view(con, groups, metrics, counts, rate, span)
            yield con
        finally:
            con.close()
        return
    df = as_frame(data)
    from melious_impact.store.query import new_connection

    con = new_connection()
    try:
        _frame_view(con, df, groups, metrics, counts, rate, span)
        yield con
    finally:
        con.close()


# -- daily totals ------------------------------------------------------------------------


_DAY_SECONDS = 86_400
#: Instants at which a zone's UTC offset chooses its bucket (winter and summer); any
#: bucket that still crosses a local midnight sends the query back to dates row by row.
_PROBES = ("2020-01-15", "2020-07-15")


def bucket_seconds(tz: str) -> int:
    """Seconds of the UTC buckets whose sums make the local days of ``tz``: a whole day for a
    zone at UTC, an hour for whole-hour offsets, else a quarter of an hour (every offset of
    the zone database since 1980 is a multiple of 15 minutes)."""
    offsets = [pd.Timestamp(p, tz="UTC").tz_convert(tz).utcoffset() for p in _PROBES]
    seconds = [int(o.total_seconds()) if o is not None else 0 for o in offsets]
    if all(s == 0 for s in seconds):
        return _DAY_SECONDS
    if all(s % 3600 == 0 for s in seconds):
        return 3600
    return 900


def _bucketed_sums(
    con: duckdb.DuckDBPyConnection,
    key: str,
    group_col: str,
    metrics: Sequence[str],
    counted: Sequence[str],
    tz: str,
    counts: bool,
    bucket: int | None,
) -> pa.Table | None:
    """The sums per (local date, group) over ``_rows``, ordered by group then date.

    Converting each row's instant to a local date is most of a scan's cost (a time zone
    lookup per row), so the rows are summed per group and UTC bucket of ``bucket`` seconds
    (integer arithmetic on the instant), and only each bucket's start is converted: a bucket
    lies within one local day when local midnights fall on bucket edges. ``None`` when one
    bucket does not (the caller then passes ``bucket=None``: dates row by row). For UTC the
    bucket is the day itself, so every sum is the one-pass sum of the same rows.
    """
    inner, outer = [], []
    # a row counts as the requests it stands for (``_n``: pre-summed rows), else once
    stands_for = "_n" in con.sql("SELECT * FROM _rows LIMIT 0").columns
    for m in metrics:
        if m == "requests":
            inner.append("sum(_n) AS requests" if stands_for else "count(*) AS requests")
            outer.append("CAST(sum(requests) AS DOUBLE) AS requests")
        elif m == "cost_eur":
            inner.append("sum(cost_eur) AS cost_eur")
            outer.append(f"coalesce(sum(cost_eur), CAST(0 AS {_MONEY})) AS cost_eur")
        else:
            inner.append(f"fsum({m}) AS {m}")
            outer.append(f"coalesce(fsum({m}), 0.0) AS {m}")
    if counts:
        inner.append("sum(_n) AS _n")
        outer.append("CAST(sum(_n) AS DOUBLE) AS n_requests")
        inner += [f"sum(_n_{m}) AS _n_{m}" for m in counted]
        outer += [f"CAST(sum(_n_{m}) AS DOUBLE) AS n_{m}" for m in counted]
    g = _ident(group_col)
    if bucket is None:
        day = f"CAST(timezone({_text(tz)}, ts) AS DATE)"
        sql = f"SELECT {day} AS date, {key} AS {g}, {', '.join(inner)} FROM _rows GROUP BY ALL"
        return con.sql(
            f"SELECT date, {g}, {', '.join(outer)} FROM ({sql}) GROUP BY ALL ORDER BY 2, 1"
        ).to_arrow_table()
    us = bucket * 1_000_000
    # floor division (DuckDB's // truncates towards zero, which matters before 1970)
    k = f"(epoch_us(ts) // {us} - CAST(epoch_us(ts) % {us} < 0 AS BIGINT))"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _buckets AS SELECT {k} AS _k, {key} AS {g}, {', '.join(inner)} "
        "FROM _rows GROUP BY ALL"
    )
    local = f"timezone({_text(tz)}, make_timestamptz(_k * {us}))"
    last = f"timezone({_text(tz)}, make_timestamptz(_k * {us} + {us - 1}))"
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _days AS "
        f"SELECT _k, CAST({local} AS DATE) AS date, CAST({last} AS DATE) AS _last "
        "FROM (SELECT DISTINCT _k FROM _buckets)"
    )
    if con.sql("SELECT count(*) FROM _days WHERE date <> _last").fetchall()[0][0] > 0:
        return None
    return con.sql(
        f"SELECT date, {g}, {', '.join(outer)} FROM _buckets JOIN _days USING (_k) GROUP BY ALL ORDER BY 2, 1"
    ).to_arrow_table()


def _empty(cols: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "date" else object) for c in cols})


def daily_totals(
    data: Any,
    metrics: tuple[str, ...] | list[str] = METRICS,
    *,
    by: str | None = "team",
    tz: str = "UTC",
    eur_per_energy_unit: Decimal | str | int | float = DEFAULT_EUR_PER_ENERGY_UNIT,
    start: DateLike | None = None,
    end: DateLike | None = None,
    counts: bool = False,
) -> pd.DataFrame:
    """One row per (group, date) that has requests: ``date``, the group column, the metrics.

    ``data``: request rows (a DataFrame) or a store (anything with ``connect()``). ``cost_eur``
    is an object column of exact ``Decimal`` (an existing ``cost_eur`` column of a frame, e.g.
    from :func:`~melious_impact.forecasting.costs.add_cost_eur` with your own rate, is used as it
    is); the others are floats (tokens and requests as whole-number floats). With ``by=None``
    all rows form one group whose column is ``group`` with the value ``"all"``. Empty group
    values become :data:`UNTAGGED`. ``start``/``end``: only rows captured in that period
    (:mod:`melious_impact.periods`) are read. ``counts``: add ``n_requests`` and, for each
    metric of :data:`COUNTED_METRICS`, ``n_<metric>``: the requests that carry it (NaN when
    not known, e.g. pre-summed rows without that column).
    """
    for m in metrics:
        check_metric(m)
    check_tz(tz)
    group_col = by or "group"
    cols = ["date", group_col, *metrics]
    counted = [m for m in metrics if m in COUNTED_METRICS] if counts else []
    if counts:
        cols += ["n_requests", *(f"n_{m}" for m in counted)]
    if not is_store(data):
        data = as_frame(data)
        if len(data) == 0:
            return _empty(cols)
    groups = [by] if by is not None else []
    with rows_view(
        data,
        groups=groups,
        metrics=metrics,
        counts=counts,
        eur_per_energy_unit=eur_per_energy_unit,
        start=start,
        end=end,
    ) as con:
        key = _ident(by) if by is not None else "'all'"
        try:
            table = _bucketed_sums(con, key, group_col, metrics, counted, tz, counts, bucket_seconds(tz))
            if table is None:  # a bucket crosses a local midnight: dates row by row
                table = _bucketed_sums(con, key, group_col, metrics, counted, tz, counts, None)
        except duckdb.Error as exc:
            if "time zone" in str(exc).lower():
                raise ValueError(
                    f"unknown time zone {tz!r}: use an IANA name such as 'Europe/Paris'"
                ) from exc
            raise
        assert table is not None
    if table.num_rows == 0:
        return _empty(cols)
    out = table.to_pandas()
    out["date"] = pd.to_datetime(out["date"]).astype("datetime64[ns]")
    if "cost_eur" in out.columns:
        out["cost_eur"] = out["cost_eur"].astype(object)
    return out[cols]


def series_matrix(
    totals: pd.DataFrame, metric: str, group_col: str, *, end: pd.Timestamp | None = None
) -> dict[str, pd.Series]:
    """Complete daily float series per group, from its first day to ``end`` (zeros filled).

    ``end`` defaults to the last date of any group, so a team that stopped sending requests
    shows its recent zero days.
    """
    if len(totals) == 0:
        return {}
    last = pd.Timestamp(totals["date"].max()) if end is None else pd.Timestamp(end)
    out: dict[str, pd.Series] = {}
    for name, g in totals.groupby(group_col, sort=True):
        g = g[g["date"] <= last]
        if len(g) == 0:
            continue
        values = np.array([float(v) if v is not None else 0.0 for v in g[metric]], dtype=float)
        s = pd.Series(values, index=pd.DatetimeIndex(g["date"]))
        idx = pd.date_range(s.index.min(), last, freq="D")
        out[str(name)] = s.reindex(idx, fill_value=0.0).rename(metric)
    return out
