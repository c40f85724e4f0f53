"""Chart data is the aggregate, and it equals the same aggregate computed independently."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from melious_impact import charts
from melious_impact.charts.grid import grid_by_hour, provider_factors
from melious_impact.charts.impact import impact_series
from melious_impact.charts.intensity import model_efficiency
from melious_impact.charts.source import Cube, connect, query
from melious_impact.forecasting.costs import add_cost_eur


def _rows(chart: object) -> int:
    spec = chart.to_dict()  # type: ignore[attr-defined]
    return sum(len(v) for v in spec.get("datasets", {}).values())


def test_chart_data_is_aggregated(requests_df: pd.DataFrame) -> None:
    big = pd.concat([requests_df] * 10, ignore_index=True)  # 30,000 rows
    for chart in (
        charts.impact_over_time(big, "carbon_g_co2"),
        charts.grid_intensity_by_hour(big),
        charts.provider_renewables_pue(big),
        charts.efficiency_frontier(big),
    ):
        assert _rows(chart) < 400


def test_impact_series_equals_pandas(requests_df: pd.DataFrame) -> None:
    got = impact_series(requests_df, "carbon_g_co2", freq="day")
    df = requests_df[requests_df["impact_reported"]]
    want = df.groupby([df["captured_at"].dt.floor("D").dt.tz_localize(None), "team"])["carbon_g_co2"].sum()
    got_s = got.set_index(["period", "team"])["value"]
    want.index.names = ["period", "team"]
    pd.testing.assert_series_equal(got_s.sort_index(), want.sort_index(), check_names=False, rtol=1e-12)


def test_cost_matches_forecast_costs_definition(requests_df: pd.DataFrame) -> None:
    # Mix in rows paid in energy units and rows with no paid_with word.
    df = requests_df.copy()
    df.loc[df.index[::7], "billing_paid_with"] = None
    df.loc[df.index[::11], "billing_paid_with"] = "ENERGY "
    want = add_cost_eur(df)
    con = connect(df)
    got = query(con, "SELECT cost_eur FROM facts ORDER BY captured_at")["cost_eur"]
    want_sorted = want.sort_values("captured_at")["cost_eur"].reset_index(drop=True)
    for g, w in zip(got, want_sorted, strict=True):
        if w is None:
            assert g is None or pd.isna(g)
        else:
            assert abs(Decimal(g) - w) < Decimal("1e-15")


def test_cost_rate_is_configurable(requests_df: pd.DataFrame) -> None:
    df = requests_df.copy()
    df["billing_paid_with"] = "energy"
    df["billing_energy"] = [Decimal("10")] * len(df)
    con = connect(df, eur_per_energy_unit=Decimal("0.5"))
    total = query(con, "SELECT sum(cost_eur) AS c FROM facts")["c"][0]
    assert Decimal(total) == Decimal("5") * len(df)
    with pytest.raises(ValueError, match="non-negative"):
        connect(df, eur_per_energy_unit=Decimal("-1"))


def test_facts_and_frame_agree(requests_df: pd.DataFrame) -> None:
    a = impact_series(requests_df, "energy_kwh", freq="day")
    b = impact_series(Cube(requests_df), "energy_kwh", freq="day")
    pd.testing.assert_frame_equal(a, b)
    team = Cube(requests_df).for_team("search")
    c = impact_series(team, "energy_kwh", freq="day")
    assert set(c["team"]) == {"search"}


def test_grid_by_hour_marks_three_cleanest(requests_df: pd.DataFrame) -> None:
    g = grid_by_hour(requests_df)
    df = requests_df[requests_df["impact_reported"]]
    fr = df[df["location"] == "FR"]
    hourly = fr.groupby(fr["captured_at"].dt.hour).apply(
        lambda x: x["carbon_g_co2"].sum() / x["energy_kwh"].sum()
    )
    got = g[g["location"] == "FR"].set_index("hour")["grid_g_per_kwh"]
    np.testing.assert_allclose(got.sort_index().to_numpy(), hourly.sort_index().to_numpy(), rtol=1e-12)
    assert g.groupby("location")["cleanest"].sum().eq(3).all()
    cleanest = set(g[(g["location"] == "FR") & g["cleanest"]]["hour"])
    assert cleanest == set(hourly.nsmallest(3).index)


def test_grid_by_hour_reads_a_model_profile() -> None:
    prof = pd.DataFrame(
        {
            "location": ["FR"] * 48,
            "month": [1] * 24 + [2] * 24,
            "hour_utc": list(range(24)) * 2,
            "grid_g_per_kwh": [50.0 + h for h in range(24)] + [60.0 + h for h in range(24)],
            "observed": True,
        }
    )
    g = grid_by_hour(prof)
    assert len(g) == 24
    assert g.loc[g["hour"] == 0, "grid_g_per_kwh"].item() == pytest.approx(55.0)
    assert set(g[g["cleanest"]]["hour"]) == {0, 1, 2}


def test_provider_factors_are_energy_weighted(requests_df: pd.DataFrame) -> None:
    got = provider_factors(requests_df).set_index("provider_id")
    df = requests_df[requests_df["impact_reported"]]
    for pid, g in df.groupby("provider_id"):
        want = (g["renewable_percent"] * g["energy_kwh"]).sum() / g["energy_kwh"].sum()
        assert got.loc[pid, "renewable_percent"] == pytest.approx(want, rel=1e-12)


def test_frontier_is_pareto() -> None:
    rows = []
    for model, cost, carbon in (("a", 1.0, 5.0), ("b", 2.0, 3.0), ("c", 3.0, 4.0), ("d", 1.0, 6.0)):
        rows.append(
            {
                "captured_at": pd.Timestamp("2026-10-01T10:00Z"),
                "model": model,
                "input_tokens": 500,
                "output_tokens": 500,
                "impact_reported": True,
                "energy_kwh": 0.001,
                "carbon_g_co2": carbon,
                "billing_paid_with": "credits",
                "billing_credits": Decimal(str(cost)),
            }
        )
    eff = model_efficiency(pd.DataFrame(rows)).set_index("model")
    assert eff["frontier"].to_dict() == {"a": True, "b": True, "c": False, "d": False}
    assert eff.loc["a", "eur_per_1k_tokens"] == pytest.approx(1.0)
    assert eff.loc["b", "carbon_g_per_1k_tokens"] == pytest.approx(3.0)


def test_bad_arguments_say_what_to_do(requests_df: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="metric must be one of"):
        charts.impact_over_time(requests_df, "carbon")
    with pytest.raises(ValueError, match="by must be one of"):
        charts.impact_over_time(requests_df, by="nope")
    with pytest.raises(TypeError, match="DataFrame"):
        charts.impact_over_time([1, 2, 3])
    with pytest.raises(ValueError, match="needs the columns"):
        charts.energy_per_1k_tokens(pd.DataFrame({"model": ["x"]}))


def test_forecast_budget_needs_one_series(forecast_frame: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="group="):
        charts.forecast_chart(forecast_frame, budget=10.0)


def test_forecast_budget_running_total(forecast_frame: pd.DataFrame, requests_df: pd.DataFrame) -> None:
    chart = charts.forecast_chart(
        forecast_frame, history=requests_df, metric="cost_eur", group="search", budget=20.0
    )
    spec = chart.to_dict()
    data = list(spec["datasets"].values())
    rows = [r for d in data for r in d if "kind" in r]
    actual = [r for r in rows if r["kind"] == "actual"]
    october = requests_df[(requests_df["team"] == "search")]
    spent = float(sum(Decimal(str(c)) for c in october["billing_credits"].dropna()))
    spent += float(
        sum(
            Decimal(str(e)) * Decimal("0.0001")
            for e in october.loc[october["billing_paid_with"] == "energy", "billing_energy"].dropna()
        )
    )
    assert max(r["cumulative"] for r in actual) == pytest.approx(spent, rel=1e-9)
    # The running total runs from spent (28 October) to the end of October, the budget's month.
    future = sorted({r["date"][:10] for r in rows if r["kind"] == "forecast"})
    assert future[-1] == "2026-10-31"
    assert all(r["cumulative"] >= spent - 1e-9 for r in rows if r["kind"] == "forecast")
