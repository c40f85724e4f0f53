"""Numbers a report can defend: locations never become another country, missing grid data
stays missing, intervals of physical quantities stay above zero, an untimed estimate is the
year's average of timed ones, and water per kWh follows one convention.

Runs through the public API on rows made by ``audit_synth`` (not the emulator).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from audit_synth import SITES, generate
from hypothesis import given, settings
from hypothesis import strategies as st

import melious_impact as mi
from melious_impact.model import factors
from melious_impact.model.locations import resolve_location

# days of each month in a common (non-leap) year: the weights of the annual grid figure
DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=float)


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return generate(4_000, seed=11)


@pytest.fixture(scope="module")
def m(rows):
    return mi.fit_intensity(rows)


def _grid_table() -> pd.DataFrame:
    return factors.grid_intensity_table()


def _prior(code: str, month: int = 0) -> float:
    g = _grid_table()
    return float(g[(g["location"] == code) & (g["month"] == month)]["grid_g_per_kwh"].iloc[0])


def _work(location, *, provider="newco", model="m-large-70b", tin=2_000, tout=500, at=None):
    row = {
        "model": model,
        "provider_id": provider,
        "location": location,
        "input_tokens": tin,
        "output_tokens": tout,
    }
    if at is not None:
        row["captured_at"] = at
    return pd.DataFrame([row])


# -- locations ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "code"), [("AUT", "AT"), ("Austria", "AT"), ("CHN", "CN"), ("EST", "EE")]
)
def test_location_spellings_get_their_own_country_grid(m, written, code):
    at = pd.Timestamp("2026-03-10 12:00", tz="UTC")
    p = m.predict(_work(written, at=at))
    g = p["carbon_g_co2"].iloc[0] / p["energy_kwh"].iloc[0]
    assert g == pytest.approx(_prior(code, 3), rel=1e-9)
    assert "prior_grid" in p["warnings"].iloc[0]


@pytest.mark.parametrize("written", ["Austrai", "eu-west", "Atlantis", "sa-east-1"])
def test_unknown_location_is_a_flagged_gap(m, written):
    p = m.predict(_work(written), errors="coerce")
    assert np.isfinite(p["energy_kwh"].iloc[0])  # energy does not depend on the grid
    assert math.isnan(p["carbon_g_co2"].iloc[0])
    assert math.isnan(p["carbon_g_co2_low"].iloc[0]) and math.isnan(p["carbon_g_co2_high"].iloc[0])
    assert "location_unknown" in p["warnings"].iloc[0].split(",")
    assert "location_unknown" in {w.code for w in p.attrs["impact_warnings"]}


@pytest.mark.parametrize("written", ["FI", "fin", "Finland", "FI-HEL1"])
def test_spellings_of_an_observed_location_share_its_cell(m, written):
    at = pd.Timestamp("2025-05-01 10:00", tz="UTC")
    a = m.predict(_work("FI", provider="alpha", at=at))
    b = m.predict(_work(written, provider="alpha", at=at))
    assert a["basis"].iloc[0] == "measured" == b["basis"].iloc[0]
    assert b["carbon_g_co2"].iloc[0] == pytest.approx(a["carbon_g_co2"].iloc[0], rel=1e-12)
    assert "FI" in set(m.table()["location"]) and "Switzerland" not in set(m.table()["location"])


# -- scenario: missing stays missing -------------------------------------------------------


@pytest.mark.parametrize("where", ["Atlantis", "Austrai", "NZ"])
def test_scenario_to_a_place_without_grid_data_is_missing_not_zero(m, rows, where):
    out = mi.scenario(rows, m, provider_id="newco", location=where).set_index("metric")
    carbon = out.loc["carbon_g_co2"]
    assert math.isnan(carbon["scenario"]) and math.isnan(carbon["delta"]) and math.isnan(carbon["delta_pct"])
    assert math.isnan(carbon["scenario_low"]) and math.isnan(carbon["delta_high"])
    assert carbon["scenario_coverage"] == 0.0 and carbon["baseline_coverage"] == 1.0
    assert np.isfinite(out.loc["energy_kwh", "scenario"])  # energy is still known
    codes = {w.code for w in out.attrs["impact_warnings"]}
    assert codes & {"location_unknown", "grid_unknown"}
    assert "scenario_incomplete" in codes


def test_scenario_with_some_rows_unknown_is_missing_and_says_its_share(m, rows):
    moved = rows["model"].iloc[0]
    out = mi.scenario(rows, m, provider_id="newco", location="Atlantis", models=[moved]).set_index("metric")
    carbon = out.loc["carbon_g_co2"]
    share = float((rows["model"] == moved).mean())
    assert math.isnan(carbon["scenario"]) and math.isnan(carbon["delta"])
    assert carbon["scenario_coverage"] == pytest.approx(1 - share)


def test_scenario_carries_the_covered_totals_beside_the_missing_full_ones(m, rows):
    # a share of the workload sits at a place that names no country: the full carbon
    # totals are missing, and the covered ones equal the totals of the estimable rows
    gone = np.arange(len(rows)) % 9 == 0
    df = rows.copy()
    df.loc[gone, "location"] = "Atlantis"
    moved = df["model"].iloc[1]
    out = mi.scenario(df, m, provider_id="beta", location="SE", models=[moved])
    out = out.set_index("metric")
    ref = mi.scenario(df[~gone], m, provider_id="beta", location="SE", models=[moved])
    ref = ref.set_index("metric")
    carbon, want = out.loc["carbon_g_co2"], ref.loc["carbon_g_co2"]
    assert math.isnan(carbon["baseline"]) and math.isnan(carbon["scenario"])  # the invariant
    assert carbon["covered_share"] == pytest.approx(1 - gone.mean())
    for side in ("baseline", "scenario", "delta"):
        assert carbon[f"{side}_covered"] == pytest.approx(want[side], rel=1e-9)
        assert carbon[f"{side}_covered_low"] <= carbon[f"{side}_covered"] <= carbon[f"{side}_covered_high"]
    assert carbon["baseline_covered_low"] >= 0
    assert carbon["delta_covered_pct"] == pytest.approx(want["delta_pct"], rel=1e-9)
    # energy needs no grid: every request is covered and the covered figures are the full ones
    energy = out.loc["energy_kwh"]
    assert energy["covered_share"] == 1.0
    for col in ("baseline", "baseline_low", "scenario_high", "delta", "delta_low"):
        assert (
            energy[
                col.replace("baseline", "baseline_covered")
                .replace("scenario", "scenario_covered")
                .replace("delta", "delta_covered")
            ]
            == energy[col]
        )


def test_scenario_coverage_counts_requests_of_pre_summed_rows(m, rows):
    # one row standing for 99 requests at an unknown place, one for a single known request:
    # 1% of the requests are covered, not half of the rows
    two = rows.iloc[:2].copy()
    two["location"] = ["Atlantis", two["location"].iloc[1]]
    two["n_requests"] = [99, 1]
    carbon = mi.scenario(two, m).set_index("metric").loc["carbon_g_co2"]
    assert carbon["baseline_coverage"] == pytest.approx(0.01)
    assert carbon["covered_share"] == pytest.approx(0.01)
    assert math.isnan(carbon["baseline"]) and carbon["baseline_covered"] > 0


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(20, 150), lost=st.floats(0.05, 0.6))
def test_property_covered_totals_are_the_totals_of_the_covered_rows(m, seed, n, lost):
    df = generate(n, seed=seed)
    gone = np.random.default_rng(seed).random(n) < lost
    if gone.all() or not gone.any():
        return
    df.loc[gone, "location"] = "Austrai"
    out = mi.scenario(df, m, shift_to_clean_hours=True).set_index("metric")
    ref = mi.scenario(df[~gone], m, shift_to_clean_hours=True).set_index("metric")
    for q in ("energy_kwh", "carbon_g_co2", "water_liters"):
        if not math.isnan(out.loc[q, "baseline"]):  # nothing missing for this quantity
            assert out.loc[q, "baseline_covered"] == out.loc[q, "baseline"]
            continue
        assert out.loc[q, "covered_share"] == pytest.approx(1 - gone.mean())
        for side in ("baseline", "scenario"):
            assert out.loc[q, f"{side}_covered"] == pytest.approx(ref.loc[q, side], rel=1e-9)
            assert 0 <= out.loc[q, f"{side}_covered_low"] <= out.loc[q, f"{side}_covered"]


# -- intervals of physical quantities ------------------------------------------------------


def test_prior_heavy_scenario_intervals_stay_above_zero(m, rows):
    # an unseen model of known size at a never-measured site: every factor is a wide prior
    work = rows.assign(model="qwen3-235b-a22b-instruct", provider_id="newco", location="PL")
    out = mi.scenario(work, m, location="Poland", provider_id="other").set_index("metric")
    for q in ("energy_kwh", "carbon_g_co2", "water_liters"):
        for c in ("baseline_low", "scenario_low"):
            assert out.loc[q, c] >= 0.0, (q, c, out.loc[q, c])
        assert out.loc[q, "baseline_low"] <= out.loc[q, "baseline"] <= out.loc[q, "baseline_high"]


@pytest.mark.parametrize("tin", [500, 2_500, 10_000])
def test_mixed_prior_interval_is_not_narrower_than_its_parts(m, tin):
    # input and output energy priors share one size factor: a mixed request is at least as
    # uncertain (in relative terms) as its output part alone
    only_out = m.predict(_work("FR", model="qwen3-235b-a22b-instruct", tin=0, tout=1_000))
    mixed = m.predict(_work("FR", model="qwen3-235b-a22b-instruct", tin=tin, tout=1_000))
    w_out = np.log(only_out["energy_kwh_high"] / only_out["energy_kwh"]).iloc[0]
    w_mix = np.log(mixed["energy_kwh_high"] / mixed["energy_kwh"]).iloc[0]
    assert w_mix >= w_out - 1e-12


# -- untimed = the year's average of timed -------------------------------------------------


def test_grid_months_average_to_the_annual_figure():
    g = _grid_table()
    for loc, rows_ in g.groupby("location"):
        months = rows_[rows_["month"] > 0].sort_values("month")
        if len(months) != 12:
            continue
        annual = float(rows_[rows_["month"] == 0]["grid_g_per_kwh"].iloc[0])
        mean = float(np.average(months["grid_g_per_kwh"], weights=DAYS))
        assert mean == pytest.approx(annual, rel=2e-4), loc


def test_untimed_prior_uses_the_annual_figure_not_january(m):
    p = m.predict(_work("AT"))
    assert p["carbon_g_co2"].iloc[0] / p["energy_kwh"].iloc[0] == pytest.approx(_prior("AT"), rel=1e-9)


# -- water: WUE is per kWh of IT energy ----------------------------------------------------


def test_prior_water_applies_wue_to_it_energy(m):
    p = m.predict(_work("FR", provider="ovhcloud"))
    prov = factors.provider_table().set_index("provider_id").loc["ovhcloud"]
    it_energy = p["energy_kwh"].iloc[0] / float(prov["pue"])
    assert p["water_liters"].iloc[0] == pytest.approx(it_energy * float(prov["wue_l_per_kwh"]), rel=1e-9)


def test_measured_water_is_per_reported_kwh(m):
    # the generator's sites report water per kWh of reported (PUE-included) energy
    for site in SITES:
        p = m.predict(_work(site.location, provider=site.provider_id))
        assert p["water_liters"].iloc[0] / p["energy_kwh"].iloc[0] == pytest.approx(
            site.water_l_per_kwh, rel=1e-6
        )


# -- properties through the public API -----------------------------------------------------

_grid = factors.grid_intensity_table()
_MONTHLY = sorted(loc for loc, r in _grid.groupby("location") if (r["month"] > 0).sum() == 12)
_YEAR_2025 = pd.date_range("2025-01-01", "2026-01-01", freq="h", tz="UTC", inclusive="left")
_locations = st.one_of(
    st.sampled_from(["AUT", "Austria", "Austrai", "CHN", "EST", "eu-west", "sa-east-1", "FI-HEL1", "Swiss"]),
    st.sampled_from(_MONTHLY),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ -", min_size=0, max_size=10),
)


@settings(max_examples=60, deadline=None)
@given(location=_locations, provider=st.sampled_from(["alpha", "beta", "newco"]))
def test_property_a_location_is_its_own_country_or_a_flagged_gap(m, location, provider):
    p = m.predict(_work(location, provider=provider), errors="coerce")
    code = resolve_location(location)
    g = p["carbon_g_co2"].iloc[0] / p["energy_kwh"].iloc[0]
    if code is None:
        assert math.isnan(g)
        assert "location_unknown" in p["warnings"].iloc[0].split(",")
        return
    same = m.predict(_work(code, provider=provider), errors="coerce")
    g_code = same["carbon_g_co2"].iloc[0] / same["energy_kwh"].iloc[0]
    assert (math.isnan(g) and math.isnan(g_code)) or g == pytest.approx(g_code, rel=1e-12)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(20, 200),
    lost=st.floats(0.0, 0.5),
    where=st.sampled_from(["Atlantis", "Austrai", "NZ", "eu-west-1"]),
)
def test_property_a_total_with_missing_parts_is_missing_and_says_its_share(m, seed, n, lost, where):
    df = generate(n, seed=seed)
    rng = np.random.default_rng(seed)
    gone = rng.random(n) < lost
    df.loc[gone, "location"] = where
    out = mi.scenario(df, m).set_index("metric")
    carbon = out.loc["carbon_g_co2"]
    share = 1.0 - gone.mean()
    assert carbon["baseline_coverage"] == pytest.approx(share)
    if gone.any():
        assert math.isnan(carbon["baseline"]) and math.isnan(carbon["baseline_low"])
        assert "scenario_incomplete" in {w.code for w in out.attrs["impact_warnings"]}
    else:
        assert np.isfinite(carbon["baseline"])
    # nothing moved: the delta is exactly zero even where the values are unknown
    assert carbon["delta"] == 0.0
    assert np.isfinite(out.loc["energy_kwh", "baseline"])  # energy does not need the grid


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 150),
    model=st.sampled_from([None, "qwen3-235b-a22b-instruct", "gpt-oss-20b", "hermes-4-405b"]),
    target=st.tuples(
        st.sampled_from(["alpha", "newco", "ovhcloud"]), st.sampled_from(["PL", "SE", "Ireland", "IND"])
    ),
    timed=st.booleans(),
)
def test_property_bounds_of_physical_quantities_are_never_negative(m, seed, n, model, target, timed):
    df = generate(n, seed=seed)
    if model is not None:  # an unseen model: every energy factor is a wide prior
        df["model"] = model
    if not timed:
        df = df.drop(columns="captured_at")
    p = m.predict(df, errors="coerce")
    for q in ("energy_kwh", "carbon_g_co2", "water_liters"):
        v, lo, hi = (p[c].to_numpy(dtype=float) for c in (q, f"{q}_low", f"{q}_high"))
        ok = np.isfinite(v)
        assert (lo[ok] >= 0).all() and (lo[ok] <= v[ok]).all() and (v[ok] <= hi[ok]).all()
    out = mi.scenario(df, m, provider_id=target[0], location=target[1]).set_index("metric")
    for q in ("energy_kwh", "carbon_g_co2", "water_liters"):
        r = out.loc[q]
        for side in ("baseline", "scenario"):
            assert r[f"{side}_low"] >= 0
            assert r[f"{side}_low"] <= r[side] <= r[f"{side}_high"]
        assert r["delta_low"] <= r["delta"] <= r["delta_high"]


@settings(max_examples=15, deadline=None)
@given(
    location=st.sampled_from([*_MONTHLY, "FI", "Sweden", "CHE"]),
    provider=st.sampled_from(["alpha", "beta", "newco"]),
    tokens=st.tuples(st.integers(0, 50_000), st.integers(1, 5_000)),
)
def test_property_untimed_equals_the_year_average_of_timed(m, location, provider, tokens):
    untimed = m.predict(_work(location, provider=provider, tin=tokens[0], tout=tokens[1]), errors="coerce")
    timed = pd.DataFrame(
        {
            "model": "m-large-70b",
            "provider_id": provider,
            "location": location,
            "input_tokens": tokens[0],
            "output_tokens": tokens[1],
            "captured_at": _YEAR_2025,
        }
    )
    year = m.predict(timed, errors="coerce")
    c = untimed["carbon_g_co2"].iloc[0]
    if math.isnan(c):  # a country without grid data: missing either way
        assert year["carbon_g_co2"].isna().all()
        return
    assert c == pytest.approx(year["carbon_g_co2"].mean(), rel=1e-6)
    assert untimed["energy_kwh"].iloc[0] == pytest.approx(year["energy_kwh"].mean(), rel=1e-12)


def test_observed_total_with_a_missing_reported_figure_is_missing(m, rows):
    df = rows.copy()
    df.loc[df.index[3], "water_liters"] = np.nan  # reported, but this figure was not sent
    out = mi.scenario(df, m).set_index("metric")
    assert math.isnan(out.loc["water_liters", "observed"])
    assert out.loc["energy_kwh", "observed"] == pytest.approx(float(df["energy_kwh"].sum()))


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(5, 120),
    where=st.sampled_from(["Austrai", "eu-west", "AUT", "Österreich", "fi-hel1", "FI-HEL2"]),
)
def test_property_fill_missing_never_uses_another_country(m, seed, n, where):
    df = generate(n, seed=seed)
    rng = np.random.default_rng(seed)
    todo = rng.random(n) < 0.5
    df.loc[todo, ["energy_kwh", "carbon_g_co2", "water_liters", "pue"]] = np.nan
    df.loc[todo, "impact_reported"] = False
    df.loc[todo, "location"] = where
    df.loc[todo, "provider_id"] = "newco"
    f = mi.fill_missing(df, m)
    est = f[todo]
    code = resolve_location(where)
    for q in ("energy_kwh", "carbon_g_co2", "water_liters"):
        ok = est[q].notna()
        assert (est.loc[ok, f"{q}_low"] >= 0).all()
    if code is None:
        assert est["carbon_g_co2"].isna().all()
        assert est["impact_warnings"].str.contains("location_unknown").all()
    else:
        same = m.predict(
            est.assign(location=code).drop(columns=["energy_kwh", "carbon_g_co2", "water_liters"])
        )
        np.testing.assert_allclose(est["carbon_g_co2"], same["carbon_g_co2"], rtol=1e-12)
