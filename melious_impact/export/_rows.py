"""Turn whatever the caller holds (rows, a frame, an Arrow table, a store) into plain rows.

Exports accept the same inputs as the rest of the package: a list of row dicts (what capture
produces), a pandas DataFrame with the ``requests`` columns, a ``pyarrow.Table``, or an
``ImpactStore`` (anything with ``to_pandas()``). Frames carry pandas' missing markers (NaN,
NaT, pd.NA) and numpy scalars; exporters want ``None`` and Python scalars, so this module
normalises once instead of every exporter guessing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from melious_impact.frames import is_store


def is_missing(value: Any) -> bool:
    """True for None, NaN, NaT and pd.NA (without importing pandas for plain rows)."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, Decimal):
        return value.is_nan()
    name = type(value).__name__
    return name in {"NAType", "NaTType"}


def clean_value(value: Any) -> Any:
    """A Python scalar (or None) for one cell of a frame."""
    if is_missing(value):
        return None
    if hasattr(value, "to_pydatetime"):  # pandas.Timestamp
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, str | bytes | Decimal):  # numpy scalar
        return value.item()
    return value


def as_utc(value: Any) -> datetime | None:
    """An aware UTC datetime for ``captured_at`` (naive values are taken as UTC, as stored)."""
    value = clean_value(value)
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"captured_at must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _frame_of(source: Any) -> Any:
    """A pandas DataFrame for frames, Arrow tables and stores; None for plain row iterables."""
    type_name = type(source).__name__
    if type_name == "DataFrame":
        return source
    if type_name == "Table" and hasattr(source, "to_pandas"):  # pyarrow.Table
        return source.to_pandas()
    if hasattr(source, "to_pandas") and not isinstance(source, Mapping):  # ImpactStore
        return source.to_pandas()
    return None


#: Rows a store hands an exporter at a time: memory stays flat whatever the store holds.
STORE_BATCH_ROWS = 20_000


def _store_records(store: Any) -> Iterator[dict[str, Any]]:
    """A store's rows in time order (as ``to_pandas()`` orders them), a batch at a time."""
    import pyarrow as pa

    from melious_impact.store.query import to_pandas

    con = store.connect()
    try:
        reader = con.sql("SELECT * FROM requests ORDER BY captured_at, record_id").to_arrow_reader(
            STORE_BATCH_ROWS
        )
        for batch in reader:
            yield from to_pandas(pa.Table.from_batches([batch])).to_dict("records")
    finally:
        con.close()


def iter_rows(source: Any) -> Iterator[dict[str, Any]]:
    """Yield rows as dicts of Python scalars from rows, a DataFrame, an Arrow table or a store
    (read in batches of :data:`STORE_BATCH_ROWS`, never whole)."""
    if isinstance(source, Mapping):
        raise TypeError("pass a list of rows (or a DataFrame / store), not a single row dict")
    records: Iterable[Mapping[str, Any]]
    if is_store(source):
        records = _store_records(source)
    else:
        frame = _frame_of(source)
        records = frame.to_dict("records") if frame is not None else source
    for record in records:
        if not isinstance(record, Mapping):
            raise TypeError(f"rows must be dicts with the requests columns, got {type(record).__name__}")
        yield {str(k): clean_value(v) for k, v in record.items()}


def to_frame(source: Any) -> Any:
    """A pandas DataFrame from rows, a DataFrame, an Arrow table or a store."""
    import pandas as pd

    frame = _frame_of(source)
    if frame is not None:
        return frame
    if isinstance(source, Mapping):
        raise TypeError("pass a list of rows (or a DataFrame / store), not a single row dict")
    return pd.DataFrame(list(source))
