"""Prediction intervals calibrated on the backtest (split-conformal scaling per horizon).

A model's own interval assumes the model is right. When it is not quite (growth that
bends, noise that grows with the level, parameters estimated from a few months), the
80% interval of statsmodels can hold 40% or 100% of the days that follow. So the width
is measured instead: at every origin of the rolling-origin backtest, each forecast error
on the model's scale is divided by the model's own standard deviation at that horizon,
giving a score ``|z - z_hat| / sd_h``. The interval served at level ``L`` is
``z_hat +- q_L * sd_h``, where ``q_L`` is the conformal quantile (the
``ceil((N + 1) L)``-th smallest of ``N`` scores; Vovk et al. 2005, Lei et al. 2018) of the
scores of the same week of horizon (days 1-7, 8-14, ...). Horizons past the backtest use
the last week measured.

The calibration only widens: ``q`` is at least the normal quantile of the model's own
interval. That interval already leaves out the uncertainty of the estimated parameters,
and the backtest's scores are few and correlated, so a calm stretch of backtest must not
make the interval narrower than the model itself says. Measured on the tests' growth
series: coverage of the 80% interval 79-83% per family with narrowing allowed (71-72% on
six teams doubling in four months), 81-85% (74-77%) with the floor.

The model's sample paths are scaled the same way (deviations from the point forecast
times ``q / z``, with the factor of the 80% level), so budget totals and per-day
intervals stay one distribution.

The scores come from daily origins, so they overlap and are correlated; the guarantee of
split conformal (exchangeable scores) holds only approximately. It is a calibration, not
a proof: the test suite measures the coverage it gives on generated series.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from scipy import stats

from melious_impact.forecasting.models import SEASON, back_transform
from melious_impact.forecasting.scales import Scale

#: The level whose factor scales sample paths (budgets' default level).
PATH_LEVEL = 0.8


class Base(Protocol):
    """What a calibrated model needs from the model underneath."""

    @property
    def y(self) -> np.ndarray: ...

    @property
    def scale(self) -> Scale: ...

    @property
    def form(self) -> str: ...

    def centers_from(self, origins: np.ndarray, h: int) -> np.ndarray: ...

    def center(self, h: int) -> np.ndarray: ...

    def sd(self, h: int) -> np.ndarray: ...

    def simulate_z(self, h: int, n_paths: int, rng: np.random.Generator) -> np.ndarray: ...


def scores(model: Base, origins: np.ndarray, h: int) -> np.ndarray:
    """``|z - z_hat| / sd`` per (origin, step), NaN where the day is past the data."""
    z = model.scale.forward(model.y)
    n = len(z)
    origins = np.asarray(origins)
    targets = origins[:, None] + np.arange(h)[None, :]
    seen = targets < n
    actual = np.where(seen, z[np.minimum(targets, n - 1)], np.nan)
    err = np.abs(actual - model.centers_from(origins, h))
    sd = model.sd(h)
    # A zero spread (a constant series) would divide by zero: a tiny floor keeps the
    # product q * sd equal to the error itself.
    tiny = 1e-12 * (1.0 + float(np.nanmax(np.abs(z))))
    return np.asarray(err / np.maximum(sd, tiny)[None, :])


@dataclass
class Calibrated:
    """A model whose interval widths come from its backtest scores (see module doc)."""

    base: Any  # a Base; Any because dataclass fields cannot be Protocol-checked at runtime
    score: np.ndarray  # (origins, steps), NaN where not observed
    method: str = "ets"
    note: str = ""
    _cache: dict[tuple[int, float], np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def form(self) -> str:
        return str(self.base.form)

    def quantile(self, h: int, level: float) -> np.ndarray:
        """Conformal score quantile ``q`` for steps 1..h (falls back to the normal one)."""
        key = (h, level)
        if key not in self._cache:
            normal = float(stats.norm.ppf(0.5 + level / 2))
            weeks = math.ceil(self.score.shape[1] / SEASON) if self.score.size else 0
            per_week = []
            for w in range(weeks):
                block = self.score[:, w * SEASON : (w + 1) * SEASON]
                block = block[np.isfinite(block)]
                if len(block) < 2 * SEASON:
                    break
                rank = min(1.0, math.ceil((len(block) + 1) * level) / len(block))
                # Only ever wider than the model's own interval (see the module doc).
                per_week.append(max(normal, float(np.quantile(block, rank, method="higher"))))
            if not per_week:
                per_week = [normal]
            steps = np.minimum(np.arange(h) // SEASON, len(per_week) - 1)
            self._cache[key] = np.asarray(per_week)[steps]
        return self._cache[key]

    def factor(self, h: int, level: float) -> np.ndarray:
        """How much wider than the model's own interval the served one is (1: as wide)."""
        return np.asarray(self.quantile(h, level) / float(stats.norm.ppf(0.5 + level / 2)))

    def means_from(self, origins: np.ndarray, h: int) -> np.ndarray:
        """Served means (original scale, clipped at zero) from past origins, for backtests."""
        sd = self.base.sd(h) * self.factor(h, PATH_LEVEL)
        centers = self.base.centers_from(origins, h)
        return np.asarray(np.maximum(self.base.scale.mean(centers, sd[None, :]), 0.0))

    def tail_ratio(self, h: int) -> float:
        """Largest ratio of the served mean to the median over steps 1..h (1 on the raw scale)."""
        center = self.base.center(h)
        mean = self.base.scale.mean(center, self.base.sd(h) * self.factor(h, PATH_LEVEL))
        median = self.base.scale.inverse(center)
        return float(np.max(mean / np.maximum(median, 1e-300)))

    def forecast(self, h: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        center, sd = self.base.center(h), self.base.sd(h)
        q = self.quantile(h, level)
        # The mean is taken under the calibrated spread (it matters on the log scale).
        return back_transform(self.base.scale, center, sd * self.factor(h, PATH_LEVEL), q * sd)

    def simulate(self, h: int, n_paths: int, rng: np.random.Generator) -> np.ndarray:
        center = self.base.center(h)
        paths = self.base.simulate_z(h, n_paths, rng)
        paths = center + self.factor(h, PATH_LEVEL) * (paths - center)
        return np.asarray(np.maximum(self.base.scale.inverse(paths), 0.0))
