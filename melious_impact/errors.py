"""The package's error hierarchy.

Everything melious_impact raises on purpose derives from :class:`MeliousImpactError`:

- :class:`StoreError` — the store folder or a file in it cannot be used.
- :class:`ParseError` — a body could not be parsed. Capture never raises it into a
  caller: it is used by the explicit import functions (batch files, CSV/JSONL/Parquet).
- :class:`ModelError` — an estimate cannot be made (unknown model or location with no
  prior, nothing to fit on).
- :class:`ForecastError` — a forecast or budget cannot be computed from the data given.

Bad arguments raise ``ValueError`` / ``TypeError`` with a message that says what to do.
"""

from __future__ import annotations


class MeliousImpactError(Exception):
    """Base class of every error raised on purpose by melious_impact."""


class StoreError(MeliousImpactError):
    """The store, or one of its files, cannot be read or written."""


class ParseError(MeliousImpactError, ValueError):
    """Input that should hold Melious responses could not be parsed."""


class ModelError(MeliousImpactError):
    """An impact estimate cannot be made from the data and priors available."""


class ForecastError(MeliousImpactError):
    """A forecast or budget status cannot be computed from the data given."""
