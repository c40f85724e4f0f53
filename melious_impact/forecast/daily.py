"""Daily totals per group from request rows, in the user's time zone.

A day is a calendar day in ``tz`` (``captured_at`` is stored in UTC). Every metric is
additive: ``requests`` counts rows, the others sum the column. Days inside a group's
history that have no rows are real zeros (no requests, no spend); days before a group's
first row are not part of its history (the team did not exist yet).

``cost_eur`` sums stay exact ``Decimal`` here (see :mod:`melious_impact.forecast.costs`);
they become floats only where the statistical model needs them (:func:`series_matrix`).
Impact columns are summed as reported: rows without a usable ``environment_impact`` add
nothing, so fill them first (``mi.fill_missing``) when coverage matters.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from melious_impact.forecast.costs import DEFAULT_EUR_PER_ENERGY_UNIT, add_cost_eur, sum_decimal
from melious_impact.frames import as_frame

#: Metrics that can be forecast and budgeted.
METRICS: tuple[str, ...] = (
    "energy_kwh",
    "carbon_g_co2",
    "water_liters",
    "input_tokens",
    "output_tokens",
    "requests",
    "cost_eur",
)

#: Label used for rows whose group column (e.g. ``team``) is empty.
UNTAGGED = "(untagged)"


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    return metric


def local_dates(captured_at: pd.Series, tz: str) -> pd.Series:
    """Calendar dates (naive midnight timestamps) of UTC instants in time zone ``tz``."""
    ts = pd.to_datetime(captured_at, utc=True)
    try:
        local = ts.dt.tz_convert(tz)
    except Exception as exc:  # pytz/zoneinfo raise different types for unknown zones
        raise ValueError(f"unknown time zone {tz!r}: use an IANA name such as 'Europe/Paris'") from exc
    return local.dt.tz_localize(None).dt.normalize()


def daily_totals(
    data: Any,
    metrics: tuple[str, ...] | list[str] = METRICS,
    *,
    by: str | None = "team",
    tz: str = "UTC",
    eur_per_energy_unit: Decimal | str | int | float = DEFAULT_EUR_PER_ENERGY_UNIT,
) -> pd.DataFrame:
    """One row per (group, date) that has requests: ``date``, the group column, the metrics.

    ``cost_eur`` is an object column of exact ``Decimal`` (an existing ``cost_eur`` column,
    e.g. from :func:`~melious_impact.forecast.costs.add_cost_eur` with your own rate, is used
    as it is); the others are floats (tokens and requests as whole-number floats). With ``by=None`` all rows form one group whose column
    is ``group`` with the value ``"all"``. Empty group values become :data:`UNTAGGED`.
    """
    df = as_frame(data)
    for m in metrics:
        check_metric(m)
    group_col = by or "group"
    cols = ["date", group_col, *metrics]
    if len(df) == 0:
        return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "date" else object) for c in cols})
    if "captured_at" not in df.columns:
        raise ValueError("request rows need a captured_at column")
    if by is not None and by not in df.columns:
        raise ValueError(f"cannot group by {by!r}: no such column")

    work = pd.DataFrame({"date": local_dates(df["captured_at"], tz)}, index=df.index)
    if by is None:
        work[group_col] = "all"
    else:
        g = df[by].astype(object)
        work[group_col] = g.where(g.notna() & (g.astype(str) != ""), UNTAGGED).astype(str)
    for m in metrics:
        if m == "requests":
            work[m] = 1.0
        elif m == "cost_eur":
            work[m] = (
                df["cost_eur"]
                if "cost_eur" in df.columns
                else add_cost_eur(df, eur_per_energy_unit)["cost_eur"]
            )
        elif m in df.columns:
            work[m] = pd.to_numeric(df[m], errors="coerce").astype(float)
        else:
            raise ValueError(f"request rows have no {m!r} column")

    float_metrics = [m for m in metrics if m != "cost_eur"]
    grouped = work.groupby([group_col, "date"], sort=True)
    out = grouped[float_metrics].sum(min_count=0) if float_metrics else grouped.size().to_frame("_n")[[]]
    if "cost_eur" in metrics:
        # Exact decimal sums: pandas would coerce Decimal objects to float.
        out["cost_eur"] = grouped["cost_eur"].agg(sum_decimal)
    return out.reset_index()[cols]


def series_matrix(
    totals: pd.DataFrame, metric: str, group_col: str, *, end: pd.Timestamp | None = None
) -> dict[str, pd.Series]:
    """Complete daily float series per group, from its first day to ``end`` (zeros filled).

    ``end`` defaults to the last date of any group, so a team that stopped sending requests
    shows its recent zero days.
    """
    if len(totals) == 0:
        return {}
    last = pd.Timestamp(totals["date"].max()) if end is None else pd.Timestamp(end)
    out: dict[str, pd.Series] = {}
    for name, g in totals.groupby(group_col, sort=True):
        g = g[g["date"] <= last]
        if len(g) == 0:
            continue
        values = np.array([float(v) if v is not None else 0.0 for v in g[metric]], dtype=float)
        s = pd.Series(values, index=pd.DatetimeIndex(g["date"]))
        idx = pd.date_range(s.index.min(), last, freq="D")
        out[str(name)] = s.reindex(idx, fill_value=0.0).rename(metric)
    return out
