"""A small stand-in for the emulator's simulator, following the same documented physics.

energy = (in/1000*kwh_in + out/1000*kwh_out) * pue * lognormal(2%); carbon = energy x
grid(country, month, hour); water = energy x wue. Used where the tests need full control
(edge cases, injected anomalies); validation runs on the emulator when it is installed.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

MODELS = {  # model: (kwh per 1k input, kwh per 1k output, eur per M in, eur per M out)
    "glm-4.7": (2.0e-5, 4.0e-4, 0.6, 2.2),
    "gpt-oss-120b": (6.0e-6, 1.2e-4, 0.15, 0.6),
    "mistral-small-3.2-24b-instruct": (4.0e-6, 9.0e-5, 0.1, 0.3),
}
SITES = {  # provider: (location, pue, wue, annual grid g/kWh)
    "ovhcloud": ("FR", 1.28, 0.18, 45.0),
    "nebius": ("FI", 1.10, 0.25, 75.0),
    "regolo": ("IT", 1.35, 0.30, 280.0),
}
SERVES = {
    "glm-4.7": ["ovhcloud", "nebius", "regolo"],
    "gpt-oss-120b": ["ovhcloud", "nebius"],
    "mistral-small-3.2-24b-instruct": ["regolo", "ovhcloud"],
}


def grid(location: str, month: np.ndarray, hour: np.ndarray) -> np.ndarray:
    base = next(s[3] for s in SITES.values() if s[0] == location)
    seasonal = 1.0 + 0.15 * np.cos(2 * np.pi * (month - 1) / 12)
    daily = 1.0 + 0.25 * np.cos(2 * np.pi * (hour - 19) / 24) - 0.1 * np.exp(-((hour - 13) ** 2) / 8)
    return base * seasonal * daily


def simulate(
    n: int = 20_000,
    *,
    seed: int = 0,
    days: int = 90,
    noise: float = 0.02,
    weights: dict[tuple[str, str], float] | None = None,
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cells = [(m, p) for m, ps in SERVES.items() for p in ps]
    w = np.array([(weights or {}).get(c, 1.0) for c in cells], dtype=float)
    pick = rng.choice(len(cells), size=n, p=w / w.sum())
    model = np.array([cells[i][0] for i in pick], dtype=object)
    provider = np.array([cells[i][1] for i in pick], dtype=object)
    loc = np.array([SITES[p][0] for p in provider], dtype=object)
    pue = np.array([SITES[p][1] for p in provider])
    wue = np.array([SITES[p][2] for p in provider])
    kin = np.array([MODELS[m][0] for m in model])
    kout = np.array([MODELS[m][1] for m in model])
    tin = rng.lognormal(6.5, 1.0, n).astype(np.int64) + 1
    tout = rng.lognormal(5.0, 0.9, n).astype(np.int64) + 1
    start = pd.Timestamp("2026-06-01", tz="UTC")
    at = start + pd.to_timedelta(rng.uniform(0, days * 86400, n), unit="s")
    at = pd.DatetimeIndex(at).floor("us")
    true_energy = (tin / 1000 * kin + tout / 1000 * kout) * pue
    energy = true_energy * rng.lognormal(0.0, noise, n)
    g = np.empty(n)
    for location in set(loc):
        mask = loc == location
        g[mask] = grid(location, at.month.to_numpy()[mask], at.hour.to_numpy()[mask])
    price_in = np.array([MODELS[m][2] for m in model])
    price_out = np.array([MODELS[m][3] for m in model])
    credits = [Decimal(round(c * 1e9)) / Decimal(10**9) for c in (tin * price_in + tout * price_out) / 1e6]
    return pd.DataFrame(
        {
            "captured_at": at,
            "model": model,
            "provider_id": provider,
            "location": loc,
            "input_tokens": tin,
            "output_tokens": tout,
            "energy_kwh": energy,
            "carbon_g_co2": energy * g,
            "water_liters": energy * wue,
            "renewable_percent": 50.0,
            "pue": pue,
            "impact_reported": True,
            "billing_energy": [c * 10000 for c in credits],
            "billing_credits": credits,
            "billing_paid_with": "credits",
            "latency_ms": tout * 20.0,
            "true_energy_kwh": true_energy,
            "true_carbon_g_co2": true_energy * g,
            "true_kwh_per_1k_input": kin,
            "true_kwh_per_1k_output": kout,
        }
    )
