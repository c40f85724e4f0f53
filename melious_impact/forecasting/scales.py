"""The scale a model is fitted on: raw, log or Box-Cox, and the way back.

Growth and the weekly shape of spend are usually multiplicative: a team twice the size
sends twice the requests on a Monday, and its day-to-day noise doubles too. An additive
model on the log (or Box-Cox) scale is then the right model: trend, weekly shape and
noise become proportional to the level. ``lam`` is the Box-Cox parameter (Box & Cox,
1964): ``1`` is the raw scale (kept as it is, not shifted by one), ``0`` the log.

Two facts make models on different scales comparable and their forecasts usable:

- the log-likelihood on the original scale is the transformed one plus the log Jacobian,
  ``(lam - 1) * sum(log y)``, so information criteria compare across scales;
- quantiles map through the (monotone) inverse transform, but the mean does not: the
  back-transformed mean carries the bias adjustment of Hyndman & Athanasopoulos,
  *Forecasting: Principles and Practice* (3rd ed.), §5.6.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Box-Cox parameters tried by :func:`guerrero_lambda` (0 = log, 1 = raw).
LAMBDA_GRID = np.round(np.linspace(0.0, 1.0, 21), 2)


@dataclass(frozen=True)
class Scale:
    """A Box-Cox scale with parameter ``lam`` in [0, 1]; ``1`` is the identity."""

    lam: float = 1.0

    @property
    def name(self) -> str:
        if self.lam == 1.0:
            return "raw scale"
        if self.lam == 0.0:
            return "log scale"
        return f"Box-Cox scale (lambda {self.lam:.2f})"

    def forward(self, y: np.ndarray) -> np.ndarray:
        """``y`` on this scale; a day at or below zero becomes ``-inf`` or NaN silently (callers
        check that the values are finite: a log form is refused, not warned about)."""
        y = np.asarray(y, dtype=float)
        if self.lam == 1.0:
            return y
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.lam == 0.0:
                return np.asarray(np.log(y))
            return np.asarray((np.power(y, self.lam) - 1.0) / self.lam)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=float)
        if self.lam == 1.0:
            return z
        if self.lam == 0.0:
            return np.asarray(np.exp(np.minimum(z, 700.0)))
        base = np.maximum(self.lam * z + 1.0, 0.0)
        return np.asarray(np.power(base, 1.0 / self.lam))

    def log_jacobian(self, y: np.ndarray) -> float:
        """``sum(log |dz/dy|)``: add it to a log-likelihood of ``z`` to get one of ``y``."""
        if self.lam == 1.0:
            return 0.0
        return float((self.lam - 1.0) * np.sum(np.log(y)))

    def mean(self, center: np.ndarray, sd: np.ndarray) -> np.ndarray:
        """The mean on the original scale of a normal ``N(center, sd^2)`` on this scale.

        Exact for the log (lognormal mean); the second-order bias adjustment of fpp3 §5.6
        otherwise (zero for the raw scale).
        """
        center = np.asarray(center, dtype=float)
        sd = np.asarray(sd, dtype=float)
        if self.lam == 1.0:
            return center
        if self.lam == 0.0:
            return np.exp(np.minimum(center + sd**2 / 2, 700.0))
        base = np.maximum(self.lam * center + 1.0, 1e-12)
        return np.asarray(self.inverse(center) * (1.0 + sd**2 * (1.0 - self.lam) / (2.0 * base**2)))


def guerrero_lambda(y: np.ndarray, period: int) -> float:
    """The Box-Cox parameter in [0, 1] that best stabilises the spread of ``y`` (positive).

    Guerrero's method (Guerrero, 1993): cut the series into whole periods and choose the
    ``lam`` for which ``sd_i / mean_i ** (1 - lam)`` varies least (smallest coefficient of
    variation) across them. A spread proportional to the level gives 0 (log), a constant
    spread gives 1 (raw).
    """
    k = len(y) // period
    if k < 2:
        return 1.0
    blocks = np.asarray(y[len(y) - k * period :], dtype=float).reshape(k, period)
    mean = blocks.mean(axis=1)
    sd = blocks.std(axis=1, ddof=1)
    if np.any(mean <= 0) or np.all(sd == 0):
        return 1.0
    ratio = sd[None, :] / np.power(mean[None, :], 1.0 - LAMBDA_GRID[:, None])
    cv = ratio.std(axis=1, ddof=1) / ratio.mean(axis=1)
    return float(LAMBDA_GRID[int(np.argmin(cv))])
