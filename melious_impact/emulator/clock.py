"""A simulated clock: months of history in seconds, because the caller moves time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)


class SimClock:
    """Aware-UTC simulated time that only moves when told to (thread-safe).

    ``clock.now`` is a zero-argument callable, so it can be handed straight to
    ``mi.Recorder(clock=clock.now)`` and the emulator's responses and the captured rows
    agree on the time.
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = DEFAULT_START if start is None else start
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware (e.g. datetime(2026, 1, 1, tzinfo=UTC))")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | float) -> datetime:
        """Move forward by a timedelta or a number of seconds; returns the new time."""
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=float(delta))
        if step < timedelta(0):
            raise ValueError("a simulated clock never goes backwards")
        with self._lock:
            self._now += step
            return self._now

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (aware; not earlier than now)."""
        if when.tzinfo is None:
            raise ValueError("when must be timezone-aware")
        with self._lock:
            if when < self._now:
                raise ValueError("a simulated clock never goes backwards")
            self._now = when.astimezone(UTC)

    def __repr__(self) -> str:
        return f"SimClock({self.now().isoformat()})"
