"""Accepting request rows in whatever form a reader has them.

Model, forecast, charts, reports and exports all take "the requests": a pandas DataFrame
with the columns of :mod:`melious_impact.records`, or a store (anything with
``to_pandas()``, such as :class:`~melious_impact.store.impact_store.ImpactStore`). This is
the one place that turns either into a frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def is_store(data: Any) -> bool:
    """Whether ``data`` is a store (anything with ``connect()`` giving a ``requests`` view,
    such as :class:`~melious_impact.store.impact_store.ImpactStore`) rather than rows."""
    # A frame has no ``connect`` (a column of that name is a Series, which is not callable):
    # the test needs no pandas, so plain rows never import it.
    return callable(getattr(data, "connect", None))


def as_frame(data: Any) -> pd.DataFrame:
    """A DataFrame of request rows from a DataFrame or a store (anything with ``to_pandas()``)."""
    import pandas as pd

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
