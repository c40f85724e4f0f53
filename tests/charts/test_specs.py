"""Snapshot tests of chart specs (structure only: datasets are summarised)."""

from __future__ import annotations

from collections.abc import Callable

import altair as alt
import pandas as pd

from melious_impact import charts

Snap = Callable[[str, alt.TopLevelMixin], None]


def test_impact_over_time_each_metric(tiny: pd.DataFrame, snapshot: Snap) -> None:
    for metric in ("energy_kwh", "carbon_g_co2", "water_liters", "cost_eur"):
        snapshot(f"impact_over_time_{metric}", charts.impact_over_time(tiny, metric))


def test_impact_over_time_by_model_daily(tiny: pd.DataFrame, snapshot: Snap) -> None:
    snapshot(
        "impact_over_time_by_model_day", charts.impact_over_time(tiny, "carbon_g_co2", by="model", freq="day")
    )


def test_energy_per_1k_tokens(intensity_table: pd.DataFrame, snapshot: Snap) -> None:
    snapshot("energy_per_1k_tokens", charts.energy_per_1k_tokens(intensity_table))


def test_grid_intensity_by_hour(tiny: pd.DataFrame, snapshot: Snap) -> None:
    snapshot("grid_intensity_by_hour", charts.grid_intensity_by_hour(tiny))


def test_provider_renewables_pue(tiny: pd.DataFrame, snapshot: Snap) -> None:
    snapshot("provider_renewables_pue", charts.provider_renewables_pue(tiny))


def test_efficiency_frontier(tiny: pd.DataFrame, snapshot: Snap) -> None:
    snapshot("efficiency_frontier", charts.efficiency_frontier(tiny))


def test_forecast_chart(forecast_frame: pd.DataFrame, tiny: pd.DataFrame, snapshot: Snap) -> None:
    snapshot("forecast", charts.forecast_chart(forecast_frame, history=tiny, metric="cost_eur"))
    snapshot(
        "forecast_budget",
        charts.forecast_chart(forecast_frame, history=tiny, metric="cost_eur", group="search", budget=20.0),
    )


def test_scenario_savings(scenario_frame: pd.DataFrame, snapshot: Snap) -> None:
    snapshot("scenario_savings", charts.scenario_savings(scenario_frame))


def test_anomalies_chart(anomalies_frame: pd.DataFrame, snapshot: Snap) -> None:
    snapshot("anomalies", charts.anomalies_chart(anomalies_frame))


def test_empty_inputs_give_a_message_chart(tiny: pd.DataFrame, snapshot: Snap) -> None:
    empty = tiny.iloc[0:0]
    snapshot("empty_impact", charts.impact_over_time(empty))
    for chart in (
        charts.grid_intensity_by_hour(empty),
        charts.provider_renewables_pue(empty),
        charts.efficiency_frontier(empty),
        charts.scenario_savings(pd.DataFrame()),
        charts.anomalies_chart(pd.DataFrame()),
    ):
        spec = chart.to_dict()
        assert spec["mark"]["type"] == "text"
