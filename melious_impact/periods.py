"""Periods: the one date-range convention of every reader (store, charts, report, CLI).

A period is the half-open UTC interval ``[start, end)``:

- ``start`` is included. A date (``date(2026, 10, 1)``, ``"2026-10-01"``) means its
  midnight UTC; a datetime is that instant.
- ``end`` is excluded, but **a date end counts its whole day**: ``end="2026-10-31"``
  covers 31 October up to 23:59:59.999999 (the interval ends at midnight of 1 November).
  A datetime end (``"2026-11-01T00:00"``, a ``datetime``, a ``pandas.Timestamp``) is an
  exclusive instant.
- Datetimes without a time zone are UTC; aware ones are converted to UTC.
- ``None`` leaves that side open. A range whose start is not before its end is a
  ``ValueError``.

So ``start="2026-10-01", end="2026-10-31"`` and ``start="2026-10-01",
end="2026-11-01T00:00Z"`` are the same month. Every function that takes ``start``/``end``
(``ImpactStore.to_pandas``/``to_arrow``/``export``, the charts, ``report``, ``dashboard``)
and every command with ``--start``/``--end`` or ``--from``/``--to`` parses them here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

__all__ = ["DateLike", "Period", "parse_bound", "period"]

#: What a bound may be: a date, a datetime (pandas ``Timestamp`` included), an ISO 8601
#: string, or a ``numpy.datetime64``.
DateLike = date | datetime | str | np.datetime64

_ONE_DAY = timedelta(days=1)
_TICK = timedelta(microseconds=1)


def _parse_text(text: str) -> date | datetime:
    s = text.strip()
    try:
        return date.fromisoformat(s)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(s.replace("z", "Z"))
    except ValueError:
        raise ValueError(
            f"expected a date (YYYY-MM-DD) or an ISO 8601 date and time (YYYY-MM-DDTHH:MM[:SS][+00:00]), "
            f"got {text!r}"
        ) from None


def _as_point(value: Any) -> date | datetime:
    if isinstance(value, str):
        return _parse_text(value)
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            raise ValueError("a period bound cannot be NaT (use None for an open side)")
        import pandas as pd

        when: datetime = pd.Timestamp(value).to_pydatetime()
        return when
    if isinstance(value, datetime):
        if value != value:  # pandas.NaT is a datetime that is not equal to itself
            raise ValueError("a period bound cannot be NaT (use None for an open side)")
        return value
    if isinstance(value, date):
        return value
    raise TypeError(
        f"a period bound must be a date, datetime, ISO 8601 string or None, got {type(value).__name__}"
    )


def parse_bound(value: Any, *, end: bool) -> datetime | None:
    """One bound as an aware UTC datetime (``None`` stays ``None``).

    A date means its midnight as a start and the next midnight as an end (the day counts).
    """
    if value is None:
        return None
    point = _as_point(value)
    if isinstance(point, datetime):
        if hasattr(point, "to_pydatetime"):  # pandas.Timestamp: drop nanoseconds, keep the zone
            point = point.to_pydatetime(warn=False)
        return point.replace(tzinfo=UTC) if point.tzinfo is None else point.astimezone(UTC)
    midnight = datetime(point.year, point.month, point.day, tzinfo=UTC)
    return midnight + _ONE_DAY if end else midnight


@dataclass(frozen=True)
class Period:
    """A half-open UTC interval ``[start, end)``; either side may be open (``None``)."""

    start: datetime | None = None
    end: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, datetime) or v.utcoffset() != timedelta(0)):
                raise ValueError(f"Period.{name} must be an aware UTC datetime (build it with period())")
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError(f"the period is empty: start ({self.start}) must come before end ({self.end})")

    @property
    def first_day(self) -> date | None:
        """The UTC date of the first instant in the period."""
        return None if self.start is None else self.start.date()

    @property
    def last_day(self) -> date | None:
        """The UTC date of the last instant in the period (the day before a midnight end)."""
        return None if self.end is None else (self.end - _TICK).date()

    def contains(self, when: datetime) -> bool:
        """Whether an instant (naive means UTC) falls in ``[start, end)``."""
        t = when.replace(tzinfo=UTC) if when.tzinfo is None else when
        return (self.start is None or t >= self.start) and (self.end is None or t < self.end)

    def mask(self, times: Any) -> np.ndarray:
        """Boolean array: which of ``times`` (anything ``pandas.to_datetime`` reads) fall in the period."""
        import pandas as pd

        at = pd.to_datetime(times, utc=True)
        keep = np.ones(len(at), dtype=bool)
        if self.start is not None:
            keep &= np.asarray(at >= pd.Timestamp(self.start), dtype=bool)
        if self.end is not None:
            keep &= np.asarray(at < pd.Timestamp(self.end), dtype=bool)
        return keep

    def select(self, frame: Any) -> Any:
        """The rows of a pandas frame captured in the period (the frame itself when unbounded)."""
        if self.start is None and self.end is None:
            return frame
        if "captured_at" not in frame.columns:
            raise ValueError("start/end select rows by captured_at: the data has no captured_at column")
        return frame[self.mask(frame["captured_at"])]

    def sql(self, column: str = "captured_at") -> tuple[list[str], list[datetime]]:
        """SQL conditions with ``?`` placeholders and their parameters."""
        where: list[str] = []
        params: list[datetime] = []
        if self.start is not None:
            where.append(f"{column} >= ?")
            params.append(self.start)
        if self.end is not None:
            where.append(f"{column} < ?")
            params.append(self.end)
        return where, params

    def sql_literal(self, column: str = "captured_at") -> list[str]:
        """The same conditions with the bounds written in (for a view, which takes no parameters)."""
        where = []
        if self.start is not None:
            where.append(f"{column} >= TIMESTAMPTZ '{self.start.isoformat()}'")
        if self.end is not None:
            where.append(f"{column} < TIMESTAMPTZ '{self.end.isoformat()}'")
        return where

    def label(self) -> str:
        """``2026-10-01 to 2026-10-31`` for whole days, the instants otherwise."""
        if self.start is None or self.end is None:
            lo = "…" if self.start is None else _instant(self.start)
            hi = "…" if self.end is None else _instant(self.end)
            return f"{lo} to {hi}"
        if _is_midnight(self.start) and _is_midnight(self.end):
            first, last = self.first_day, self.last_day
            return f"{first}" if first == last else f"{first} to {last}"
        return f"{_instant(self.start)} to {_instant(self.end)} (end excluded)"


def _is_midnight(t: datetime) -> bool:
    return t.hour == 0 and t.minute == 0 and t.second == 0 and t.microsecond == 0


def _instant(t: datetime) -> str:
    return str(t.date()) if _is_midnight(t) else t.strftime("%Y-%m-%d %H:%M UTC")


def period(start: Any = None, end: Any = None) -> Period:
    """Parse ``start``/``end`` (dates, datetimes, ISO strings, pandas timestamps; aware or
    naive) into the half-open UTC :class:`Period` described in the module docstring."""
    if isinstance(start, Period) and end is None:
        return start
    lo, hi = parse_bound(start, end=False), parse_bound(end, end=True)
    if lo is not None and hi is not None and lo >= hi:
        raise ValueError(
            f"the period is empty: start ({start}) must come before end ({end}); "
            f"as UTC instants that is [{lo.isoformat()}, {hi.isoformat()})"
        )
    return Period(lo, hi)
