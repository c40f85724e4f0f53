"""Choosing a model per series: information criterion, rolling-origin backtest, calibration.

For a series of ``n`` days (the last ``max_fit_days``):

1. **Candidates.** ETS with additive errors, additive weekly seasonality and an additive
   trend, damped and undamped, each on the raw scale and, for a positive series, on the
   log scale and on the Box-Cox scale that Guerrero's method picks when it lies between
   (:mod:`.scales`). On the log scale growth, weekly shape and noise are proportional to
   the level: what spend of a growing team does.
2. **Fit once, backtest everywhere.** To bound the cost, the scale is chosen by AICc
   among damped fits, and the undamped trend is fitted on that scale only. Each candidate is fitted by maximum likelihood on
   the days before the backtest (``n - BACKTEST_DAYS``), so no held-out day informs its
   parameters, then filtered with those parameters through the whole series. Forecasts
   from every day of the backtest (daily origins, rolling-origin evaluation, fpp3 §5.10)
   come from the filtered states: no refit per origin.
3. **Choice.** Candidates whose AICc (on the original scale, so comparable across scales)
   is more than ``AICC_SUPPORT`` above the best have no support and are dropped, and so
   are log or Box-Cox forms whose served mean runs more than ``MAX_TAIL_RATIO`` above their
   median within the horizon (very noisy or heavy-tailed days: the mean is then set by the
   tail assumption, not by the data). Of the rest, the one with the smallest backtest mean
   absolute error over horizons ``1..window`` (``window = min(max(horizon, 7), 28)``) is
   kept, its forecasts taken as served (calibrated, back-transformed means), and only if
   it beats seasonal naive on the same origins (always computed). Otherwise the forecast
   is seasonal naive.
4. **Calibration.** Every candidate's interval widths are rescaled from its own backtest
   errors over the last ``CALIBRATION_DAYS`` origins (:mod:`.calibration`), before the
   choice, so the choice sees the forecasts that would be served.

Cost: one maximum-likelihood fit per candidate and series, and one filtering pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from melious_impact.forecasting.calibration import PATH_LEVEL, Calibrated, scores
from melious_impact.forecasting.models import (
    ETS,
    SEASON,
    Fitted,
    MeanModel,
    SeasonalNaive,
    ZeroModel,
    single_threaded_blas,
)
from melious_impact.forecasting.scales import Scale, guerrero_lambda

#: Method names accepted by ``forecast(method=...)``.
METHODS = ("auto", "ets", "snaive")
#: Days of history used (the most recent ones): 26 weeks to fit before the backtest's 8.
#: Local models learn little from older days; measured on 20 of the benchmark's series and
#: 20 growth series, 365 days gave the same or slightly worse accuracy (MAPE 2.4% and 5.0%
#: against 2.4% and 4.6%) and took about 1.3x as long.
MAX_FIT_DAYS = 238
#: Shortest training span before a backtest origin (four weeks of weekly pattern).
MIN_TRAIN_DAYS = 4 * SEASON
#: Shortest history that gets a weekly model at all (two full weeks, what ETS needs to
#: initialise its seasonal states); shorter ones get the mean model.
MIN_SEASONAL_DAYS = 2 * SEASON
#: Days held out for the backtest (daily origins); parameters are fitted before them.
BACKTEST_DAYS = 56
#: Longest backtest window (days ahead).
MAX_WINDOW = 28
#: Origins whose errors calibrate the intervals (the most recent days).
CALIBRATION_DAYS = 112
#: AICc difference beyond which a candidate has no support (Burnham & Anderson 2002, §2.6).
AICC_SUPPORT = 10.0
#: Largest mean / median of a log or Box-Cox form's forecast that is served.
MAX_TAIL_RATIO = 1.5
#: Box-Cox parameters this close to 0 or 1 are taken as the log or raw scale.
LAMBDA_SNAP = 0.15


@dataclass(frozen=True)
class Choice:
    """The model chosen for one series and the evidence for it."""

    model: Fitted
    method: str
    note: str
    mae_ets: float  # NaN when not backtested
    mae_snaive: float
    form: str = ""  # e.g. "ETS(A,Ad,A) on the log scale"
    interval_scale: float = float("nan")  # served 80% width / the model's own (1 = unchanged)


def choose(y: np.ndarray, horizon: int, method: str = "auto", *, max_fit_days: int = MAX_FIT_DAYS) -> Choice:
    """Fit the model that ``method`` asks for on daily values ``y`` (oldest first)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    with single_threaded_blas():
        return _choose(y, horizon, method, max_fit_days)


def scales_for(y: np.ndarray) -> list[Scale]:
    """Raw always; log and Guerrero's Box-Cox too when every day is clearly positive."""
    out = [Scale(1.0)]
    if len(y) and float(np.min(y)) > 1e-3 * float(np.median(y)) > 0:
        out.append(Scale(0.0))
        lam = guerrero_lambda(y, SEASON)
        if LAMBDA_SNAP < lam < 1 - LAMBDA_SNAP:
            out.append(Scale(lam))
    return out


