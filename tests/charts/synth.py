"""Small deterministic request frames for chart and report tests.

A small generator of its own (not the emulator), so the chart tests pin exact inputs:
``tiny_frame`` is fixed, and chart snapshots are built from it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from melious_impact.records import COLUMN_NAMES, empty_row

_CELLS = (  # model, provider, location, kWh per 1k in, kWh per 1k out, pue, grid g/kWh, renewable %
    ("glm-4.7", "ovhcloud", "FR", 0.00002, 0.0004, 1.25, 55.0, 80.0),
    ("glm-4.7", "nebius", "FI", 0.00002, 0.0004, 1.10, 80.0, 60.0),
    ("qwen3-8b", "ovhcloud", "FR", 0.000004, 0.00008, 1.25, 55.0, 80.0),
    ("llama-3.3-70b", "scaleway", "NL", 0.00003, 0.0006, 1.35, 300.0, 45.0),
)


def own_requests(
    n: int = 2000,
    *,
    days: int = 28,
    seed: int = 7,
    teams: tuple[str, ...] = ("search", "support", "research"),
    start: datetime = datetime(2026, 10, 1, tzinfo=UTC),
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        cell = _CELLS[int(rng.integers(len(_CELLS)))]
        model, provider, loc, kin, kout, pue, grid, ren = cell
        row = empty_row()
        at = start + timedelta(seconds=float(rng.uniform(0, days * 86400)))
        tin, tout = int(rng.integers(50, 3000)), int(rng.integers(10, 800))
        hour_factor = 1 + 0.3 * np.sin((at.hour - 6) / 24 * 2 * np.pi)
        energy = (tin / 1000 * kin + tout / 1000 * kout) * pue
        row.update(
            captured_at=at,
            endpoint="/v1/chat/completions",
            status_code=200,
            model=model,
            input_tokens=tin,
            output_tokens=tout,
            team=teams[i % len(teams)],
            project="p1",
            request_id=f"r{i}",
            record_id=f"{i:032x}",
            source="live",
        )
        if rng.random() < 0.03:
            row.update(status_code=429, error_code="INFERENCE_3207", input_tokens=None, output_tokens=None)
        elif rng.random() < 0.05:
            row.update(
                impact_reported=False,
                billing_paid_with="credits",
                billing_credits=Decimal(tin + tout) * Decimal("0.0000004"),
            )
        else:
            row.update(
                impact_reported=True,
                energy_kwh=energy,
                carbon_g_co2=energy * grid * hour_factor,
                water_liters=energy * 0.5,
                renewable_percent=ren,
                pue=pue,
                provider_id=provider,
                location=loc,
            )
            if i % 2:
                row.update(
                    billing_paid_with="credits", billing_credits=Decimal(tin + tout) * Decimal("0.0000004")
                )
            else:
                row.update(billing_paid_with="energy", billing_energy=Decimal(tin + tout) * Decimal("0.004"))
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMN_NAMES))


def tiny_frame() -> pd.DataFrame:
    """Twelve fixed rows over three days: the input of every chart snapshot."""
    return own_requests(12, days=3, seed=1)
