"""Per-group weighted least squares for ``y = a*x1 + b*x2`` with multiplicative noise.

The provider documents energy as tokens x energy per token x PUE, and the reported figures
scatter by a few percent *relative* to their size, so the variance of each row is
``(sigma * mu)**2``. Weighting by ``1/mu**2`` (iterated: start from ``1/y**2``) gives
efficient estimates, and ``sigma**2 * inv(X'WX)`` their covariance. All groups are solved
at once with ``np.bincount`` sums and closed-form 2x2 inverses: no Python loop per group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


@dataclass(frozen=True)
class GroupFit:
    """Coefficients, covariance and residual scale of every group (arrays of length k)."""

    a: Array  # coefficient of x1 (nan where x1 never varies from 0)
    b: Array  # coefficient of x2 (nan where x2 is always 0)
    var_a: Array
    var_b: Array
    cov_ab: Array
    sigma: Array  # relative residual sd (e.g. 0.02 for 2% noise)
    n: NDArray[np.int64]  # rows used (outliers excluded)
    n_outliers: NDArray[np.int64]
    ok: NDArray[np.bool_]  # enough rows and a non-degenerate design

    @property
    def dof(self) -> NDArray[np.int64]:
        p = np.where(np.isnan(self.a) | np.isnan(self.b), 1, 2)
        return np.maximum(self.n - p, 0)


def _sums(codes: NDArray[np.intp], k: int, w: Array, x1: Array, x2: Array, y: Array) -> tuple[Array, ...]:
    def s(v: Array) -> Array:
        return np.bincount(codes, weights=v, minlength=k).astype(np.float64)

    return s(w * x1 * x1), s(w * x1 * x2), s(w * x2 * x2), s(w * x1 * y), s(w * x2 * y)


def solve(
    s11: Array, s12: Array, s22: Array, s1y: Array, s2y: Array
) -> tuple[Array, Array, NDArray[np.bool_]]:
    """Solve each 2x2 system; fall back to one coefficient where the other is unidentified."""
    det = s11 * s22 - s12 * s12
    with np.errstate(divide="ignore", invalid="ignore"):
        full = det > 1e-9 * s11 * s22  # not collinear (relative test: units cancel)
        a = np.where(full, (s22 * s1y - s12 * s2y) / det, np.nan)
        b = np.where(full, (s11 * s2y - s12 * s1y) / det, np.nan)
        only1 = ~full & (s22 == 0) & (s11 > 0)  # e.g. embeddings: no output tokens
        only2 = ~full & (s11 == 0) & (s22 > 0)
        a = np.where(only1, s1y / s11, a)
        b = np.where(only2, s2y / s22, b)
    return a, b, full


def fit_groups(
    codes: NDArray[np.intp],
    k: int,
    x1: Array,
    x2: Array,
    y: Array,
    *,
    outlier_z: float = 6.0,
    min_rows: int = 3,
    relative: bool = True,
) -> GroupFit:
    """Fit ``y ~ a*x1 + b*x2`` (no intercept) in each of ``k`` groups labelled by ``codes``.

    Rows whose relative residual exceeds ``outlier_z`` residual sds are dropped before the
    final pass, so a handful of corrupted figures cannot drag a cell's estimate.
    """
    # relative=False: additive noise (exact prices), ordinary least squares
    w = 1.0 / np.square(np.maximum(y, 1e-300)) if relative else np.ones(len(y))
    keep = np.ones(len(y), dtype=bool)
    a = b = np.zeros(k)
    full = np.zeros(k, dtype=bool)
    for step in range(4):
        wk = np.where(keep, w, 0.0)
        a, b, full = solve(*_sums(codes, k, wk, x1, x2, y))
        mu = np.nan_to_num(a)[codes] * x1 + np.nan_to_num(b)[codes] * x2
        mu = np.where(mu > 0, mu, y)  # a degenerate fit must not produce zero weights' inverse
        if relative:
            w = 1.0 / np.square(np.maximum(mu, 1e-300))
        if step == 1 and relative:  # after one reweighting the fit is close: screen outliers once
            rel = (y - mu) / mu
            n = np.bincount(codes, minlength=k)
            sig = np.sqrt(np.bincount(codes, weights=rel * rel, minlength=k) / np.maximum(n - 2, 1))
            keep = np.abs(rel) <= outlier_z * np.maximum(sig[codes], 1e-6)
    rel = (y - mu) / mu if relative else y - mu
    kept = keep.astype(np.float64)
    n_used = np.bincount(codes, weights=kept, minlength=k).astype(np.int64)
    n_all = np.bincount(codes, minlength=k).astype(np.int64)
    ssr = np.asarray(np.bincount(codes, weights=kept * rel * rel, minlength=k), dtype=np.float64)
    s11, s12, s22, _, _ = _sums(codes, k, np.where(keep, w, 0.0), x1, x2, y)
    return finish_groups(a, b, full, n_used, n_all, ssr, s11, s12, s22, min_rows=min_rows)


def finish_groups(
    a: Array,
    b: Array,
    full: NDArray[np.bool_],
    n_used: NDArray[np.int64],
    n_all: NDArray[np.int64],
    ssr: Array,
    s11: Array,
    s12: Array,
    s22: Array,
    *,
    min_rows: int = 3,
) -> GroupFit:
    """Covariances and residual scale from the last pass's per-group sums (kept rows only):
    shared by the row-level fit above and the in-database one (:mod:`.sql_fit`)."""
    p = np.where(full, 2, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma2 = ssr / np.maximum(n_used - p, 1)
        det = s11 * s22 - s12 * s12
        var_a = np.where(full, sigma2 * s22 / det, sigma2 / s11)
        var_b = np.where(full, sigma2 * s11 / det, sigma2 / s22)
        cov_ab = np.where(full, -sigma2 * s12 / det, 0.0)
    var_a = np.where(np.isnan(a), np.nan, var_a)
    var_b = np.where(np.isnan(b), np.nan, var_b)
    ok = (n_used >= min_rows) & (n_used > p) & ~(np.isnan(a) & np.isnan(b))
    return GroupFit(a, b, var_a, var_b, cov_ab, np.sqrt(sigma2), n_used, n_all - n_used, ok)
