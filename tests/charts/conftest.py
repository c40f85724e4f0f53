"""Fixtures for chart tests: fixed frames, and the spec snapshot helper.

Snapshots live in tests/charts/snapshots/<name>.json: the Vega-Lite dict with every
dataset replaced by a summary (row count and columns) and dataset names numbered in
order of appearance, so they change only when the chart's structure does. Update them
with ``MI_UPDATE_SNAPSHOTS=1 pytest tests/charts``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from synth import own_requests, tiny_frame

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE_ENV = "MI_UPDATE_SNAPSHOTS"


def summarized_spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    spec = chart.to_dict()
    datasets = spec.pop("datasets", {})
    text = json.dumps(spec, sort_keys=True)
    order = sorted(datasets, key=lambda n: (text.find(f'"{n}"'), n))
    renames = {name: f"data-{i}" for i, name in enumerate(order)}
    for old, new in renames.items():
        text = text.replace(f'"{old}"', f'"{new}"')
    out = json.loads(text)
    out["datasets"] = {
        renames[name]: {"rows": len(rows), "columns": sorted({k for r in rows for k in r})}
        for name, rows in datasets.items()
    }
    return out


@pytest.fixture
def snapshot() -> Callable[[str, alt.TopLevelMixin], None]:
    def check(name: str, chart: alt.TopLevelMixin) -> None:
        got = summarized_spec(chart)
        path = SNAPSHOTS / f"{name}.json"
        if os.environ.get(UPDATE_ENV) or not path.exists():
            if not os.environ.get(UPDATE_ENV) and os.environ.get("CI"):
                pytest.fail(f"missing snapshot {path.name}: run with {UPDATE_ENV}=1 and commit it")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        want = json.loads(path.read_text(encoding="utf-8"))
        assert got == want, f"chart spec {name} changed: if intended, rerun with {UPDATE_ENV}=1"

    return check


@pytest.fixture(scope="session")
def tiny() -> pd.DataFrame:
    return tiny_frame()


@pytest.fixture(scope="session")
def requests_df() -> pd.DataFrame:
    return own_requests(3000, days=28, seed=7)


@pytest.fixture
def intensity_table() -> pd.DataFrame:
    """The shape of ``IntensityModel.table()``, fixed values."""
    return pd.DataFrame(
        {
            "model": ["glm-4.7", "glm-4.7", "qwen3-8b"],
            "provider_id": ["ovhcloud", "nebius", "ovhcloud"],
            "location": ["FR", "FI", "FR"],
            "kwh_per_1k_input": [2e-5, 2.2e-5, 4e-6],
            "kwh_per_1k_input_low": [1.8e-5, 1.9e-5, 3e-6],
            "kwh_per_1k_input_high": [2.2e-5, 2.5e-5, 5e-6],
            "kwh_per_1k_output": [4e-4, 4.4e-4, 8e-5],
            "kwh_per_1k_output_low": [3.9e-4, 4.1e-4, 7e-5],
            "kwh_per_1k_output_high": [4.1e-4, 4.7e-4, 9e-5],
            "grid_g_per_kwh": [55.0, 80.0, 55.0],
            "water_l_per_kwh": [0.2, 0.05, 0.2],
            "pue": [1.25, 1.1, 1.25],
            "n_requests": [400, 250, 0],
            "basis": ["measured", "measured", "prior"],
            "factor_version": ["2026.11.1"] * 3,
        }
    )


@pytest.fixture
def forecast_frame() -> pd.DataFrame:
    """The shape of ``mi.forecast``: date, team, mean, low, high."""
    dates = pd.date_range("2026-10-29", periods=7, freq="D")
    return pd.DataFrame(
        {
            "date": list(dates) * 2,
            "team": ["search"] * 7 + ["support"] * 7,
            "metric": "cost_eur",
            "mean": [1.0] * 7 + [2.0] * 7,
            "low": [0.5] * 7 + [1.5] * 7,
            "high": [1.5] * 7 + [2.5] * 7,
        }
    )


@pytest.fixture
def scenario_frame() -> pd.DataFrame:
    """Two ``mi.scenario`` results (one row per metric) with a scenario_name column."""
    rows = []
    for name, d in (("routed with flavor 'eco'", -40.0), ("shifted to the cleanest hour of each day", -10.0)):
        for metric, scale in (
            ("energy_kwh", 0.01),
            ("carbon_g_co2", 1.0),
            ("water_liters", 0.1),
            ("cost_eur", 0.0),
        ):
            rows.append(
                {
                    "scenario_name": name,
                    "metric": metric,
                    "baseline": 100.0 * scale,
                    "scenario": (100.0 + d) * scale,
                    "delta": d * scale,
                    "delta_low": (d - 2) * scale,
                    "delta_high": (d + 2) * scale,
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture
def anomalies_frame() -> pd.DataFrame:
    """The shape of ``IntensityModel.anomalies`` (reason, score, expected, observed)."""
    return pd.DataFrame(
        {
            "captured_at": pd.to_datetime(["2026-10-02T10:00Z", "2026-10-05T03:00Z", "2026-10-09T18:00Z"]),
            "model": ["glm-4.7", "glm-4.7", "qwen3-8b"],
            "provider_id": ["ovhcloud", "nebius", "ovhcloud"],
            "location": ["FR", "FI", "FR"],
            "team": ["search", "support", "search"],
            "reason": ["pue_change", "grid_intensity_outlier", "energy_per_token_drift"],
            "score": [7.0, 9.5, 6.1],
            "expected": [1.25, 80.0, 0.001],
            "observed": [1.6, 240.0, 0.004],
        }
    )
