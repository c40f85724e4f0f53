"""The in-database fit (per-cell sums in DuckDB) gives the row-level fit's answers.

``fit_intensity`` (stores and frames alike, through DuckDB) is compared with
``fit_intensity_rows`` (numpy over the whole frame) on the sample store, on stores and
frames from a generator of this file (messy: country spellings, nulls, outliers, sparse
cells, embeddings, energy-paid rows), and on random frames (hypothesis). Floats agree to
1e-9 relative (sums are added in another order); the log spreads, which are differences of
nearly equal sums when the true spread is ~0, to 1e-6 absolute; prices (exact decimals)
exactly.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import melious_impact as mi
from melious_impact.model.anomalies import find_anomalies_rows
from melious_impact.model.fit import IntensityModel, fit_intensity_rows

KEY = ["model", "provider_id", "location"]
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


def assert_same_model(new: IntensityModel, ref: IntensityModel) -> None:
    def frames(a: pd.DataFrame, b: pd.DataFrame, by: list[str], rtol: float = 1e-9) -> None:
        a = a.sort_values(by, ignore_index=True)
        b = b.sort_values(by, ignore_index=True)
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=rtol, atol=1e-6, check_dtype=False)

    frames(new.cells, ref.cells, KEY)
    frames(new.models, ref.models, ["model"])
    frames(new.sites, ref.sites, ["provider_id", "location"])
    # interval bounds carry exp(log_sd): its rounding noise where the true spread is ~0
    frames(new.grid_profile(), ref.grid_profile(), ["location", "month", "hour_utc"], rtol=1e-6)
    frames(new.table(), ref.table(), KEY)
    assert new.tau_in == pytest.approx(ref.tau_in, rel=1e-9, abs=1e-12)
    assert new.tau_out == pytest.approx(ref.tau_out, rel=1e-9, abs=1e-12)
    p_new = new.prices.sort_values(KEY, ignore_index=True)
    p_ref = ref.prices.sort_values(KEY, ignore_index=True)
    assert p_new.astype(object).equals(p_ref.astype(object))  # exact decimals, None alike


def messy_requests(n: int, seed: int) -> pd.DataFrame:
    """Requests unlike the emulator's: spellings of one country, rows without impact or
    keys, a few corrupted energies, a sparse cell, an embedding model, energy-paid rows."""
    rng = np.random.default_rng(seed)
    models = np.array(["gpt-oss-20b", "llama-3.3-70b-instruct", "bge-m3", "rare-model-7b"])
    m = rng.choice(4, n, p=[0.5, 0.3, 0.198, 0.002])
    sites = [
        ("ovhcloud", "France"),
        ("ovhcloud", "FR"),
        ("scaleway", "fra"),
        ("infercom", "DE"),
        ("x", "eu-west"),
    ]
    s = rng.integers(0, len(sites), n)
    tin = rng.integers(1, 5000, n)
    tout = np.where(m == 2, 0, rng.integers(0, 2000, n))
    a = np.array([4e-5, 1.5e-4, 1e-5, 3e-4])[m]
    b = np.array([4e-4, 1.2e-3, 0.0, 2e-3])[m]
    pue = np.array([1.2, 1.2, 1.25, 1.3, 1.5])[s]
    energy = (a * tin / 1000 + b * tout / 1000) * pue * (1 + 0.02 * rng.standard_normal(n))
    energy[rng.random(n) < 0.003] *= 40  # corrupted figures: the outlier screen drops them
    grid = np.array([50.0, 50.0, 52.0, 350.0, 300.0])[s]
    ts = pd.Timestamp("2025-03-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 200 * 86400, n), unit="s")
    hour = ts.hour.to_numpy()
    carbon = energy * grid * (1 + 0.2 * np.sin(hour / 24 * 2 * np.pi))
    carbon[rng.random(n) < 0.003] *= 3  # grid outliers
    pue = np.where(rng.random(n) < 0.003, pue * 1.3, pue)  # a PUE change
    reported = rng.random(n) > 0.05
    price = (np.array([5, 60, 1, 90])[m] * tin + np.array([20, 60, 0, 300])[m] * tout).astype(np.int64)
    credits = [Decimal(int(p)).scaleb(-8) for p in price]
    paid = np.where(rng.random(n) < 0.1, "energy", "credits")
    df = pd.DataFrame(
        {
            "captured_at": ts,
            "model": models[m],
            "provider_id": [sites[i][0] for i in s],
            "location": [sites[i][1] for i in s],
            "input_tokens": tin,
            "output_tokens": tout,
            "energy_kwh": np.where(reported, energy, np.nan),
            "carbon_g_co2": np.where(reported, carbon, np.nan),
            "water_liters": np.where(reported & (rng.random(n) > 0.1), energy * 1.1, np.nan),
            "pue": np.where(reported, pue, np.nan),
            "impact_reported": reported,
            "billing_paid_with": paid,
            "billing_credits": [c if p == "credits" else None for c, p in zip(credits, paid, strict=True)],
            "billing_energy": [
                c * 10000 if p == "energy" else None for c, p in zip(credits, paid, strict=True)
            ],
            "record_id": [f"r{i:07d}" for i in range(n)],
        }
    )
    df.loc[rng.random(n) < 0.02, "model"] = None
    df.loc[rng.random(n) < 0.02, "location"] = None
    return df.sort_values(["captured_at", "record_id"], ignore_index=True)


def test_sample_store_same_as_row_level() -> None:
    store = mi.ImpactStore(SAMPLE)
    ref = fit_intensity_rows(store.to_pandas())
    assert_same_model(mi.fit_intensity(store), ref)
    assert_same_model(mi.fit_intensity(store.to_pandas()), ref)


@pytest.fixture(scope="module")
def messy() -> pd.DataFrame:
    return messy_requests(20_000, seed=5)


def test_generated_frame_same_as_row_level(messy: pd.DataFrame) -> None:
    new = mi.fit_intensity(messy)
    ref = fit_intensity_rows(messy)
    assert_same_model(new, ref)
    # the checks mean something: spellings merged, outliers screened, pooling and prices used
    assert "FR" in set(new.cells["location"]) and "France" not in set(new.cells["location"])
    assert new.cells["n_outliers"].sum() > 0
    assert (new.cells["basis"] == "pooled").any()
    assert new.prices["eur_per_million_input"].notna().any()


def test_generated_store_same_as_row_level(messy: pd.DataFrame, tmp_path: Path) -> None:
    store = mi.ImpactStore(tmp_path / "s")
    store.append(messy)
    store.flush()
    back = store.to_pandas()
    assert len(back) == len(messy)
    assert_same_model(mi.fit_intensity(store), fit_intensity_rows(back))


def test_cells_sharing_a_key_hash_are_joined_on_their_keys(
    messy: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows reach their cell through a hash of its key; when two cells share a hash (here
    forced: a hash of the location alone) the join falls back to the keys themselves."""
    from melious_impact.model import sql_fit

    store = mi.ImpactStore(tmp_path / "s")
    store.append(messy)
    store.flush()
    ref = fit_intensity_rows(store.to_pandas())
    conditions: list[str] = []
    match = sql_fit._key_match

    def recorded_match(unique: bool) -> str:
        conditions.append(match(unique))
        return conditions[-1]

    monkeypatch.setattr(sql_fit, "_key_match", recorded_match)
    assert_same_model(mi.fit_intensity(store), ref)
    monkeypatch.setattr(sql_fit, "_key_hash", lambda alias="": f"hash({alias}location)")
    assert_same_model(mi.fit_intensity(store), ref)
    assert_same_model(mi.fit_intensity(messy), fit_intensity_rows(messy))
    assert "hash(" in conditions[0] and all("hash(" not in c for c in conditions[1:]), conditions


