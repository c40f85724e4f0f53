"""A second generator of request rows, independent of the emulator and of ``model_synth``.

Sites are written the way callers may write them (alpha-2, alpha-3, English names, sub-zone
codes), each with its own PUE, water per reported kWh and a monthly x hourly grid shape.
Energy per token follows the documented physics with a heavier (5%) scatter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Site:
    provider_id: str
    location: str  # as written in the rows
    pue: float
    water_l_per_kwh: float  # per kWh of reported energy (PUE included)
    grid_g_per_kwh: float  # annual level


SITES = (
    Site("alpha", "FI-HEL1", 1.20, 0.20, 70.0),
    Site("beta", "SE", 1.15, 0.10, 40.0),
    Site("gamma", "Switzerland", 1.30, 0.35, 60.0),
)
MODELS = {"m-small-8b": (3e-6, 6e-5), "m-large-70b": (2e-5, 4e-4)}


def generate(n: int, *, seed: int, days: int = 365, sites: tuple[Site, ...] = SITES) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    model = rng.choice(list(MODELS), size=n)
    site_i = rng.integers(0, len(sites), size=n)
    tin = rng.integers(1, 20_000, size=n)
    tout = rng.integers(1, 4_000, size=n)
    at = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, days * 86400, n), unit="s")
    at = pd.DatetimeIndex(at).floor("s")
    kin = np.array([MODELS[m][0] for m in model])
    kout = np.array([MODELS[m][1] for m in model])
    pue = np.array([sites[i].pue for i in site_i])
    energy = (tin / 1000 * kin + tout / 1000 * kout) * pue * rng.lognormal(0.0, 0.05, n)
    level = np.array([sites[i].grid_g_per_kwh for i in site_i])
    shape = (1 + 0.2 * np.sin(2 * np.pi * at.month.to_numpy() / 12)) * (
        1 + 0.1 * np.cos(2 * np.pi * at.hour.to_numpy() / 24)
    )
    return pd.DataFrame(
        {
            "captured_at": at,
            "model": model,
            "provider_id": [sites[i].provider_id for i in site_i],
            "location": [sites[i].location for i in site_i],
            "input_tokens": tin,
            "output_tokens": tout,
            "energy_kwh": energy,
            "carbon_g_co2": energy * level * shape,
            "water_liters": energy * np.array([sites[i].water_l_per_kwh for i in site_i]),
            "pue": pue,
            "impact_reported": True,
        }
    )
