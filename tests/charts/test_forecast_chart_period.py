"""The budget chart covers the period of the status table beside it, so a dashboard's chart
and its budget table agree, also when the data ends on the last day of the period."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
from synth import own_requests

from melious_impact import charts
from melious_impact.forecasting.budgets import budget_outlook


def _history() -> pd.DataFrame:
    # October's request rows (the data ends on the 31st)
    history = own_requests(1500, days=31, seed=3, start=datetime(2026, 10, 1, tzinfo=UTC))
    assert history["captured_at"].max().date().isoformat() == "2026-10-31"
    return history


def _dates(spec: dict) -> list[str]:
    return [str(v["date"])[:10] for d in spec.get("datasets", {}).values() for v in d if "kind" in v]


def test_data_ending_on_the_last_day_charts_that_period_complete() -> None:
    outlook = budget_outlook(_history(), {"search": {"cost_eur": 40.0}})
    row = outlook.row("search", "cost_eur")
    assert row["method"] == "actual" and str(row["period_start"].date()) == "2026-10-01"
    spec = charts.budget_chart(outlook, "search").to_dict()
    assert "running total from 2026-10-01 to 2026-10-31" in str(spec)
    dates = _dates(spec)
    assert dates and max(dates) == "2026-10-31" and not any(d.startswith("2026-11") for d in dates)


def test_a_mid_period_as_of_forecasts_to_the_period_end_and_no_further() -> None:
    outlook = budget_outlook(_history(), {"search": {"cost_eur": 40.0}}, as_of="2026-10-20")
    spec = charts.budget_chart(outlook, "search").to_dict()
    path = outlook.path("search", "cost_eur")
    assert path.loc[path["kind"] == "actual", "date"].max() == pd.Timestamp("2026-10-20")
    assert path.loc[path["kind"] == "forecast", "date"].min() == pd.Timestamp("2026-10-21")
    assert max(_dates(spec)) == "2026-10-31"