def test_period_prunes_like_a_filtered_frame(messy: pd.DataFrame, tmp_path: Path) -> None:
    store = mi.ImpactStore(tmp_path / "s")
    store.append(messy)
    store.flush()
    part = store.to_pandas(start="2025-04-01", end="2025-06-30")
    ref = fit_intensity_rows(part)
    assert_same_model(mi.fit_intensity(store, start="2025-04-01", end="2025-06-30"), ref)
    assert_same_model(mi.fit_intensity(messy, start="2025-04-01", end="2025-06-30"), ref)
    assert ref.cells["n_requests"].sum() < mi.fit_intensity(messy).cells["n_requests"].sum()


def test_frame_without_optional_columns(messy: pd.DataFrame) -> None:
    bare = messy[["model", "provider_id", "location", "input_tokens", "output_tokens", "energy_kwh", "pue"]]
    assert_same_model(mi.fit_intensity(bare), fit_intensity_rows(bare))


def test_nothing_usable_raises() -> None:
    df = messy_requests(200, seed=1).assign(energy_kwh=np.nan)
    with pytest.raises(mi.ModelError):
        mi.fit_intensity(df)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(40, 600), seed=st.integers(0, 10_000), min_requests=st.integers(3, 60))
def test_property_same_as_row_level(n: int, seed: int, min_requests: int) -> None:
    df = messy_requests(n, seed)
    try:
        ref = fit_intensity_rows(df, min_requests=min_requests)
    except mi.ModelError:
        with pytest.raises(mi.ModelError):
            mi.fit_intensity(df, min_requests=min_requests)
        return
    assert_same_model(mi.fit_intensity(df, min_requests=min_requests), ref)


