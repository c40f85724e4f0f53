"""Request rows as a DuckDB relation, whether they live in a store or in a pandas frame.

The model's readers aggregate in DuckDB and bring back per-cell, per-slot or per-site
results, never the rows. :func:`open_source` gives them one view, ``_src``, with the
columns they use under fixed names and types:

====== ========================================= =========================================
name   meaning                                   from a frame
====== ========================================= =========================================
model, provider_id, location  cell keys (location as its alpha-2 code where it names a
       country, see :mod:`.locations`)           missing values are NULL
tin, tout, e, pue, c, w   input/output tokens, energy_kwh, pue, carbon_g_co2, water_liters
       as DOUBLE                                 :func:`.frames.floats` (NaN: NULL)
rep    the row's impact was reported             :func:`.frames.reported_mask`
ts     captured_at (UTC)                         :func:`.frames.utc_times`
mo, hr month (0-11) and hour of ts in UTC
o      the row's place in row order (BIGINT)     its position
====== ========================================= =========================================

From a store only the needed columns are read (Parquet projection), rows outside
``[start, end)`` are skipped by the row groups' captured_at statistics, and ``order`` is
the row order of ``store.to_pandas()`` (captured_at, record_id). A frame is registered with
DuckDB as it is (its needed columns, already cleaned), so frames and stores share one
implementation; its ``order`` is the frame's own row order.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from melious_impact.frames import as_frame, is_store
from melious_impact.model.frames import floats, reported_mask, utc_times
from melious_impact.periods import DateLike, period

#: The cell key columns of ``_src``.
KEYS = ("model", "provider_id", "location")
# month (0-11) and UTC hour of a row, from the instant's microseconds (no time-zone calendar)
_SLOT = "month(make_timestamp(epoch_us(ts))) - 1 AS mo, hour(make_timestamp(epoch_us(ts))) AS hr"


@dataclass(frozen=True)
class Source:
    """An open ``_src`` view and what the readers need to know about it."""

    con: duckdb.DuckDBPyConnection
    order: str  # ORDER BY expression giving the rows' order as a frame would have them
    timed: bool  # some row has a captured_at (else the grid is one flat level per location)
    frame: pd.DataFrame | None  # the caller's frame (None for a store)


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _location_case(raw: list[Any]) -> str:
    """``location`` with each spelling of a country written as its alpha-2 code (a CASE over
    the few distinct values that change; the plain column when none does)."""
    from melious_impact.model.locations import canonical_locations

    names = [v for v in raw if isinstance(v, str)]
    changes = [(v, c) for v, c in zip(names, canonical_locations(names), strict=True) if c != v]
    if not changes:
        return "location"
    whens = " ".join(f"WHEN {_sql_text(v)} THEN {_sql_text(str(c))}" for v, c in changes)
    return f"CASE location {whens} ELSE location END"


def _key_column(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df.columns:
        return pd.Series([None] * len(df), index=df.index, dtype=object)
    s = df[column]
    if pd.api.types.is_string_dtype(s.dtype) and pd.api.types.infer_dtype(s, skipna=True) in (
        "string",
        "empty",
    ):
        return s  # strings and missing values already: DuckDB reads them as they are
    return (
        s.astype(object)
        .where(s.notna(), None)
        .map(lambda v: v if v is None or isinstance(v, str) else str(v))
    )


def _frame_view(con: duckdb.DuckDBPyConnection, df: pd.DataFrame) -> Source:
    times = utc_times(df)
    small = pd.DataFrame(
        {
            # categorical: DuckDB reads Arrow dictionaries as codes, not a string per row
            **{k: _key_column(df, k).astype("category") for k in KEYS},
            "tin": floats(df, "input_tokens"),
            "tout": floats(df, "output_tokens"),
            "e": floats(df, "energy_kwh"),
            "pue": floats(df, "pue"),
            "c": floats(df, "carbon_g_co2"),
            "w": floats(df, "water_liters"),
            "rep": reported_mask(df),
            "ts": times
            if times is not None
            else pd.Series(pd.NaT, index=df.index, dtype="datetime64[us, UTC]"),
            "_pos": np.arange(len(df), dtype=np.int64),
        }
    ).reset_index(drop=True)
    # as Arrow: DuckDB scans it in parallel without converting pandas columns row by row
    con.register("_frame", pa.Table.from_pandas(small, preserve_index=False))
    raw = con.sql("SELECT DISTINCT location FROM _frame WHERE location IS NOT NULL").fetchall()
    loc = _location_case([r[0] for r in raw])
    con.execute(
        "CREATE OR REPLACE TEMP VIEW _src AS SELECT model, provider_id, "
        f"{loc} AS location, tin, tout, e, pue, c, w, rep, ts, _pos, _pos AS o, {_SLOT} FROM "
        "(SELECT * REPLACE (CAST(ts AS TIMESTAMPTZ) AS ts) FROM _frame)"
    )
    return Source(con, "_pos", times is not None, df)


def _store_view(con: duckdb.DuckDBPyConnection, where: list[str]) -> Source:
    cond = f" WHERE {' AND '.join(where)}" if where else ""
    found = con.sql(f"SELECT location FROM requests{cond} GROUP BY location").fetchall()
    loc = _location_case([r[0] for r in found])
    timed = con.sql(
        f"SELECT 1 FROM requests{cond}{' AND' if cond else ' WHERE'} captured_at IS NOT NULL LIMIT 1"
    )
    con.execute(
        "CREATE OR REPLACE TEMP VIEW _src AS SELECT model, provider_id, "
        f"{loc} AS location, CAST(input_tokens AS DOUBLE) AS tin, CAST(output_tokens AS DOUBLE) AS tout, "
        "energy_kwh AS e, pue, carbon_g_co2 AS c, water_liters AS w, "
        "coalesce(impact_reported, false) AS rep, captured_at AS ts, record_id, "
        "billing_credits, billing_energy, billing_paid_with, epoch_us(captured_at) AS o, "
        f"{_SLOT.replace('ts', 'captured_at')} "
        f"FROM requests{cond}"
    )
    return Source(con, "ts, record_id", bool(timed.fetchall()), None)


@contextmanager
def open_source(data: Any, start: DateLike | None = None, end: DateLike | None = None) -> Iterator[Source]:
    """``_src`` over a store (anything with ``connect()`` giving a ``requests`` view) or a
    frame (or anything :func:`melious_impact.frames.as_frame` accepts), rows in ``[start, end)``."""
    span = period(start, end)
    if is_store(data):
        con = data.connect()
        try:
            yield _store_view(con, span.sql_literal("captured_at"))
        finally:
            con.close()
        return
    df = as_frame(data)
    if span.start is not None or span.end is not None:
        ts = pd.to_datetime(df["captured_at"], utc=True)
        keep = pd.Series(True, index=df.index)
        if span.start is not None:
            keep &= ts >= pd.Timestamp(span.start)
        if span.end is not None:
            keep &= ts < pd.Timestamp(span.end)
        df = df[keep.to_numpy()]
    from melious_impact.store.query import new_connection

    con = new_connection()
    try:
        yield _frame_view(con, df)
    finally:
        con.close()
