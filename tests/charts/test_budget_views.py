"""Every view of a budget comes from one computation: the status table, the budget chart, the
``budgets`` command and a dashboard's team page show the same month-end forecast and
crossing date for every team, on the sample store and on a store made here."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from synth import own_requests

import melious_impact as mi
from melious_impact import charts
from melious_impact.forecasting.budgets import BudgetOutlook, budget_outlook, budget_status, load_budgets

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


def _layers(spec: dict[str, Any]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(layer, its rows) for every layer of a chart's spec."""
    datasets = spec.get("datasets", {})
    return [(layer, datasets.get(layer.get("data", {}).get("name"), [])) for layer in spec["layer"]]


def _chart_numbers(spec: dict[str, Any]) -> dict[str, Any]:
    """What a reader sees on the budget chart: the last expected running total, the budget
    line, the crossing-date rule, and the running total day by day."""
    out: dict[str, Any] = {"last": None, "budget": None, "crossing": None, "running": []}
    for layer, rows in _layers(spec):
        enc = layer.get("encoding", {})
        mark = layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
        if mark == "rule" and "y" in enc:
            out["budget"] = rows[0]["budget"]
        elif mark == "rule" and "x" in enc:
            out["crossing"] = pd.Timestamp(rows[0]["date"]).date()
        elif mark == "line":
            out["running"] += [(pd.Timestamp(r["date"]).date(), r["cumulative"]) for r in rows]
            if rows and rows[-1].get("kind") == "forecast":
                out["last"] = rows[-1]["cumulative"]
    out["running"] = sorted(set(out["running"]))
    return out


def _assert_views_agree(outlook: BudgetOutlook) -> int:
    checked = 0
    for row in outlook.status.itertuples():
        spec = charts.budget_chart(outlook, row.team, row.metric).to_dict()
        if pd.isna(row.forecast):  # a budgeted team without data: the chart says so
            assert "No " in json.dumps(spec)
            continue
        seen = _chart_numbers(spec)
        assert seen["budget"] == pytest.approx(row.budget)
        if row.method != "actual":
            assert seen["last"] == pytest.approx(row.forecast, rel=1e-12)
        assert seen["running"][-1][1] == pytest.approx(row.forecast, rel=1e-12)
        want = None if pd.isna(row.crossing_date) else pd.Timestamp(row.crossing_date).date()
        assert seen["crossing"] == want
        # The crossing date is the first day the drawn running total is above the budget.
        above = [d for d, v in seen["running"] if v > row.budget]
        assert (above[0] if above else None) == want
        checked += 1
    return checked


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> mi.ImpactStore:
    root = tmp_path_factory.mktemp("sample") / "store"
    shutil.copytree(SAMPLE, root)
    return mi.ImpactStore(root)


def _grown_rows() -> pd.DataFrame:
    """Rows made here (not by the emulator): four teams, traffic that ends mid-month."""
    df = own_requests(2500, days=44, seed=11, teams=("search", "support", "research", "ads"))
    return df[df["captured_at"] < pd.Timestamp("2026-11-14T12:00Z")].reset_index(drop=True)


def _budgets_for(rows: pd.DataFrame, scale: float) -> dict[str, dict[str, float]]:
    """Budgets near each team's pace, so some cross and some do not."""
    per_team = rows.assign(cost=rows["billing_credits"].astype("float64")).groupby("team")
    out = {}
    for i, (team, g) in enumerate(per_team):
        pace = 30 * g["cost"].sum() / 44
        out[str(team)] = {"cost_eur": round(pace * scale * (0.6 + 0.3 * i), 4), "carbon_g_co2": 1e9}
    return out


def test_table_and_chart_agree_on_the_sample_store(sample_store: mi.ImpactStore) -> None:
    budgets = load_budgets(SAMPLE / "budgets.toml")
    outlook = budget_outlook(sample_store, budgets, period="month")
    assert _assert_views_agree(outlook) == 2 * len(budgets)
    # The sample ends on a month's last day: check the month before it too, mid-way.
    mid = budget_outlook(sample_store, budgets, period="month", as_of="2026-10-12")
    assert (mid.status["method"] != "actual").all()
    assert _assert_views_agree(mid) == 2 * len(budgets)


@pytest.mark.parametrize("scale", [0.5, 1.0, 2.0])
def test_table_and_chart_agree_on_a_generated_store(scale: float) -> None:
    rows = _grown_rows()
    budgets = _budgets_for(rows, scale)
    outlook = budget_outlook(rows, budgets, period="month")
    assert _assert_views_agree(outlook) == 2 * len(budgets)
    # budget_status is the same computation's table.
    pd.testing.assert_frame_equal(outlook.status, budget_status(rows, budgets, period="month"))


def test_forecast_chart_with_a_budget_is_the_budget_chart() -> None:
    rows = _grown_rows()
    budgets = _budgets_for(rows, 1.0)
    fc = mi.forecast(rows, metric="cost_eur", by="team", horizon_days=14)
    amount = budgets["search"]["cost_eur"]
    via_forecast = charts.forecast_chart(fc, history=rows, group="search", budget=amount).to_dict()
    outlook = budget_outlook(rows, {"search": {"cost_eur": amount}}, period="month")
    assert via_forecast == charts.budget_chart(outlook, "search").to_dict()
    with pytest.raises(ValueError, match="history="):
        charts.forecast_chart(fc, group="search", budget=amount)


def test_cli_and_dashboard_show_the_same_budget_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from melious_impact.cli import main

    rows = _grown_rows()
    budgets = _budgets_for(rows, 1.0)
    outlook = budget_outlook(rows, budgets, period="month")
    store = mi.ImpactStore(tmp_path / "store")
    store.append(rows)
    store.flush()
    (tmp_path / "b.toml").write_text(
        "".join(f'["{t}"]\ncost_eur = {b["cost_eur"]}\ncarbon_g_co2 = 1e9\n' for t, b in budgets.items())
    )
    assert main(["budgets", "--store", str(store.root), "--budgets", str(tmp_path / "b.toml")]) == 0
    printed = capsys.readouterr().out
    index = mi.dashboard(store, tmp_path / "dash", budgets=str(tmp_path / "b.toml"))
    for row in outlook.status[outlook.status["metric"] == "cost_eur"].itertuples():
        crossing = "–" if pd.isna(row.crossing_date) else pd.Timestamp(row.crossing_date).strftime("%Y-%m-%d")
        line = next(
            ln for ln in printed.splitlines() if ln.startswith(f"{row.team} ") and "cost" in ln.lower()
        )
        assert crossing in line
        page = (index.parent / f"team-{row.team}.html").read_text(encoding="utf-8")
        cell = re.search(r'data-col="forecast"[^>]*data-value="([^"]*)"', page)
        assert cell and float(cell.group(1)) == pytest.approx(row.forecast, rel=1e-9)
        spec_text = re.search(
            r'data-chart="forecast"[^>]*id="([^"]+)"|id="([^"]+)" data-chart="forecast"', page
        )
        assert spec_text
        chart_id = spec_text.group(1) or spec_text.group(2)
        spec = json.loads(re.search(rf'id="{chart_id}-spec">(.*?)</script>', page, re.S).group(1))
        seen = _chart_numbers(spec)
        assert seen["running"][-1][1] == pytest.approx(row.forecast, rel=1e-9)
        want = None if pd.isna(row.crossing_date) else pd.Timestamp(row.crossing_date).date()
        assert seen["crossing"] == want
    store.close()
