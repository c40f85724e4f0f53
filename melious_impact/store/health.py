"""Counters and once-per-kind logging for problems the store absorbs instead of raising.

Capture must never raise into the caller, so every failure on the write path is counted
here and logged once per kind (a full disk would otherwise log a line per request).
"""

from __future__ import annotations

import errno
import logging
import threading
from collections import Counter

logger = logging.getLogger("melious_impact")

_KINDS = {
    errno.ENOSPC: "disk_full",
    errno.EDQUOT: "disk_full",
    errno.EFBIG: "file_too_large",
    errno.EROFS: "read_only",
    errno.EACCES: "permission_denied",
    errno.EPERM: "permission_denied",
}


def error_kind(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno in _KINDS:
        return _KINDS[exc.errno]
    return type(exc).__name__


class Health:
    """Thread-safe counters plus the set of problem kinds already logged."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self._logged: set[str] = set()

    def add(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.counts[key] += n

    def problem(self, where: str, exc: BaseException) -> str:
        kind = error_kind(exc)
        with self._lock:
            self.errors[kind] += 1
            first = kind not in self._logged
            self._logged.add(kind)
        if first:
            logger.warning(
                "melious_impact store: %s failed (%s: %s); counting and retrying", where, kind, exc
            )
        return kind

    def recovered(self, where: str) -> None:
        """Log once when writing works again after problems, and re-arm the logging."""
        with self._lock:
            had = bool(self._logged)
            self._logged.clear()
        if had:
            logger.warning("melious_impact store: %s works again", where)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            out = dict(self.counts)
            out.update({f"errors_{k}": v for k, v in self.errors.items()})
        return out
