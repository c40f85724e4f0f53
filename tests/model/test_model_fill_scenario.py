"""fill_missing() and scenario()."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

import melious_impact as mi
from melious_impact.emulator.catalogue import PROVIDERS


def test_fill_missing_estimates_unreported_rows_only(emu_df, emu_model):
    f = mi.fill_missing(emu_df, emu_model)
    rep = emu_df["impact_reported"].to_numpy()
    # reported values untouched, with degenerate intervals and basis 'reported'
    pd.testing.assert_series_equal(f["energy_kwh"][rep], emu_df["energy_kwh"][rep])
    assert (f["energy_kwh_low"][rep] == f["energy_kwh"][rep]).all()
    assert set(f["impact_basis"][rep]) == {"reported"}
    assert not f["impact_estimated"][rep].any()
    # unreported successful rows (no provider/location reported) are estimated from the mix
    ok = (emu_df["status_code"] == 200).to_numpy()
    speech = (emu_df["endpoint"] == "/v1/audio/speech").to_numpy()
    # speech never reports impact and tts-1 has no known size: NaN and 'unknown', not zero
    assert f.loc[speech, "energy_kwh"].isna().all()
    assert set(f.loc[speech, "impact_basis"]) == {"unknown"}
    unrep = ~rep & ok & ~speech
    assert unrep.sum() > 1000
    est = f[unrep]
    assert est["impact_estimated"].all()
    assert set(est["impact_basis"]) <= {"measured", "pooled"}
    assert (est["impact_warnings"] == "routing_mix").all()
    # the routing mix is the real source of error here, not the per-token fit
    mape = np.mean(np.abs(est["energy_kwh"] / emu_df.loc[unrep, "true_energy_kwh"] - 1))
    assert mape < 0.15
    assert (est["energy_kwh_low"] <= est["energy_kwh"]).all() and (
        est["energy_kwh"] <= est["energy_kwh_high"]
    ).all()
    # the routing is unknown: intervals cover whichever observed cell served the request
    true = emu_df.loc[unrep, "true_energy_kwh"]
    assert ((est["energy_kwh_low"] <= true) & (true <= est["energy_kwh_high"])).mean() >= 0.9
    assert (f["factor_version"] == emu_model.factor_version).all()
    assert emu_df["energy_kwh"].isna().sum() > 0  # the input frame is not modified


def test_fill_missing_error_rows_are_not_silent_zeros(emu_df, emu_model):
    f = mi.fill_missing(emu_df, emu_model)
    errors = emu_df["status_code"] != 200
    assert f.loc[errors, "energy_kwh"].isna().all()
    assert set(f.loc[errors, "impact_basis"]) == {"unknown"}
    assert not f.loc[errors, "impact_estimated"].any()


def test_fill_missing_partial_tokens_and_unknown_model(small_model):
    df = pd.DataFrame(
        {
            "model": ["glm-4.7", "mystery", None],
            "input_tokens": [1200, 10, 5],
            "output_tokens": [None, 10, 5],
            "impact_reported": [False, False, False],
            "provider_id": ["ovhcloud", "ovhcloud", None],
            "location": ["FR", "FR", None],
        }
    )
    f = mi.fill_missing(df, small_model)
    assert f["impact_estimated"].tolist() == [True, False, False]
    assert "tokens_partly_missing" in f["impact_warnings"].iloc[0]
    assert f["impact_basis"].tolist()[1:] == ["unknown", "unknown"]
    codes = {w.code for w in f.attrs["impact_warnings"]}
    assert {"tokens_partly_missing", "unknown"} <= codes


def test_scenario_move_provider_scales_energy_by_pue(small_df, small_model):
    s = mi.scenario(small_df[small_df["provider_id"] == "ovhcloud"], small_model, provider_id="nebius")
    e = s.set_index("metric").loc["energy_kwh"]
    # every model served at ovhcloud in the test data also runs at nebius, or is pooled
    ratio = e["scenario"] / e["baseline"]
    assert ratio == pytest.approx(1.10 / 1.28, rel=0.01)
    assert e["delta_low"] <= e["delta"] <= e["delta_high"] < 0
    c = s.set_index("metric").loc["carbon_g_co2"]
    assert c["delta"] > 0  # Finland's grid is dirtier than France's in the test data
    assert s.attrs["description"] == "moved to nebius in FI"


def _covered(df, m):
    """The rows the model can estimate (speech of unknown size and the like left out)."""
    return df[m.predict(df, errors="coerce")["energy_kwh"].notna().to_numpy()]


def test_scenario_emulator_eco_and_clean_hours(emu_df, emu_model):
    full = mi.scenario(emu_df, emu_model, flavor="eco").set_index("metric")
    # some requests cannot be estimated (tts-1 has no known size): the totals are missing,
    # never the smaller sum of the rest, and say how much they would cover; the delta of
    # what eco routing changes is still known (requests it leaves alone add nothing)
    assert np.isnan(full.loc["energy_kwh", "baseline"])
    assert 0.9 < full.loc["energy_kwh", "baseline_coverage"] < 1.0
    assert full.loc["carbon_g_co2", "delta"] < 0
    assert "scenario_incomplete" in {w.code for w in full.attrs["impact_warnings"]}
    emu_df = _covered(emu_df, emu_model)
    eco = mi.scenario(emu_df, emu_model, flavor="eco").set_index("metric")
    assert eco.loc["carbon_g_co2", "delta"] == pytest.approx(full.loc["carbon_g_co2", "delta"], rel=1e-9)
    assert eco.loc["carbon_g_co2", "delta"] < 0
    assert eco.loc["carbon_g_co2", "delta_high"] < 0
    shift = mi.scenario(emu_df, emu_model, shift_to_clean_hours=True).set_index("metric")
    assert shift.loc["energy_kwh", "delta"] == pytest.approx(0.0, abs=1e-12)
    assert shift.loc["carbon_g_co2", "delta"] < 0
    # baseline model totals agree with what was reported
    rep = shift.loc["energy_kwh"]
    assert rep["baseline"] == pytest.approx(rep["observed"], rel=0.05)


def test_scenario_costs_are_exact_decimals(emu_df, emu_model):
    emu_df = _covered(emu_df, emu_model)
    s = mi.scenario(emu_df, emu_model, provider_id="scaleway", models=["gpt-oss-120b"]).set_index("metric")
    cost = s.loc["cost_eur"]
    for col in ("observed", "baseline", "scenario", "delta"):
        assert isinstance(cost[col], Decimal)
    # gpt-oss-120b at scaleway costs its list price x scaleway's price factor
    assert cost["delta"] != 0
    assert PROVIDERS["scaleway"].price_factor != 1.0


def test_scenario_arguments(small_df, small_model):
    with pytest.raises(ValueError, match="flavor"):
        mi.scenario(small_df, small_model, flavor="balanced")
    with pytest.raises(ValueError, match="never observed"):
        mi.scenario(small_df, small_model, provider_id="unknown-co")
    s = mi.scenario(small_df, small_model)
    assert (s["delta"].iloc[:3] == 0).all()
