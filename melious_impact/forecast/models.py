"""Forecast models for one daily series, behind one small interface.

Every fitted model answers two questions for the next ``h`` days:

- :meth:`Fitted.forecast` -> mean and a central prediction interval at ``level``;
- :meth:`Fitted.simulate` -> sample paths, shape ``(n_paths, h)``, for budget totals
  (a sum of days needs the joint distribution, not per-day intervals).

Models:

``ets``
    statsmodels' ``ETSModel``: additive errors, additive damped trend, additive weekly
    seasonality (ETS(A,Ad,A), Hyndman & Athanasopoulos, *Forecasting: Principles and
    Practice*, ch. 8), fitted by maximum likelihood; analytic prediction intervals and
    state-space simulation from statsmodels.
``snaive``
    seasonal naive: each day repeats the same weekday of the last week. Intervals and
    paths follow the seasonal random walk it implies (fpp3 §5.5: sigma_h = sigma *
    sqrt(k + 1), k = whole weeks before h), sigma from the in-sample weekly differences.
``mean``
    histories shorter than two weeks: the mean day, with a Student-t prediction interval
    that carries the uncertainty of the mean itself; one day of history has no spread to
    estimate, so it assumes a coefficient of variation of 1 (a deliberately wide band).
``zero``
    an all-zero history forecasts zero with a zero-width interval.

Every metric here is non-negative, so means, bounds and paths are clipped at zero.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from scipy import stats

#: Weekly seasonality of daily data.
SEASON = 7


class Fitted(Protocol):
    method: str
    note: str

    def forecast(self, h: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

    def simulate(self, h: int, n_paths: int, rng: np.random.Generator) -> np.ndarray: ...


def _clip(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    return tuple(np.maximum(a, 0.0) for a in arrays)


@dataclass
class ZeroModel:
    method: str = "zero"
    note: str = "all-zero history: forecast is zero"

    def forecast(self, h: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        z = np.zeros(h)
        return z, z.copy(), z.copy()

    def simulate(self, h: int, n_paths: int, rng: np.random.Generator) -> np.ndarray:
        return np.zeros((n_paths, h))


@dataclass
class MeanModel:
    """The mean day of a short history (no weekly pattern can be estimated yet)."""

    y: np.ndarray
    method: str = "mean"
    note: str = ""

    def __post_init__(self) -> None:
        n = len(self.y)
        self.center = float(np.mean(self.y))
        if n >= 2 and float(np.std(self.y, ddof=1)) > 0:
            self.scale = float(np.std(self.y, ddof=1))
            self.df: float | None = n - 1
        else:
            # One day (or identical days): no spread to estimate. Assume day-to-day
            # variation as large as the level itself, so the band is wide, not falsely tight.
            self.scale = abs(self.center)
            self.df = None
        if not self.note:
            self.note = (
                f"short history ({n} day{'s' if n != 1 else ''}): mean of the days seen, wide interval"
            )

    def _quantile(self, p: float) -> float:
        return float(stats.t.ppf(p, self.df)) if self.df is not None else float(stats.norm.ppf(p))

    def forecast(self, h: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = len(self.y)
        # Prediction interval of a new observation: the day's own spread plus the
        # uncertainty of the estimated mean (sqrt(1 + 1/n)).
        half = self._quantile(0.5 + level / 2) * self.scale * math.sqrt(1 + 1 / n)
        mean = np.full(h, self.center)
        return _clip(mean, mean - half, mean + half)  # type: ignore[return-value]

    def simulate(self, h: int, n_paths: int, rng: np.random.Generator) -> np.ndarray:
        n = len(self.y)
        dof = self.df

        def draw(size: tuple[int, int]) -> np.ndarray:
            return rng.standard_t(dof, size) if dof is not None else rng.standard_normal(size)

        # The unknown mean is shared by all days of a path: drawing it once per path keeps
        # the correlation that a sum over days must carry.
        level = self.center + self.scale / math.sqrt(n) * draw((n_paths, 1))
        paths = level + self.scale * draw((n_paths, h))
        return np.maximum(paths, 0.0)


@dataclass
class SeasonalNaive:
    """Seasonal naive baseline: each day repeats the same weekday one week earlier."""

    y: np.ndarray
    method: str = "snaive"
    note: str = ""

    def __post_init__(self) -> None:
        if len(self.y) < SEASON + 1:
            raise ValueError("seasonal naive needs more than one week of history")
        diffs = self.y[SEASON:] - self.y[:-SEASON]
        self.sigma = float(np.sqrt(np.mean(diffs**2)))
        self.last_week = self.y[-SEASON:].astype(float)

    def point(self, h: int) -> np.ndarray:
        return np.resize(self.last_week, h)

    def forecast(self, h: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        mean = self.point(h)
        k = np.arange(h) // SEASON  # whole weeks before day h (fpp3 §5.5)
        half = float(stats.norm.ppf(0.5 + level / 2)) * self.sigma * np.sqrt(k + 1)
        return _clip(mean, mean - half, mean + half)  # type: ignore[return-value]

    def simulate(self, h: int, n_paths: int, rng: np.random.Generator) -> np.ndarray:
        # A seasonal random walk: day t = the same weekday a week before + a fresh error.
        steps = self.sigma * rng.standard_normal((n_paths, h))
        paths = np.empty((n_paths, h))
        for t in range(h):
            prev = self.last_week[t] if t < SEASON else paths[:, t - SEASON]
            paths[:, t] = prev + steps[:, t]
        return np.maximum(paths, 0.0)


# statsmodels warns on routine optimizer trouble (non-convergence, overflow on bad trial
# parameters); the backtest judges the fit on its forecasts instead, and pytest runs with
# warnings as errors, so these are silenced around fitting only.
@contextmanager
def _quiet() -> Iterator[None]:
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, ValueWarning

    with warnings.catch_warnings():
        for category in (ConvergenceWarning, ValueWarning, RuntimeWarning):
            warnings.simplefilter("ignore", category)
        yield


def single_threaded_blas() -> AbstractContextManager[Any]:
    """Limit BLAS to one thread while fitting, when threadpoolctl is installed.

    scipy's L-BFGS-B (what statsmodels fits ETS with) calls BLAS on vectors of a dozen
    numbers; a multi-threaded OpenBLAS then spends its time synchronising threads. Measured
    on a loaded 2-core machine: 4 series took 6.6-12.7 s with default threads, 0.6-0.75 s
    with one.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional speed-up
        return nullcontext()
    limiter: AbstractContextManager[Any] = threadpool_limits(limits=1, user_api="blas")
    return limiter


