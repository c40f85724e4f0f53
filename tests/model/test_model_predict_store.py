"""predict over a store: rows as a frame's, totals per group summed in DuckDB as a frame's.

``m.predict(store, by=...)`` (per-row arithmetic in SQL) is compared with
``m.predict(frame, by=...)`` (the frame's numpy prediction summed by pandas) and both with
sums of the per-row prediction of the whole frame, on the sample store and on generated
stores (country spellings, rows without provider or location, unknown models). Floats
agree to 1e-9 relative (sums in another order).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_model_sql_fit import messy_requests

import melious_impact as mi

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
QUANTITIES = ("energy_kwh", "carbon_g_co2", "water_liters")


def assert_same_totals(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    for c in a.columns:
        x, y = a[c].to_numpy(), b[c].to_numpy()
        if a[c].dtype.kind == "f" or b[c].dtype.kind == "f":
            np.testing.assert_allclose(
                x.astype(float), y.astype(float), rtol=1e-9, atol=1e-12, equal_nan=True
            )
        else:
            assert [None if pd.isna(v) else v for v in x] == [None if pd.isna(v) else v for v in y], c
    assert [(w.code, w.rows) for w in a.attrs["impact_warnings"]] == [
        (w.code, w.rows) for w in b.attrs["impact_warnings"]
    ]


def assert_sums_of_rows(totals: pd.DataFrame, frame: pd.DataFrame, m: Any, by: list[str]) -> None:
    """Each group's total, covered total, coverage and request count are the sums of the
    frame's own per-row prediction (interval='mean')."""
    rows = m.predict(frame, errors="coerce", interval="mean")
    keys = [rows[g].astype(object).where(rows[g].notna(), None) for g in by]
    grouped = rows.groupby(keys, dropna=False, sort=True) if by else [((), rows)]
    assert len(totals) == (len(grouped) if by else 1)
    for (_gkey, part), (_, got) in zip(grouped, totals.iterrows(), strict=True):
        assert got["n_requests"] == len(part)
        for q in QUANTITIES:
            v = part[q].to_numpy(dtype=float)
            known = np.isfinite(v)
            assert got[f"{q}_coverage"] == pytest.approx(known.mean())
            if known.any():
                assert got[f"{q}_covered"] == pytest.approx(v[known].sum(), rel=1e-9)
            if known.all():
                assert got[q] == pytest.approx(v.sum(), rel=1e-9)
                assert got[f"{q}_low"] <= got[q] <= got[f"{q}_high"]
            else:
                assert np.isnan(got[q])


@pytest.fixture(scope="module")
def sample() -> tuple[mi.ImpactStore, pd.DataFrame, Any]:
    store = mi.ImpactStore(SAMPLE)
    df = store.to_pandas()
    return store, df, mi.fit_intensity(df)


@pytest.mark.parametrize("by", [[], ["model"], ["team"], ["provider_id", "location"]])
def test_sample_totals_store_as_frame(sample: Any, by: list[str]) -> None:
    store, df, m = sample
    frame = m.predict(df, by=by, errors="coerce")
    assert_sums_of_rows(frame, df, m, by)
    assert_same_totals(m.predict(store, by=by, errors="coerce"), frame)


def test_sample_rows_and_period(sample: Any) -> None:
    store, df, m = sample
    rows = m.predict(store, errors="coerce")
    ref = m.predict(
        df[["model", "provider_id", "location", "input_tokens", "output_tokens", "captured_at"]],
        errors="coerce",
    )
    pd.testing.assert_frame_equal(rows, ref)
    lo, hi = df["captured_at"].quantile(0.3), df["captured_at"].quantile(0.7)
    part = df[(df["captured_at"] >= lo) & (df["captured_at"] < hi)]
    totals = m.predict(store, by="model", errors="coerce", start=lo, end=hi)
    assert totals["n_requests"].sum() == len(part)
    assert_same_totals(totals, m.predict(df, by="model", errors="coerce", start=lo, end=hi))


def test_unknown_model_raises_unless_coerced(sample: Any) -> None:
    store, df, m = sample
    if df["model"].isna().any() or not df["model"].isin(m.cells["model"]).all():
        with pytest.raises(mi.ModelError):
            m.predict(store, by="model")
        with pytest.raises(mi.ModelError):
            m.predict(df, by="model")
    with pytest.raises(ValueError, match="no column"):
        m.predict(store, by="nonexistent")


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(n=st.integers(50, 1500), seed=st.integers(0, 10_000))
def test_generated_stores_totals_as_frame(
    tmp_path_factory: pytest.TempPathFactory, n: int, seed: int
) -> None:
    df = messy_requests(n, seed)
    df.loc[df.index[::7], "provider_id"] = None  # rows spread over the traffic mix
    try:
        m = mi.fit_intensity(messy_requests(2000, seed + 1))
    except mi.ModelError:
        return
    store = mi.ImpactStore(tmp_path_factory.mktemp("s") / "s")
    store.append(df)
    store.flush()
    back = store.to_pandas()
    for by in ([], ["model"], ["location", "billing_paid_with"]):
        frame = m.predict(back, by=by, errors="coerce")
        assert_sums_of_rows(frame, back, m, by)
        assert_same_totals(m.predict(store, by=by, errors="coerce"), frame)


def odd_requests(n: int, seed: int) -> pd.DataFrame:
    """Requests the fit never saw the like of: models of known and unknown size, rows
    without a model, a time, tokens, a provider or a location (some of them spread over a
    traffic mix that matches no cell), locations that name no country, zero tokens."""
    rng = np.random.default_rng(seed)
    models = np.array(["gpt-oss-20b", "bge-m3", "mystery-13b", "qwen3-embedding-8b", None], dtype=object)
    providers = np.array(["ovhcloud", "scaleway", "nowhere-cloud", None], dtype=object)
    locations = np.array(["France", "fr", "DE", "atlantis", "eu-west", "SE", None], dtype=object)
    ts = pd.Series(
        pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 365 * 86400, n), unit="s")
    )
    ts[rng.random(n) < 0.15] = pd.NaT
    tin = rng.integers(0, 9000, n).astype(float)
    tin[rng.random(n) < 0.03] = np.nan
    return pd.DataFrame(
        {
            "captured_at": ts,
            "model": models[rng.choice(len(models), n, p=[0.4, 0.2, 0.15, 0.15, 0.1])],
            "provider_id": providers[rng.integers(0, len(providers), n)],
            "location": locations[rng.integers(0, len(locations), n)],
            "input_tokens": pd.array(tin, dtype="Int64"),
            "output_tokens": rng.choice([0, 1, 250, 4000], n),
            "team": np.array(["a", "b", None], dtype=object)[rng.integers(0, 3, n)],
        }
    )


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(n=st.integers(20, 800), seed=st.integers(0, 10_000))
def test_odd_keys_totals_as_frame(tmp_path_factory: pytest.TempPathFactory, n: int, seed: int) -> None:
    try:
        m = mi.fit_intensity(messy_requests(2000, seed + 1))
    except mi.ModelError:
        return
    store = mi.ImpactStore(tmp_path_factory.mktemp("s") / "s")
    store.append(odd_requests(n, seed))
    store.flush()
    back = store.to_pandas()
    for by in ([], ["team"], ["model", "location"]):
        frame = m.predict(back, by=by, errors="coerce")
        assert_sums_of_rows(frame, back, m, by)
        assert_same_totals(m.predict(store, by=by, errors="coerce"), frame)
    if back["model"].isna().any():
        with pytest.raises(mi.ModelError):
            m.predict(store, by="team")
