"""Reported rows that disagree with the fitted model beyond what its uncertainty explains.

Three checks, each a score in uncertainty units (|log ratio| / its sd):

- ``pue_change``: the reported PUE departs from the site's usual PUE.
- ``energy_per_token_drift``: energy / PUE departs from the cell's per-token line by more
  than the per-request scatter and coefficient uncertainty allow.
- ``grid_intensity_outlier``: carbon / energy departs from the location's profile at that
  month and hour.

A row is returned when any score exceeds ``threshold``; ``reason`` is the largest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from melious_impact.model.frames import canonical_location_column, floats, reported_mask, utc_times
from melious_impact.periods import DateLike

if TYPE_CHECKING:  # pragma: no cover
    from melious_impact.model.fit import IntensityModel

# Floors on the sd of each check: figures are rounded when sent, and a perfectly constant
# series must not turn a 0.1% wobble into an alarm.
PUE_LOG_SD_FLOOR = 0.005
GRID_LOG_SD_FLOOR = 0.02
ENERGY_LOG_SD_FLOOR = 0.005
REASONS = ("pue_change", "energy_per_token_drift", "grid_intensity_outlier")


def _cell_index(m: IntensityModel, df: pd.DataFrame) -> np.ndarray:
    keys = pd.MultiIndex.from_frame(m.cells[["model", "provider_id", "location"]])
    rows = pd.MultiIndex.from_arrays(
        [df["model"], df["provider_id"], canonical_location_column(df["location"])]
    )
    return np.asarray(keys.get_indexer(rows))


def empty_result(df: pd.DataFrame) -> pd.DataFrame:
    """No anomaly: the columns of ``df`` and of the result, no row."""
    return df.iloc[0:0].assign(
        reason=pd.Series(dtype=object),
        score=pd.Series(dtype=float),
        expected=pd.Series(dtype=float),
        observed=pd.Series(dtype=float),
    )


def find_anomalies(
    m: IntensityModel,
    data: Any,
    *,
    threshold: float = 5.0,
    start: DateLike | None = None,
    end: DateLike | None = None,
) -> pd.DataFrame:
    """See :meth:`IntensityModel.anomalies`: scored in DuckDB (:mod:`.sql_anomalies`) over a
    store or a frame, rows captured in ``[start, end)``."""
    from melious_impact.frames import as_frame, is_store
    from melious_impact.model.sql_anomalies import find_anomalies_sql

    if threshold <= 0:
        raise ValueError("threshold must be positive (uncertainty units, e.g. 4)")
    if not is_store(data):
        df = as_frame(data).reset_index(drop=True)
        if (start is not None or end is not None) and "captured_at" not in df.columns:
            raise ValueError("start/end select rows by captured_at: the data has no captured_at column")
        if len(df) == 0 or not {"model", "provider_id", "location"} <= set(df.columns):
            return empty_result(df)
        data = df
    return find_anomalies_sql(m, data, threshold=threshold, start=start, end=end)


def find_anomalies_rows(m: IntensityModel, df: pd.DataFrame, *, threshold: float = 5.0) -> pd.DataFrame:
    """The row-level numpy scores over a whole frame: the reference the in-database scores
    are tested against."""
    if threshold <= 0:
        raise ValueError("threshold must be positive (uncertainty units, e.g. 4)")
    df = df.reset_index(drop=True)
    n = len(df)
    empty = empty_result(df)
    if n == 0 or not {"model", "provider_id", "location"} <= set(df.columns):
        return empty
    energy, pue, carbon = floats(df, "energy_kwh"), floats(df, "pue"), floats(df, "carbon_g_co2")
    tin, tout = floats(df, "input_tokens") / 1000, floats(df, "output_tokens") / 1000
    ci = _cell_index(m, df)
    ok = reported_mask(df) & (ci >= 0) & np.isfinite(energy) & (energy > 0)
    c = m.cells.iloc[np.where(ci >= 0, ci, 0)]
    scores = np.zeros((n, 3))
    expected = np.full((n, 3), np.nan)
    observed = np.full((n, 3), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        # PUE against the cell's median
        pue_ref = c["pue"].to_numpy(dtype=np.float64)
        s = np.abs(np.log(pue / pue_ref)) / PUE_LOG_SD_FLOOR
        scores[:, 0] = np.where(ok & np.isfinite(s), s, 0)
        expected[:, 0], observed[:, 0] = pue_ref, pue
        # energy per token against the line (using the row's own PUE: a PUE change alone
        # is not a drift)
        a = np.nan_to_num(c["kwh_per_1k_input"].to_numpy(dtype=np.float64))
        b = np.nan_to_num(c["kwh_per_1k_output"].to_numpy(dtype=np.float64))
        mu = a * tin + b * tout
        var = tin**2 * np.nan_to_num(c["var_in"].to_numpy(dtype=np.float64)) + tout**2 * np.nan_to_num(
            c["var_out"].to_numpy(dtype=np.float64)
        )
        sd = np.sqrt(var / mu**2 + np.square(c["noise_sd"].to_numpy(dtype=np.float64)))
        sd = np.maximum(np.nan_to_num(sd), ENERGY_LOG_SD_FLOOR)
        s = np.abs(np.log(energy / pue / mu)) / sd
        scores[:, 1] = np.where(ok & np.isfinite(s), s, 0)
        expected[:, 1], observed[:, 1] = mu * pue, energy
        # grid intensity against the profile slot
        times = utc_times(df)
        li = m.grid.index(canonical_location_column(df["location"]))
        if times is not None:
            have = (li >= 0) & times.notna().to_numpy()
            mo = times.dt.month.fillna(1).to_numpy(dtype=np.int64) - 1
            ho = times.dt.hour.fillna(0).to_numpy(dtype=np.int64)
            lix = np.where(li >= 0, li, 0)
            g_ref = np.where(have, m.grid.mean[lix, mo, ho], np.nan)
            g_sd = np.maximum(np.where(have, m.grid.log_sd[lix, mo, ho], np.nan), GRID_LOG_SD_FLOOR)
            g = carbon / energy
            s = np.abs(np.log(g / g_ref)) / g_sd
            scores[:, 2] = np.where(ok & np.isfinite(s), s, 0)
            expected[:, 2], observed[:, 2] = g_ref, g
    top = scores.argmax(axis=1)
    best = scores[np.arange(n), top]
    hit = np.flatnonzero(best > threshold)
    if not len(hit):
        return empty
    out = df.iloc[hit].copy()
    out["reason"] = np.asarray(REASONS, dtype=object)[top[hit]]
    out["score"] = best[hit]
    out["expected"] = expected[hit, top[hit]]
    out["observed"] = observed[hit, top[hit]]
    return out.sort_values("score", ascending=False)