def assert_same_anomalies(new: pd.DataFrame, ref: pd.DataFrame) -> None:
    """Same rows (by position in the frame or record_id), reasons and scores."""
    key = "record_id" if "record_id" in ref.columns else None
    a = new.sort_values(key, ignore_index=True) if key else new.sort_index()
    b = ref.sort_values(key, ignore_index=True) if key else ref.sort_index()
    assert len(a) == len(b)
    assert list(a["reason"]) == list(b["reason"])
    for col in ("score", "expected", "observed"):
        np.testing.assert_allclose(a[col].to_numpy(float), b[col].to_numpy(float), rtol=1e-9, equal_nan=True)
    assert list(new["score"]) == sorted(new["score"], reverse=True)


@pytest.mark.parametrize("threshold", [5.0, 2.0])
def test_anomalies_sample_store_same_as_row_level(threshold: float) -> None:
    store = mi.ImpactStore(SAMPLE)
    df = store.to_pandas()
    m = mi.fit_intensity(store)
    ref = find_anomalies_rows(m, df, threshold=threshold)
    assert_same_anomalies(m.anomalies(df, threshold=threshold), ref)
    assert_same_anomalies(m.anomalies(store, threshold=threshold), ref)


def test_anomalies_generated_same_as_row_level(messy: pd.DataFrame, tmp_path: Path) -> None:
    m = mi.fit_intensity(messy)
    ref = find_anomalies_rows(m, messy)
    assert set(ref["reason"]) == {"pue_change", "energy_per_token_drift", "grid_intensity_outlier"}
    assert_same_anomalies(m.anomalies(messy), ref)
    store = mi.ImpactStore(tmp_path / "s")
    store.append(messy)
    store.flush()
    from_store = m.anomalies(store)
    assert_same_anomalies(from_store, find_anomalies_rows(m, store.to_pandas()))
    assert set(from_store.columns) >= set(messy.columns)  # whole rows come back


def test_anomalies_frame_without_times_or_keys(messy: pd.DataFrame) -> None:
    m = mi.fit_intensity(messy)
    untimed = messy.drop(columns=["captured_at", "record_id"]).reset_index(drop=True)
    assert_same_anomalies(m.anomalies(untimed, threshold=3.0), find_anomalies_rows(m, untimed, threshold=3.0))
    assert m.anomalies(messy.drop(columns="location")).empty


def test_anomalies_in_a_period_same_as_the_filtered_rows(messy: pd.DataFrame, tmp_path: Path) -> None:
    m = mi.fit_intensity(messy)
    store = mi.ImpactStore(tmp_path / "s")
    store.append(messy)
    store.flush()
    # a date end counts its day; a datetime end is exclusive
    for start, end in (
        ("2025-04-01", "2025-06-30"),
        ("2025-05-01T12:00", "2025-07-01T00:00Z"),
        (None, "2025-05-01"),
    ):
        part = store.to_pandas(start=start, end=end)
        ref = find_anomalies_rows(m, part, threshold=3.0)
        assert 0 < len(ref) < len(find_anomalies_rows(m, messy, threshold=3.0))
        assert_same_anomalies(m.anomalies(store, threshold=3.0, start=start, end=end), ref)
        framed = m.anomalies(messy, threshold=3.0, start=start, end=end)
        assert sorted(framed["record_id"]) == sorted(ref["record_id"])
        assert_same_anomalies(framed, ref)
    ts = pd.to_datetime(messy["captured_at"], utc=True)
    day = m.anomalies(messy, threshold=3.0, start="2025-05-01", end="2025-05-01")
    assert (
        (ts[day.index] >= pd.Timestamp("2025-05-01", tz="UTC"))
        & (ts[day.index] < pd.Timestamp("2025-05-02", tz="UTC"))
    ).all()
    with pytest.raises(ValueError, match="captured_at"):
        m.anomalies(messy.drop(columns="captured_at"), start="2025-05-01")


def test_anomalies_store_rows_sharing_instants_with_hits(messy: pd.DataFrame, tmp_path: Path) -> None:
    # captured to the hour: most instants are shared by hits and rows that are not hits, so
    # the store's second pass (the rows at the hits' instants) must score rows, not pick instants
    hourly = messy.assign(captured_at=pd.to_datetime(messy["captured_at"], utc=True).dt.floor("h"))
    m = mi.fit_intensity(hourly)
    store = mi.ImpactStore(tmp_path / "s")
    store.append(hourly)
    store.flush()
    back = store.to_pandas()
    ref = find_anomalies_rows(m, back, threshold=3.0)
    at_hits = back["captured_at"].isin(set(ref["captured_at"]))
    assert 0 < len(ref) < at_hits.sum()  # instants of hits hold rows that are not hits
    assert_same_anomalies(m.anomalies(store, threshold=3.0), ref)
