"""Request rows as a frame, for the parts (model, forecast) that read frames, not SQL.

Only the rows a section needs are materialised: a period or the rows without reported
impact. The intensity fit and the anomaly search read no frame: they run in DuckDB.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from melious_impact.frames import is_store
from melious_impact.periods import period


def history_rows(
    data: Any,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    unreported_only: bool = False,
    con: Any = None,
) -> pd.DataFrame:
    """Rows of ``data`` (frame, Arrow table or store) captured in ``[start, end)``, all columns.

    ``unreported_only`` keeps rows whose impact was not reported. ``con``, for a store, is a DuckDB
    connection that already has its ``requests`` view (e.g. ``Cube.raw_con``).
    """
    if is_store(data):
        return _store_rows(data, start, end, unreported_only, con)
    if isinstance(data, pa.Table):
        data = data.to_pandas()
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame or an ImpactStore, got {type(data).__name__}")
    if data.empty:
        return data
    # One positional take at the end: filtering a wide frame of Arrow-backed columns twice
    # would copy it twice.
    keep = period(start, end).mask(data["captured_at"])
    if unreported_only:
        keep &= ~data["impact_reported"].fillna(False).astype(bool).to_numpy()
    positions = np.flatnonzero(keep)
    if len(positions) == len(data):
        return data
    return data.take(positions)


def _store_rows(
    store: Any,
    start: datetime | None,
    end: datetime | None,
    unreported_only: bool,
    con: Any = None,
) -> pd.DataFrame:
    """Rows from a store; ``con`` (a connection with the store's ``requests`` view) saves
    opening a new one per call."""
    where, bounds = period(start, end).sql("captured_at")
    params: list[Any] = list(bounds)
    if unreported_only:
        where.append("NOT coalesce(impact_reported, FALSE)")
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    sql = f"SELECT * FROM requests{clause} ORDER BY captured_at"
    if con is None:
        return pd.DataFrame(store.sql(sql, params))
    rel = con.sql(sql, params=params or None)
    return rel.to_arrow_table().to_pandas() if rel is not None else pd.DataFrame()
