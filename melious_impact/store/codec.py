"""The journal's record framing: the transient on-disk form of a row between write() and Parquet.

A record is ``MAGIC (2 bytes) | length (u32) | crc32 (u32) | payload``; the payload is a
``marshal`` dump of a tuple of plain values (str, int, float, bool, None). marshal is the
fastest serializer in the standard library and, unlike pickle, cannot run code when loaded.
Timestamps travel as integer microseconds since the epoch (UTC) and decimals as their exact
string, so nothing is rounded on the way. The first record of every segment is the tuple
of column names, so a segment written by an older version still decodes by name.

The whole encode costs a few microseconds; coercion to the Arrow types happens later, in
the background conversion (see :mod:`.convert`).

Besides rows, a segment holds *records* of a named kind: ``("__record__", kind, record)``,
written by :meth:`~melious_impact.store.writer.RowWriter.write_record`. A record is what its
writer could save fastest (capture's is a response's context and compact body); the
function :data:`KNOWN_RECORD_KINDS` names for its kind (:func:`record_kind`) turns it into a
row when the segment is decoded, in the background conversion or in recovery. The store itself
parses nothing: it only calls that function, found as ``fsspec`` finds its file systems:
imported by name, only when a record of that kind is met, so a reader recovering a dead
process's segments needs nothing imported beforehand.
"""

from __future__ import annotations

import importlib
import json
import logging
import marshal
import operator
import struct
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from melious_impact.records import COLUMN_NAMES, DECIMAL_COLUMNS

logger = logging.getLogger("melious_impact")

MAGIC = b"\xa5M"
_HEADER = struct.Struct("<2sII")
HEADER_SIZE = _HEADER.size
#: A record longer than this is treated as damage (a real row is a few hundred bytes).
MAX_RECORD_BYTES = 16 * 1024 * 1024

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MIN_MICROS = -62_135_596_800_000_000  # 0001-01-01
MAX_MICROS = 253_402_300_799_999_999  # 9999-12-31 23:59:59.999999
_ONE_US = timedelta(microseconds=1)
_TS_INDEX = COLUMN_NAMES.index("captured_at")
_DEC_INDEXES = tuple(COLUMN_NAMES.index(c) for c in DECIMAL_COLUMNS)
_GET_ALL = operator.itemgetter(*COLUMN_NAMES)
_PLAIN = (str, int, float, bool, type(None))
_PLAIN_TYPES = frozenset(_PLAIN)


RECORD_MARK = "__record__"
#: A record kind's function: the row of one record, or None when it gives no row.
RowOf = Callable[[tuple[Any, ...]], Mapping[str, Any] | None]
#: Record kinds a segment may hold -> ``module:function`` that builds their rows.
KNOWN_RECORD_KINDS = {"exchange/1": "melious_impact.parse.record:journal_row_of"}
_RECORD_KINDS: dict[str, RowOf] = {}


def record_kind(kind: str) -> RowOf:
    """The function that builds rows from records of ``kind`` (imported on first use).

    Raises ``LookupError`` for a kind :data:`KNOWN_RECORD_KINDS` does not name.
    """
    found = _RECORD_KINDS.get(kind)
    if found is None:
        module = KNOWN_RECORD_KINDS.get(kind)
        if module is None:
            raise LookupError(f"no function builds rows from journal records of kind {kind!r}")
        module_name, _, function = module.partition(":")
        found = _RECORD_KINDS[kind] = getattr(importlib.import_module(module_name), function)
    return found


def encode_record(kind: str, record: tuple[Any, ...]) -> bytes:
    """One framed journal record holding ``record`` of ``kind`` (plain values only)."""
    return frame(marshal.dumps((RECORD_MARK, kind, record), 4))


def frame(payload: bytes) -> bytes:
    return _HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def header_record(names: tuple[str, ...] = COLUMN_NAMES) -> bytes:
    """The first record of a segment: the column names its rows are ordered by."""
    return frame(marshal.dumps(("__columns__", *names), 4))


def to_micros(value: Any) -> int | None:
    """Microseconds since the epoch (UTC); naive datetimes are taken as UTC. None when the
    value is no time, or outside years 1..9999."""
    if isinstance(value, datetime):
        aware: datetime = value.replace(tzinfo=UTC) if value.tzinfo is None else value
        return (aware - _EPOCH) // _ONE_US
    if isinstance(value, int) and not isinstance(value, bool):
        return value if MIN_MICROS <= value <= MAX_MICROS else None
    if isinstance(value, str):
        try:
            return to_micros(datetime.fromisoformat(value))
        except ValueError:
            return None
    try:  # pandas.Timestamp converts to datetime
        converted: datetime = value.to_pydatetime()
    except AttributeError:
        return None
    return to_micros(converted)


