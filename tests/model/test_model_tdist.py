"""Student t quantiles without scipy agree with ``scipy.special.stdtrit``, and the fit runs
without scipy at all (the ``model`` extra needs nothing beyond the core)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import stdtrit

from melious_impact.model.tdist import EXPANSION_DOF, t_quantile

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("p", [0.9, 0.95, 0.975, 0.99, 0.995])
def test_every_small_dof_and_a_spread_of_large_ones(p: float) -> None:
    dof = np.concatenate([np.arange(1, 3 * EXPANSION_DOF), np.geomspace(1, 1e9, 300).round()])
    np.testing.assert_allclose(t_quantile(dof, p), stdtrit(dof, p), rtol=2e-13, atol=0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 10**8), min_size=1, max_size=40), st.floats(0.9, 0.995))
def test_any_dofs_in_any_order_and_shape(dofs: list[int], p: float) -> None:
    arr = np.array(dofs, dtype=np.int64)
    got = t_quantile(arr, p)
    assert got.shape == arr.shape
    np.testing.assert_allclose(got, stdtrit(arr.astype(float), p), rtol=2e-13, atol=0)
    # the same values whatever else is asked with them
    np.testing.assert_array_equal(t_quantile(arr[::-1], p), got[::-1])
    assert np.all(np.diff(t_quantile(np.sort(arr), p)) <= 0)  # falls as dof grows


def test_shapes_and_bad_input() -> None:
    assert t_quantile(np.array([], dtype=np.int64), 0.95).shape == (0,)
    assert t_quantile(np.array([[1, 2], [3, 4]]), 0.95).shape == (2, 2)
    assert t_quantile(1, 0.95) == pytest.approx(6.313751514675043, rel=1e-15)  # tan(0.45 pi)
    with pytest.raises(ValueError, match="whole numbers"):
        t_quantile([0, 3], 0.95)
    with pytest.raises(ValueError, match="whole numbers"):
        t_quantile([2.5], 0.95)
    with pytest.raises(ValueError, match=r"between 0\.5 and 1"):
        t_quantile([3], 0.4)


def test_fit_needs_no_scipy() -> None:
    code = (
        "import sys; sys.modules['scipy'] = None\n"  # any import of scipy now fails
        "import melious_impact as mi\n"
        f"m = mi.fit_intensity(mi.ImpactStore({str(ROOT / 'data' / 'sample')!r}))\n"
        "assert len(m.table()) and m.cells['basis'].eq('measured').any()\n"
        "c = m.cells.dropna(subset=['kwh_per_1k_output'])\n"  # embeddings have no output tokens
        "assert len(c) and (c['kwh_per_1k_output_low'] < c['kwh_per_1k_output_high']).all()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
