"""RowWriter: the capture path's only entry into the store.

``write(row)`` encodes the row (a few microseconds) and appends it with one ``write(2)`` to
this process's journal segment, under a lock held for just that call. When it returns, the
row survives SIGKILL of the process. A daemon thread seals the segment every
``flush_interval_s`` seconds (or after ``buffer_rows`` rows), converts it to Parquet and
deletes it. Nothing here raises into the caller: when the journal cannot be written (disk
full, read-only folder), encoded rows wait in a bounded memory queue, are retried by the
background thread, and the oldest are dropped and counted once the bound is reached.

A writer belongs to the process that made it: in a forked child it is closed (its rows
would otherwise go to the parent's segment); ``ImpactStore.writer()`` gives the child its
own writer and segment.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from melious_impact.store.backend import Backend
from melious_impact.store.codec import encode_record, encode_row
from melious_impact.store.commit import commit_segment
from melious_impact.store.health import Health
from melious_impact.store.journal import Segment

#: Rows per segment before the background thread converts it early.
DEFAULT_BUFFER_ROWS = 50_000
#: Seconds between background conversions (latency before rows are visible to queries).
DEFAULT_FLUSH_INTERVAL_S = 5.0
#: Encoded rows kept in memory while the journal cannot be written.
DEFAULT_MAX_PENDING_ROWS = 100_000


class RowWriter:
    """Thread-safe, never-raising row sink of one process into one store."""

    def __init__(
        self,
        backend: Backend,
        journal_dir: Path,
        health: Health,
        *,
        buffer_rows: int = DEFAULT_BUFFER_ROWS,
        flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
        max_pending_rows: int = DEFAULT_MAX_PENDING_ROWS,
        fsync: bool = False,
        on_commit: Callable[[tuple[str, ...]], None] | None = None,
    ) -> None:
        self._backend = backend
        self._journal_dir = journal_dir
        self._health = health
        self._buffer_rows = max(1, int(buffer_rows))
        self._interval = float(flush_interval_s)
        self._max_pending = max(1, int(max_pending_rows))
        self._fsync = fsync
        self._on_commit = on_commit
        self._pid = os.getpid()

        self._lock = threading.Lock()  # guards the segment and the pending queue
        self._flush_lock = threading.Lock()  # one conversion at a time
        self._segment: Segment | None = None
        self._sealed: list[Segment] = []  # segments waiting for conversion (retried on failure)
        self._pending: collections.deque[bytes] = collections.deque()
        self._closed = False
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._counts = collections.Counter[str]()
        self._open_segment()
        _WRITERS.add(self)
        self._thread = threading.Thread(
            target=_run,
            args=(weakref.ref(self), self._wake, self._stop, self._interval),
            name="melious-impact-store-writer",
            daemon=True,
        )
        self._thread.start()

    # -- the hot path ------------------------------------------------------------------
    def write(self, row: Mapping[str, Any]) -> None:
        """Record one row. Never raises; durable against SIGKILL when it returns (unless the
        journal cannot be written, which is counted in ``stats``)."""
        try:
            record = encode_row(row)
        except Exception as exc:  # a row we cannot even encode: count it, never raise
            self._health.problem("encoding a row", exc)
            self._health.add("rows_dropped")
            return
        self._append(record)

    def write_record(self, kind: str, record: tuple[Any, ...]) -> None:
        """Record one response as a record of ``kind`` (its row is built at conversion, see
        :func:`~melious_impact.store.codec.record_kind`). Never raises; durable like ``write``."""
        try:
            framed = encode_record(kind, record)
        except Exception as exc:  # a record marshal refuses: count it, never raise
            self._health.problem("encoding a record", exc)
            self._health.add("rows_dropped")
            return
        self._append(framed)

    def _append(self, record: bytes) -> None:
        wake = False
        with self._lock:
            self._counts["rows_written"] += 1
            if self._closed:
                self._counts["rows_dropped"] += 1
                self._counts["rows_dropped_after_close"] += 1
                return
            seg = self._segment
            if seg is not None and not self._pending:
                try:
                    n = os.write(seg.fd, record)
                    if n != len(record):
                        raise OSError(28, "short write to the journal")
                except OSError as exc:
                    self._seal_broken(seg, exc)
                    self._queue(record)  # torn or absent there: write it again elsewhere
                else:
                    seg.rows += 1
                    wake = seg.rows >= self._buffer_rows
                    if self._fsync:
                        try:
                            os.fsync(seg.fd)
                        except OSError as exc:  # the record is whole in the file: no retry
                            self._health.problem("syncing the journal", exc)
            else:
                # No usable segment: the background thread retries every interval (not
                # on every row, which would spin while the disk is full).
                self._queue(record)
        if wake:
            self._wake.set()

    def _queue(self, record: bytes) -> None:  # caller holds self._lock
        if len(self._pending) >= self._max_pending:
            self._pending.popleft()
            self._counts["rows_dropped"] += 1
        self._pending.append(record)

    def _seal_broken(self, seg: Segment, exc: OSError) -> None:  # caller holds self._lock
        # The record may be torn at the end of this segment; never append after it.
        self._health.problem("appending to the journal", exc)
        seg.sealed = True
        self._sealed.append(seg)
        self._segment = None

    # -- background work ---------------------------------------------------------------
    def _open_segment(self) -> None:
        try:
            self._segment = Segment.create(self._journal_dir, fsync=self._fsync)
        except OSError as exc:
            self._health.problem("opening a journal segment", exc)

    def _rotate(self) -> None:
        """Seal the current segment (if it has rows) and move pending rows to a fresh one.

        Invariant: rows wait in ``_pending`` only while there is no usable segment, so the
        order of rows in the journal is the order of ``write()`` calls."""
        with self._lock:
            cur = self._segment
            if cur is not None and cur.rows == 0 and not self._pending:
                return
        try:
            new = Segment.create(self._journal_dir, fsync=self._fsync)
        except OSError as exc:
            self._health.problem("opening a journal segment", exc)
            return  # keep appending to the current segment (if any); retried next interval
        with self._lock:
            old = self._segment
            if old is not None:
                if old.rows > 0:
                    self._sealed.append(old)
                else:
                    old.remove()
            self._segment = new
            self._drain_pending(new)

    def _drain_pending(self, seg: Segment) -> None:  # caller holds self._lock
        while self._pending:
            record = self._pending[0]
            try:
                if os.write(seg.fd, record) != len(record):
                    raise OSError(28, "short write to the journal")
            except OSError as exc:
                self._seal_broken(seg, exc)
                return
            self._pending.popleft()
            seg.rows += 1
        self._health.recovered("the journal")

    def _convert_sealed(self) -> None:
        with self._lock:
            todo = list(self._sealed)
        for seg in todo:
            try:
                data = seg.read()
                done = commit_segment(self._backend, seg.segment_id, data, fsync=self._fsync)
            except Exception as exc:  # disk full, read-only, bug: keep the segment, retry later
                self._health.problem("writing Parquet", exc)
                continue
            seg.remove()
            with self._lock:
                self._sealed.remove(seg)
                self._counts["rows_flushed"] += done.rows
                if done.damaged_records:
                    self._counts["journal_records_damaged"] += done.damaged_records
            if self._on_commit is not None:
                self._on_commit(done.partitions)

    def flush(self) -> None:
        """Everything written so far by this process is in Parquet (or counted as failed)."""
        with self._flush_lock:
            try:
                self._rotate()
                with self._lock:
                    drained = self._segment is not None and self._segment.rows > 0
                if drained:  # pending rows just went into a fresh segment: seal that too
                    self._rotate()
                self._convert_sealed()
            except Exception as exc:  # never raise from the background or the caller's flush
                self._health.problem("flushing", exc)

    def close(self) -> None:
        """Flush and stop; idempotent. Rows written afterwards are counted as dropped."""
        if self._pid != os.getpid():  # a forked copy: the parent's segment is not ours
            return
        with self._lock:
            if self._closed:
                return
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=60)
        self.flush()
        with self._lock:
            self._closed = True
            seg, self._segment = self._segment, None
            lost = len(self._pending)
            self._pending.clear()
            self._counts["rows_dropped"] += lost
        if seg is not None:
            if seg.rows == 0:
                seg.remove()
            else:  # could not be converted (disk full): leave it for recovery
                seg.close()
        for s in self._sealed:
            s.close()  # likewise: recovery converts it once space returns

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pid(self) -> int:
        """The process this writer belongs to (a forked child must make its own)."""
        return self._pid

    @property
    def stats(self) -> dict[str, int]:
        with self._lock:
            out = dict(self._counts)
            out["rows_pending"] = len(self._pending) + sum(s.rows for s in self._sealed)
            if self._segment is not None:
                out["rows_pending"] += self._segment.rows
        for k in ("rows_written", "rows_flushed", "rows_dropped"):
            out.setdefault(k, 0)
        h = self._health.snapshot()
        out["rows_dropped"] += h.get("rows_dropped", 0)
        out.update({k: v for k, v in h.items() if k.startswith("errors_")})
        return out


#: Every writer of this process. A store dropped without close() leaves its writer to the
#: background thread; if that thread is converting when the interpreter exits, it would
#: be stopped inside Arrow's C++ code (which aborts the process). Closing every writer at
#: exit joins the thread first.
_WRITERS: weakref.WeakSet[RowWriter] = weakref.WeakSet()


def _disown_in_child() -> None:
    # After fork(): the parent's writers are not ours. Their locks may have been held by a
    # thread that does not exist here, so they are replaced; their segments were closed by
    # the journal's own fork hook. Rows written to them here are counted as dropped.
    for writer in list(_WRITERS):
        writer._lock = threading.Lock()
        writer._flush_lock = threading.Lock()
        writer._closed = True
        writer._segment = None
        writer._sealed = []
        writer._pending.clear()
    _WRITERS.clear()


os.register_at_fork(after_in_child=_disown_in_child)


@atexit.register
def _close_writers() -> None:
    for writer in list(_WRITERS):
        with contextlib.suppress(Exception):  # never fail interpreter exit
            writer.close()


def _run(ref: weakref.ref[RowWriter], wake: threading.Event, stop: threading.Event, interval: float) -> None:
    """Background loop; holds only a weak reference so an abandoned writer can be collected.

    Flushes start every ``interval`` seconds counted from the start of the previous one
    (not from its end): a conversion slowed down by a busy interpreter does not push the
    next one back, so a row waits at most ``interval`` before its segment is sealed, plus
    the conversion of that segment."""
    next_at = time.monotonic() + interval
    while not stop.is_set():
        wake.wait(timeout=max(0.0, next_at - time.monotonic()))
        wake.clear()
        if stop.is_set():
            return
        writer = ref()
        if writer is None:
            return
        next_at = time.monotonic() + interval
        with contextlib.suppress(Exception):
            writer.flush()
        del writer
