"""predict(): properties (hypothesis), edge cases, priors and coded warnings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import melious_impact as mi
from melious_impact.errors import ModelError

MODELS = ["glm-4.7", "gpt-oss-120b", "mistral-small-3.2-24b-instruct"]
SITES = [("ovhcloud", "FR"), ("nebius", "FI"), ("regolo", "IT"), ("scaleway", "FR"), ("newco", "DE")]
tokens = st.integers(min_value=0, max_value=200_000)


def _one(model, site, tin, tout, at=None):
    row = {
        "model": model,
        "provider_id": site[0],
        "location": site[1],
        "input_tokens": tin,
        "output_tokens": tout,
    }
    if at is not None:
        row["captured_at"] = at
    return pd.DataFrame([row])


@settings(max_examples=30, deadline=None)
@given(
    model=st.sampled_from(MODELS),
    site=st.sampled_from(SITES),
    tin=tokens,
    tout=tokens,
    extra_in=tokens,
    extra_out=tokens,
    hour=st.integers(0, 23),
    month=st.integers(1, 12),
)
def test_non_negative_and_monotonic_in_tokens(
    small_model, model, site, tin, tout, extra_in, extra_out, hour, month
):
    at = pd.Timestamp(2026, month, 15, hour, tz="UTC")
    a = small_model.predict(_one(model, site, tin, tout, at))
    b = small_model.predict(_one(model, site, tin + extra_in, tout + extra_out, at))
    for q in ("energy_kwh", "carbon_g_co2", "water_liters"):
        lo, mid, hi = a[f"{q}_low"].iloc[0], a[q].iloc[0], a[f"{q}_high"].iloc[0]
        assert 0 <= lo <= mid <= hi
        assert b[q].iloc[0] >= mid
    assert a["factor_version"].iloc[0] == small_model.factor_version


@settings(max_examples=30, deadline=None)
@given(model=st.sampled_from(MODELS), site=st.sampled_from(SITES[:3]), tin=tokens, tout=tokens)
def test_unit_round_trips(small_model, model, site, tin, tout):
    """Linear in tokens (1k tokens twice = 2k once), carbon/energy = the grid, water/energy = WUE."""
    one = small_model.predict(_one(model, site, tin, tout))
    two = small_model.predict(_one(model, site, 2 * tin, 2 * tout))
    assert two["energy_kwh"].iloc[0] == pytest.approx(2 * one["energy_kwh"].iloc[0], rel=1e-12, abs=1e-18)
    table_all = small_model.table().set_index(["model", "provider_id", "location"])
    if one["energy_kwh"].iloc[0] > 0 and (model, *site) in table_all.index:
        table = table_all.loc[(model, *site)]
        e = one["energy_kwh"].iloc[0]
        assert one["carbon_g_co2"].iloc[0] / e == pytest.approx(table["grid_g_per_kwh"], rel=1e-9)
        assert one["water_liters"].iloc[0] / e == pytest.approx(table["water_l_per_kwh"], rel=1e-9)
        kwh = table["pue"] * (
            tin / 1000 * table["kwh_per_1k_input"] + tout / 1000 * table["kwh_per_1k_output"]
        )
        assert e == pytest.approx(kwh, rel=1e-9)


def test_captured_at_uses_the_hour(small_model):
    night = small_model.predict(
        _one("glm-4.7", ("ovhcloud", "FR"), 1000, 300, pd.Timestamp("2026-07-01 19:00", tz="UTC"))
    )
    noon = small_model.predict(
        _one("glm-4.7", ("ovhcloud", "FR"), 1000, 300, pd.Timestamp("2026-07-01 13:00", tz="UTC"))
    )
    assert night["energy_kwh"].iloc[0] == noon["energy_kwh"].iloc[0]
    assert night["carbon_g_co2"].iloc[0] > noon["carbon_g_co2"].iloc[0] * 1.2


def test_unknown_model_raises_clearly_or_coerces(small_model):
    w = _one("mystery-model", ("ovhcloud", "FR"), 1000, 100)
    with pytest.raises(ModelError, match="mystery-model"):
        small_model.predict(w)
    p = small_model.predict(w, errors="coerce")
    assert np.isnan(p["energy_kwh"].iloc[0])
    assert p["basis"].iloc[0] == "unknown"
    assert "unknown" in p["warnings"].iloc[0]


def test_unseen_model_of_known_size_gets_a_prior(small_model):
    p = small_model.predict(_one("llama-3.1-8b-instruct", ("ovhcloud", "FR"), 1000, 500))
    assert p["basis"].iloc[0] == "prior"
    assert "prior_energy" in p["warnings"].iloc[0]
    assert p["energy_kwh_high"].iloc[0] / p["energy_kwh_low"].iloc[0] > 5
    assert p.attrs["impact_warnings"][0].code in {"prior_energy", "no_timestamp"}


def test_unseen_provider_and_location_use_public_priors(small_model):
    p = small_model.predict(
        _one("glm-4.7", ("newco", "DE"), 1000, 500, pd.Timestamp("2026-01-10 10:00", tz="UTC"))
    )
    codes = p["warnings"].iloc[0].split(",")
    assert {"pooled_energy", "prior_pue", "prior_water", "prior_grid"} <= set(codes)
    g = p["carbon_g_co2"].iloc[0] / p["energy_kwh"].iloc[0]
    assert 250 < g < 500  # Ember, Germany, January
    with pytest.raises(ModelError):
        small_model.predict(_one("mystery", ("newco", "XX"), 1, 1))


def test_missing_provider_uses_the_traffic_mix(small_model, small_df):
    w = pd.DataFrame({"model": ["glm-4.7"], "input_tokens": [1000], "output_tokens": [200]})
    p = small_model.predict(w)
    assert p["warnings"].iloc[0] == "routing_mix"
    t = small_model.table()
    t = t[t["model"] == "glm-4.7"]
    per = t["pue"] * (t["kwh_per_1k_input"] + 0.2 * t["kwh_per_1k_output"])
    assert per.min() <= p["energy_kwh"].iloc[0] <= per.max()


def test_edge_cases(small_df, small_model):
    with pytest.raises(ModelError, match="nothing to fit"):
        mi.fit_intensity(small_df.iloc[0:0])
    with pytest.raises(ModelError):
        mi.fit_intensity(small_df.assign(impact_reported=False))
    one = mi.fit_intensity(small_df.iloc[:1])
    assert one.table()["basis"].iloc[0] == "prior"  # one row fits nothing; the size prior speaks
    empty = small_model.predict(small_df.iloc[0:0])
    assert len(empty) == 0 and "energy_kwh_low" in empty.columns
    with pytest.raises(ValueError, match="non-negative"):
        small_model.predict(_one("glm-4.7", ("ovhcloud", "FR"), -1, 0))
    with pytest.raises(TypeError):
        mi.fit_intensity([1, 2, 3])
    with pytest.raises(ValueError, match="needs the columns"):
        mi.fit_intensity(small_df.drop(columns=["pue"]))


def test_table_contract(small_model):
    t = small_model.table()
    assert list(t.columns) == [
        "model",
        "provider_id",
        "location",
        "kwh_per_1k_input",
        "kwh_per_1k_input_low",
        "kwh_per_1k_input_high",
        "kwh_per_1k_output",
        "kwh_per_1k_output_low",
        "kwh_per_1k_output_high",
        "grid_g_per_kwh",
        "water_l_per_kwh",
        "pue",
        "n_requests",
        "basis",
        "factor_version",
    ]
    assert (t["kwh_per_1k_output_low"] <= t["kwh_per_1k_output"]).all()
    assert (t["kwh_per_1k_output"] <= t["kwh_per_1k_output_high"]).all()


def test_accepts_a_store(tmp_path, small_df):
    from melious_impact.records import COLUMN_NAMES
    from melious_impact.store.impact_store import ImpactStore

    frame = small_df.iloc[:600].copy()
    for c in COLUMN_NAMES:
        if c not in frame.columns:
            frame[c] = None
    frame["tags"], frame["parse_warnings"], frame["source"], frame["schema_version"] = "{}", "", "import", 1
    store = ImpactStore(tmp_path / "store")
    try:
        store.append(frame[list(COLUMN_NAMES)])
        store.flush()
        m = mi.fit_intensity(store)
    finally:
        store.close()
    assert m.table()["n_requests"].sum() == 600


def test_cleanest_hours(small_model):
    h = small_model.cleanest_hours(2)
    assert list(h.groupby("location").size()) == [2, 2, 2]
    assert (h["saving_vs_mean_pct"] > 0).all()
    july = small_model.cleanest_hours(1, month=7)
    assert len(july) == 3


def test_rows_without_tokens_or_model_are_unknown(small_model):
    w = pd.DataFrame(
        {
            "model": ["glm-4.7", None],
            "provider_id": ["ovhcloud", "ovhcloud"],
            "location": ["FR", "FR"],
            "input_tokens": [None, 10],
            "output_tokens": [None, 10],
        }
    )
    p = small_model.predict(w, errors="coerce")
    assert p["energy_kwh"].isna().all()
    assert list(p["basis"]) == ["unknown", "unknown"]
    with pytest.raises(ModelError, match="without a model"):
        small_model.predict(w.iloc[1:])
