"""Where the store lives on disk and how its files are named.

Layout of a store folder (also documented in ``docs/store.md``)::

    <root>/
      requests/date=YYYY-MM-DD/<name>.parquet   the table, Hive-partitioned by UTC date
      _journal/<host>-<pid>-<uuid>.seg          per-process write-ahead journal segments
      _quarantine/...                           damaged files set aside, never read
      _locks/                                   advisory lock files (compaction)

Partition folder names are derived only from the row's UTC date, never from tag values,
so no value in a row can steer a write outside the folder.
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from datetime import date
from pathlib import Path

#: Environment variable naming the default store folder.
ENV_HOME = "MELIOUS_IMPACT_HOME"

TABLE_DIR = "requests"
JOURNAL_DIR = "_journal"
QUARANTINE_DIR = "_quarantine"
LOCKS_DIR = "_locks"
PARTITION_PREFIX = "date="
SEGMENT_SUFFIX = ".seg"
PARQUET_SUFFIX = ".parquet"

DIR_MODE = 0o700
FILE_MODE = 0o600

_PARTITION_RE = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def default_store_path() -> Path:
    """The default store folder.

    ``$MELIOUS_IMPACT_HOME`` when set, else ``$XDG_DATA_HOME/melious-impact``, else
    ``~/.local/share/melious-impact``. Read at call time (the outer edge), never cached.
    """
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "melious-impact"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if missing; folders we create are owner-only (0o700)."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=DIR_MODE)
        except FileExistsError:  # another process won the race: fine
            pass
        else:
            # mkdir's mode is filtered by the umask; set it explicitly.
            os.chmod(d, DIR_MODE)
    return path


def fsync_dir(folder: Path) -> None:
    """Make the names in ``folder`` (a rename, a new file) survive power loss."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def safe_name(text: str, max_len: int = 64) -> str:
    """A file-name-safe version of ``text`` (no separators, no dots at the start)."""
    cleaned = _UNSAFE.sub("_", text)[:max_len].lstrip(".")
    return cleaned or "x"


def new_segment_id() -> str:
    """``<host>-<pid>-<uuid>``: unique across hosts and processes, readable in listings."""
    return f"{safe_name(socket.gethostname(), 40)}-{os.getpid()}-{uuid.uuid4().hex}"


def partition_name(day: date) -> str:
    return f"{PARTITION_PREFIX}{day.isoformat()}"


def partition_date(name: str) -> date | None:
    """The date of a partition folder name, or None when the name is not one of ours."""
    m = _PARTITION_RE.match(name)
    if not m:
        return None
    try:
        return date.fromisoformat(m.group(1))
    except ValueError:
        return None


def is_data_file(name: str) -> bool:
    """Data files end in .parquet; names starting with '.' or '_' are temporary or
    private (the same rule Hive, Spark and Trino apply, so they skip them too)."""
    return name.endswith(PARQUET_SUFFIX) and not name.startswith((".", "_"))


def temp_name(final_name: str) -> str:
    return f".{final_name}.{uuid.uuid4().hex[:12]}.tmp"