def _ets_model(y: np.ndarray) -> Any:
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    # A Series with a RangeIndex, not a bare array: statsmodels 0.15's get_prediction
    # needs an index on the predicted values.
    # Heuristic initial states (Hyndman et al. 2008, §2.6.1: from a decomposition of the
    # first weeks) instead of estimating them: 4 free parameters instead of 12. Measured on
    # 16 synthetic year-long series: 7x faster fits, the same 28-day MAPE and coverage.
    return ETSModel(
        pd.Series(y),
        error="add",
        trend="add",
        damped_trend=True,
        seasonal="add",
        seasonal_periods=SEASON,
        initialization_method="heuristic",
    )


@dataclass
class ETS:
    """ETS(A,Ad,A) from statsmodels, fitted or filtered with given parameters."""

    y: np.ndarray
    params: np.ndarray | None = None
    method: str = "ets"
    note: str = ""
    result: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        with _quiet():
            model = _ets_model(self.y)
            if self.params is None:
                self.result = model.fit(disp=False)
                self.params = np.asarray(self.result.params)
            else:
                # Filtering with known parameters: the states follow the new data, the
                # parameters stay those estimated before (cheap, and no look-ahead).
                self.result = model.smooth(self.params)
        if not np.isfinite(self.result.llf):
            raise FloatingPointError("ETS likelihood is not finite")

    def forecast(self, h: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = len(self.y)
        with _quiet():
            frame = self.result.get_prediction(start=n, end=n + h - 1).summary_frame(alpha=1 - level)
        mean = frame["mean"].to_numpy(dtype=float)
        low = frame["pi_lower"].to_numpy(dtype=float)
        high = frame["pi_upper"].to_numpy(dtype=float)
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise FloatingPointError("ETS forecast is not finite")
        return _clip(mean, low, high)  # type: ignore[return-value]

    def simulate(self, h: int, n_paths: int, rng: np.random.Generator) -> np.ndarray:
        with _quiet():
            sims = self.result.simulate(h, anchor="end", repetitions=n_paths, rng=rng)
        paths = np.asarray(sims, dtype=float).reshape(h, n_paths).T
        return np.asarray(np.maximum(paths, 0.0))
