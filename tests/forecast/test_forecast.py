"""mi.forecast: backtested accuracy on known series, and clear behaviour on thin data."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import melious_impact as mi
from melious_impact.forecasting.models import SeasonalNaive

H = 28
HISTORY = 400
SEEDS = range(12)


@pytest.fixture(scope="module")
def backtest(make_rows: Callable[..., pd.DataFrame], synth: Callable[..., np.ndarray]) -> pd.DataFrame:
    """Forecast 12 known series (trend x weekly pattern + noise) 28 days past their history."""
    full = {f"team{s:02d}": synth(s, HISTORY + H) for s in SEEDS}
    history = make_rows({k: v[:HISTORY] for k, v in full.items()})
    fc = mi.forecast(history, metric="carbon_g_co2", horizon_days=H, level=0.8)
    rows = []
    for team, g in fc.groupby("team"):
        actual = full[str(team)][HISTORY:]
        naive = SeasonalNaive(full[str(team)][:HISTORY]).point(H)
        rows.append(
            {
                "team": team,
                "method": g["method"].iloc[0],
                "mape": float(np.mean(np.abs(g["mean"].to_numpy() - actual) / actual)),
                "mape_snaive": float(np.mean(np.abs(naive - actual) / actual)),
                "coverage": float(
                    np.mean((actual >= g["low"].to_numpy()) & (actual <= g["high"].to_numpy()))
                ),
            }
        )
    return pd.DataFrame(rows)


def test_mape_at_28_days_is_under_8_percent(backtest: pd.DataFrame) -> None:
    assert (backtest["mape"] <= 0.08).all(), backtest
    assert backtest["mape"].mean() <= 0.05


def test_beats_seasonal_naive(backtest: pd.DataFrame) -> None:
    assert backtest["mape"].mean() < 0.85 * backtest["mape_snaive"].mean(), backtest
    assert (backtest["method"] == "ets").mean() >= 0.75  # the backtest keeps ETS where it is better


def test_80_percent_intervals_hold_70_to_90_percent(backtest: pd.DataFrame) -> None:
    assert 0.70 <= backtest["coverage"].mean() <= 0.90, backtest


def test_output_shape(make_rows: Callable[..., pd.DataFrame], synth: Callable[..., np.ndarray]) -> None:
    rows = make_rows({"a": synth(1, 120), "b": synth(2, 90)}, start="2025-03-01")
    fc = mi.forecast(rows, metric="carbon_g_co2", horizon_days=10, level=0.9)
    assert list(fc.columns) == ["date", "team", "metric", "mean", "low", "high", "method", "note"]
    assert len(fc) == 20 and set(fc.team) == {"a", "b"}
    # Both teams start the day after the last day with data (2025-03-01 + 119 days).
    assert fc["date"].min() == pd.Timestamp("2025-06-29") and fc["date"].max() == pd.Timestamp("2025-07-08")
    assert (fc["low"] <= fc["mean"]).all() and (fc["mean"] <= fc["high"]).all()
    assert set(fc.attrs["backtest"]) == {"a", "b"}
    assert set(fc.attrs["backtest"]["a"]) == {"method", "mae_ets", "mae_snaive", "model", "interval_scale"}
    assert fc.attrs["backtest"]["a"]["model"].startswith(("ETS(A,", "seasonal naive"))
    fc.groupby("team").agg(total=("mean", "sum"))  # attrs must not break pandas operations


class _Store:
    """Anything with to_pandas() is accepted in place of a frame (ImpactStore is one)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def to_pandas(self) -> pd.DataFrame:
        return self.frame


def test_store_and_cost_metric(
    make_rows: Callable[..., pd.DataFrame], synth: Callable[..., np.ndarray]
) -> None:
    rows = make_rows({"a": synth(3, 70) / 100}, metric="cost_eur")
    fc = mi.forecast(_Store(rows), metric="cost_eur", horizon_days=7)
    assert len(fc) == 7 and fc["mean"].between(0.3, 8).all()


def test_empty_history_gives_an_empty_frame() -> None:
    empty = pd.DataFrame(
        {"captured_at": pd.Series(dtype="datetime64[ns, UTC]"), "team": [], "energy_kwh": []}
    )
    fc = mi.forecast(empty, metric="energy_kwh")
    assert len(fc) == 0
    assert list(fc.columns) == ["date", "team", "metric", "mean", "low", "high", "method", "note"]


def test_one_day_history(make_rows: Callable[..., pd.DataFrame]) -> None:
    fc = mi.forecast(make_rows({"new": [40.0]}), horizon_days=5)
    assert (fc["mean"] == 40.0).all() and (fc["method"] == "mean").all()
    assert "1 day" in fc["note"].iloc[0]
    assert (fc["low"] == 0.0).all() and (fc["high"] > 80).all()  # no spread to estimate: wide


