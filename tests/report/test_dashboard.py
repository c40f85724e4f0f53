"""Dashboards: an index and one page per team, safe file names, team numbers equal the store's."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from report_helpers import errors_only_rows, num, parse_page

import melious_impact as mi
from melious_impact.reporting.dashboard import team_files


@pytest.fixture(scope="module")
def dash(store: mi.ImpactStore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mi.dashboard(store, tmp_path_factory.mktemp("dash"), budgets={"search": {"cost_eur": 5}})


def test_index_links_every_team(dash: Path, sim: pd.DataFrame) -> None:
    values = parse_page(dash)
    text = dash.read_text(encoding="utf-8")
    for team in sim["team"].unique():
        assert f'data-team="{team}"' in text
        assert (dash.parent / team_files([team])[team]).exists()
        assert num(values.cells[("teams", team, "requests")]) == int((sim["team"] == team).sum())


def test_team_page_numbers_equal_the_store(dash: Path, sim: pd.DataFrame) -> None:
    team = "search"
    values = parse_page(dash.parent / "team-search.html")
    rows = sim[sim["team"] == team]
    reported = rows[rows["impact_reported"].astype(bool)]
    assert num(values.by_id["kpi-requests"]["data-value"]) == len(rows)
    assert num(values.by_id["kpi-carbon_kg_co2e"]["data-value"]) == pytest.approx(
        reported["carbon_g_co2"].sum() / 1000, rel=1e-9
    )
    for model, g in rows.groupby("model"):
        key = ("top-models", model, "requests")
        if key in values.cells:
            assert num(values.cells[key]) == len(g)
    assert ("budget-table", "search", "metric") in values.cells


def test_errors_only_team_gets_a_page(dash: Path) -> None:
    page = dash.parent / "team-ops.html"
    values = parse_page(page)
    assert num(values.by_id["kpi-requests"]["data-value"]) == 30
    assert values.by_id["kpi-energy_kwh"]["data-value"] == ""


def test_team_names_are_sanitized(tmp_path: Path) -> None:
    nasty = ["../../etc/passwd", "a/b", "..", "Team A", "team a", "", "ünïcode 🚀", "x" * 300]
    files = team_files(nasty)
    assert len(set(f.lower() for f in files.values())) == len(nasty)
    for name in files.values():
        assert "/" not in name and "\\" not in name and not name.startswith(".")
        assert name.startswith("team-") and name.endswith(".html") and len(name) < 100
    df = pd.concat([errors_only_rows(t, 2) for t in ("../../evil", "a/b")], ignore_index=True)
    out = tmp_path / "dash"
    mi.dashboard(df, out)
    written = sorted(p.name for p in tmp_path.rglob("*.html"))
    assert all((out / name).exists() for name in written)
    assert len(written) == 3


def test_empty_data(tmp_path: Path, sim: pd.DataFrame) -> None:
    index = mi.dashboard(sim.iloc[0:0], tmp_path / "d")
    assert "No team has requests" in index.read_text(encoding="utf-8")


def test_a_request_count_budget_counts_requests_not_days(store: mi.ImpactStore, tmp_path: Path) -> None:
    """The team pages get one summed row per day and team: a budget of request counts still
    counts the requests (the rows' own budget status gives the same figure)."""
    budgets = {"search": {"requests": 100_000}}
    out = mi.dashboard(store, tmp_path / "d", budgets=budgets)
    values = parse_page(out.parent / "team-search.html")
    want = mi.budget_status(store, budgets)
    spent = float(want.loc[want["team"] == "search", "spent"].iloc[0])
    assert spent > 100  # many requests, over far fewer days
    assert num(values.cells[("budget-table", "search", "spent")]) == pytest.approx(spent, rel=1e-9)
