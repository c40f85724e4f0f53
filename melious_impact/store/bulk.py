"""The bulk path (imports, batch files): rows straight to Parquet, deduplicated on the way.

Rows that carry a ``dedup_key`` (batch lines, imported rows) or a ``record_id`` already in
the partitions they land in are skipped, so importing the same file twice stores it once.
Two importers racing on the same keys may both write; the ``requests`` view still shows each
key once, so this write-time check only keeps files small, it is not what correctness rests on.
"""

from __future__ import annotations

import uuid

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from melious_impact.store import paths
from melious_impact.store.backend import Backend
from melious_impact.store.catalog import Catalog
from melious_impact.store.convert import split_by_day


def _existing(backend: Backend, catalog: Catalog, partition: str, column: str) -> set[str]:
    out: set[str] = set()
    for f in catalog.files_in(partition)[0]:
        path = backend.full_path(f.relpath)
        try:
            pf = pq.ParquetFile(path, filesystem=backend.filesystem)
            idx = pf.schema_arrow.get_field_index(column)
            if idx < 0:
                continue
            md = pf.metadata
            # Skip row groups whose statistics say the column is all null (live rows).
            groups = []
            for g in range(md.num_row_groups):
                st = md.row_group(g).column(idx).statistics
                if st is None or st.null_count != md.row_group(g).num_rows:
                    groups.append(g)
            if groups:
                col = pf.read_row_groups(groups, columns=[column]).column(0)
                out.update(v for v in col.to_pylist() if v is not None)
        except FileNotFoundError:
            continue
    return out


def _drop_known(table: pa.Table, column: str, known: set[str]) -> pa.Table:
    col = table.column(column)
    if not known or col.null_count == len(col):
        return table
    mask = pc.fill_null(pc.invert(pc.is_in(col, value_set=pa.array(sorted(known), pa.string()))), True)
    return table.filter(mask)


def first_per_key(table: pa.Table) -> pa.Table:
    """Keep rows without a dedup_key, and the first row of each non-null dedup_key."""
    keys = table.column("dedup_key")
    if keys.null_count == len(keys):
        return table
    if pc.count_distinct(keys).as_py() == len(keys) - keys.null_count:
        return table  # the usual case: no key repeats
    idx = pa.array(np.arange(table.num_rows, dtype=np.int64))
    firsts = (
        pa.table({"k": keys, "i": idx})
        .filter(pc.is_valid(keys))
        .group_by("k", use_threads=False)
        .aggregate([("i", "min")])
        .column("i_min")
    )
    keep = pc.or_(pc.is_null(keys), pc.is_in(idx, value_set=firsts))
    return table.filter(keep)


def append_table(
    backend: Backend, catalog: Catalog, table: pa.Table, *, dedup: bool = True, check_record_ids: bool = False
) -> int:
    """Write a conformed table; returns the number of rows actually stored.

    ``check_record_ids``: the rows came with their own record ids (an export of a store):
    skip those already stored."""
    if dedup:
        table = first_per_key(table)
    written = 0
    batch = uuid.uuid4().hex
    for day, part in split_by_day(table).items():
        partition = paths.partition_name(day)
        if dedup:
            columns = ("dedup_key", "record_id") if check_record_ids else ("dedup_key",)
            for column in columns:
                col = part.column(column)
                if col.null_count < len(col):
                    part = _drop_known(part, column, _existing(backend, catalog, partition, column))
        if part.num_rows == 0:
            continue
        backend.write_table(part, partition, f"import-{batch}{paths.PARQUET_SUFFIX}")
        written += part.num_rows
    return written
