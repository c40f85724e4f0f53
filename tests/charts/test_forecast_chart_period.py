"""The budget chart covers the period it is given, so a dashboard's chart and its budget table
agree even when the data ends on the last day of the period."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from melious_impact import charts
from melious_impact.emulator import simulate_requests


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    # October's request rows, from the emulator's simulator (the data ends on the 31st)
    history = simulate_requests(days=31, seed=3, start=datetime(2026, 10, 1, tzinfo=UTC))
    assert history["captured_at"].max().date().isoformat() == "2026-10-31"
    future = pd.date_range("2026-11-01", periods=14, freq="D")
    fc = pd.DataFrame({"date": future, "team": "search", "mean": 1.0, "low": 0.5, "high": 1.5})
    return fc, history


def _data_values(spec: dict) -> list[dict]:
    values: list[dict] = []
    for dataset in spec.get("datasets", {}).values():
        values.extend(dataset)
    return values


def test_default_period_is_the_month_the_forecast_starts_in() -> None:
    fc, history = _frames()
    spec = charts.forecast_chart(fc, history=history, group="search", budget=40.0).to_dict()
    assert "running total since 2026-11-01" in str(spec)


def test_an_explicit_closed_period_drops_forecast_days_after_it() -> None:
    fc, history = _frames()
    chart = charts.forecast_chart(
        fc,
        history=history,
        group="search",
        budget=40.0,
        period_start="2026-10-01",
        period_end="2026-11-01",
    )
    spec = chart.to_dict()
    assert "running total since 2026-10-01" in str(spec)
    dates = [str(v.get("date", "")) for v in _data_values(spec)]
    assert any(d.startswith("2026-10-31") for d in dates)
    assert not any(d.startswith("2026-11") for d in dates)
