"""The models agree with statsmodels where it has the same model, and paths agree with intervals."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from melious_impact.forecasting.backtest import choose
from melious_impact.forecasting.calibration import Calibrated, scores
from melious_impact.forecasting.models import ETS, MeanModel, SeasonalNaive, ZeroModel
from melious_impact.forecasting.scales import Scale, guerrero_lambda


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


# Models on other scales, their backtest forecasts, and calibrated intervals.


@pytest.fixture
def growing() -> np.ndarray:
    """Exponential growth (doubling in 120 days) x a multiplicative week, 3% noise."""
    rng = np.random.default_rng(7)
    t = np.arange(240)
    week = np.array([1.1, 1.15, 1.1, 1.05, 1.0, 0.4, 0.3])
    return 200 * 2 ** (t / 120) * week[t % 7] / week.mean() * (1 + rng.normal(0, 0.03, 240))


@pytest.mark.parametrize("damped", [True, False])
@pytest.mark.parametrize("lam", [0.0, 0.4, 1.0])
def test_ets_on_any_scale_is_statsmodels_on_the_transformed_series(
    growing: np.ndarray, damped: bool, lam: float
) -> None:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    scale = Scale(lam)
    ours = ETS(growing, damped=damped, scale=scale)
    z = scale.forward(growing)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = ETSModel(
            pd.Series(z), error="add", trend="add", damped_trend=damped, seasonal="add",
            seasonal_periods=7, initialization_method="heuristic",
        ).smooth(ours.params)  # fmt: skip
    frame = ref.get_prediction(start=len(z), end=len(z) + 20).summary_frame(alpha=0.2)
    np.testing.assert_allclose(ours.center(21), frame["mean"], rtol=1e-9)
    np.testing.assert_allclose(ours.sd(21) * stats_norm_q(0.9), frame["pi_upper"] - frame["mean"], rtol=1e-6)
    # Back on the original scale the interval is the back-transformed one.
    _, low, high = ours.forecast(21, 0.8)
    np.testing.assert_allclose(low, np.maximum(scale.inverse(frame["pi_lower"].to_numpy()), 0), rtol=1e-6)
    np.testing.assert_allclose(high, scale.inverse(frame["pi_upper"].to_numpy()), rtol=1e-6)


def stats_norm_q(p: float) -> float:
    from scipy import stats

    return float(stats.norm.ppf(p))


@pytest.mark.parametrize("damped", [True, False])
def test_states_and_likelihood_are_statsmodels_filtering_with_the_same_parameters(
    growing: np.ndarray, damped: bool
) -> None:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    fitted = ETS(growing[:180], damped=damped, scale=Scale(0.0))
    extended = fitted.extended(growing)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ETSModel(
            pd.Series(np.log(growing)), error="add", trend="add", damped_trend=damped, seasonal="add",
            seasonal_periods=7, initialization_method="heuristic",
        )  # fmt: skip
        ref = model.smooth(fitted.params)
        ref_fit = model.fit(disp=False)
    np.testing.assert_allclose(extended.states, ref.states, rtol=1e-9, atol=1e-12)
    whole = ETS(growing, params=fitted.params, damped=damped, scale=Scale(0.0))
    assert whole.llf == pytest.approx(ref.llf, rel=1e-9)
    assert whole.sigma == pytest.approx(np.sqrt(ref.mse), rel=1e-9)
    # Fitted here (parameters only) is fitted by statsmodels (with its results object).
    np.testing.assert_allclose(
        ETS(growing, damped=damped, scale=Scale(0.0)).params, ref_fit.params, rtol=1e-6
    )
    # Backtest forecasts from a past day are the forecasts of the model fed up to that day.
    past = fitted.extended(growing[:200])
    np.testing.assert_allclose(extended.centers_from(np.array([200]), 14)[0], past.center(14), rtol=1e-12)
    with pytest.raises(ValueError, match="extended"):
        fitted.extended(growing[::-1])


def test_information_criterion_prefers_the_log_scale_for_multiplicative_growth(growing: np.ndarray) -> None:
    raw, log = ETS(growing, scale=Scale(1.0)), ETS(growing, scale=Scale(0.0))
    assert log.aicc < raw.aicc - 10
    rng = np.random.default_rng(3)
    additive = (
        500 + 2 * np.arange(240) + np.resize([40, 45, 40, 35, 30, -90, -100], 240) + rng.normal(0, 10, 240)
    )
    assert ETS(additive, scale=Scale(1.0)).aicc < ETS(additive, scale=Scale(0.0)).aicc


def test_auto_picks_the_log_scale_and_its_interval_covers(growing: np.ndarray) -> None:
    c = choose(growing[:212], 28)
    assert c.method == "ets" and "log scale" in c.form and c.mae_ets < c.mae_snaive
    assert c.interval_scale >= 1.0
    mean, low, high = c.model.forecast(28, 0.8)
    actual = growing[212:]
    assert abs(mean.sum() / actual.sum() - 1) < 0.03
    assert np.mean((actual >= low) & (actual <= high)) >= 0.7


def test_calibration_scales_the_width_by_the_backtest_scores(weekly: np.ndarray) -> None:
    naive = SeasonalNaive(weekly)
    rng = np.random.default_rng(11)
    # Errors twice as large as the model's own sd: the interval doubles (the 80% quantile
    # of |N(0, 2^2)| over the normal 80% quantile). Later weeks of the score matrix grow.
    score = 2 * np.abs(rng.standard_normal((112, 28))) * np.repeat([1.0, 1.0, 1.5, 1.5], 7)
    score[-10:, 20:] = np.nan  # days past the data
    served = Calibrated(naive, score)
    factor = served.factor(40, 0.8)
    np.testing.assert_allclose(factor[:14], 2.0, rtol=0.1)
    np.testing.assert_allclose(factor[14:28], 3.0, rtol=0.1)
    np.testing.assert_array_equal(factor[28:], factor[27])  # past the backtest: the last week
    mean, _, high = served.forecast(40, 0.8)
    _, _, high0 = naive.forecast(40, 0.8)
    np.testing.assert_allclose(mean, naive.point(40))
    np.testing.assert_allclose(high - mean, factor * (high0 - mean), rtol=1e-9)
    # Errors smaller than the model expects do not narrow its interval.
    calm = Calibrated(naive, np.abs(rng.standard_normal((112, 28))) / 2)
    np.testing.assert_array_equal(calm.factor(28, 0.8), 1.0)
    # Too few scores: the model's own interval.
    np.testing.assert_array_equal(Calibrated(naive, score[:1]).factor(28, 0.8), 1.0)


def test_backtest_scores_are_standardised_errors_on_the_model_scale(growing: np.ndarray) -> None:
    base = ETS(growing[:150], scale=Scale(0.0))
    fitted = base.extended(growing)
    origins = np.array([150, 200, 230])
    got = scores(fitted, origins, 14)
    z = np.log(growing)
    for i, o in enumerate(origins):
        want = np.full(14, np.nan)
        k = min(14, len(z) - o)
        past = base.extended(growing[:o])
        want[:k] = np.abs(z[o : o + k] - past.center(14)[:k]) / fitted.sd(14)[:k]
        np.testing.assert_allclose(got[i], want, rtol=1e-9)


def test_calibrated_paths_match_the_calibrated_intervals(growing: np.ndarray) -> None:
    c = choose(growing, 28)
    assert isinstance(c.model, Calibrated)
    mean, low, high = c.model.forecast(28, 0.8)
    paths = c.model.simulate(28, 4000, np.random.default_rng(5))
    np.testing.assert_allclose(paths.mean(axis=0), mean, rtol=0.03)
    np.testing.assert_allclose(np.quantile(paths, 0.1, axis=0), low, rtol=0.05)
    np.testing.assert_allclose(np.quantile(paths, 0.9, axis=0), high, rtol=0.05)


@settings(max_examples=60, deadline=None)
@given(
    lam=st.sampled_from([0.0, 0.2, 0.5, 0.8, 1.0]),
    y=st.lists(st.floats(min_value=1e-3, max_value=1e6), min_size=1, max_size=30),
    sd=st.floats(min_value=0.0, max_value=0.5),
)
def test_scales_round_trip_and_their_mean_is_not_below_the_median(
    lam: float, y: list[float], sd: float
) -> None:
    scale = Scale(lam)
    values = np.asarray(y)
    np.testing.assert_allclose(scale.inverse(scale.forward(values)), values, rtol=1e-9)
    center = scale.forward(values)
    # Back-transformed, the median of a symmetric forecast is the inverse of its center;
    # its mean is never below that (concave transforms), and equal on the raw scale.
    mean = scale.mean(center, np.full_like(center, sd))
    assert (mean >= scale.inverse(center) * (1 - 1e-12)).all()
    if lam == 1.0:
        np.testing.assert_allclose(mean, values)


def test_guerrero_finds_log_for_proportional_spread_and_raw_for_constant_spread() -> None:
    rng = np.random.default_rng(2)
    level = np.repeat(np.geomspace(10, 1000, 30), 7)
    assert guerrero_lambda(level * (1 + rng.normal(0, 0.1, len(level))), 7) <= 0.15
    assert guerrero_lambda(level + rng.normal(0, 5, len(level)), 7) >= 0.85


def test_a_zero_day_after_a_positive_fit_drops_the_log_form_without_a_warning(growing: np.ndarray) -> None:
    # the log form is chosen on the positive days before the backtest, then meets a zero day
    y = growing[:212].copy()
    y[-3] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Scale(0.0).forward(np.array([1.0, 0.0]))[1] == -np.inf
        assert np.isnan(Scale(0.5).forward(np.array([-1.0]))[0])
        c = choose(y, 28)
    assert "log scale" not in c.form and "Box-Cox" not in c.form
