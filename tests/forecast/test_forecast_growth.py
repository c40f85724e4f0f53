"""Forecasts of growing and shrinking series: accuracy, the seasonal-naive baseline, coverage.

Eight families (linear or exponential trend, growth or decline, additive or multiplicative
weekly shape), eight seeds each, with histories of 4 to 13 months and noise of 2-6% of the
level; every series is forecast 28 days past its history through the public API, and the
forecast is judged on the days that followed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import melious_impact as mi
from melious_impact.forecasting.models import SeasonalNaive

H = 28
FAMILIES = list(
    itertools.product(("linear", "exponential"), ("growth", "decline"), ("additive", "multiplicative"))
)
SEEDS = range(8)
HISTORIES = (120, 150, 180, 240, 270, 300, 365, 400)
NOISES = (0.02, 0.04, 0.06, 0.03, 0.05, 0.02, 0.04, 0.06)


@pytest.fixture(scope="module")
def results(make_rows: Callable[..., pd.DataFrame], growth: Callable[..., np.ndarray]) -> pd.DataFrame:
    rows = []
    for trend, direction, shape in FAMILIES:
        family = f"{trend} {direction}, {shape}"
        full, hist = {}, {}
        for seed in SEEDS:
            n = HISTORIES[seed]
            y = growth(trend, direction, shape, 1000 + seed, n + H, noise=NOISES[seed])
            full[f"s{seed}"], hist[f"s{seed}"] = y, np.concatenate([np.full(400 - n, np.nan), y[:n]])
        # One frame per family: every series ends on the same day, histories start apart.
        fc = mi.forecast(make_rows(hist), metric="carbon_g_co2", horizon_days=H, level=0.8)
        for team, g in fc.groupby("team"):
            y = full[str(team)]
            actual, past = y[-H:], y[:-H]
            naive = SeasonalNaive(past).point(H)
            rows.append(
                {
                    "family": family,
                    "team": team,
                    "model": fc.attrs["backtest"][str(team)]["model"],
                    "mape": float(np.mean(np.abs(g["mean"].to_numpy() - actual) / actual)),
                    "mape_snaive": float(np.mean(np.abs(naive - actual) / actual)),
                    "bias": float(g["mean"].sum() / actual.sum() - 1),
                    "coverage": float(
                        np.mean((actual >= g["low"].to_numpy()) & (actual <= g["high"].to_numpy()))
                    ),
                }
            )
    return pd.DataFrame(rows)


def _by_family(results: pd.DataFrame) -> pd.DataFrame:
    return results.groupby("family")[["mape", "mape_snaive", "bias", "coverage"]].mean()


def test_mape_at_28_days_is_at_most_8_percent_in_every_family(results: pd.DataFrame) -> None:
    table = _by_family(results)
    assert (table["mape"] <= 0.08).all(), table


def test_beats_seasonal_naive_in_every_family(results: pd.DataFrame) -> None:
    table = _by_family(results)
    assert (table["mape"] < table["mape_snaive"]).all(), table


def test_80_percent_intervals_hold_70_to_90_percent_in_every_family(results: pd.DataFrame) -> None:
    table = _by_family(results)
    assert table["coverage"].between(0.70, 0.90).all(), table


def test_growth_is_not_under_predicted(results: pd.DataFrame) -> None:
    # The 28-day total is what a budget sees: no family is off by more than 4% on average.
    table = _by_family(results)
    assert table["bias"].abs().max() <= 0.04, table


def test_multiplicative_families_are_modelled_on_the_log_or_box_cox_scale(results: pd.DataFrame) -> None:
    mult = results[results["family"].str.endswith("multiplicative")]
    assert (~mult["model"].str.contains("raw")).mean() >= 0.75, mult[["family", "model"]]


def test_the_team_that_doubles_in_four_months(
    make_rows: Callable[..., pd.DataFrame], growth: Callable[..., np.ndarray]
) -> None:
    # The case that was under-predicted by 7-10% with 62% coverage: steady doubling over
    # four months, a multiplicative weekly shape, six or eight months of history.
    misses, cover = [], []
    for seed in range(8):
        n = (180, 240)[seed % 2]
        y = growth("exponential", "growth", "multiplicative", 2000 + seed, n + H, noise=0.05)
        fc = mi.forecast(make_rows({"team": y[:-H]}), horizon_days=H)
        actual = y[-H:]
        misses.append(fc["mean"].sum() / actual.sum() - 1)
        cover.append(np.mean((actual >= fc["low"].to_numpy()) & (actual <= fc["high"].to_numpy())))
    assert abs(float(np.mean(misses))) <= 0.03, misses
    assert 0.70 <= float(np.mean(cover)) <= 0.90, cover


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    trend=st.sampled_from(["linear", "exponential"]),
    direction=st.sampled_from(["growth", "decline"]),
    shape=st.sampled_from(["additive", "multiplicative"]),
    seed=st.integers(0, 2**16),
    n=st.integers(90, 300),
    days=st.integers(60, 240),
)
def test_a_nearly_noiseless_trend_and_week_is_followed(
    make_rows: Callable[..., pd.DataFrame],
    growth: Callable[..., np.ndarray],
    trend: str,
    direction: str,
    shape: str,
    seed: int,
    n: int,
    days: int,
) -> None:
    # From three months of history (shorter: see the documented limit below), with 0.5%
    # noise, whatever the rate, shape and length, the candidates follow the
    # series: the 28 days ahead within 8% (the backtests' bar; a linear growth on a
    # multiplicative week is only approximated by the log scale, about 5% off after 60
    # days of history), and the interval is ordered, non-negative and finite.
    y = growth(trend, direction, shape, seed, n + H, noise=0.005, days=days)
    fc = mi.forecast(make_rows({"t": y[:n]}), horizon_days=H)
    actual = y[n:]
    v = fc[["low", "mean", "high"]].to_numpy()
    assert np.isfinite(v).all() and (v >= 0).all()
    assert (v[:, 0] <= v[:, 1] + 1e-9).all() and (v[:, 1] <= v[:, 2] + 1e-9).all()
    assert float(np.mean(np.abs(v[:, 1] - actual) / actual)) <= 0.08


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(36, 120),
    seed=st.integers(0, 2**16),
    spread=st.floats(0.1, 3.0),
    heavy=st.booleans(),
)
def test_no_runaway_forecast_from_noisy_positive_days(
    make_rows: Callable[..., pd.DataFrame], n: int, seed: int, spread: float, heavy: bool
) -> None:
    # Days with no trend and a wide (log-normal or Cauchy) spread: a log-scale model may
    # fit them, but its back-transformed mean must not run away from what was seen (a
    # lognormal mean with a wide spread is set by its tail assumption; such forms are not
    # served). A found case: a mean 37,000 times the largest day.
    rng = np.random.default_rng(seed)
    noise = np.abs(rng.standard_cauchy(n)) if heavy else np.exp(rng.normal(0, spread, n))
    y = 100 * noise + 0.01
    fc = mi.forecast(make_rows({"t": y}), horizon_days=H)
    assert float(fc["mean"].max()) <= 3 * float(y.max()), fc.attrs["backtest"]
    assert np.isfinite(fc[["low", "mean", "high"]].to_numpy()).all()


def test_short_history_of_a_fast_change_is_the_documented_limit(
    make_rows: Callable[..., pd.DataFrame], growth: Callable[..., np.ndarray]
) -> None:
    # The limit docs/forecast.md states: two months of a series halving every two months on an
    # additive week are 10-15% off over 28 days, three months are within the 8% bar.
    errs = {}
    for n in (60, 90):
        y = growth("exponential", "decline", "additive", 0, n + H, noise=0.005, days=60)
        fc = mi.forecast(make_rows({"t": y[:n]}), horizon_days=H)
        errs[n] = float(np.mean(np.abs(fc["mean"].to_numpy() - y[n:]) / y[n:]))
    assert errs[90] <= 0.08 < errs[60] <= 0.20, errs
