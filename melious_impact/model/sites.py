"""Per-site (provider_id, location) PUE and water factor, as reported."""

from __future__ import annotations

import numpy as np
import pandas as pd

from melious_impact.model.frames import KeyCodes, dense_codes, floats, reported_mask

SITE_COLUMNS = ["provider_id", "location", "pue", "water_l_per_kwh", "water_log_sd", "n_requests"]


def fit_sites(df: pd.DataFrame, keys: KeyCodes) -> pd.DataFrame:
    """One row per (provider_id, location): median PUE, water L/kWh with its log spread, n.

    The water factor is total water / total energy (what predicted totals must match); its
    spread is that of the per-request ratio, which is constant where the provider applies
    one factor.
    """
    energy = floats(df, "energy_kwh")
    water = floats(df, "water_liters")
    pue = floats(df, "pue")
    with np.errstate(invalid="ignore"):
        ok = (
            reported_mask(df)
            & (keys.provider >= 0)
            & (keys.location >= 0)
            & np.isfinite(energy)
            & (energy > 0)
        )
    if not ok.any():
        return empty_sites()
    nl = len(keys.locations)
    combined = keys.provider[ok].astype(np.int64) * nl + keys.location[ok]
    uniq, code = dense_codes(combined, max(len(keys.providers), 1) * max(nl, 1))
    k = len(uniq)
    e, w, p = energy[ok], water[ok], pue[ok]
    with np.errstate(invalid="ignore", divide="ignore"):
        has_w = np.isfinite(w) & (w >= 0)
        lr = np.where(has_w & (w > 0), np.log(w / e), np.nan)
    fin = np.isfinite(lr)
    good_p = np.isfinite(p) & (p >= 1)
    pue_med = pd.Series(np.where(good_p, p, np.nan)).groupby(code).median().reindex(range(k)).to_numpy()
    return sites_from_sums(
        keys.providers[uniq // nl],
        keys.locations[uniq % nl],
        np.bincount(code, minlength=k),
        np.bincount(code, weights=np.where(has_w, w, 0.0), minlength=k),
        np.bincount(code, weights=np.where(has_w, e, 0.0), minlength=k),
        np.bincount(code, weights=fin.astype(float), minlength=k),
        np.bincount(code, weights=np.where(fin, lr, 0.0), minlength=k),
        np.bincount(code, weights=np.where(fin, lr * lr, 0.0), minlength=k),
        pue_med,
    )


def empty_sites() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype=object if c in ("provider_id", "location") else float) for c in SITE_COLUMNS}
    )


def sites_from_sums(
    providers: np.ndarray,
    locations: np.ndarray,
    n: np.ndarray,
    sum_w: np.ndarray,
    sum_e: np.ndarray,
    cnt: np.ndarray,
    sum_lr: np.ndarray,
    sum_lr2: np.ndarray,
    pue_med: np.ndarray,
) -> pd.DataFrame:
    """The site table from per-site sums (water and energy of rows with water; count, sum
    and sum of squares of log water per kWh) and the median PUE: shared by the row-level
    fit above and the in-database one (:mod:`.sql_fit`)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        m1 = sum_lr / cnt
        m2 = sum_lr2 / cnt
        log_sd = np.sqrt(np.maximum(m2 - m1 * m1, 0.0) * cnt / np.maximum(cnt - 1, 1))
        water_factor = np.where(sum_e > 0, sum_w / sum_e, np.nan)
    return pd.DataFrame(
        {
            "provider_id": providers,
            "location": locations,
            "pue": pue_med,
            "water_l_per_kwh": water_factor,
            "water_log_sd": np.nan_to_num(log_sd),
            "n_requests": np.asarray(n, dtype=np.int64),
        }
    )
