"""Input handling shared by fit, predict, fill and anomalies: frames in, clean arrays out."""

from __future__ import annotations

import numpy as np
import pandas as pd

from melious_impact.errors import ModelError


def require_columns(df: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} needs the columns {', '.join(missing)} (see melious_impact.records)")


def floats(df: pd.DataFrame, column: str) -> np.ndarray:
    """A float64 array of a column (nan where missing or absent)."""
    if column not in df.columns:
        return np.full(len(df), np.nan)
    values = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(values, dtype=np.float64)


def reported_mask(df: pd.DataFrame) -> np.ndarray:
    """Rows whose impact was reported (a missing column means every row with energy)."""
    if "impact_reported" not in df.columns:
        return np.asarray(np.isfinite(floats(df, "energy_kwh")), dtype=bool)
    return np.asarray(df["impact_reported"].fillna(False).to_numpy(dtype=bool), dtype=bool)


def utc_times(df: pd.DataFrame) -> pd.Series | None:
    """``captured_at`` as a UTC datetime series, or None when the column is absent or empty."""
    if "captured_at" not in df.columns or df["captured_at"].isna().all():
        return None
    ts = pd.to_datetime(df["captured_at"], utc=True)
    return ts


def check_not_empty(n: int, what: str) -> None:
    if n == 0:
        raise ModelError(
            f"nothing to fit: {what} has no reported rows with tokens, energy and PUE "
            "(capture some responses that carry environment_impact first)"
        )


def canonical_location_column(values: pd.Series) -> pd.Series:
    """A location column with every spelling of a country as its alpha-2 code (see
    :mod:`melious_impact.model.locations`); unknown strings and missing values unchanged."""
    from melious_impact.model.locations import canonical_locations

    uniq = pd.unique(values.dropna())
    mapping = dict(zip(uniq, canonical_locations(uniq), strict=True))
    return values.map(lambda v: mapping.get(v, v) if isinstance(v, str) else v)


class KeyCodes:
    """Integer codes of model, provider_id and location for every row (-1 where missing).

    Factorising each column once and working on integers is what keeps a fit on a million
    rows within seconds (string columns are Arrow-backed and costly to touch repeatedly).
    """

    def __init__(self, df: pd.DataFrame) -> None:
        self.model, self.models = self._factorize(df, "model")
        self.provider, self.providers = self._factorize(df, "provider_id")
        self.location, self.locations = self._canonical(*self._factorize(df, "location"))

    @staticmethod
    def _canonical(codes: np.ndarray, names: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Spellings of one country ("France", "fr", "FRA") become one key, its alpha-2
        code; a string that names no country stays as it was, its own key."""
        from melious_impact.model.locations import canonical_locations

        if not len(names):
            return codes, names
        remap, merged = pd.factorize(pd.Series(canonical_locations(names), dtype=object))
        out = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1).astype(np.intp)
        return out, np.asarray(merged, dtype=object)

    @staticmethod
    def _factorize(df: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
        if column not in df.columns:
            return np.full(len(df), -1, dtype=np.intp), np.empty(0, dtype=object)
        codes, uniques = pd.factorize(df[column])
        return codes.astype(np.intp), np.asarray(uniques, dtype=object)

    @property
    def complete(self) -> np.ndarray:
        return (self.model >= 0) & (self.provider >= 0) & (self.location >= 0)


def dense_codes(combined: np.ndarray, total: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(combined, return_inverse=True)`` in O(n) for non-negative codes < total.

    Key combinations are few (models x providers x locations), so a counting pass beats the
    sort ``np.unique`` does on a million rows.
    """
    if total > 50_000_000 or len(combined) == 0:
        uniq, inverse = np.unique(combined, return_inverse=True)
        return uniq, inverse.astype(np.intp)
    present = np.bincount(combined, minlength=total) > 0
    uniq = np.flatnonzero(present)
    remap = np.cumsum(present) - 1
    return uniq, remap[combined].astype(np.intp)
