"""The report's fit and anomaly search run on every request, at any size.

The fit is ``fit_intensity`` on every row captured before the period's end, the anomalies
those of the period's rows: the same tables as the model part computes from a frame of
those rows (the report's former path on small data), on the emulator store, on the sample
store, and on a store generated here above the size where reports used to sample.
"""

from __future__ import annotations

import shutil
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from report_helpers import START

import melious_impact as mi
from melious_impact import ImpactStore
from melious_impact.charts.source import Cube
from melious_impact.records import arrow_schema
from melious_impact.reporting.report import build_context
from melious_impact.reporting.rows import history_rows

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
#: The size above which reports used to fit and search a sample: the generated store is above it.
OLD_SAMPLING_THRESHOLD = 200_000


def _tables_equal(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True))


def _anomaly_keys(found: pd.DataFrame) -> pd.DataFrame:
    keys = found[["record_id", "reason", "score"]].sort_values("record_id").reset_index(drop=True)
    return keys


def _check_against_frames(store: ImpactStore, lo: datetime, hi: datetime) -> dict:
    """Build the report's context on ``store`` for ``[lo, hi)`` and compare its fit and
    anomalies with the model part run on frames of the same rows."""
    ctx, _ = build_context(store, Cube(store, lo, hi), lo, hi, scenarios=[{"shift_to_clean_hours": True}])
    model = ctx["model"]
    assert model.ok, model.note
    assert not model.note
    history = history_rows(store, end=hi)
    want = mi.fit_intensity(history)
    _tables_equal(model.facts["model"].table(), want.table())
    anomalies = ctx["anomalies"]
    assert anomalies.ok, anomalies.note
    assert "sample" not in (anomalies.note or "")
    found = want.anomalies(history_rows(store, start=lo, end=hi))
    assert anomalies.facts["count"] == len(found)
    return ctx


def test_the_report_fits_and_searches_every_row_of_the_emulator_store(
    store: ImpactStore, sim: pd.DataFrame
) -> None:
    # a period inside the data: the fit stops at its end, the search keeps to it
    lo, hi = START + timedelta(days=14), START + timedelta(days=35)
    ctx = _check_against_frames(store, lo, hi)
    # the same report from the frame: the same fit and the same anomalies
    frame_ctx, _ = build_context(sim, Cube(sim, lo, hi), lo, hi, scenarios=[{"shift_to_clean_hours": True}])
    _tables_equal(ctx["model"].facts["model"].table(), frame_ctx["model"].facts["model"].table())
    assert ctx["anomalies"].facts["count"] == frame_ctx["anomalies"].facts["count"]
    for key in ("model", "team", "provider_id"):
        _same_cells(ctx["breakdowns"][key], frame_ctx["breakdowns"][key], key)


def _same_cells(got: Any, want: Any, name: str) -> None:
    """Two page tables alike: text, integers and exact decimals to the digit; floats to 1e-12
    (a store and a frame hand DuckDB the same rows in another order, so a float sum may
    differ in its last bit)."""
    assert [k for k, _ in got.rows] == [k for k, _ in want.rows], name
    for (key, cells), (_, wanted) in zip(got.rows, want.rows, strict=True):
        for a, b in zip(cells, wanted, strict=True):
            assert a.col == b.col, name
            if a.numeric and b.value and ("e" in b.value.lower() or len(b.value.partition(".")[2]) > 12):
                assert float(a.value) == pytest.approx(float(b.value), rel=1e-12), (name, key, a.col)
            else:
                assert a.value == b.value, (name, key, a.col)


def test_the_report_on_the_sample_store_fits_every_row(tmp_path: Path) -> None:
    if not (SAMPLE / "requests").exists():
        pytest.skip("data/sample is missing (made by the demo: see data/README.md)")
    root = tmp_path / "store"
    shutil.copytree(SAMPLE, root)
    store = ImpactStore(root)
    last = store.sql("SELECT max(captured_at) AS t FROM requests")["t"].iloc[0]
    hi = datetime(last.year, last.month, 1, tzinfo=UTC)  # the last whole month before the data's end
    lo = (hi - timedelta(days=1)).replace(day=1)
    _check_against_frames(store, lo, hi)


# -- a store above the old sampling threshold, generated with Arrow ------------------------

# (model, kWh per 1k input, kWh per 1k output)
_MODELS = [("gpt-oss-120b", 0.0003, 0.002), ("mistral-small-3.2-24b-instruct", 0.00006, 0.0007)]
# (provider_id, location, pue, grid g/kWh)
_SITES = [("scaleway", "FR", 1.22, 50.0), ("regolo", "IT", 1.33, 300.0), ("nebius", "FI", 1.12, 80.0)]


