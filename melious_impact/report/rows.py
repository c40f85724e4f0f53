"""Request rows as a frame, for the parts (model, forecast) that read frames, not SQL.

Only the rows a section needs are materialised: a period, the rows without reported
impact, or a seeded sample of at most ``limit`` rows, so a million-row store never
has to become a million-row frame.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from melious_impact.charts._source import _is_store
from melious_impact.periods import period

SAMPLE_SEED = 0


def history_rows(
    data: Any,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    unreported_only: bool = False,
    limit: int | None = None,
    con: Any = None,
) -> pd.DataFrame:
    """Rows of ``data`` (frame, Arrow table or store) captured in ``[start, end)``, all columns.

    ``unreported_only`` keeps rows whose impact was not reported; ``limit`` caps the rows
    at a sample of about that size (time order kept). ``con``, for a store, is a DuckDB
    connection that already has its ``requests`` view (e.g. ``Facts.con``).
    """
    if _is_store(data):
        return _store_rows(data, start, end, unreported_only, limit, con)
    if isinstance(data, pa.Table):
        data = data.to_pandas()
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame or an ImpactStore, got {type(data).__name__}")
    if data.empty:
        return data
    # One positional take at the end: filtering then sampling then sorting a wide frame of
    # Arrow-backed columns would copy it three times.
    keep = period(start, end).mask(data["captured_at"])
    if unreported_only:
        keep &= ~data["impact_reported"].fillna(False).astype(bool).to_numpy()
    positions = np.flatnonzero(keep)
    if limit is not None and len(positions) > limit:
        rng = np.random.default_rng(SAMPLE_SEED)
        positions = np.sort(rng.choice(positions, size=limit, replace=False))
    if len(positions) == len(data):
        return data
    return data.take(positions)


def _store_rows(
    store: Any,
    start: datetime | None,
    end: datetime | None,
    unreported_only: bool,
    limit: int | None,
    con: Any = None,
) -> pd.DataFrame:
    """Rows from a store; ``con`` (a connection with the store's ``requests`` view) saves
    opening a new one per call."""
    where, bounds = period(start, end).sql("captured_at")
    params: list[Any] = list(bounds)
    if unreported_only:
        where.append("NOT coalesce(impact_reported, FALSE)")
    if limit is not None:
        total = _count(store, con, where, params)
        if total > limit:
            # A deterministic sample by row identity: a hash filter reads the files once, where a
            # seeded reservoir sample costs several times more on a million rows.
            k = -(-total // limit)
            where.append(f"hash(coalesce(record_id, dedup_key, CAST(captured_at AS VARCHAR))) % {k} = 0")
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    sql = f"SELECT * FROM requests{clause} ORDER BY captured_at"
    if con is None:
        return pd.DataFrame(store.sql(sql, params))
    rel = con.sql(sql, params=params or None)
    return rel.to_arrow_table().to_pandas() if rel is not None else pd.DataFrame()


def _count(store: Any, con: Any, where: list[str], params: list[Any]) -> int:
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    sql = f"SELECT count(*) AS n FROM requests{clause}"
    if con is None:
        return int(store.sql(sql, params)["n"].iloc[0])
    rel = con.sql(sql, params=params or None)
    return int(rel.fetchall()[0][0]) if rel is not None else 0
