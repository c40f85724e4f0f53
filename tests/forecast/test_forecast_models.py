"""The models agree with statsmodels where it has the same model, and paths agree with intervals."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from melious_impact.forecast.backtest import choose
from melious_impact.forecast.models import ETS, MeanModel, SeasonalNaive, ZeroModel


@pytest.fixture
def weekly() -> np.ndarray:
    rng = np.random.default_rng(0)
    return 100 + 10 * np.sin(np.arange(200) * 2 * np.pi / 7) + rng.normal(0, 5, 200)


def test_seasonal_naive_is_statsmodels_seasonal_random_walk(weekly: np.ndarray) -> None:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = SARIMAX(pd.Series(weekly), order=(0, 0, 0), seasonal_order=(0, 1, 0, 7)).fit(disp=False)
    ref = fit.get_forecast(21).summary_frame(alpha=0.2)
    mean, low, high = SeasonalNaive(weekly).forecast(21, 0.8)
    np.testing.assert_allclose(mean, ref["mean"], rtol=1e-9)
    np.testing.assert_allclose(low, ref["mean_ci_lower"], rtol=1e-5)
    np.testing.assert_allclose(high, ref["mean_ci_upper"], rtol=1e-5)


@pytest.mark.parametrize("model", ["ets", "snaive", "mean"])
def test_sample_paths_match_the_intervals(weekly: np.ndarray, model: str) -> None:
    fitted = {
        "ets": lambda: ETS(weekly),
        "snaive": lambda: SeasonalNaive(weekly),
        "mean": lambda: MeanModel(weekly[:10]),
    }[model]()
    mean, low, high = fitted.forecast(14, 0.8)
    paths = fitted.simulate(14, 4000, np.random.default_rng(1))
    assert paths.shape == (4000, 14) and (paths >= 0).all()
    np.testing.assert_allclose(paths.mean(axis=0), mean, rtol=0.03)
    np.testing.assert_allclose(np.quantile(paths, 0.1, axis=0), low, rtol=0.05)
    np.testing.assert_allclose(np.quantile(paths, 0.9, axis=0), high, rtol=0.05)


def test_mean_model_interval_is_the_student_t_prediction_interval() -> None:
    from scipy import stats

    y = np.array([10.0, 12.0, 9.0, 14.0, 11.0])
    _, low, high = MeanModel(y).forecast(3, 0.9)
    half = stats.t.ppf(0.95, 4) * y.std(ddof=1) * np.sqrt(1 + 1 / 5)
    np.testing.assert_allclose(high - y.mean(), half)
    np.testing.assert_allclose(y.mean() - low, half)


def test_choice_records_its_evidence(weekly: np.ndarray) -> None:
    c = choose(weekly, 28)
    assert c.method == "ets" and c.mae_ets < c.mae_snaive
    flat_zero = choose(np.zeros(40), 7)
    assert isinstance(flat_zero.model, ZeroModel)
    constant = choose(np.full(60, 5.0), 7)  # no variation at all: still a finite forecast
    mean, low, high = constant.model.forecast(7, 0.8)
    np.testing.assert_allclose(mean, 5.0, atol=1e-6)
    assert (low <= mean + 1e-9).all() and (high >= mean - 1e-9).all()
    with pytest.raises(ValueError, match="method"):
        choose(weekly, 7, "arima")
