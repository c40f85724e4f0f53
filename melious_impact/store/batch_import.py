"""Batch output files (JSONL, one response a line) -> rows in the store.

Each line gets a stable ``dedup_key`` from the parser, so the same file imported twice (or
also captured through an instrumented client) counts once.
"""

from __future__ import annotations

import os
from pathlib import Path

from melious_impact.store.impact_store import ImpactStore


def import_batch_output(
    store: ImpactStore, path_or_bytes: str | os.PathLike[str] | bytes, *, batch_id: str | None = None
) -> int:
    """Parse a batch output file (a path, or its bytes) and append its rows; returns the
    number of new rows stored (0 when every line was already there)."""
    from melious_impact.parse.batch import rows_from_batch_output

    if isinstance(path_or_bytes, bytes | bytearray):
        data: bytes = bytes(path_or_bytes)
    else:
        data = Path(path_or_bytes).read_bytes()
    rows = rows_from_batch_output(data, batch_id=batch_id)
    return store.append(rows)
