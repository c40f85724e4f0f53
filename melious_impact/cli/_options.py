"""The options several commands share, each with one spelling and one help text: the store
(``--store``), the period (``--start``/``--end``, ``--from``/``--to`` spell the same, checked by
:mod:`melious_impact.periods`) and the euro value of an energy unit (``--eur-per-energy-unit``,
default :data:`melious_impact.billing.EUR_PER_ENERGY_UNIT`)."""

from __future__ import annotations

import argparse

from melious_impact.billing import EUR_PER_ENERGY_UNIT
from melious_impact.periods import parse_bound
from melious_impact.store.paths import ENV_HOME


def add_store_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--store`` (a folder or an object-store URI; default: the default store)."""
    parser.add_argument(
        "--store",
        metavar="DIR",
        default=None,
        help=f"store folder or URI (s3://bucket/prefix); default: ${ENV_HOME} or the per-user data folder",
    )


def add_rate_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--eur-per-energy-unit``: the euro value of one energy unit, as text (exact)."""
    parser.add_argument(
        "--eur-per-energy-unit",
        default=str(EUR_PER_ENERGY_UNIT),
        help="euro value of one Melious energy unit, for rows paid with energy (default: %(default)s)",
    )


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