def _choose(y: np.ndarray, horizon: int, method: str, max_fit_days: int) -> Choice:
    y = np.asarray(y, dtype=float)[-max_fit_days:]
    n = len(y)
    nan = float("nan")
    if n == 0:
        raise ValueError("an empty series has no forecast")
    if not np.any(y):
        return Choice(ZeroModel(), "zero", ZeroModel().note, nan, nan, "zero")
    if n < MIN_SEASONAL_DAYS:
        m = MeanModel(y)
        return Choice(m, m.method, m.note, nan, nan, "mean day")
    if method == "snaive":
        return Choice(SeasonalNaive(y), "snaive", "", nan, nan, "seasonal naive")

    # At least a week, so short horizons are still judged over every weekday.
    window = min(max(horizon, SEASON), MAX_WINDOW, n - MIN_TRAIN_DAYS)
    if window < SEASON:
        note = f"short history ({n} days): too short to backtest"
        if method == "ets":
            try:
                e = ETS(y)
                return Choice(e, "ets", note, nan, nan, e.form)
            except Exception as exc:  # statsmodels raises many types on degenerate data
                note = f"{note}; ETS failed ({type(exc).__name__})"
        return Choice(SeasonalNaive(y), "snaive", f"{note}; seasonal naive", nan, nan, "seasonal naive")

    cut = n - min(BACKTEST_DAYS, n - MIN_TRAIN_DAYS)
    origins = np.arange(cut, n)
    naive = _served(SeasonalNaive(y), window)
    mae_snaive = _mae(naive, origins, window)
    candidates, failures = _candidates(y, cut)
    short = f"short history ({n} days): interval may be too narrow" if n < 8 * SEASON else ""
    best_aicc = min((aicc for _, aicc in candidates), default=nan)
    served = [_served(c, window) for c, aicc in candidates if aicc <= best_aicc + AICC_SUPPORT]
    # A log or Box-Cox form whose mean sits far above its median has a forecast set by its
    # tail assumption, not by the data (very noisy or heavy-tailed days): not served.
    served = [
        m for m in served if m.base.scale.lam == 1.0 or m.tail_ratio(max(horizon, window)) <= MAX_TAIL_RATIO
    ]
    if not served:
        failed = f"ETS failed ({failures})" if failures else "no ETS form fits"
        return _choice(
            naive,
            "snaive",
            "; ".join(x for x in (short, f"{failed}; seasonal naive") if x),
            nan,
            mae_snaive,
            window,
        )
    maes = [_mae(m, origins, window) for m in served]
    k = int(np.argmin(maes))
    best, mae_ets = served[k], maes[k]
    if method == "ets" or mae_ets < mae_snaive:
        return _choice(best, "ets", short, mae_ets, mae_snaive, window)
    note = "; ".join(x for x in (short, "seasonal naive beat ETS in the backtest") if x)
    return _choice(naive, "snaive", note, mae_ets, mae_snaive, window)


def _candidates(y: np.ndarray, cut: int) -> tuple[list[tuple[ETS, float]], str]:
    """Candidates fitted on ``y[:cut]`` and extended through ``y``, with the fit's AICc.

    The scale is chosen by AICc on damped fits (one per scale); the undamped trend is then
    fitted on that scale only, and the backtest decides between the two trends.
    """
    fits: list[tuple[ETS, float]] = []
    failed: list[str] = []

    def fit(scale: Scale, damped: bool) -> None:
        try:
            first = ETS(y[:cut], damped=damped, scale=scale)
            final = first.extended(y)
            final.forecast(1, 0.5)  # fail here, not later, on a degenerate state
        except Exception as exc:  # statsmodels raises many types on degenerate data
            failed.append(type(exc).__name__)
            return
        fits.append((final, first.aicc))

    for scale in scales_for(y[:cut]):
        fit(scale, True)
    best = min(fits, key=lambda f: f[1])[0].scale if fits else Scale(1.0)
    fit(best, False)
    return fits, ", ".join(sorted(set(failed)))


def _served(model: ETS | SeasonalNaive, window: int) -> Calibrated:
    """``model`` with intervals calibrated on its errors from the last origins."""
    n = len(model.y)
    origins = np.arange(max(MIN_TRAIN_DAYS, n - CALIBRATION_DAYS), n)
    return Calibrated(model, scores(model, origins, max(window, MAX_WINDOW)))


def _choice(
    served: Calibrated, method: str, note: str, mae_ets: float, mae_snaive: float, window: int
) -> Choice:
    served.method, served.note = method, note
    scale = float(np.mean(served.factor(window, PATH_LEVEL)))
    return Choice(served, method, note, mae_ets, mae_snaive, served.form, scale)


def _mae(served: Calibrated, origins: np.ndarray, window: int) -> float:
    """Mean absolute error on the original scale over every (origin, step) with data.

    Forecasts are compared as they are served: calibrated back-transformed means, clipped
    at zero.
    """
    y = served.base.y
    n = len(y)
    targets = origins[:, None] + np.arange(window)[None, :]
    seen = targets < n
    err = np.abs(served.means_from(origins, window) - y[np.minimum(targets, n - 1)])
    return float(err[seen].mean())
