"""The per-group weighted least squares core."""

from __future__ import annotations

import numpy as np
import pytest

from melious_impact.model.wls import fit_groups


def _data(n: int, a: float, b: float, noise: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    x1 = rng.lognormal(0, 1, n)
    x2 = rng.lognormal(-1, 1, n)
    y = (a * x1 + b * x2) * rng.lognormal(0, noise, n) if noise else a * x1 + b * x2
    return x1, x2, y


def test_exact_recovery_without_noise():
    x1, x2, y = _data(50, 2e-5, 4e-4, 0.0)
    fit = fit_groups(np.zeros(50, dtype=np.intp), 1, x1, x2, y)
    assert fit.a[0] == pytest.approx(2e-5, rel=1e-9)
    assert fit.b[0] == pytest.approx(4e-4, rel=1e-9)
    assert fit.ok[0]


def test_groups_are_independent_and_sigma_estimated():
    x1a, x2a, ya = _data(4000, 1.0, 3.0, 0.02, seed=1)
    x1b, x2b, yb = _data(4000, 5.0, 0.5, 0.05, seed=2)
    codes = np.r_[np.zeros(4000), np.ones(4000)].astype(np.intp)
    fit = fit_groups(codes, 2, np.r_[x1a, x1b], np.r_[x2a, x2b], np.r_[ya, yb])
    assert fit.a == pytest.approx([1.0, 5.0], rel=0.01)
    assert fit.b == pytest.approx([3.0, 0.5], rel=0.01)
    assert fit.sigma == pytest.approx([0.02, 0.05], rel=0.1)


def test_no_output_tokens_fits_input_only():
    x1, _, _ = _data(100, 1, 1, 0)
    y = 3.0 * x1
    fit = fit_groups(np.zeros(100, dtype=np.intp), 1, x1, np.zeros(100), y)
    assert fit.a[0] == pytest.approx(3.0)
    assert np.isnan(fit.b[0])
    assert fit.ok[0]


def test_gross_outliers_are_screened():
    x1, x2, y = _data(2000, 1.0, 3.0, 0.02, seed=4)
    y[:10] *= 50  # corrupted figures
    fit = fit_groups(np.zeros(2000, dtype=np.intp), 1, x1, x2, y)
    assert fit.n_outliers[0] >= 10
    assert fit.b[0] == pytest.approx(3.0, rel=0.01)


def test_too_few_rows_not_ok():
    x1, x2, y = _data(2, 1, 1, 0)
    fit = fit_groups(np.zeros(2, dtype=np.intp), 1, x1, x2, y)
    assert not fit.ok[0]
