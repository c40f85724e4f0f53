"""Choosing a model per series by a rolling-origin backtest against seasonal naive.

For a series of ``n`` days the last ``origins x window`` days are held out in turn
(rolling origin, fpp3 §5.10): at each origin both ETS and seasonal naive forecast the next
``window`` days (``window = min(max(horizon, 7), 28)``) from the data before it, and their mean
absolute errors are compared. ETS is kept only when it beats the baseline; otherwise the
forecast is seasonal naive. Seasonal naive is always computed.

Cost: ETS parameters are estimated once, on the data before the first origin (so no
held-out day informs them), and then only *filtered* through later origins and to the
end of the series with those parameters. That is one maximum-likelihood fit per series
instead of one per origin, which is what keeps 50 teams x 2 years well under 10 seconds.
Only the last ``max_fit_days`` days are used: a damped-trend local model learns little
from older days, and fitting time grows with length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from melious_impact.forecast.models import (
    ETS,
    SEASON,
    Fitted,
    MeanModel,
    SeasonalNaive,
    ZeroModel,
    single_threaded_blas,
)

#: Method names accepted by ``forecast(method=...)``.
METHODS = ("auto", "ets", "snaive")
#: Days of history used for fitting (the most recent ones).
MAX_FIT_DAYS = 365
#: Shortest training span before a backtest origin (four weeks of weekly pattern).
MIN_TRAIN_DAYS = 4 * SEASON
#: Shortest history that gets a weekly model at all (two full weeks, what ETS needs to
#: initialise its seasonal states); shorter ones get the mean model.
MIN_SEASONAL_DAYS = 2 * SEASON
#: Rolling origins per series.
ORIGINS = 2
#: Longest backtest window (days).
MAX_WINDOW = 28


@dataclass(frozen=True)
class Choice:
    """The model chosen for one series and the evidence for it."""

    model: Fitted
    method: str
    note: str
    mae_ets: float  # NaN when not backtested
    mae_snaive: float


def choose(y: np.ndarray, horizon: int, method: str = "auto", *, max_fit_days: int = MAX_FIT_DAYS) -> Choice:
    """Fit the model that ``method`` asks for on daily values ``y`` (oldest first)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    with single_threaded_blas():
        return _choose(y, horizon, method, max_fit_days)


def _choose(y: np.ndarray, horizon: int, method: str, max_fit_days: int) -> Choice:
    y = np.asarray(y, dtype=float)[-max_fit_days:]
    n = len(y)
    nan = float("nan")
    if n == 0:
        raise ValueError("an empty series has no forecast")
    if not np.any(y):
        return Choice(ZeroModel(), "zero", ZeroModel().note, nan, nan)
    if n < MIN_SEASONAL_DAYS:
        m = MeanModel(y)
        return Choice(m, m.method, m.note, nan, nan)
    if method == "snaive":
        return Choice(SeasonalNaive(y), "snaive", "", nan, nan)

    # At least a week, so short horizons are still judged over every weekday.
    window = min(max(horizon, SEASON), MAX_WINDOW, n - MIN_TRAIN_DAYS)
    if window < SEASON:
        note = f"short history ({n} days): too short to backtest"
        if method == "ets":
            try:
                return Choice(ETS(y), "ets", note, nan, nan)
            except Exception as exc:  # statsmodels raises many types on degenerate data
                note = f"{note}; ETS failed ({type(exc).__name__})"
        return Choice(SeasonalNaive(y), "snaive", f"{note}; seasonal naive", nan, nan)

    n_origins = min(ORIGINS, (n - MIN_TRAIN_DAYS) // window)
    origins = [n - k * window for k in range(n_origins, 0, -1)]
    mae_snaive = float(
        np.mean([_mae(SeasonalNaive(y[:o]).point(window), y[o : o + window]) for o in origins])
    )
    try:
        first = ETS(y[: origins[0]])
        errors = []
        for o in origins:
            fitted = first if o == origins[0] else ETS(y[:o], params=first.params)
            errors.append(_mae(fitted.forecast(window, 0.5)[0], y[o : o + window]))
        mae_ets = float(np.mean(errors))
        final = ETS(y, params=first.params)
        final.forecast(1, 0.5)  # fail here, not later, on a degenerate state
    except Exception as exc:  # statsmodels raises many types on degenerate data
        return Choice(
            SeasonalNaive(y), "snaive", f"ETS failed ({type(exc).__name__}); seasonal naive", nan, mae_snaive
        )

    short = f"short history ({n} days): interval may be too narrow" if n < 8 * SEASON else ""
    if method == "ets" or mae_ets < mae_snaive:
        return Choice(final, "ets", short, mae_ets, mae_snaive)
    note = "seasonal naive beat ETS in the backtest"
    return Choice(SeasonalNaive(y), "snaive", f"{short}; {note}" if short else note, mae_ets, mae_snaive)


def _mae(pred: np.ndarray, actual: np.ndarray) -> float:
    # Forecasts are compared as they are served: clipped at zero.
    return float(np.mean(np.abs(np.maximum(pred, 0.0) - actual)))
