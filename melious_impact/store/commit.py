"""Journal segment -> Parquet files: the one conversion used by flushes and by recovery.

A segment's rows become one file per UTC date, named after the segment
(``requests/date=D/<segment-id>.parquet``). The conversion is deterministic (same bytes
in, same rows and record ids out), so when a process dies after writing the Parquet file
but before deleting the segment, recovery rewrites the same file instead of adding a copy.
"""

from __future__ import annotations

from dataclasses import dataclass

from melious_impact.store import paths
from melious_impact.store.backend import Backend
from melious_impact.store.catalog import Catalog
from melious_impact.store.codec import decode_segment
from melious_impact.store.convert import split_by_day, table_from_tuples


@dataclass
class Committed:
    rows: int
    damaged_records: int
    files: int
    #: Partitions the segment's rows went to (whether or not a file was written there).
    partitions: tuple[str, ...] = ()


def commit_segment(
    backend: Backend,
    segment_id: str,
    data: bytes,
    *,
    fsync: bool = False,
    catalog: Catalog | None = None,
) -> Committed:
    """Write the segment's rows as Parquet. With ``catalog`` (recovery), dates whose file
    was already merged by a compaction are skipped, so a rewrite cannot resurrect rows."""
    decoded = decode_segment(data)
    table = table_from_tuples(decoded.names, decoded.rows, record_id_seed=segment_id)
    name = f"{segment_id}{paths.PARQUET_SUFFIX}"
    files = 0
    touched = []
    for day, part in split_by_day(table).items():
        partition = paths.partition_name(day)
        touched.append(partition)
        if catalog is not None and catalog.is_replaced(partition, name):
            continue
        backend.write_table(part, partition, name, fsync=fsync)
        files += 1
    return Committed(len(decoded.rows), decoded.damaged_records, files, tuple(touched))
