"""Read leases: a compaction deletes the files it replaced only when no reader may still read them.

A reader lists a partition, then DuckDB opens the files it listed, some of them seconds
later (a long scan opens files as it goes). A compaction that commits in between makes those
files dead for every *new* listing, but this reader still needs them. So each read holds a
shared ``flock`` on the lock root (the store folder itself) from before its listing until it
ends (``sql()`` and friends: the query; ``connect()``: until the connection is dropped), and
a compaction deletes only while it holds the same lock exclusively, taken without waiting.
When a reader holds it, the replaced files stay (dead, so invisible to new listings) and are
deleted by a later pass: the background compactor looks again every :data:`SWEEP_RETRY_S`,
any compaction of the partition does too.

Retention drops whole days the same way: it waits up to :data:`RETAIN_WAIT_S` for a moment
when no reader holds a lease, then drops them anyway (with a warning).

A reader that holds its lease for very long (a connection kept open for hours in a notebook)
must not pin every replaced copy of a busy partition on disk: once a replacement is
:data:`MAX_DEFER_S` old, the files it replaced are deleted whatever the leases say, and such
a connection may then fail with a missing file (``connect()`` again).

Leases work between the threads and processes of one host (the lock root is the store folder,
or the local spool of an object store); readers on other hosts of a shared bucket hold none,
and re-list and retry instead. A reader that cannot take a lease (a folder it may
not open, a filesystem without ``flock``) reads without one, and retries the same way.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

logger = logging.getLogger("melious_impact")

#: Seconds after which replaced files are deleted even while a reader holds a lease.
MAX_DEFER_S = 300.0
#: Seconds between the background compactor's attempts to delete files a reader held back.
SWEEP_RETRY_S = 1.0
#: Seconds retention waits for a moment without readers before it drops old days anyway.
RETAIN_WAIT_S = 30.0


def _open(lock_root: Path) -> int:
    # The lock is on the folder itself: taking a lease writes nothing, so a read-only store
    # (or one shipped as package data) is read the same way.
    return os.open(lock_root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


class ReadLease:
    """A shared lease, held from creation until :meth:`release` (idempotent, thread-safe).

    Blocks only while a compaction deletes files (a few unlinks). When the lease cannot be
    taken the read goes on without one."""

    def __init__(self, lock_root: Path) -> None:
        self._lock = threading.Lock()
        self._fd: int | None = None
        try:
            fd = _open(lock_root)
        except OSError as exc:
            logger.debug("melious_impact store: reading without a lease (%s)", exc)
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
        except OSError as exc:
            os.close(fd)
            logger.debug("melious_impact store: reading without a lease (%s)", exc)
            return
        self._fd = fd
        _HELD.add(self)

    def release(self) -> None:
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor of this open file drops its flock


def _drop_in_child() -> None:
    # A forked child shares its parent's lock; its copy must not hold the lease after the
    # parent releases it (closing the child's descriptor leaves the parent's lock alone).
    for lease in list(_HELD):
        fd, lease._fd = lease._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


_HELD: weakref.WeakSet[ReadLease] = weakref.WeakSet()
os.register_at_fork(after_in_child=_drop_in_child)


@contextlib.contextmanager
def read_lease(lock_root: Path) -> Iterator[ReadLease]:
    lease = ReadLease(lock_root)
    try:
        yield lease
    finally:
        lease.release()


@contextlib.contextmanager
def no_readers(lock_root: Path | None) -> Iterator[bool]:
    """Whether no reader of this host holds a lease; while True, none can take one, so files
    may be deleted. Never waits. ``None`` (no lock root): True."""
    if lock_root is None:
        yield True
        return
    try:
        fd = _open(lock_root)
    except OSError:
        yield True  # nobody can take a lease here either
        return
    try:
        try:
            free = try_exclusive(fd)
        except OSError:  # no flock here (some network filesystems): readers re-list instead
            free = True
        yield free
    finally:
        os.close(fd)


@contextlib.contextmanager
def readers_gone(lock_root: Path | None, wait_s: float) -> Iterator[bool]:
    """:func:`no_readers`, waiting up to ``wait_s`` for the readers to let go (polling every
    50 ms, so readers are never queued behind it). Yields False when they held on throughout."""
    deadline = time.monotonic() + wait_s
    while True:
        with no_readers(lock_root) as free:
            if free or time.monotonic() >= deadline:
                yield free
                return
        time.sleep(0.05)


def try_exclusive(fd: int) -> bool:
    """Take an exclusive ``flock`` on ``fd`` without waiting; False when another holds one
    (released when ``fd`` is closed)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
