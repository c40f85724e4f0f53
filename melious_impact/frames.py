"""Accepting request rows in whatever form a reader has them.

Model, forecast, charts, reports and exports all take "the requests": a pandas DataFrame
with the columns of :mod:`melious_impact.records`, or a store (anything with
``to_pandas()``, such as :class:`~melious_impact.store.impact_store.ImpactStore`). This is
the one place that turns either into a frame.
"""

from __future__ import annotations

from typing import Any

import pandas as pd


def as_frame(data: Any) -> pd.DataFrame:
    """A DataFrame of request rows from a DataFrame or a store (anything with ``to_pandas()``)."""
    if isinstance(data, pd.DataFrame):
        return data
    to_pandas = getattr(data, "to_pandas", None)
    if callable(to_pandas):
        frame = to_pandas()
        if isinstance(frame, pd.DataFrame):
            return frame
    raise TypeError(
        "expected a pandas DataFrame with the requests columns or a store with .to_pandas() "
        f"(e.g. mi.ImpactStore), got {type(data).__name__}"
    )
