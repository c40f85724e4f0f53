"""The daily series, budget sums and cost totals computed in DuckDB give the answers of the
row-by-row pandas computation they replace: on the sample store and on generated stores,
exactly for decimals, for stores and frames alike."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import melious_impact as mi
from melious_impact.forecasting.costs import add_cost_eur, cost_totals, sum_decimal
from melious_impact.forecasting.daily import UNTAGGED, daily_totals, local_dates

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
FLOATS = ("energy_kwh", "carbon_g_co2", "water_liters", "input_tokens", "output_tokens", "requests")


def pandas_daily_totals(df: pd.DataFrame, metrics: list[str], by: str | None, tz: str) -> pd.DataFrame:
    """The former implementation, row by row in pandas: the reference the SQL must match."""
    group_col = by or "group"
    work = pd.DataFrame({"date": local_dates(df["captured_at"], tz)}, index=df.index)
    if by is None:
        work[group_col] = "all"
    else:
        g = df[by].astype(object)
        work[group_col] = g.where(g.notna() & (g.astype(str) != ""), UNTAGGED).astype(str)
    for m in metrics:
        if m == "requests":
            work[m] = 1.0
        elif m == "cost_eur":
            work[m] = add_cost_eur(df)["cost_eur"]
        else:
            work[m] = pd.to_numeric(df[m], errors="coerce").astype(float)
    floats = [m for m in metrics if m != "cost_eur"]
    grouped = work.groupby([group_col, "date"], sort=True)
    out = grouped[floats].sum(min_count=0) if floats else grouped.size().to_frame("_n")[[]]
    if "cost_eur" in metrics:
        out["cost_eur"] = grouped["cost_eur"].agg(sum_decimal)
    return out.reset_index()[["date", group_col, *metrics]]


def assert_same_totals(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    group_col = got.columns[1]
    assert got["date"].tolist() == want["date"].tolist()
    assert got[group_col].tolist() == want[group_col].tolist()
    for m in got.columns[2:]:
        if m == "cost_eur":
            # exact: Decimal equality is equality of values, to the last place
            assert all(isinstance(v, Decimal) for v in got[m])
            assert got[m].tolist() == want[m].tolist()
        else:
            np.testing.assert_allclose(
                got[m].to_numpy(float), want[m].to_numpy(float), rtol=1e-12, atol=1e-12
            )


@pytest.fixture(scope="module")
def sample_store() -> Any:
    return mi.ImpactStore(str(SAMPLE))


@pytest.fixture(scope="module")
def sample_rows(sample_store: Any) -> pd.DataFrame:
    return sample_store.to_pandas()


@pytest.mark.parametrize("tz", ["UTC", "Europe/Paris", "America/Los_Angeles"])
@pytest.mark.parametrize("by", ["team", "model", "stream", "status_code", None])
def test_the_sample_stores_daily_totals_match_the_pandas_path(
    sample_store: Any, sample_rows: pd.DataFrame, tz: str, by: str | None
) -> None:
    metrics = [*FLOATS, "cost_eur"]
    want = pandas_daily_totals(sample_rows, metrics, by, tz)
    assert_same_totals(daily_totals(sample_store, metrics, by=by, tz=tz), want)
    assert_same_totals(daily_totals(sample_rows, metrics, by=by, tz=tz), want)


def test_sample_cost_totals_are_the_exact_sums_of_add_cost_eur(
    sample_store: Any, sample_rows: pd.DataFrame
) -> None:
    priced = add_cost_eur(sample_rows)
    teams = priced["team"].fillna(UNTAGGED)
    want = {k: sum_decimal(g) for k, g in priced.groupby(teams)["cost_eur"]}
    for data in (sample_store, sample_rows):
        got = cost_totals(data, "team")
        assert dict(zip(got["team"], got["cost_eur"], strict=True)) == want
        assert got["requests"].sum() == len(sample_rows)
        assert got["unbilled_requests"].sum() == int(priced["cost_eur"].isna().sum())
        total = cost_totals(data, None)
        assert total["cost_eur"].iloc[0] == sum_decimal(priced["cost_eur"])
    # the period is read from the store, not filtered afterwards
    october = cost_totals(sample_store, None, start="2026-10-01", end="2026-10-31")
    in_october = priced["captured_at"] >= pd.Timestamp("2026-10-01", tz="UTC")
    assert october["cost_eur"].iloc[0] == sum_decimal(priced.loc[in_october, "cost_eur"])
    assert october["requests"].iloc[0] == int(in_october.sum())


def test_a_rate_of_your_own_prices_energy_rows_exactly(tmp_path: Path, sample_rows: pd.DataFrame) -> None:
    rows = sample_rows.copy()
    energy = np.arange(len(rows)) % 3 == 0  # a third of the sample paid in energy units
    rows.loc[energy, "billing_paid_with"] = "energy"
    rows.loc[energy, "billing_energy"] = [Decimal(i) + Decimal("0.125") for i in range(int(energy.sum()))]
    store = mi.ImpactStore(str(tmp_path / "s"))
    store.append(rows)
    stored = store.to_pandas()
    rate = Decimal("0.00012345")
    want = sum_decimal(add_cost_eur(stored, rate)["cost_eur"])
    assert cost_totals(store, None, eur_per_energy_unit=rate)["cost_eur"].iloc[0] == want
    assert cost_totals(rows, None, eur_per_energy_unit=rate)["cost_eur"].iloc[0] == want
    assert want != sum_decimal(add_cost_eur(stored)["cost_eur"])  # the rate matters here
    store.close()


def test_the_sample_budget_status_from_the_store_and_from_its_frame(
    sample_store: Any, sample_rows: pd.DataFrame
) -> None:
    budgets = {
        "search": {"cost_eur": "0.2", "carbon_g_co2": 500},
        "ads": {"energy_kwh": 1},
        "nobody": {"requests": 5},
    }
    a = mi.budget_status(sample_store, budgets, as_of="2026-10-20", tz="Europe/Paris")
    b = mi.budget_status(sample_rows, budgets, as_of="2026-10-20", tz="Europe/Paris")
    pd.testing.assert_frame_equal(a, b)
    # spent, by hand from the rows: October 1 to 20 in Paris
    local = local_dates(sample_rows["captured_at"], "Europe/Paris")
    sel = (sample_rows["team"] == "search") & (local >= "2026-10-01") & (local <= "2026-10-20")
    row = a[(a["team"] == "search") & (a["metric"] == "cost_eur")].iloc[0]
    assert row["spent_exact"] == sum_decimal(add_cost_eur(sample_rows[sel])["cost_eur"])
    carbon = a[(a["team"] == "search") & (a["metric"] == "carbon_g_co2")].iloc[0]
    assert carbon["spent"] == pytest.approx(float(sample_rows.loc[sel, "carbon_g_co2"].sum()), rel=1e-12)
    covered = sample_rows.loc[sel, "carbon_g_co2"].notna().mean() * 100
    assert carbon["spent_covered_percent"] == np.floor(covered * 10) / 10


def test_a_forecast_from_the_store_equals_one_from_its_frame(
    sample_store: Any, sample_rows: pd.DataFrame
) -> None:
    a = mi.forecast(sample_store, metric="cost_eur", horizon_days=7, method="snaive")
    b = mi.forecast(sample_rows, metric="cost_eur", horizon_days=7, method="snaive")
    pd.testing.assert_frame_equal(a, b)
    assert set(a["team"]) == set(sample_rows["team"].dropna())


# -- generated stores (not the emulator: arbitrary teams, gaps, words and amounts) ----------

_MONEY = st.one_of(
    st.none(),
    st.just(Decimal(0)),
    st.decimals(min_value=0, max_value=1000, places=18, allow_nan=False, allow_infinity=False),
)
# energy amounts with at most 14 places: the SQL rule multiplies them by a 4-place rate
# within 18 places, where it is exact (billing.cost_eur_sql states the bound otherwise)
_ENERGY = st.one_of(
    st.none(),
    st.decimals(min_value=0, max_value=10**6, places=14, allow_nan=False, allow_infinity=False),
)
_ROW = st.fixed_dictionaries(
    {
        "minute": st.integers(0, 60 * 24 * 40),
        "team": st.sampled_from([None, "", "search", "ads", "a'b", "Zed"]),
        "energy_kwh": st.one_of(st.none(), st.floats(0, 10, allow_nan=False)),
        "carbon_g_co2": st.one_of(st.none(), st.floats(0, 1e4, allow_nan=False)),
        "input_tokens": st.integers(0, 10**6),
        "billing_paid_with": st.sampled_from([None, "credits", "energy", " Energy ", "other"]),
        "billing_credits": _MONEY,
        "billing_energy": _ENERGY,
    }
)


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["captured_at"] = pd.Timestamp("2025-03-01", tz="UTC") + pd.to_timedelta(df.pop("minute"), unit="min")
    df["record_id"] = [f"r{i}" for i in range(len(df))]
    df["energy_kwh"] = df["energy_kwh"].astype(float)
    df["carbon_g_co2"] = df["carbon_g_co2"].astype(float)
    df["input_tokens"] = df["input_tokens"].astype("Int64")
    return df


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(_ROW, min_size=1, max_size=60),
    tz=st.sampled_from(["UTC", "Europe/Paris", "Asia/Kolkata", "Pacific/Auckland"]),
)
def test_generated_stores_and_frames_match_the_pandas_path(
    tmp_path_factory: pytest.TempPathFactory, rows: list[dict[str, Any]], tz: str
) -> None:
    df = _frame(rows)
    store = mi.ImpactStore(str(tmp_path_factory.mktemp("store")))
    store.append(df)
    stored = store.to_pandas()
    metrics = ["energy_kwh", "carbon_g_co2", "input_tokens", "requests", "cost_eur"]
    want = pandas_daily_totals(stored, metrics, "team", tz)
    assert_same_totals(daily_totals(store, metrics, by="team", tz=tz), want)
    assert_same_totals(daily_totals(df, metrics, by="team", tz=tz), want)
    totals = cost_totals(store, None)
    assert totals["cost_eur"].iloc[0] == sum_decimal(add_cost_eur(stored)["cost_eur"])
    store.close()


def test_a_frame_with_its_own_costs_and_pre_summed_rows() -> None:
    df = pd.DataFrame(
        {
            "captured_at": pd.to_datetime(["2025-01-01T10:00Z", "2025-01-01T11:00Z", "2025-01-02T00:00Z"]),
            "team": ["a", "a", "a"],
            "cost_eur": [Decimal("0.1"), None, Decimal("0.000000000000000003")],
            "n_requests": [10, 5, 2],
            "n_cost_eur": [9, 0, 2],
        }
    )
    t = daily_totals(df, ["cost_eur", "requests"], counts=True)
    assert t["cost_eur"].tolist() == [Decimal("0.1"), Decimal("0.000000000000000003")]
    assert t["n_requests"].tolist() == [15.0, 2.0]
    assert t["n_cost_eur"].tolist() == [9.0, 2.0]
    assert t["requests"].tolist() == [15.0, 2.0]  # each pre-summed row stands for n_requests
    st_ = mi.budget_status(df, {"a": {"cost_eur": 1}}, as_of="2025-01-02")
    assert st_["spent_exact"].iloc[0] == Decimal("0.100000000000000003")
    assert st_["spent_covered_percent"].iloc[0] == 64.7  # 11 of 17, rounded down


def test_untidy_frames_read_as_before() -> None:
    # nanosecond instants, numbers as group values and as text, a missing instant
    df = pd.DataFrame(
        {
            "captured_at": [
                pd.Timestamp("2025-01-01 23:59:59.999999999", tz="UTC"),
                pd.Timestamp("2025-01-02 00:00:00", tz="UTC"),
                pd.NaT,
            ],
            "team": [3, 3, 3],
            "energy_kwh": ["0.5", "x", "2"],
        }
    )
    metrics = ["energy_kwh", "requests"]
    assert_same_totals(daily_totals(df, metrics), pandas_daily_totals(df, metrics, "team", "UTC"))
    assert daily_totals(df, metrics)["team"].tolist() == ["3", "3"]


def test_rows_after_as_of_are_not_counted_and_a_bad_zone_is_refused(sample_store: Any) -> None:
    early = mi.budget_status(sample_store, {"search": {"requests": 10**6}}, as_of="2026-09-10")
    rows = sample_store.to_pandas(end="2026-09-10")
    assert early["spent"].iloc[0] == float((rows["team"] == "search").sum())
    with pytest.raises(ValueError, match="unknown time zone"):
        daily_totals(sample_store, ["requests"], tz="Mars/Olympus")
    with pytest.raises(ValueError, match="cannot group by"):
        daily_totals(sample_store, ["requests"], by="squad")
