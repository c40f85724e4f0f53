"""Budgets: spent so far, period forecast, overrun probability and crossing date."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import melious_impact as mi
from melious_impact.errors import ForecastError
from melious_impact.forecasting.budgets import period_bounds

# A steady team: 100 g CO2 and 2 EUR a day (weekly wiggle), from 2025-01-01 to 2025-03-10.
DAYS = 69


@pytest.fixture
def steady(make_rows: Callable[..., pd.DataFrame]) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    wiggle = np.resize([1.1, 1.1, 1.0, 1.0, 1.0, 0.9, 0.9], DAYS)
    carbon = make_rows({"search": 100 * wiggle + rng.normal(0, 3, DAYS)}, metric="carbon_g_co2")
    cost = make_rows({"search": 2 * wiggle + rng.normal(0, 0.05, DAYS)}, metric="cost_eur")
    return pd.concat([carbon, cost], ignore_index=True)


def test_far_above_far_below_and_crossing(steady: pd.DataFrame) -> None:
    budgets = {"search": {"carbon_g_co2": 1_000_000, "cost_eur": 40}}
    st = mi.budget_status(steady, budgets, period="month").set_index("metric")
    assert list(st.columns[:2]) == ["team", "period_start"] or "team" in st.columns
    assert st.loc["carbon_g_co2", "p_exceed"] < 0.01
    assert pd.isna(st.loc["carbon_g_co2", "crossing_date"])
    # March: 10 days spent (~20 EUR), ~62 EUR expected: a 40 EUR budget is crossed around March 20.
    cost = st.loc["cost_eur"]
    assert cost["period_start"] == pd.Timestamp("2025-03-01") and cost["period_end"] == pd.Timestamp(
        "2025-03-31"
    )
    assert cost["as_of"] == pd.Timestamp("2025-03-10")
    assert cost["spent"] == pytest.approx(20, rel=0.05)
    assert cost["forecast"] == pytest.approx(62, rel=0.05)
    assert cost["forecast_low"] < cost["forecast"] < cost["forecast_high"]
    assert cost["p_exceed"] > 0.99
    assert pd.Timestamp("2025-03-18") <= cost["crossing_date"] <= pd.Timestamp("2025-03-23")
    # Money stays exact where it is shown as money.
    assert isinstance(cost["spent_exact"], Decimal) and float(cost["spent_exact"]) == pytest.approx(
        cost["spent"]
    )


def test_budget_near_the_forecast_is_uncertain(steady: pd.DataFrame) -> None:
    st = mi.budget_status(steady, {"search": {"carbon_g_co2": 3100}}, period="month")
    expected = st["forecast"].iloc[0]
    st = mi.budget_status(steady, {"search": {"carbon_g_co2": expected}}, period="month")
    assert 0.2 < st["p_exceed"].iloc[0] < 0.8


def test_as_of_and_periods(steady: pd.DataFrame) -> None:
    budgets = {"search": {"carbon_g_co2": 5000}}
    # As of Feb 10: data after it is ignored; spent covers Feb 1-10.
    st = mi.budget_status(steady, budgets, period="month", as_of="2025-02-10")
    assert st["spent"].iloc[0] == pytest.approx(1000, rel=0.05)
    # Quarter: Jan 1 .. Mar 31; the actual spend crossed 5000 g on day 50 or so (Feb 19).
    q = mi.budget_status(steady, budgets, period="quarter")
    assert q["period_start"].iloc[0] == pd.Timestamp("2025-01-01")
    assert pd.Timestamp("2025-02-17") <= q["crossing_date"].iloc[0] <= pd.Timestamp("2025-02-21")
    assert q["p_exceed"].iloc[0] == 1.0
    # A complete period is actuals only.
    done = mi.budget_status(steady, budgets, period="month", as_of="2025-01-31")
    assert done["method"].iloc[0] == "actual" and done["forecast"].iloc[0] == done["spent"].iloc[0]
    assert period_bounds(pd.Timestamp("2024-02-10"), "year") == (
        pd.Timestamp("2024-01-01"),
        pd.Timestamp("2024-12-31"),
    )
    with pytest.raises(ValueError, match="period"):
        mi.budget_status(steady, budgets, period="week")


def test_unknown_team_and_empty_data(steady: pd.DataFrame) -> None:
    st = mi.budget_status(steady, {"ghost": {"cost_eur": 10}})
    assert (
        st["spent"].iloc[0] == 0
        and np.isnan(st["p_exceed"].iloc[0])
        and st["note"].iloc[0] == "no data for this team"
    )
    with pytest.raises(ForecastError, match="as_of"):
        mi.budget_status(steady.iloc[:0], {"search": {"cost_eur": 10}})
    st = mi.budget_status(steady.iloc[:0], {"search": {"cost_eur": 10}}, as_of="2025-03-10")
    assert st["note"].iloc[0] == "no data for this team"


def test_budget_files(tmp_path: Path, steady: pd.DataFrame) -> None:
    steady = steady.assign(energy_kwh=0.01)
    toml = tmp_path / "b.toml"
    toml.write_text(
        '[search]\ncost_eur = 40.10\ncarbon_g_co2 = 20_000\n\n["data platform"]\nenergy_kwh = 1.5\n'
    )
    assert mi.load_budgets(toml) == {
        "search": {"cost_eur": Decimal("40.10"), "carbon_g_co2": Decimal(20000)},
        "data platform": {"energy_kwh": Decimal("1.5")},
    }
    yaml = tmp_path / "b.yml"
    yaml.write_text("search:\n  cost_eur: 40.1\n  carbon_g_co2: 20000\n")
    assert mi.load_budgets(yaml)["search"] == {"cost_eur": Decimal("40.1"), "carbon_g_co2": Decimal(20000)}
    st = mi.budget_status(steady, toml)
    assert set(zip(st.team, st.metric, strict=True)) == {
        ("search", "cost_eur"),
        ("search", "carbon_g_co2"),
        ("data platform", "energy_kwh"),
    }


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("b.toml", "[search]\ndollars = 5\n", "unknown metric 'dollars'"),
        ("b.toml", "[search]\ncost_eur = -5\n", "non-negative"),
        ("b.toml", "[search]\ncost_eur = 'lots'\n", "non-negative number"),
        ("b.toml", "search = 5\n", "team 'search' needs a table"),
        ("b.toml", "[search\n", "not valid TOML"),
        ("b.yaml", "search: [1, 2\n", "not valid YAML"),
        ("b.yaml", "", "no budgets"),
        ("b.json", "{}", "must end in .toml"),
        ("b.yaml", "search:\n  cost_eur: true\n", "non-negative number"),
    ],
)
def test_bad_budget_files_say_what_is_wrong(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        mi.load_budgets(path)


def test_p_exceed_is_calibrated(
    synth: Callable[..., np.ndarray], make_rows: Callable[..., pd.DataFrame]
) -> None:
    """Across known series, the predicted overrun probabilities match how often overruns happen."""
    history, remaining = 365, 28
    start = pd.Timestamp("2025-03-03") - pd.Timedelta(days=history - 1)  # last day: March 3
    rng = np.random.default_rng(7)
    predicted, happened = [], []
    for seed in range(30):
        y = synth(seed, history + remaining)
        spent = y[history - 3 : history].sum()  # March 1-3
        outcome = spent + y[history:].sum()
        budget = outcome * rng.uniform(0.96, 1.04)  # near the truth, so the answer is uncertain
        rows = make_rows({"t": y[:history]}, start=str(start.date()))
        st = mi.budget_status(rows, {"t": {"carbon_g_co2": budget}}, n_paths=1000, seed=seed)
        assert st["spent"].iloc[0] == pytest.approx(spent)
        predicted.append(st["p_exceed"].iloc[0])
        happened.append(outcome > budget)
    p, h = np.array(predicted), np.array(happened, dtype=float)
    assert abs(p.mean() - h.mean()) < 0.15
    assert np.mean((p - h) ** 2) < 0.2  # Brier score; always answering 0.5 scores 0.25
