"""Batch output files (JSONL, one response a line) -> rows in a store.

The other way responses reach capture: not through a transport, but as a file downloaded
later. Each line is parsed by :mod:`melious_impact.parse.batch` and gets a stable
``dedup_key``, so the same file imported twice (or also captured through an instrumented
client while it was downloaded) counts once. The store only receives the finished rows.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from melious_impact.parse.batch import rows_from_batch_output

if TYPE_CHECKING:  # pragma: no cover
    from melious_impact.store.impact_store import ImpactStore


def import_batch_output(
    store: ImpactStore, path_or_bytes: str | os.PathLike[str] | bytes, *, batch_id: str | None = None
) -> int:
    """Parse a batch output file (a path, or its bytes) and append its rows; returns the
    number of new rows stored (0 when every line was already there)."""
    if isinstance(path_or_bytes, bytes | bytearray):
        data: bytes = bytes(path_or_bytes)
    else:
        data = Path(path_or_bytes).read_bytes()
    return store.append(rows_from_batch_output(data, batch_id=batch_id))
