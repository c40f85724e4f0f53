"""Grid carbon intensity and renewable share by country, month and hour of day.

The annual figures are public (OWID grapher export of Ember data, CC BY 4.0, year 2024);
the monthly factors are derived from Ember's monthly country overview (CC BY 4.0): for
each country, the mean over 2022-2024 of (month intensity / that year's mean intensity),
renormalised so the twelve factors average exactly 1. The hour-of-day factor is *our*
documented smooth shape (no openly licensed hourly series exists for these countries):

    h(local hour) = 1 - solar * bump(13h, width 3h) + evening * bump(19h, width 2h), renormalised
    so that the 24 hourly factors average exactly 1,

where ``bump`` is a Gaussian on the circular hour distance. Intensity at a moment is
``annual * month_factor * hour_factor``, so the annual average is preserved (to within the
unequal month lengths). Renewable share moves against intensity:
``annual_share * (1 - 0.5 * (month_factor * hour_factor - 1))``, clipped to [0, 100].
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

import numpy as np

GRID_SOURCE = (
    "Our World in Data grapher 'carbon-intensity-electricity' and 'share-electricity-renewables' "
    "(Ember Yearly Electricity Data 2025; Energy Institute Statistical Review 2024), CC BY 4.0"
)
MONTHLY_SOURCE = (
    "Ember monthly country overview (ember-climate/ember-data-api, 2025-05-21), CC BY 4.0; 2022-2024 mean"
)
GRID_YEAR = 2024


@dataclass(frozen=True)
class GridProfile:
    """One country's grid: annual figures (with provenance) and the shape factors."""

    country: str  # ISO-3166 alpha-2
    annual_g_per_kwh: float  # g CO2e/kWh of generation, lifecycle (OWID/Ember)
    annual_renewable_percent: float  # % of generation
    year: int
    source: str
    monthly_factors: tuple[float, ...]  # 12 values, mean 1; source MONTHLY_SOURCE
    utc_offset_hours: int  # standard time; the shape is anchored on local solar hours
    solar_dip: float  # depth of the midday dip (fraction), our assumption
    evening_peak: float  # height of the evening peak (fraction), our assumption
    unit: str = "g CO2e/kWh"


def _norm(values: tuple[float, ...]) -> tuple[float, ...]:
    mean = sum(values) / len(values)
    return tuple(round(v / mean, 4) for v in values)


# Monthly factors: see module docstring for the derivation (values before renormalising).
GRID_PROFILES: dict[str, GridProfile] = {
    p.country: p
    for p in (
        GridProfile(
            "DE",
            344.13992,
            57.445427,
            GRID_YEAR,
            GRID_SOURCE,
            _norm((1.05, 0.98, 1.05, 0.93, 0.90, 0.96, 0.90, 1.01, 1.03, 1.03, 1.10, 1.05)),
            1,
            0.25,
            0.12,
        ),
        GridProfile(
            "FR",
            44.179085,
            26.243881,
            GRID_YEAR,
            GRID_SOURCE,
            _norm((1.32, 1.33, 1.24, 0.83, 0.74, 0.80, 0.89, 0.88, 0.85, 0.81, 1.17, 1.13)),
            1,
            0.10,
            0.15,
        ),
        GridProfile(
            "IT",
            287.5335,
            49.317913,
            GRID_YEAR,
            GRID_SOURCE,
            _norm((1.12, 1.13, 1.03, 0.88, 0.84, 0.90, 0.98, 0.98, 1.01, 1.01, 1.02, 1.09)),
            1,
            0.22,
            0.10,
        ),
        GridProfile(
            "IE",
            279.70218,
            45.322113,
            GRID_YEAR,
            GRID_SOURCE,
            _norm((0.99, 0.84, 0.96, 0.98, 1.13, 1.13, 1.15, 1.03, 1.10, 0.93, 0.92, 0.85)),
            0,
            0.05,
            0.12,
        ),
        GridProfile(
            "SE",
            35.823833,
            69.454254,
            GRID_YEAR,
            GRID_SOURCE,
            _norm((1.11, 1.06, 1.14, 1.13, 1.06, 0.93, 0.89, 0.84, 0.87, 0.84, 1.02, 1.11)),
            1,
            0.03,
            0.05,
        ),
        GridProfile(
            "FI",
            72.2488,
            55.418663,
            GRID_YEAR,
            GRID_SOURCE,
            _norm((1.47, 1.41, 1.36, 1.10, 0.84, 0.61, 0.57, 0.71, 0.66, 0.77, 1.18, 1.31)),
            2,
            0.05,
            0.10,
        ),
    )
}


def _bump(hour: np.ndarray, centre: float, width: float) -> np.ndarray:
    d = np.abs(hour - centre)
    d = np.minimum(d, 24.0 - d)  # circular: 23h is 1h from midnight
    return np.exp(-0.5 * (d / width) ** 2)


def _raw_hour_shape(p: GridProfile, local_hour: np.ndarray) -> np.ndarray:
    return 1.0 - p.solar_dip * _bump(local_hour, 13.0, 3.0) + p.evening_peak * _bump(local_hour, 19.0, 2.0)


def hour_factors(country: str) -> np.ndarray:
    """The 24 hour-of-day factors of a country indexed by **UTC** hour (mean exactly 1)."""
    return _hour_factors(country).copy()


@lru_cache(maxsize=32)
def _hour_factors(country: str) -> np.ndarray:
    p = profile(country)
    local = (np.arange(24, dtype=float) + p.utc_offset_hours) % 24
    raw = _raw_hour_shape(p, local)
    factors: np.ndarray = raw / float(raw.mean())
    factors.flags.writeable = False  # cached and shared: callers get a copy
    return factors


def profile(country: str) -> GridProfile:
    try:
        return GRID_PROFILES[country]
    except KeyError:
        raise ValueError(f"no grid profile for country {country!r}; known: {sorted(GRID_PROFILES)}") from None


def _utc_parts(when: datetime) -> tuple[int, int]:
    if when.tzinfo is None:
        raise ValueError("`when` must be timezone-aware (UTC); naive datetimes are ambiguous")
    utc = when.astimezone(UTC)
    return utc.month, utc.hour


def shape_factor(country: str, when: datetime) -> float:
    """month_factor * hour_factor at ``when`` (aware datetime)."""
    month, hour = _utc_parts(when)
    p = profile(country)
    return p.monthly_factors[month - 1] * float(_hour_factors(country)[hour])


def grid_intensity_g_per_kwh(country: str, when: datetime) -> float:
    """Grid carbon intensity (g CO2e/kWh) of ``country`` at ``when`` (aware datetime)."""
    return profile(country).annual_g_per_kwh * shape_factor(country, when)


def renewable_percent(country: str, when: datetime) -> float:
    """Renewable share (%) of ``country``'s generation at ``when``, moving against intensity."""
    p = profile(country)
    f = shape_factor(country, when)
    return float(min(100.0, max(0.0, p.annual_renewable_percent * (1.0 - 0.5 * (f - 1.0)))))


def grid_arrays(country: str) -> tuple[np.ndarray, np.ndarray]:
    """(12 monthly factors, 24 UTC-hour factors) as arrays: the vectorised form for simulate."""
    months: np.ndarray = np.asarray(profile(country).monthly_factors, dtype=float)
    return months, hour_factors(country)