def test_all_zero_history(make_rows: Callable[..., pd.DataFrame]) -> None:
    fc = mi.forecast(make_rows({"idle": [0.0] * 30}), horizon_days=5)
    assert (fc[["mean", "low", "high"]].to_numpy() == 0).all()
    assert set(fc["method"]) == {"zero"} and "all-zero" in fc["note"].iloc[0]


def test_new_team_gets_a_wide_interval_and_a_note(
    make_rows: Callable[..., pd.DataFrame], synth: Callable[..., np.ndarray]
) -> None:
    old = synth(4, 200)
    new = np.full(200, np.nan)
    new[-6:] = old[-6:] * np.array([0.8, 1.3, 0.9, 1.1, 1.2, 0.7])  # started six days ago
    fc = mi.forecast(make_rows({"old": old, "new": new}), horizon_days=14)
    by_team = {t: g for t, g in fc.groupby("team")}
    assert by_team["new"]["date"].tolist() == by_team["old"]["date"].tolist()
    assert "short history (6 days)" in by_team["new"]["note"].iloc[0]
    width = {t: float(((g["high"] - g["low"]) / g["mean"]).mean()) for t, g in by_team.items()}
    assert width["new"] > 2 * width["old"]


def test_three_weeks_use_seasonal_naive_with_a_note(
    make_rows: Callable[..., pd.DataFrame], synth: Callable[..., np.ndarray]
) -> None:
    fc = mi.forecast(make_rows({"young": synth(5, 21)}), horizon_days=7)
    assert set(fc["method"]) == {"snaive"} and "too short to backtest" in fc["note"].iloc[0]


def test_gappy_history(make_rows: Callable[..., pd.DataFrame], synth: Callable[..., np.ndarray]) -> None:
    y = synth(6, 150)
    y[np.random.default_rng(0).random(150) < 0.4] = np.nan  # 40% of days without any request
    fc = mi.forecast(make_rows({"gappy": y}), horizon_days=14)
    assert len(fc) == 14 and (fc["low"] >= 0).all() and (fc["high"] > fc["low"]).all()
    # Missing days are zero days, so the level sits well below the busy days' level.
    assert fc["mean"].mean() < np.nanmean(y)


def test_method_and_level_are_checked(
    make_rows: Callable[..., pd.DataFrame], synth: Callable[..., np.ndarray]
) -> None:
    rows = make_rows({"a": synth(7, 60)})
    assert set(mi.forecast(rows, horizon_days=3, method="snaive")["method"]) == {"snaive"}
    with pytest.raises(ValueError, match="method"):
        mi.forecast(rows, method="prophet")
    with pytest.raises(ValueError, match="level"):
        mi.forecast(rows, level=80)
    with pytest.raises(ValueError, match="horizon_days"):
        mi.forecast(rows, horizon_days=0)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=50),
    method=st.sampled_from(["auto", "ets", "snaive"]),
)
def test_intervals_are_ordered_and_non_negative(
    make_rows: Callable[..., pd.DataFrame], values: list[float], method: str
) -> None:
    fc = mi.forecast(make_rows({"t": values}), horizon_days=10, method=method)
    assert len(fc) == 10
    v = fc[["low", "mean", "high"]].to_numpy()
    assert np.isfinite(v).all() and (v >= 0).all()
    assert (v[:, 0] <= v[:, 1] + 1e-9).all() and (v[:, 1] <= v[:, 2] + 1e-9).all()


def test_mi_forecast_is_the_function_whatever_was_imported_first(
    make_rows: Callable[..., pd.DataFrame],
) -> None:
    # The subpackage is named forecasting: importing it never rebinds mi.forecast.
    import melious_impact.forecasting.costs
    import melious_impact.reporting.dashboard  # noqa: F401
    from melious_impact.forecasting.forecast import forecast
    from melious_impact.reporting.report import report

    assert mi.forecast is forecast and mi.report is report
    rows = make_rows({"a": [1.0, 2.0, 3.0]})
    pd.testing.assert_frame_equal(mi.forecast(rows, horizon_days=2), forecast(rows, horizon_days=2))


@pytest.mark.slow
def test_parallel_fits_give_the_same_forecast(
    make_rows: Callable[..., pd.DataFrame], synth: Callable[..., np.ndarray]
) -> None:
    rows = make_rows({f"t{i}": synth(i, 90) for i in range(3)})
    pd.testing.assert_frame_equal(mi.forecast(rows, n_jobs=2), mi.forecast(rows))
