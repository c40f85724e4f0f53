"""ImpactStore: one object with a handful of verbs over a folder (or bucket) of Parquet.

Writing: ``store.writer().write(row)`` (capture; durable against SIGKILL when it returns,
never raises, never blocks on I/O beyond one append) and ``store.append(rows)`` (bulk).
Reading: ``store.sql()``, ``store.to_pandas()``, ``store.to_arrow()``, ``store.connect()``,
all through DuckDB over a consistent snapshot of the files.
Maintenance: ``recover()``, ``compact()``, ``rewrite()``, ``retain()``, ``import_file()``, ``export()``.
Readers recover the journal segments of dead processes first, and small files are merged
in the background (:mod:`.autocompact`), so neither needs a call in normal use.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import random
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Literal, TypeVar

import duckdb
import pandas as pd
import pyarrow as pa

from melious_impact.errors import StoreError
from melious_impact.periods import DateLike, period
from melious_impact.records import COLUMN_NAMES
from melious_impact.store import paths
from melious_impact.store.autocompact import DEFAULT_AUTO_COMPACT_FILES, AutoCompactor
from melious_impact.store.backend import Backend, LocalBackend
from melious_impact.store.bulk import append_table
from melious_impact.store.catalog import Catalog
from melious_impact.store.convert import conform, fill_record_ids, table_from_dicts
from melious_impact.store.health import Health
from melious_impact.store.leases import ReadLease, read_lease
from melious_impact.store.paths import default_store_path
from melious_impact.store.query import define_requests, new_connection, quote_ident, to_pandas
from melious_impact.store.recovery import RecoveryReport, recover
from melious_impact.store.remote import is_remote, local_path, open_remote
from melious_impact.store.writer import (
    DEFAULT_BUFFER_ROWS,
    DEFAULT_FLUSH_INTERVAL_S,
    DEFAULT_MAX_PENDING_ROWS,
    RowWriter,
)

__all__ = ["ImpactStore", "RowWriter", "default_store_path"]

T = TypeVar("T")
#: A read whose listed files keep vanishing (compactions on another host) lists again for
#: at least this many attempts and at least this many seconds, pausing a little longer each time.
_MIN_ATTEMPTS = 10
_RETRY_WINDOW_S = 30.0
#: Seconds readers wait before converting dead writers' segments again after a failure.
_RECOVER_RETRY_S = 30.0
# Errors from the data files (a file deleted by compaction or retention after our listing,
# or damaged) are retried on a fresh listing; these mean the caller's SQL is wrong instead.
_FILE_ERRORS: tuple[type[BaseException], ...] = (duckdb.Error, pa.ArrowException, OSError)
_QUERY_ERRORS: tuple[type[BaseException], ...] = (
    duckdb.ParserException,
    duckdb.BinderException,
    duckdb.CatalogException,
    duckdb.ConversionException,
    duckdb.OutOfRangeException,
    duckdb.TypeMismatchException,
    duckdb.NotImplementedException,
    duckdb.ConstraintException,
    duckdb.SyntaxException,
    duckdb.InterruptException,
)


def _attempts() -> Iterator[bool]:
    """Paces a read's attempts; yields before each whether another may follow it.

    Pauses grow from 5 ms to 0.25 s with jitter, so a reader does not fall into step with a
    compactor that works at the same pace as its queries."""
    deadline = time.monotonic() + _RETRY_WINDOW_S
    pause = 0.005
    attempt = 1
    while True:
        more = attempt < _MIN_ATTEMPTS or time.monotonic() < deadline
        yield more
        if not more:
            return
        time.sleep(pause * random.uniform(0.5, 1.5))
        pause = min(pause * 2, 0.25)
        attempt += 1


class ImpactStore:
    """A store of captured Melious responses: Hive-partitioned Parquet, queried with DuckDB.

    ``root``: a folder (created if missing, owner-only permissions), ``None`` for
    :func:`default_store_path` (``$MELIOUS_IMPACT_HOME``), or an object-store URI such as
    ``s3://bucket/prefix`` with ``storage_options`` spelled as in pandas/fsspec.
    ``buffer_rows`` / ``flush_interval_s``: when the background thread turns journaled rows
    into Parquet (rows become visible to queries then, or at ``flush()``).
    ``fsync=True``: also survive power loss (each write waits for the disk: ~ms, not µs).
    ``spool_dir``: local folder for the journal of a remote store (default under the default
    store folder), so SIGKILL durability holds whatever the root.
    ``recover_on_read``: before each read, convert the journal segments of processes that
    are gone (workers that exited, cleanly or not), so their rows are visible at once.
    ``auto_compact_files``: a partition this process writes to is compacted in the
    background once it holds that many live files (``None``: only ``compact()``). The
    default turns it on for a local folder and off for object storage: hosts sharing a
    bucket cannot lock each other out, and two compacting one day at once would show its
    rows twice, so on object storage pass a number on exactly one host.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        storage_options: Mapping[str, Any] | None = None,
        buffer_rows: int = DEFAULT_BUFFER_ROWS,
        flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
        fsync: bool = False,
        max_pending_rows: int = DEFAULT_MAX_PENDING_ROWS,
        spool_dir: str | os.PathLike[str] | None = None,
        recover_on_open: bool = True,
        recover_on_read: bool = True,
        auto_compact_files: int | Literal["default"] | None = "default",
    ) -> None:
        if buffer_rows < 1 or flush_interval_s <= 0 or max_pending_rows < 1:
            raise ValueError("buffer_rows and max_pending_rows must be >= 1 and flush_interval_s > 0")
        self._health = Health()
        self._buffer_rows = buffer_rows
        self._flush_interval_s = flush_interval_s
        self._fsync = fsync
        self._max_pending_rows = max_pending_rows
        root = default_store_path() if root is None else root
        if auto_compact_files == "default":
            auto_compact_files = None if is_remote(str(root)) else DEFAULT_AUTO_COMPACT_FILES
        self._backend: Backend
        if is_remote(str(root)):
            uri = str(root)
            self._backend = open_remote(uri, storage_options)
            digest = hashlib.sha256(uri.encode()).hexdigest()[:16]
            spool = Path(spool_dir) if spool_dir else default_store_path() / "spool" / digest
            self._local_root: Path | None = None
            self._journal_dir = spool / paths.JOURNAL_DIR
        else:
            if storage_options:
                raise ValueError("storage_options apply to object-store URIs (s3://...), not local folders")
            folder = local_path(os.fspath(root))
            try:
                paths.ensure_private_dir(folder)
            except OSError as exc:
                raise StoreError(f"cannot create the store folder {folder}: {exc}") from exc
            self._local_root = folder
            self._journal_dir = folder / paths.JOURNAL_DIR
            self._backend = LocalBackend(folder)
        self.root = self._backend.root
        self._catalog = Catalog(self._backend, self._health)
        # Compactions on one host take one lock: in the folder, or in the local spool.
        self._lock_root: Path = self._local_root or self._journal_dir.parent
        self._recover_on_read = recover_on_read
        self._recover_retry_at = 0.0
        self._compactor = (
            None
            if auto_compact_files is None
            else AutoCompactor(
                self._backend,
                self._catalog,
                self._health,
                self._lock_root,
                self._journal_dir,
                auto_compact_files,
            )
        )
        self._writer: RowWriter | None = None
        self._writer_lock = threading.Lock()
        _OPEN_STORES.add(self)
        if recover_on_open:
            self.recover()

    def __repr__(self) -> str:
        return f"ImpactStore({self.root!r})"

    # -- writing -----------------------------------------------------------------------
    def writer(self) -> RowWriter:
        """This process's RowWriter for this store (created on first use; thread-safe)."""
        w = self._writer
        # A forked child finds its parent's writer closed (the writer module's fork hook
        # closes them), so the usual case needs no getpid() system call on every row.
        if w is not None and not w.closed:
            return w
        with self._writer_lock:
            w = self._writer
            if w is None or w.pid != os.getpid() or w.closed:
                # After fork the parent's writer (and its journal segment) is not ours.
                w = RowWriter(
                    self._backend,
                    self._journal_dir,
                    self._health,
                    buffer_rows=self._buffer_rows,
                    flush_interval_s=self._flush_interval_s,
                    max_pending_rows=self._max_pending_rows,
                    fsync=self._fsync,
                    on_commit=self._committed,
                )
                self._writer = w
            return w

    def _committed(self, partitions: Iterable[str]) -> None:
        if self._compactor is not None:
            self._compactor.notify(tuple(partitions))

    def append(
        self, rows: Iterable[Mapping[str, Any]] | pa.Table | pd.DataFrame, *, dedup: bool = True
    ) -> int:
        """Write rows straight to Parquet; returns how many were stored (after deduplication
        of rows whose ``dedup_key`` or own ``record_id`` is already in the store)."""
        if isinstance(rows, pd.DataFrame):
            rows = pa.Table.from_pandas(rows, preserve_index=False)
        if isinstance(rows, pa.Table):
            has_ids = "record_id" in rows.column_names and rows.column("record_id").null_count < rows.num_rows
            table = conform(rows)
            if table.column("record_id").null_count:
                table = _fill_record_ids(table)
        else:
            rows = list(rows)
            has_ids = any(r.get("record_id") for r in rows)
            table = table_from_dicts(rows)
        if table.num_rows == 0:
            return 0
        n = append_table(self._backend, self._catalog, table, dedup=dedup, check_record_ids=has_ids)
        self._committed(_partitions_of(table))
        return n

    def flush(self) -> None:
        """Everything written so far by this process is in Parquet and visible to queries."""
        w = self._writer
        if w is not None and w.pid == os.getpid():
            w.flush()

    def close(self) -> None:
        """Flush and stop the background writer and compactor. Idempotent; also run at
        interpreter exit."""
        w = self._writer
        if w is not None and w.pid == os.getpid():
            w.close()
        if self._compactor is not None:
            self._compactor.stop()

    def __enter__(self) -> ImpactStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def recover(self) -> RecoveryReport:
        """Convert journal segments left by dead processes to Parquet (also done on open)."""
        try:
            report = recover(self._journal_dir, self._backend, self._catalog, self._health)
        except OSError as exc:
            self._health.problem("recovery", exc)
            return RecoveryReport(failed=1)
        self._committed(sorted(report.partitions))
        return report

    def _before_read(self) -> None:
        # Rows of processes that are gone (Pool workers, os._exit, SIGKILL) become visible
        # now; a reader never fails for it (problems are counted in stats). After a failed
        # conversion (a read-only folder, a full disk) readers wait a while before trying
        # again, rather than converting the same segment on every query.
        if not self._recover_on_read or time.monotonic() < self._recover_retry_at:
            return
        try:
            report = self.recover()
        except Exception:  # pragma: no cover - recover() counts its own problems
            return
        if report.failed:
            self._recover_retry_at = time.monotonic() + _RECOVER_RETRY_S

    @property
    def stats(self) -> dict[str, int]:
        """Counters: rows_written, rows_flushed, rows_dropped, rows_pending, errors_<kind>..."""
        w = self._writer
        out = w.stats if w is not None else {"rows_written": 0, "rows_flushed": 0, "rows_dropped": 0}
        for k, v in self._health.snapshot().items():
            out.setdefault(k, v)
        return out

    # -- reading -----------------------------------------------------------------------
    def _with_snapshot(
        self,
        fn: Callable[[duckdb.DuckDBPyConnection], T],
        first: date | None = None,
        last: date | None = None,
    ) -> T:
        self._before_read()
        for more in _attempts():
            with read_lease(self._lock_root):
                files = self._catalog.snapshot(first, last)
                con = new_connection()
                try:
                    define_requests(
                        con, files, self._backend, self._catalog.signature, self._catalog.may_have_dedup_keys
                    )
                    return fn(con)
                except _QUERY_ERRORS:
                    raise
                except _FILE_ERRORS:
                    if not more:
                        raise
                    # A file vanished (compaction on another host, retention): the next
                    # listing is consistent again. Same files as before: one is damaged; set
                    # it aside and retry.
                    again = self._catalog.snapshot(first, last)
                    unchanged = {f.relpath for f in again} == {f.relpath for f in files}
                    if unchanged and not self._catalog.deep_check(files):
                        raise
                    self._health.add("read_retries")
                finally:
                    con.close()
        raise AssertionError("unreachable")  # pragma: no cover

    def connect(
        self, start: DateLike | None = None, end: DateLike | None = None
    ) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with a ``requests`` view over the files as they are now.

        ``start``/``end``: the view holds only the rows captured in that period (the
        half-open UTC ``[start, end)`` of :mod:`melious_impact.periods`: a date ``end``
        counts its whole day, naive times are UTC), and reads only the date partitions
        that can hold them: the files of other days are not listed, opened or scanned.
        Rows that dead processes left in their journals are converted first, as for every
        read.

        The view is a snapshot: call ``connect()`` again to see rows flushed later. The
        connection holds a read lease (:mod:`melious_impact.store.leases`) until it is
        dropped (garbage-collected: DuckDB offers no hook on ``close()``, so ``del con`` or
        leave its scope): compactions of this host keep the files it may read until then,
        or at most ``MAX_DEFER_S`` (5 min); a connection kept longer may then fail with a
        missing file (reconnect; ``sql()`` and ``to_pandas()`` take a fresh snapshot each time).
        """
        span = period(start, end)
        self._before_read()
        for more in _attempts():
            lease = ReadLease(self._lock_root)
            con: duckdb.DuckDBPyConnection | None = None
            try:
                con = new_connection()
                define_requests(
                    con,
                    self._catalog.snapshot(span.first_day, span.last_day),
                    self._backend,
                    self._catalog.signature,
                    self._catalog.may_have_dedup_keys,
                    span.sql_literal("captured_at"),
                )
            except BaseException as exc:  # nothing is handed out: let go of what was taken
                if con is not None:
                    con.close()
                lease.release()
                # a file vanished between listing and binding: list again
                if not isinstance(exc, _FILE_ERRORS) or not more:
                    raise
                self._health.add("read_retries")
                continue
            # The lease lives as long as the connection: released when it is dropped (or
            # the interpreter exits), so its files stay while it can read them.
            weakref.finalize(con, lease.release)
            return con
        raise AssertionError("unreachable")  # pragma: no cover

    def sql(self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run DuckDB SQL against the ``requests`` view; values go in ``params`` (``?`` or
        ``$name``), never formatted into the query text."""

        def run(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
            rel = con.sql(query, params=params)
            return pd.DataFrame() if rel is None else to_pandas(rel.to_arrow_table())

        return self._with_snapshot(run)

    def to_arrow(
        self,
        start: DateLike | None = None,
        end: DateLike | None = None,
        teams: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """Rows captured in the period ``[start, end)`` of :mod:`melious_impact.periods` (a
        date ``end`` counts its whole day), of the given teams, ordered by time; all columns
        unless ``columns`` names some."""
        cols = list(columns) if columns is not None else list(COLUMN_NAMES)
        unknown = [c for c in cols if c not in COLUMN_NAMES]
        if unknown:
            raise ValueError(f"unknown column(s) {unknown}; choose from melious_impact.records.COLUMN_NAMES")
        if isinstance(teams, str):
            teams = [teams]
        span = period(start, end)
        where, bounds = span.sql("captured_at")
        params: list[Any] = list(bounds)
        if teams is not None:
            where.append("list_contains(?, team)")
            params.append([str(t) for t in teams])
        query = (
            f"SELECT {', '.join(quote_ident(c) for c in cols)} FROM requests"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY captured_at, record_id"
        )
        return self._with_snapshot(
            lambda con: con.sql(query, params=params).to_arrow_table(),
            span.first_day,
            span.last_day,
        )

    def to_pandas(
        self,
        start: DateLike | None = None,
        end: DateLike | None = None,
        teams: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Like :meth:`to_arrow`, as pandas: billing columns hold exact ``Decimal`` objects,
        ``captured_at`` is ``datetime64[us, UTC]``, integers and booleans are nullable."""
        return to_pandas(self.to_arrow(start, end, teams, columns))

    def count(self) -> int:
        n: int = self._with_snapshot(lambda con: con.sql("SELECT count(*) FROM requests").fetchall()[0][0])
        return int(n)

    def __len__(self) -> int:
        return self.count()

    # -- maintenance -------------------------------------------------------------------
    def compact(self, *, min_files: int = 2, grace_s: float = 0.0) -> dict[str, int]:
        """Merge each partition's files into one (safe under concurrent writers and readers;
        see :mod:`melious_impact.store.compaction`)."""
        from melious_impact.store.compaction import compact

        return compact(
            self._backend,
            self._catalog,
            self._health,
            self._lock_root,
            min_files=min_files,
            grace_s=grace_s,
            journal_dir=self._journal_dir,
        )

    def rewrite(
        self,
        transform: Callable[[pa.Table], pa.Table | None],
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, int]:
        """Write anew every partition whose rows ``transform`` changes (it returns None for
        a partition it leaves as it is); returns the compaction totals.

        Flushes this process's rows first. Each partition is replaced the way compaction
        replaces files (one atomic commit; readers and writers go on meanwhile), and the
        new rows pass the same checks as any rows stored. ``progress(done, total)`` is
        called after each partition. Raises :class:`~melious_impact.errors.StoreError`
        when another compaction holds the store.
        """
        from melious_impact.store.compaction import compact

        self.flush()
        totals = compact(
            self._backend,
            self._catalog,
            self._health,
            self._lock_root,
            journal_dir=self._journal_dir,
            rewrite=transform,
            progress=progress,
        )
        if totals["skipped_locked"]:
            raise StoreError("another compaction or rewrite of this store is running; try again later")
        return totals

    def retain(self, max_age_days: int, *, today: date | None = None) -> list[str]:
        """Delete partitions older than ``max_age_days`` (by UTC date); returns their names.

        Waits (up to 30 s) for a moment when no reader of this host holds the store, so a
        read in progress keeps the days it reads (:mod:`melious_impact.store.leases`)."""
        from melious_impact.store.compaction import retain

        return retain(self._backend, self._catalog, max_age_days, today=today, lock_root=self._lock_root)

    def import_file(self, path: str | os.PathLike[str], format: str | None = None) -> int:
        """Import Parquet, CSV or JSONL rows; returns rows stored (the same file twice: 0)."""
        from melious_impact.store.io_formats import read_rows_file

        table, has_ids = read_rows_file(Path(path), format)
        return append_table(self._backend, self._catalog, table, dedup=True, check_record_ids=has_ids)

    def export(self, path: str | os.PathLike[str], format: str | None = None, **filters: Any) -> int:
        """Write the table (optionally filtered like :meth:`to_arrow`) as Parquet, CSV or
        JSONL; returns the number of rows written."""
        from melious_impact.store.io_formats import write_rows_file

        table = self.to_arrow(**filters)
        write_rows_file(table, Path(path), format)
        return int(table.num_rows)

    def info(self) -> dict[str, Any]:
        """Rows, files, bytes, date range, pending journal segments, quarantined files, stats."""
        self._before_read()
        files = self._catalog.snapshot()
        days = sorted({d for f in files if (d := paths.partition_date(f.partition)) is not None})
        quarantined = 0
        if self._local_root is not None:
            q = self._local_root / paths.QUARANTINE_DIR
            quarantined = sum(len(fs) for _, _, fs in os.walk(q)) if q.exists() else 0
        from melious_impact.store.journal import list_segments

        return {
            "root": self.root,
            "rows": self.count(),
            "files": len(files),
            "bytes": sum(f.size for f in files),
            "partitions": len(days),
            "first_date": days[0].isoformat() if days else None,
            "last_date": days[-1].isoformat() if days else None,
            "journal_segments": len(list_segments(self._journal_dir)),
            "quarantined_files": quarantined,
            "stats": self.stats,
        }


def _partitions_of(table: pa.Table) -> list[str]:
    from melious_impact.store.convert import split_by_day

    return [paths.partition_name(day) for day in split_by_day(table.select(["captured_at"]))]


def _fill_record_ids(table: pa.Table) -> pa.Table:
    filled = fill_record_ids(table.column("record_id"), None)
    return table.set_column(
        table.schema.get_field_index("record_id"), table.schema.field("record_id"), filled
    )


# Close every open store at interpreter exit, flushing what the background threads hold.
_OPEN_STORES: weakref.WeakSet[ImpactStore] = weakref.WeakSet()


def _new_locks_in_child() -> None:
    # A lock held by another thread at fork() would stay held forever in the child.
    for store in list(_OPEN_STORES):
        store._writer_lock = threading.Lock()


os.register_at_fork(after_in_child=_new_locks_in_child)


@atexit.register
def _close_all() -> None:
    for store in list(_OPEN_STORES):
        with contextlib.suppress(Exception):  # never fail interpreter exit
            store.close()
