"""Grid carbon intensity by location, month and hour of day, as implied by the data.

Each reported row gives ``carbon_g_co2 / energy_kwh``: the intensity the provider applied
at that moment. Averaging those per (location, month, UTC hour) recovers the profile the
provider uses. Slots never observed are filled from the location's hour-of-day shape
scaled by the public monthly prior (Ember), so a prediction for an unseen month still
carries the observed daily shape; locations never observed use the prior alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from melious_impact.model.frames import dense_codes
from melious_impact.model.priors import Z90, Priors

Array = NDArray[np.float64]

# Days of each month in a common year: the weight of a month in a year's average. A data
# centre draws a near-flat load, so the intensity it sees over a year is the time-weighted
# mean of the months (not the demand-weighted one, which describes the grid's average
# consumer). The shipped monthly priors are scaled to this mean (data/factors/derive.py).
MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.float64)

# Relative sd given to a slot that was filled rather than observed: the month scaling is a
# national monthly average and can be off by this much for a given hour.
FILLED_SLOT_LOG_SD = 0.15


@dataclass(frozen=True)
class GridProfile:
    """Intensity (g CO2e/kWh) per location x month (1-12) x UTC hour (0-23)."""

    locations: tuple[str, ...]
    mean: Array  # shape (L, 12, 24): energy-weighted mean of implied intensity
    log_sd: Array  # spread of one request's intensity in that slot (log scale)
    n: NDArray[np.int64]  # observed rows per slot (0 where filled)
    location_mean: Array  # (L,) energy-weighted mean over all observed rows

    @property
    def annual_mean(self) -> Array:
        """(L,) the year's average of the profile: months weighted by their days, hours alike.

        What a request without a timestamp gets, so that an untimed estimate equals the
        average of a year of timed ones."""
        if not len(self.locations):
            return np.zeros(0)
        return np.asarray(self.mean.mean(axis=2) @ MONTH_DAYS / MONTH_DAYS.sum(), dtype=np.float64)

    def index(self, locations: pd.Series) -> NDArray[np.intp]:
        """Row index into the profile for each location (-1 where never observed)."""
        lookup = {loc: i for i, loc in enumerate(self.locations)}
        return np.asarray(locations.map(lookup).fillna(-1).to_numpy(dtype=np.intp), dtype=np.intp)

    def frame(self) -> pd.DataFrame:
        """Long table: location, month, hour, grid_g_per_kwh with a 90% interval, n_requests."""
        nl = len(self.locations)
        loc, month, hour = np.meshgrid(np.arange(nl), np.arange(12), np.arange(24), indexing="ij")
        mean = self.mean.ravel()
        sd = self.log_sd.ravel()
        return pd.DataFrame(
            {
                "location": np.asarray(self.locations, dtype=object)[loc.ravel()] if nl else [],
                "month": month.ravel() + 1,
                "hour_utc": hour.ravel(),
                "grid_g_per_kwh": mean,
                "grid_g_per_kwh_low": mean * np.exp(-Z90 * sd),
                "grid_g_per_kwh_high": mean * np.exp(Z90 * sd),
                "n_requests": self.n.ravel(),
                "observed": self.n.ravel() > 0,
            }
        )


def fit_grid(
    location_codes: NDArray[np.intp],
    location_names: NDArray[np.object_],
    captured_at: pd.Series | None,
    energy: Array,
    carbon: Array,
    priors: Priors,
) -> GridProfile:
    """Build the profile from rows with positive energy and finite carbon."""
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(energy) & np.isfinite(carbon) & (energy > 0) & (carbon >= 0) & (location_codes >= 0)
    if captured_at is not None:
        ok &= captured_at.notna().to_numpy()
    used, loc_codes = dense_codes(location_codes[ok], max(len(location_names), 1))
    locations = location_names[used]
    nl = len(locations)
    if nl == 0:
        empty = np.zeros((0, 12, 24))
        return GridProfile((), empty, empty, empty.astype(np.int64), np.zeros(0))
    e = energy[ok]
    g = carbon[ok] / e
    if captured_at is not None:
        ts = pd.DatetimeIndex(captured_at[ok])
        if ts.tz is not None:
            ts = ts.tz_convert("UTC")
        month = ts.month.to_numpy() - 1
        hour = ts.hour.to_numpy()
    else:  # no timestamps: one flat level per location
        month = np.zeros(len(e), dtype=np.int64)
        hour = np.zeros(len(e), dtype=np.int64)
    slot = (loc_codes * 12 + month) * 24 + hour
    size = nl * 12 * 24
    lg = np.log(np.maximum(g, 1e-9))
    return grid_from_slots(
        tuple(str(x) for x in locations),
        np.bincount(slot, minlength=size),
        np.asarray(np.bincount(slot, weights=e, minlength=size), dtype=np.float64),
        np.asarray(np.bincount(slot, weights=carbon[ok], minlength=size), dtype=np.float64),
        np.asarray(np.bincount(slot, weights=lg, minlength=size), dtype=np.float64),
        np.asarray(np.bincount(slot, weights=lg * lg, minlength=size), dtype=np.float64),
        timed=captured_at is not None,
        priors=priors,
    )


def grid_from_slots(
    locations: tuple[str, ...],
    n: NDArray[np.int64],
    sum_e: Array,
    sum_c: Array,
    sum_lg: Array,
    sum_lg2: Array,
    *,
    timed: bool,
    priors: Priors,
) -> GridProfile:
    """The profile from per-slot sums (slot = (location * 12 + month) * 24 + hour): count,
    energy, carbon, and log implied intensity and its square. Shared by the row-level fit
    above and the in-database one (:mod:`.sql_fit`), which computes the sums in a GROUP BY."""
    nl = len(locations)
    if nl == 0:
        empty = np.zeros((0, 12, 24))
        return GridProfile((), empty, empty, empty.astype(np.int64), np.zeros(0))
    # Energy-weighted mean: total carbon / total energy, what predicted totals must match.
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = sum_c / sum_e
        m1 = sum_lg / n
        m2 = sum_lg2 / n
        log_sd = np.sqrt(np.maximum(m2 - m1 * m1, 0.0) * n / np.maximum(n - 1, 1))
        loc_mean = sum_c.reshape(nl, -1).sum(axis=1) / sum_e.reshape(nl, -1).sum(axis=1)
    mean = mean.reshape(nl, 12, 24)
    log_sd = log_sd.reshape(nl, 12, 24)
    n = np.asarray(n).reshape(nl, 12, 24)
    if not timed:
        mean[:] = loc_mean[:, None, None]
        log_sd[:] = np.maximum(log_sd[:, :1, :1], FILLED_SLOT_LOG_SD)
        n = np.zeros_like(n)
    else:
        _fill_unobserved(mean, log_sd, n, locations, priors)
    return GridProfile(locations, mean, log_sd, n.astype(np.int64), loc_mean)


def _fill_unobserved(
    mean: Array, log_sd: Array, n: NDArray[np.int64], locations: tuple[str, ...], priors: Priors
) -> None:
    """Fill empty slots in place: observed hour shape x prior month ratio, else location mean."""
    for i, loc in enumerate(locations):
        seen = n[i] > 0
        if seen.all():
            continue
        try:
            month_prior = np.array([p.value for p in priors.grid_months(loc)])
        except Exception:  # location outside the prior tables: keep a flat seasonal shape
            month_prior = np.ones(12)
        seen_months = seen.any(axis=1)
        # Hour shape: mean over observed months of slot / month prior, so months of
        # different seasons are put on one scale before averaging.
        with np.errstate(invalid="ignore", divide="ignore"):
            scaled = np.where(seen, mean[i] / month_prior[:, None], 0.0)
            count = seen.sum(axis=0)
            hour_level = np.where(count > 0, scaled.sum(axis=0) / np.maximum(count, 1), np.nan)  # (24,)
        if np.isnan(hour_level).any():  # some hours never seen: use the flat level there
            hour_level = np.where(np.isnan(hour_level), hour_level[~np.isnan(hour_level)].mean(), hour_level)
        filled = month_prior[:, None] * hour_level[None, :]
        sd_seen = float(np.median(log_sd[i][seen])) if seen.any() else 0.0
        fill_sd = float(np.hypot(sd_seen, FILLED_SLOT_LOG_SD))
        # A month seen at some hours keeps its own level: scale the shape to match it.
        for m in np.flatnonzero(seen_months & ~seen.all(axis=1)):
            ratio = float(np.mean(mean[i, m][seen[m]] / filled[m][seen[m]]))
            filled[m] *= ratio
        mean[i] = np.where(seen, mean[i], filled)
        log_sd[i] = np.where(seen, log_sd[i], fill_sd)
