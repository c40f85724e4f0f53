"""Edges found in review: sites never measured, clipped coefficients, intervals holding values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import melious_impact as mi
from melious_impact.emulator import simulate_requests
from melious_impact.errors import ModelError


@pytest.fixture(scope="module")
def fitted() -> tuple[pd.DataFrame, mi.IntensityModel]:
    df = simulate_requests(20000, days=30, seed=9)
    df = df[[c for c in df.columns if not c.startswith("true_")]]
    return df, mi.fit_intensity(df)


def test_a_site_never_measured_for_the_model_is_unknown_never_zero(fitted) -> None:
    _, m = fitted
    w = pd.DataFrame(
        {"model": "glm-4.7", "input_tokens": 1000, "output_tokens": 1000, "location": ["US", "ZZ"]}
    )
    with pytest.raises(ModelError, match="never measured"):
        m.predict(w)
    p = m.predict(w, errors="coerce")
    assert p["energy_kwh"].isna().all() and p["carbon_g_co2"].isna().all()
    assert (p["basis"] == "unknown").all()
    assert p["warnings"].str.contains("no_matching_site").all()
    acme = m.predict(
        pd.DataFrame({"model": ["glm-4.7"], "input_tokens": 1, "output_tokens": 1, "provider_id": "acme"}),
        errors="coerce",
    )
    assert np.isnan(acme["energy_kwh"].iloc[0])


def test_fill_missing_leaves_unmatched_rows_unestimated(fitted) -> None:
    df, m = fitted
    row = df[df["model"] == "glm-4.7"].head(1).copy()
    row[["energy_kwh", "carbon_g_co2", "water_liters", "pue", "provider_id"]] = None
    row["impact_reported"] = False
    row["location"] = "US"
    out = mi.fill_missing(row, m)
    assert not bool(out["impact_estimated"].iloc[0])
    assert np.isnan(float(out["energy_kwh"].iloc[0]))


def test_unknown_grid_says_why_carbon_is_missing(fitted) -> None:
    _, m = fitted
    w = pd.DataFrame(
        {
            "model": ["glm-4.7"],
            "input_tokens": 100,
            "output_tokens": 100,
            "provider_id": "ovhcloud",
            "location": "XX",
        }
    )
    p = m.predict(w, errors="coerce")
    assert np.isnan(p["carbon_g_co2"].iloc[0])
    assert "location_unknown" in p["warnings"].iloc[0]  # "XX" names no country
    p = m.predict(w.assign(location="NZ"), errors="coerce")  # a country without shipped data
    assert np.isnan(p["carbon_g_co2"].iloc[0])
    assert "grid_unknown" in p["warnings"].iloc[0]


def test_measured_intervals_stay_bounded_and_hold_the_estimate(fitted) -> None:
    df, m = fitted
    t = m.table()
    for col in ("kwh_per_1k_input", "kwh_per_1k_output"):
        ok = t[col].notna()
        assert (t.loc[ok, f"{col}_low"] <= t.loc[ok, col]).all()
        assert (t.loc[ok, col] <= t.loc[ok, f"{col}_high"]).all()
    p = m.predict(df.sample(3000, random_state=0), errors="coerce")
    measured = p[(p["basis"] == "measured") & (p["energy_kwh"] > 0)]
    ratio = measured["energy_kwh_high"] / measured["energy_kwh"]
    # a clipped (~0) coefficient used to blow the upper bound up by 10^4
    assert ratio.max() < 10


def test_a_size_given_with_the_workload_gives_a_prior(fitted) -> None:
    _, m = fitted
    w = pd.DataFrame(
        {
            "model": ["my-finetune", "my-finetune-small"],
            "params_billions": [70.0, 8.0],
            "input_tokens": 1000,
            "output_tokens": 1000,
            "provider_id": "ovhcloud",
            "location": "FR",
        }
    )
    p = m.predict(w)
    assert (p["basis"] == "prior").all()
    assert p["energy_kwh"].iloc[0] > p["energy_kwh"].iloc[1] > 0  # bigger model, more energy
    with pytest.raises(ModelError, match="my-finetune"):
        m.predict(w.drop(columns="params_billions"))