def _plain(value: Any) -> Any:
    """Slow path: turn an unusual value into something marshal accepts."""
    if type(value) in _PLAIN_TYPES:
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, sort_keys=True, default=str)
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        try:
            v = item()
            if type(v) in _PLAIN_TYPES:
                return v
        except (TypeError, ValueError):
            pass
    if isinstance(value, bool | int | float | str):  # subclasses (IntEnum, str enums)
        return (
            value.value
            if hasattr(value, "value") and type(value.value) in _PLAIN_TYPES
            else (
                bool(value)
                if isinstance(value, bool)
                else int(value)
                if isinstance(value, int)
                else float(value)
                if isinstance(value, float)
                else str(value)
            )
        )
    return str(value)


def encode_row(row: Mapping[str, Any]) -> bytes:
    """One framed record for ``row`` (missing keys become None)."""
    return frame(marshal.dumps(row_values(row), 4))


def row_values(row: Mapping[str, Any], names: tuple[str, ...] = COLUMN_NAMES) -> tuple[Any, ...]:
    """The journal's plain values of ``row``, in the order of ``names``."""
    if names is COLUMN_NAMES:
        try:  # fast path: a full row (records.empty_row() updated), one C-level call
            values = list(_GET_ALL(row))
        except (KeyError, TypeError):
            values = [row.get(k) for k in names]
    else:
        values = [row.get(k) for k in names]
        if "captured_at" not in names:
            return tuple(_plain(v) for v in values)
    ts_index = _TS_INDEX if names is COLUMN_NAMES else names.index("captured_at")
    ts = values[ts_index]
    us = None if ts is None else to_micros(ts)
    # A row without a (usable) time still needs a partition: use the time it was written.
    values[ts_index] = time.time_ns() // 1000 if us is None else us
    dec_indexes = (
        _DEC_INDEXES if names is COLUMN_NAMES else [i for i, n in enumerate(names) if n in DECIMAL_COLUMNS]
    )
    for i in dec_indexes:
        v = values[i]
        if v is not None:
            values[i] = str(v)
    # marshal would accept more than plain values (numpy scalars and bytes go through the
    # buffer protocol and come back as bytes), so check the types, then coerce if needed.
    if not _PLAIN_TYPES.issuperset(map(type, values)):
        values = [_plain(v) for v in values]
    return tuple(values)


@dataclass
class Decoded:
    """Rows read back from a segment, plus what was damaged."""

    names: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    damaged_bytes: int = 0
    damaged_records: int = 0
    #: Records whose kind's function failed on them (lost: also in ``damaged_records``).
    unconverted_records: int = 0


def _records(data: bytes) -> Iterator[tuple[bytes | None, int]]:
    """Yield (payload, damaged_bytes_before_it); payload None marks damage at the end."""
    pos, end = 0, len(data)
    while pos < end:
        if end - pos >= HEADER_SIZE:
            magic, length, crc = _HEADER.unpack_from(data, pos)
            start = pos + HEADER_SIZE
            if magic == MAGIC and length <= MAX_RECORD_BYTES and start + length <= end:
                payload = data[start : start + length]
                if zlib.crc32(payload) == crc:
                    yield payload, 0
                    pos = start + length
                    continue
        # Damage (a torn tail, or a failed write in the middle): resynchronise on the next
        # magic; whatever lies between is counted and skipped.
        nxt = data.find(MAGIC, pos + 1)
        if nxt < 0:
            yield None, end - pos
            return
        yield None, nxt - pos
        pos = nxt


def decode_segment(data: bytes) -> Decoded:
    out = Decoded(names=COLUMN_NAMES, rows=[])
    for payload, damaged in _records(data):
        if payload is None:
            out.damaged_bytes += damaged
            out.damaged_records += 1
            continue
        try:
            value = marshal.loads(payload)
        except (ValueError, EOFError, TypeError):
            out.damaged_records += 1
            continue
        if not isinstance(value, tuple):
            out.damaged_records += 1
        elif value and value[0] == RECORD_MARK and len(value) == 3:
            try:
                row = record_kind(value[1])(value[2])
                if row is not None:
                    out.rows.append(row_values(row, out.names))
            except Exception as exc:  # a bug in the kind's function: count and say it, go on
                out.unconverted_records += 1
                out.damaged_records += 1
                logger.warning(
                    "melious_impact store: no row from a journal record of kind %r", value[1], exc_info=exc
                )
        elif value and value[0] == "__columns__":
            names = tuple(str(n) for n in value[1:])
            # The current layout is the shared tuple itself, so row_values takes its fast path.
            out.names = COLUMN_NAMES if names == COLUMN_NAMES else names
        elif len(value) == len(out.names):
            out.rows.append(value)
        else:
            out.damaged_records += 1
    return out
