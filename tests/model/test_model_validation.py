"""Validation on emulator data with known truth (the emulator's own factor tables)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import melious_impact as mi
from melious_impact.emulator.catalogue import MODELS, PROVIDERS
from melious_impact.emulator.simulate import simulate_requests

KEY = ["model", "provider_id", "location"]


def truth_by_cell(df: pd.DataFrame) -> pd.DataFrame:
    rep = df[df["impact_reported"]]
    return rep.groupby(KEY)[["true_kwh_per_1k_input", "true_kwh_per_1k_output"]].first().reset_index()


def recovered(model: mi.IntensityModel, df: pd.DataFrame) -> pd.DataFrame:
    return model.table().merge(truth_by_cell(df), on=KEY)


def test_per_token_energy_recovered_in_well_observed_cells(emu_df, emu_model):
    t = recovered(emu_model, emu_df)
    big = t[t["n_requests"] >= 300]
    assert len(big) >= 20
    out = big[big["true_kwh_per_1k_output"] > 0]
    err_out = (out["kwh_per_1k_output"] / out["true_kwh_per_1k_output"] - 1).abs()
    assert err_out.max() < 0.03, out.assign(err=err_out)
    inp = big[big["true_kwh_per_1k_input"] > 0]
    err_in = (inp["kwh_per_1k_input"] / inp["true_kwh_per_1k_input"] - 1).abs()
    assert err_in.max() < 0.10, inp.assign(err=err_in)
    assert (big["basis"] == "measured").all()


def test_site_factors_recovered(emu_df, emu_model):
    t = emu_model.table()
    for row in t.itertuples():
        p = PROVIDERS[row.provider_id]
        assert row.pue == pytest.approx(p.pue, rel=1e-9)
        assert row.water_l_per_kwh == pytest.approx(p.wue_l_per_kwh, rel=1e-6)
        assert row.location == p.country


@pytest.mark.slow
def test_interval_coverage_near_nominal_over_seeds():
    hits, total = 0, 0
    for seed in range(40):
        df = simulate_requests(12_000, days=30, seed=100 + seed)
        t = recovered(mi.fit_intensity(df), df)
        t = t[t["basis"] == "measured"]
        for side in ("input", "output"):
            true = t[f"true_kwh_per_1k_{side}"]
            ok = true > 0
            inside = (t[f"kwh_per_1k_{side}_low"] <= true) & (true <= t[f"kwh_per_1k_{side}_high"])
            hits += int(inside[ok].sum())
            total += int(ok.sum())
    coverage = hits / total
    assert total > 1000
    assert 0.82 <= coverage <= 0.97, coverage


def test_held_out_prediction_error(emu_df):
    rep = emu_df[emu_df["impact_reported"]].reset_index(drop=True)
    rng = np.random.default_rng(7)
    test = rng.random(len(rep)) < 0.2
    m = mi.fit_intensity(rep[~test])
    held = rep[test]
    p = m.predict(held[["model", "provider_id", "location", "input_tokens", "output_tokens", "captured_at"]])
    mape_e = np.mean(np.abs(p["energy_kwh"].to_numpy() / held["energy_kwh"].to_numpy() - 1))
    mape_c = np.mean(np.abs(p["carbon_g_co2"].to_numpy() / held["carbon_g_co2"].to_numpy() - 1))
    assert mape_e <= 0.05
    assert mape_c <= 0.06
    # the one-request intervals hold about 90% of the reported figures
    inside = (held["energy_kwh"].to_numpy() >= p["energy_kwh_low"].to_numpy()) & (
        held["energy_kwh"].to_numpy() <= p["energy_kwh_high"].to_numpy()
    )
    assert 0.85 <= inside.mean() <= 0.95


def test_sparse_cell_is_pooled_and_close(emu_df):
    rep = emu_df[emu_df["impact_reported"]]
    sparse = (rep["model"] == "glm-4.7") & (rep["provider_id"] == "regolo")
    keep = rep[~sparse | (sparse.cumsum() <= 8)]
    m = mi.fit_intensity(keep)
    row = m.table().set_index(KEY).loc[("glm-4.7", "regolo", "IT")]
    assert row["basis"] == "pooled"
    assert row["n_requests"] == 8
    truth = MODELS["glm-4.7"]
    assert row["kwh_per_1k_output"] == pytest.approx(truth.kwh_per_1k_output, rel=0.08)
    assert row["kwh_per_1k_input"] == pytest.approx(truth.kwh_per_1k_input, rel=0.08)
    assert row["kwh_per_1k_output_low"] <= truth.kwh_per_1k_output <= row["kwh_per_1k_output_high"]


def test_unseen_provider_for_a_model_is_pooled(emu_df, emu_model):
    # gpt-oss-20b never runs at nebius, but nebius' PUE is known from other models
    w = pd.DataFrame(
        {
            "model": ["gpt-oss-20b"],
            "provider_id": ["nebius"],
            "location": ["FI"],
            "input_tokens": [2000],
            "output_tokens": [500],
            "captured_at": [pd.Timestamp("2026-02-10 14:00", tz="UTC")],
        }
    )
    p = emu_model.predict(w)
    spec, prov = MODELS["gpt-oss-20b"], PROVIDERS["nebius"]
    true = (2 * spec.kwh_per_1k_input + 0.5 * spec.kwh_per_1k_output) * prov.pue
    assert p["basis"].iloc[0] == "pooled"
    assert p["energy_kwh"].iloc[0] == pytest.approx(true, rel=0.08)
    assert "pooled_energy" in p["warnings"].iloc[0]


def test_grid_profile_matches_emulator_hours(emu_df, emu_model):
    prof = emu_model.grid_profile()
    obs = prof[prof["observed"]]
    rep = emu_df[emu_df["impact_reported"]]
    ts = rep["captured_at"].dt
    true = (
        rep.groupby([rep["location"], ts.month.rename("month"), ts.hour.rename("hour_utc")])[
            "true_grid_g_per_kwh"
        ]
        .mean()
        .rename("true")
        .reset_index()
    )
    j = obs.merge(true, on=["location", "month", "hour_utc"])
    assert len(j) == len(obs)
    assert np.allclose(j["grid_g_per_kwh"], j["true"], rtol=1e-9)
    # filled months keep the observed daily shape: the cleanest hour is the same hour
    fr = prof[prof["location"] == "FR"].pivot(index="month", columns="hour_utc", values="grid_g_per_kwh")
    assert fr.idxmin(axis=1).nunique() == 1
