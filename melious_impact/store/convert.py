"""Rows (journal tuples or dicts) -> Arrow tables with the ``requests`` schema.

Coercion happens here, in the background, rather than in ``write()``: a value of the wrong
type (a number sent as text, a float for a decimal) is converted when it can be and stored
as null when it cannot, so one odd row never blocks the rest of its segment.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from melious_impact.records import (
    COLUMN_NAMES,
    COLUMNS,
    DECIMAL_SCALE,
    NEVER_NULL,
    PHYSICAL_BOUNDS,
    arrow_schema,
    quantize_money,
)
from melious_impact.store.codec import to_micros

_SCHEMA: pa.Schema | None = None
_QUANTUM = Decimal(1).scaleb(-DECIMAL_SCALE)
_MAX_DECIMAL_DIGITS = 38
_US_PER_DAY = 86_400_000_000
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_EPOCH_DAY = date(1970, 1, 1)

#: Never-null columns (``Column.never_null``) filled when a row leaves them out.
_FILL: dict[str, Any] = NEVER_NULL


def schema() -> pa.Schema:
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = arrow_schema()
    return _SCHEMA


def empty_table() -> pa.Table:
    return schema().empty_table()


def _to_decimal(v: Any) -> Decimal | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        d = v if isinstance(v, Decimal) else Decimal(str(v))
        return quantize_money(d)  # exact, with enough context precision for 38 digits
    except (InvalidOperation, ValueError, TypeError, ArithmeticError):
        return None


def _to_int(v: Any) -> int | None:
    if v is None:
        return None
    try:
        if isinstance(v, float) and not v.is_integer():
            return None
        i = int(v)
    except (ValueError, TypeError, OverflowError):
        return None
    return i if -(2**63) <= i < 2**63 else None


def _to_float(v: Any) -> float | None:
    try:
        return None if v is None or (isinstance(v, str) and not v.strip()) else float(v)
    except (ValueError, TypeError, OverflowError):
        return None


def _to_bool(v: Any) -> bool | None:
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, str):
        s = v.strip().lower()
        return True if s in ("true", "1", "yes") else False if s in ("false", "0", "no") else None
    if isinstance(v, int | float):
        return bool(v)
    return None


def _to_str(v: Any) -> str | None:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, Mapping | list | tuple):
        return json.dumps(v, sort_keys=True, default=str)
    return str(v)


_COERCE = {"int": _to_int, "float": _to_float, "bool": _to_bool, "string": _to_str}


def column_array(kind: str, typ: pa.DataType, values: Sequence[Any]) -> pa.Array:
    """An Arrow array for one column; vectorised fast path first, value-by-value coercion
    only when the fast path rejects something."""
    if kind == "timestamp":
        try:
            return pa.array(values, pa.int64()).cast(typ)  # journal rows: µs integers
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            return pa.array([None if v is None else to_micros(v) for v in values], pa.int64()).cast(typ)
    if kind == "decimal":
        try:  # decimal text (the journal's form) parsed by Arrow, exactly
            return pa.array(values, pa.string()).cast(typ)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError):
            return pa.array([_to_decimal(v) for v in values], typ)
    try:
        return pa.array(values, typ)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
        return pa.array([_COERCE[kind](v) for v in values], typ)


def record_id_array(n: int, seed: str | None) -> pa.Array:
    """``n`` fresh ids: 20 hex digits from the seed, 12 from the row's position (32 hex
    digits like a uuid4 hex; deterministic for a seed). Built with numpy: no per-row call."""
    prefix = hashlib.sha256(seed.encode()).hexdigest()[:20] if seed else uuid.uuid4().hex[:20]
    chars = np.empty((n, 32), dtype=np.uint8)
    chars[:, :20] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    pos = np.arange(n, dtype=np.uint64)
    for k in range(12):  # hex digits of the position, most significant first
        chars[:, 31 - k] = _HEX[((pos >> np.uint64(4 * k)) & np.uint64(15)).astype(np.intp)]
    offsets = pa.py_buffer((np.arange(n + 1, dtype=np.int32) * 32).tobytes())
    return pa.Array.from_buffers(pa.string(), n, [None, offsets, pa.py_buffer(chars.tobytes())])


def fill_record_ids(ids: pa.Array | pa.ChunkedArray, seed: str | None) -> pa.Array:
    """Keep the ids rows have; give the others fresh ones (see :func:`record_id_array`)."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    if ids.null_count == 0:
        return ids
    fresh = record_id_array(len(ids), seed)
    return fresh if ids.null_count == len(ids) else pc.coalesce(ids, fresh)


def _bound(value: float, typ: pa.DataType) -> pa.Scalar:
    if pa.types.is_decimal(typ):
        return pa.scalar(Decimal(value), typ)
    return pa.scalar(value, typ)