def generated_table(n: int, days: int, seed: int) -> pa.Table:
    """``n`` requests over ``days`` days: two models at three sites, a tenth of rows without
    reported impact, credits billed exactly, and a few rows whose PUE or energy is far off."""
    rng = np.random.default_rng(seed)
    t0 = np.datetime64("2026-03-01T00:00:00", "us")
    ts = t0 + np.sort(rng.integers(0, days * 86_400_000_000, n)).astype("timedelta64[us]")
    mi_ = rng.integers(0, len(_MODELS), n)
    si = rng.integers(0, len(_SITES), n)
    tin = rng.integers(20, 4000, n)
    tout = rng.integers(1, 1500, n)
    a = np.array([m[1] for m in _MODELS])[mi_]
    b = np.array([m[2] for m in _MODELS])[mi_]
    pue = np.array([s[2] for s in _SITES])[si]
    grid = np.array([s[3] for s in _SITES])[si]
    energy = (a * tin / 1000 + b * tout / 1000) * pue * rng.lognormal(0.0, 0.05, n)
    odd = rng.random(n) < 0.0005
    pue = np.where(odd, pue * 1.8, pue)
    energy = np.where(odd, energy * 1.8, energy)
    reported = rng.random(n) >= 0.1
    credits = [Decimal(int(x)) / Decimal(10**9) for x in rng.integers(1, 10**6, n)]
    teams = np.array(["maps", "mail", "chat", "docs"])[rng.integers(0, 4, n)]

    def when(values: np.ndarray) -> pa.Array:
        return pa.array(values, mask=~reported)

    cols = {
        "captured_at": pa.array(ts, type=pa.timestamp("us", tz="UTC")),
        "endpoint": pa.array(["/v1/chat/completions"] * n),
        "status_code": pa.array(np.full(n, 200)),
        "model": pa.array(np.array([m[0] for m in _MODELS])[mi_]),
        "input_tokens": pa.array(tin),
        "output_tokens": pa.array(tout),
        "energy_kwh": when(energy),
        "carbon_g_co2": when(energy * grid),
        "water_liters": when(energy * 1.1),
        "pue": when(pue),
        "provider_id": when(np.array([s[0] for s in _SITES])[si]),
        "location": when(np.array([s[1] for s in _SITES])[si]),
        "impact_reported": pa.array(reported),
        "billing_credits": pa.array(credits, type=pa.decimal128(38, 18)),
        "billing_paid_with": pa.array(["credits"] * n),
        "team": pa.array(teams),
        "record_id": pa.array([f"g{seed}-{i:08d}" for i in range(n)]),
    }
    schema = arrow_schema()
    return pa.table({name: col.cast(schema.field(name).type) for name, col in cols.items()})


@pytest.fixture(scope="module")
def large_store(tmp_path_factory: pytest.TempPathFactory) -> ImpactStore:
    store = ImpactStore(tmp_path_factory.mktemp("large") / "store")
    store.append(generated_table(OLD_SAMPLING_THRESHOLD + 20_000, days=45, seed=11), dedup=False)
    store.flush()
    return store


def test_a_report_above_the_old_threshold_is_fitted_on_every_row(
    large_store: ImpactStore, tmp_path: Path
) -> None:
    assert large_store.count() > OLD_SAMPLING_THRESHOLD
    lo = datetime(2026, 3, 15, tzinfo=UTC)
    hi = datetime(2026, 4, 5, tzinfo=UTC)
    ctx, _ = build_context(large_store, Cube(large_store, lo, hi), lo, hi, scenarios=[{"location": "FR"}])
    model = ctx["model"]
    assert model.ok, model.note
    assert not model.note
    fitted = model.facts["model"]
    # every row before the period's end, read as one frame: the same fit
    everything = large_store.to_pandas()
    before_end = everything[pd.to_datetime(everything["captured_at"], utc=True) < pd.Timestamp(hi)]
    want = mi.fit_intensity(before_end)
    _tables_equal(fitted.table(), want.table())
    assert int(fitted.table()["n_requests"].sum()) == int(want.table()["n_requests"].sum())
    # the anomalies of every row of the period: the same rows as the search over that frame
    at = pd.to_datetime(everything["captured_at"], utc=True)
    period_rows = everything[((at >= pd.Timestamp(lo)) & (at < pd.Timestamp(hi))).to_numpy()]
    assert len(period_rows) > OLD_SAMPLING_THRESHOLD // 3
    want_found = fitted.anomalies(period_rows)
    assert len(want_found) > 0  # the generated off rows are found
    assert ctx["anomalies"].facts["count"] == len(want_found)
    assert not ctx["anomalies"].note
    # and the rendered page says nothing of a sample
    page = mi.report(large_store, tmp_path / "r.html", start=lo, end=hi, render="static")
    text = page.read_text(encoding="utf-8").lower()
    assert "sample" not in text
    assert "seeded" not in text


def test_the_period_anomalies_of_a_store_are_those_of_its_period_frame(large_store: ImpactStore) -> None:
    from melious_impact.reporting._model_sections import period_anomalies

    lo = datetime(2026, 3, 20, tzinfo=UTC)
    hi = datetime(2026, 3, 27, tzinfo=UTC)
    m = mi.fit_intensity(large_store, end=hi)
    got = period_anomalies(m, large_store, lo, hi)
    want = m.anomalies(history_rows(large_store, start=lo, end=hi))
    assert len(got) > 0
    _tables_equal(_anomaly_keys(got), _anomaly_keys(want))
    at = pd.to_datetime(got["captured_at"], utc=True)
    assert bool(((at >= pd.Timestamp(lo)) & (at < pd.Timestamp(hi))).all())
    # the whole store holds hits outside the period too: they were dropped, not missed
    assert len(m.anomalies(large_store)) > len(got)
