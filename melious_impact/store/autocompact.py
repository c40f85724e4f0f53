"""Automatic compaction: a background thread that keeps each partition's file count bounded.

Every flush writes one small Parquet file per date it holds, so a process that flushes
often (a notebook loop of call, flush, query) would pile up files and slow every query.
The store tells this compactor which partitions it just wrote (its own flushes, appends,
and segments it recovered); when one of them holds ``max_files`` live files or more, the
thread merges them with :func:`~melious_impact.store.compaction.compact_partition`, with
all its guarantees (one atomic commit, readers and writers go on, each row seen once).

Replaced files a reader still holds (:mod:`.leases`) are deleted by the same thread once the
reader lets go: it looks again every ``SWEEP_RETRY_S`` while any wait.

Bound: a partition holds fewer than ``max_files`` live files plus those written while a
compaction of it runs (one per flush; a compaction of a few thousand rows takes tens of
milliseconds). Compactions of one store do not overlap on one host (the same ``flock`` as
``ImpactStore.compact()``, kept in the spool folder for object storage); on object storage
shared by several hosts, let one of them compact (``auto_compact_files=None`` elsewhere).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import weakref
from pathlib import Path

from melious_impact.store.backend import Backend
from melious_impact.store.catalog import Catalog
from melious_impact.store.compaction import compact_lock, compact_partition
from melious_impact.store.health import Health
from melious_impact.store.leases import SWEEP_RETRY_S

#: Live files in a partition that start a background compaction of it.
DEFAULT_AUTO_COMPACT_FILES = 16


class AutoCompactor:
    """One per store object; its thread starts on the first partition it is told about."""

    def __init__(
        self,
        backend: Backend,
        catalog: Catalog,
        health: Health,
        lock_root: Path,
        journal_dir: Path,
        max_files: int,
    ) -> None:
        if max_files < 2:
            raise ValueError("auto_compact_files must be >= 2 (or None to turn it off)")
        self._backend = backend
        self._catalog = catalog
        self._health = health
        self._lock_root = lock_root
        self._journal_dir = journal_dir
        self.max_files = max_files
        self._start()
        _COMPACTORS.add(self)

    def _start(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._touched: set[str] = set()
        self._sweep: set[str] = set()  # partitions with replaced files a reader held back
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self.runs = 0  # compactions done (for tests and stats)

    def notify(self, partitions: tuple[str, ...] | list[str]) -> None:
        """Partitions just written to; cheap, never raises."""
        if not partitions:
            return
        if self._pid != os.getpid():  # forked: the parent's thread is not here
            self._start()
        with self._lock:
            if self._stopped:
                return
            self._touched.update(partitions)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=_run,
                    args=(weakref.ref(self), self._wake),
                    name="melious-impact-compactor",
                    daemon=True,
                )
                self._thread.start()
        self._wake.set()

    def run_once(self) -> int:
        """Compact the touched partitions that reached the bound, and delete the replaced
        files readers held back before (:mod:`.leases`); returns how many were compacted."""
        with self._lock:
            touched, self._touched = self._touched, set()
            sweep, self._sweep = self._sweep, set()
        done = 0
        for partition in sorted(touched | sweep):
            try:
                live, replaced = self._catalog.files_in(partition, validate=False)
                due = len(live) >= self.max_files
                if not due and not (partition in sweep and replaced):
                    continue
                with compact_lock(self._lock_root) as acquired:
                    if not acquired:  # another compaction runs: look again later
                        with self._lock:
                            (self._touched if partition in touched else self._sweep).add(partition)
                        continue
                    res = compact_partition(
                        self._backend,
                        self._catalog,
                        partition,
                        min_files=2 if due else self.max_files,
                        journal_dir=self._journal_dir,
                        lock_root=self._lock_root,
                    )
                if res["files_waiting"]:
                    with self._lock:
                        self._sweep.add(partition)
                done += int(due)
            except Exception as exc:  # never raise from the background; retried on the next write
                self._health.problem("compacting in the background", exc)
        with self._lock:
            self.runs += done
        return done

    @property
    def sweeping(self) -> bool:
        """Whether replaced files wait for readers to let go (the thread looks again soon)."""
        with self._lock:
            return bool(self._sweep)

    def stop(self) -> None:
        """Stop the thread, after the compactions already asked for."""
        if self._pid != os.getpid():
            return
        with self._lock:
            self._stopped = True
            thread = self._thread
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=60)


def _run(ref: weakref.ref[AutoCompactor], wake: threading.Event) -> None:
    timeout: float | None = None
    while True:
        wake.wait(timeout)
        wake.clear()
        compactor = ref()
        if compactor is None:
            return
        compactor.run_once()
        if compactor._stopped:  # what it was told before the stop (during that run too) is done
            compactor.run_once()
            return
        timeout = SWEEP_RETRY_S if compactor.sweeping else None
        del compactor


_COMPACTORS: weakref.WeakSet[AutoCompactor] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    # A thread stopped inside Arrow's C++ code at interpreter exit aborts the process.
    for compactor in list(_COMPACTORS):
        with contextlib.suppress(Exception):
            compactor.stop()
