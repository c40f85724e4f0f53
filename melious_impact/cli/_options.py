"""The ``--start``/``--end`` options (``--from``/``--to`` spell the same) of every command
that reads a period: one spelling, one help text, checked by :mod:`melious_impact.periods`."""

from __future__ import annotations

import argparse

from melious_impact.periods import parse_bound


def _bound(text: str) -> str:
    """Check the text parses as a bound; the library reads it again (a date end counts its day)."""
    try:
        parse_bound(text, end=False)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text


def add_period_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--start/--from`` and ``--end/--to`` (UTC; ``--end 2026-10-31`` includes that day)."""
    parser.add_argument(
        "--start",
        "--from",
        dest="start",
        type=_bound,
        metavar="WHEN",
        help="first day (YYYY-MM-DD) or instant (ISO 8601) included; UTC unless an offset is given",
    )
    parser.add_argument(
        "--end",
        "--to",
        dest="end",
        type=_bound,
        metavar="WHEN",
        help="last day included (YYYY-MM-DD), or an instant that is the exclusive end (ISO 8601)",
    )
