"""Compaction (many small files of a partition -> one) and retention (drop old partitions).

Guarantee, while writers and readers run: every reader that lists a partition sees each
row exactly once. Compaction never changes a file in place. It reads the partition's live
files, writes their rows (deduplicated on ``dedup_key``) into ``compact-<uuid>.parquet``
whose footer lists the names it replaces, and commits that file with one atomic rename (or
PUT). A listing taken before the commit sees the old files only; one taken after sees the
compacted file and ignores the files it names (:mod:`.catalog`), even if they still exist.
Only then are the old files deleted: at once (or after ``grace_s`` seconds) when no reader
of this host holds a lease on the store (:mod:`.leases`: every read takes one before it
lists), else by a later pass. Files written by writers meanwhile are not in the list and
stay live. A reader that holds no lease (on another host of a shared bucket) re-lists and
retries if a file it listed is deleted before it reads it, so it neither misses rows nor fails.

Compactions of one store must not overlap: an ``flock`` ensures it on one host (in the
store folder, or in the local spool folder of an object store; a second compaction returns
at once); on object storage shared by several hosts, let one host compact.

A rewrite (``ImpactStore.rewrite``) is a compaction that also transforms the rows: each
partition whose rows the transform changes is written anew the same way, with the same
guarantees; a partition it leaves unchanged is not touched.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from melious_impact.store import paths
from melious_impact.store.backend import Backend, DataFile
from melious_impact.store.bulk import first_per_key
from melious_impact.store.catalog import COMPACT_PREFIX, REPLACES_KEY, Catalog
from melious_impact.store.convert import conform
from melious_impact.store.health import Health
from melious_impact.store.journal import list_segments
from melious_impact.store.leases import MAX_DEFER_S, RETAIN_WAIT_S, no_readers, readers_gone, try_exclusive

logger = logging.getLogger("melious_impact")

#: A transform of one partition's rows: the new rows, or None when nothing changes.
Rewrite = Callable[[pa.Table], "pa.Table | None"]
#: Called after each partition with (partitions done, partitions in all).
Progress = Callable[[int, int], None]


@contextlib.contextmanager
def compact_lock(local_root: Path | None) -> Iterator[bool]:
    """Whether this process may compact now: an ``flock`` in ``<local_root>/_locks`` (the
    store folder, or the local spool of an object store), released on exit however the
    process ends. Yields False at once when another compaction holds it."""
    if local_root is None:
        yield True
        return
    lock_dir = paths.ensure_private_dir(local_root / paths.LOCKS_DIR)
    fd = os.open(lock_dir / "compact.lock", os.O_RDWR | os.O_CREAT, paths.FILE_MODE)
    try:
        yield try_exclusive(fd)
    finally:
        os.close(fd)


def _merged(backend: Backend, catalog: Catalog, inputs: list[DataFile]) -> pa.Table:
    tables = []
    for f in inputs:
        try:
            t = pq.read_table(backend.full_path(f.relpath), filesystem=backend.filesystem)
        except FileNotFoundError:
            continue
        except (pa.ArrowException, ValueError):
            catalog.deep_check([f])  # damaged: set aside; its rows are not readable anyway
            continue
        tables.append(conform(t))
    table = first_per_key(pa.concat_tables(tables) if tables else conform(pa.table({})))
    # Sorted by time: row-group statistics then let readers skip by captured_at.
    return table.sort_by([("captured_at", "ascending")])


def _unfinished(journal_dir: Path | None) -> frozenset[str]:
    """Names of the Parquet files whose journal segment still exists (see compact_partition)."""
    if journal_dir is None:
        return frozenset()
    cut = len(paths.SEGMENT_SUFFIX)
    return frozenset(seg.name[:-cut] + paths.PARQUET_SUFFIX for seg in list_segments(journal_dir))


def compact_partition(
    backend: Backend,
    catalog: Catalog,
    partition: str,
    *,
    min_files: int = 2,
    grace_s: float = 0.0,
    journal_dir: Path | None = None,
    rewrite: Rewrite | None = None,
    lock_root: Path | None = None,
) -> dict[str, int]:
    """Merge one partition's live files (see the module doc); with ``rewrite``, write
    the partition anew when the transform changes its rows (whatever ``min_files``).
    Returns counts: files_merged, rows, files_deleted and files_waiting (replaced files left
    for a later pass: younger than ``grace_s``, or held by a reader's lease in ``lock_root``).

    A file whose journal segment is still in ``journal_dir`` is left out: its writer has
    not deleted the segment yet, or died before it did, and recovery will then rewrite
    the file under the same name. Merged now, the file could be deleted and its
    compacted file merged away before that rewrite, leaving nothing that names it: the
    rewrite would be live again beside its merged copy. The journal is listed after the
    files, so a segment gone by then is never rewritten.
    """
    out = {"files_merged": 0, "files_deleted": 0, "files_waiting": 0, "rows": 0}
    live, replaced = catalog.files_in(partition)
    unfinished = _unfinished(journal_dir)
    live = [f for f in live if f.name not in unfinished]
    merged: pa.Table | None = None
    if rewrite is not None:
        if live:
            before = _merged(backend, catalog, live)
            after = rewrite(before)
            if after is not None:
                merged = conform(after)
    elif len(live) >= min_files:
        merged = _merged(backend, catalog, live)
    if merged is not None:
        # Also name files already replaced but still present (left by a crash): they stay
        # dead after this file is the only compacted one.
        names = sorted({f.name for f in live} | {f.name for f in replaced})
        meta = dict(merged.schema.metadata or {})
        meta[REPLACES_KEY] = json.dumps(names).encode()
        name = f"{COMPACT_PREFIX}{uuid.uuid4().hex}{paths.PARQUET_SUFFIX}"
        backend.write_table(merged.replace_schema_metadata(meta), partition, name)
        out["files_merged"] = len(live)
        out["rows"] = merged.num_rows
        replaced = replaced + live
    deleted, waiting = _delete_replaced(backend, catalog, partition, replaced, grace_s, lock_root)
    out["files_deleted"], out["files_waiting"] = deleted, waiting
    return out


def _delete_replaced(
    backend: Backend,
    catalog: Catalog,
    partition: str,
    replaced: list[DataFile],
    grace_s: float,
    lock_root: Path | None,
) -> tuple[int, int]:
    """Delete what compacted files replace, once their replacement is ``grace_s`` old and no
    reader holds a lease (:mod:`.leases`; or the replacement is older than ``MAX_DEFER_S``).
    Returns (deleted, left for a later pass)."""
    compacted = [f for f in backend.list_files(partition) if f.name.startswith(COMPACT_PREFIX)]
    now_ns = time.time_ns()
    due: list[tuple[DataFile, float]] = []
    waiting = 0
    for f in replaced:
        ages = [(now_ns - c.mtime_ns) / 1e9 for c in compacted if f.name in catalog.replaces(c)]
        if not ages:
            continue
        if grace_s <= 0 or max(ages) >= grace_s:
            due.append((f, max(ages)))
        else:
            waiting += 1
    if not due:
        return 0, waiting
    deleted = 0
    with no_readers(lock_root) as free:
        for f, age in due:
            if free or age >= MAX_DEFER_S:
                backend.delete(f)
                deleted += 1
            else:
                waiting += 1
    return deleted, waiting


def compact(
    backend: Backend,
    catalog: Catalog,
    health: Health,
    local_root: Path | None,
    *,
    min_files: int = 2,
    grace_s: float = 0.0,
    journal_dir: Path | None = None,
    rewrite: Rewrite | None = None,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Compact every partition; returns totals (partitions, files_merged, files_deleted,
    files_waiting, rows, skipped_locked).

    ``journal_dir``: this store's journal, whose unrecovered segments hold their files back.
    ``rewrite``: see :func:`compact_partition`. ``progress``: see :data:`Progress`.
    """
    totals = {
        "partitions": 0,
        "files_merged": 0,
        "files_deleted": 0,
        "files_waiting": 0,
        "rows": 0,
        "skipped_locked": 0,
    }
    with compact_lock(local_root) as acquired:
        if not acquired:
            totals["skipped_locked"] = 1
            return totals
        partitions = catalog.partitions()
        for done, partition in enumerate(partitions, 1):
            res = compact_partition(
                backend,
                catalog,
                partition,
                min_files=min_files,
                grace_s=grace_s,
                journal_dir=journal_dir,
                rewrite=rewrite,
                lock_root=local_root,
            )
            if res["files_merged"] or res["files_deleted"]:
                totals["partitions"] += 1
            for k in ("files_merged", "files_deleted", "files_waiting", "rows"):
                totals[k] += res[k]
            if progress is not None:
                progress(done, len(partitions))
    return totals


def retain(
    backend: Backend,
    catalog: Catalog,
    max_age_days: int,
    *,
    today: date | None = None,
    lock_root: Path | None = None,
) -> list[str]:
    """Remove partitions dated before ``today - max_age_days`` (UTC), once no reader of this
    host holds a lease in ``lock_root`` (waiting up to ``RETAIN_WAIT_S``, see :mod:`.leases`)."""
    if max_age_days < 0:
        raise ValueError("max_age_days must be >= 0")
    today = today or datetime.now(UTC).date()
    cutoff = today - timedelta(days=max_age_days)
    old = catalog.partitions(end=cutoff - timedelta(days=1))
    if not old:
        return []
    with readers_gone(lock_root, RETAIN_WAIT_S) as free:
        if not free:
            logger.warning(
                "melious_impact store: readers held the store for %.0f s; dropping %d old day(s) "
                "anyway (a reader still on them may fail and should read again)",
                RETAIN_WAIT_S,
                len(old),
            )
        for partition in old:
            backend.remove_partition(partition)
    return old