def reject_unphysical(table: pa.Table) -> pa.Table:
    """Null out values outside their column's physical bounds
    (:data:`~melious_impact.records.PHYSICAL_BOUNDS`) and say so in ``parse_warnings``.

    What lies outside (negative energy, NaN, infinite carbon, a PUE below 1...) is no
    measurement, whichever way the row came in (capture, imports, ``append``,
    ``writer().write``).
    """
    import pyarrow.compute as pc

    warnings = table.column("parse_warnings").combine_chunks()
    changed = False
    for name, (low, high) in PHYSICAL_BOUNDS.items():
        arr = table.column(name).combine_chunks()
        if arr.null_count == len(arr):
            continue
        bad = pc.less(arr, _bound(low, arr.type))
        if high is not None:
            bad = pc.or_(bad, pc.greater(arr, _bound(high, arr.type)))
        if pa.types.is_floating(arr.type):
            bad = pc.or_(bad, pc.or_(pc.is_nan(arr), pc.is_inf(arr)))
        bad = pc.fill_null(bad, False)
        # true_count, not pc.any(): an aggregate kernel starts Arrow's thread pool, whose
        # threads were seen to crash a writer process at interpreter exit.
        if not bad.true_count:
            continue
        changed = True
        index = table.schema.get_field_index(name)
        table = table.set_column(
            index, table.schema.field(index), pc.if_else(bad, pa.scalar(None, arr.type), arr)
        )
        code = pa.scalar(f"invalid_{name}")
        joined = pc.if_else(pc.equal(warnings, ""), code, pc.binary_join_element_wise(warnings, code, ","))
        warnings = pc.if_else(bad, joined, warnings)
    if not changed:
        return table
    index = table.schema.get_field_index("parse_warnings")
    return table.set_column(index, table.schema.field(index), warnings)


def table_from_tuples(
    names: Sequence[str], rows: Sequence[Sequence[Any]], *, record_id_seed: str | None = None
) -> pa.Table:
    """Build a table from row tuples ordered by ``names``.

    Rows without a ``record_id`` get one derived from ``record_id_seed`` and the row's
    position, so converting the same journal segment twice yields identical files.
    """
    index = {n: i for i, n in enumerate(names)}
    by_column = list(zip(*rows, strict=True)) if rows else [() for _ in names]  # one C-level transpose
    arrays = []
    for col in COLUMNS:
        i = index.get(col.name)
        values: Sequence[Any] = [None] * len(rows) if i is None else by_column[i]
        fill = _FILL.get(col.name)
        if fill is not None and None in values:
            values = [fill if v is None else v for v in values]
        arr = column_array(col.kind, schema().field(col.name).type, values)
        if col.name == "record_id":
            arr = fill_record_ids(arr, record_id_seed)
        arrays.append(arr)
    return reject_unphysical(pa.Table.from_arrays(arrays, schema=schema()))


def table_from_dicts(rows: Iterable[Mapping[str, Any]], *, record_id_seed: str | None = None) -> pa.Table:
    rows = list(rows)
    return table_from_tuples(
        COLUMN_NAMES, [tuple(r.get(n) for n in COLUMN_NAMES) for r in rows], record_id_seed=record_id_seed
    )


def conform(table: pa.Table) -> pa.Table:
    """Cast any table with (a subset of) the requests columns onto the full schema."""
    n = table.num_rows
    arrays = []
    for col in COLUMNS:
        typ = schema().field(col.name).type
        if col.name in table.column_names:
            arr = table.column(col.name).combine_chunks()
            if arr.type != typ:
                try:
                    arr = arr.cast(typ)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                    arr = column_array(col.kind, typ, arr.to_pylist())
        else:
            arr = pa.nulls(n, typ)
        fill = _FILL.get(col.name)
        if fill is not None and arr.null_count:
            arr = arr.fill_null(pa.scalar(fill, typ))
        arrays.append(arr)
    return reject_unphysical(pa.Table.from_arrays(arrays, schema=schema()))


def split_by_day(table: pa.Table) -> dict[date, pa.Table]:
    """The table's rows grouped by the UTC date of ``captured_at`` (the partition key)."""
    if table.num_rows == 0:
        return {}
    micros = table.column("captured_at").cast(pa.int64()).fill_null(0).to_numpy()
    days = micros // _US_PER_DAY  # floor division: rows before 1970 land on the right day
    first = int(days[0])
    if (days == first).all():
        return {_EPOCH_DAY + timedelta(days=first): table}
    order = np.argsort(days, kind="stable")  # keeps each day's rows in arrival order
    uniq, starts = np.unique(days[order], return_index=True)
    ordered = table.take(pa.array(order))
    bounds = [*starts.tolist(), len(order)]
    return {
        _EPOCH_DAY + timedelta(days=int(day)): ordered.slice(bounds[i], bounds[i + 1] - bounds[i])
        for i, day in enumerate(uniq.tolist())
    }
