"""The impact store: durable capture into Hive-partitioned Parquet, queried with DuckDB.

Modules, one concept each: ``paths`` (layout and default folder), ``codec`` (journal record
framing), ``journal`` (per-process segments and their locks), ``writer`` (RowWriter, the
capture path), ``convert`` (rows -> Arrow), ``commit`` (segment -> Parquet), ``recovery``,
``backend`` (local folder / object store), ``remote`` (URIs and storage options),
``catalog`` (which files are live; quarantine), ``query`` (DuckDB view), ``bulk`` (append),
``compaction`` (compaction, retention, rewrites), ``io_formats`` (import/export),
``impact_store`` (the ImpactStore facade), ``sink`` (the RowSink and
RowStore protocols capture relies on). The store takes finished rows: it never parses HTTP.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["ImpactStore", "RowWriter", "default_store_path"]

# Loaded lazily, so `melious_impact.store.paths` (used by the CLI) stays free of DuckDB,
# pyarrow and pandas.
_EXPORTS = {
    "ImpactStore": "melious_impact.store.impact_store",
    "RowWriter": "melious_impact.store.writer",
    "default_store_path": "melious_impact.store.paths",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'melious_impact.store' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


if TYPE_CHECKING:  # pragma: no cover
    from melious_impact.store.impact_store import ImpactStore
    from melious_impact.store.paths import default_store_path
    from melious_impact.store.writer import RowWriter
