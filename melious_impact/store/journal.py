"""Journal segments: per-process append-only files that make ``write()`` survive SIGKILL.

Each live segment is held under an exclusive ``flock`` by the process writing it. The
kernel drops that lock when the process dies, however it dies, so "the lock can be taken"
is exactly "the owner is gone": recovery never needs to guess from pids (which get reused).
Records are appended with ``O_APPEND`` in one ``write(2)`` each; after SIGKILL the data is
in the page cache and reaches the file. Only power loss needs ``fsync`` (an option).

A forked child inherits the descriptors of its parent's open segments, and with them a
share of their locks: the parent's segment would then look alive (unrecoverable) for as
long as the child lives, and a child writing through it would mix its rows into the
parent's file. So the child closes its copies right after ``fork()`` (the parent keeps
its own lock), and descriptors are not inherited across ``exec`` either.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from melious_impact.store import paths
from melious_impact.store.codec import header_record

TMP_SUFFIX = ".seg.tmp"


@dataclass
class Segment:
    """An open journal segment owned (locked) by this process."""

    segment_id: str
    path: Path
    fd: int
    rows: int = 0
    sealed: bool = False  # a write failed: no further appends (a torn record may end it)
    _closed: bool = field(default=False, repr=False)

    def __del__(self) -> None:
        # An abandoned writer must not keep its segment locked for the life of the process:
        # closing releases the lock, and the rows (still in the file) are recovered.
        self.close()

    @classmethod
    def create(cls, journal_dir: Path, *, fsync: bool = False) -> Segment:
        paths.ensure_private_dir(journal_dir)
        seg_id = paths.new_segment_id()
        path = journal_dir / f"{seg_id}{paths.SEGMENT_SUFFIX}"
        # Created under a hidden name and locked *before* it becomes visible: otherwise a
        # recovering process could take the lock first, see an empty segment and delete it.
        tmp = journal_dir / f".{seg_id}{TMP_SUFFIX}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, paths.FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            head = header_record()
            if os.write(fd, head) != len(head):
                raise OSError(28, "short write of the segment header")
            os.rename(tmp, path)
            if fsync:  # the new name must survive power loss too
                paths.fsync_dir(journal_dir)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        seg = cls(seg_id, path, fd)
        _OPEN.add(seg)
        return seg

    def read(self) -> bytes:
        return self.path.read_bytes()

    def remove(self) -> None:
        """Delete the file, then release the lock (in that order, so no other process can
        claim a segment that is already converted)."""
        if self._closed:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(OSError):
                os.close(self.fd)

    def __hash__(self) -> int:  # identity: segments live in a WeakSet
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other


#: Segments open in this process (closed in a forked child, see the module doc).
_OPEN: weakref.WeakSet[Segment] = weakref.WeakSet()


def _close_inherited() -> None:
    for seg in list(_OPEN):
        seg.close()  # the child's copy of the descriptor only: the file and the parent's lock stay
    _OPEN.clear()


os.register_at_fork(after_in_child=_close_inherited)


def list_segments(journal_dir: Path, *, temporaries: bool = False) -> list[Path]:
    """Visible segments (or, with ``temporaries``, hidden half-created ones)."""
    try:
        names = os.listdir(journal_dir)
    except (FileNotFoundError, NotADirectoryError):
        return []
    if temporaries:
        return sorted(journal_dir / n for n in names if n.startswith(".") and n.endswith(TMP_SUFFIX))
    return sorted(
        journal_dir / n for n in names if n.endswith(paths.SEGMENT_SUFFIX) and not n.startswith(".")
    )


class Claimed:
    """A segment of a dead process, locked by us for recovery."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd
        self.segment_id = path.name[: -len(paths.SEGMENT_SUFFIX)]

    def read(self) -> bytes:
        chunks = []
        os.lseek(self.fd, 0, os.SEEK_SET)
        while chunk := os.read(self.fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self.release()

    def release(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def claim(path: Path) -> Claimed | None:
    """Lock a segment whose owner is gone; None while its owner (or a recoverer) holds it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, PermissionError):
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # The owner may have converted and unlinked it between our open and our lock:
        # then we hold a lock on a deleted file, which must not be converted again.
        st, cur = os.fstat(fd), os.stat(path)
        if st.st_nlink == 0 or (st.st_ino, st.st_dev) != (cur.st_ino, cur.st_dev):
            raise FileNotFoundError(path)
    except OSError:
        os.close(fd)
        return None
    return Claimed(path, fd)
