"""The impact store: durable capture into Hive-partitioned Parquet, queried with DuckDB.

Modules, one concept each: ``paths`` (layout and default folder), ``codec`` (journal record
framing), ``journal`` (per-process segments and their locks), ``writer`` (RowWriter, the
capture path), ``convert`` (rows -> Arrow), ``commit`` (segment -> Parquet), ``recovery``,
``backend`` (local folder / object store), ``remote`` (URIs and storage options),
``catalog`` (which files are live; quarantine), ``query`` (DuckDB view), ``bulk`` (append),
``compaction`` (compaction, retention), ``io_formats`` (import/export), ``impact_store``
(the ImpactStore facade), ``batch_import``.
"""

from __future__ import annotations

from melious_impact.store.impact_store import ImpactStore, default_store_path
from melious_impact.store.writer import RowWriter

__all__ = ["ImpactStore", "RowWriter", "default_store_path"]
