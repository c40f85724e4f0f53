"""The report: numbers equal the store's, edge periods render, sections degrade clearly."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from report_helpers import errors_only_rows, num, parse_page

import melious_impact as mi
from melious_impact.cli import main
from melious_impact.forecasting.costs import add_cost_eur

D = datetime  # short alias for period bounds below
PERIOD = (D(2026, 1, 22, tzinfo=UTC), D(2026, 2, 12, tzinfo=UTC))  # 21 days, 21 before it


def _expected(df: pd.DataFrame, lo: datetime, hi: datetime) -> dict[str, float]:
    """The summary computed independently with pandas (and costs.add_cost_eur)."""
    p = df[(df["captured_at"] >= lo) & (df["captured_at"] < hi)]
    r = p[p["impact_reported"].fillna(False).astype(bool)]
    cost = add_cost_eur(p)["cost_eur"].dropna()
    with_ren = r[r["renewable_percent"].notna()]
    return {
        "energy_kwh": r["energy_kwh"].sum(),
        "carbon_kg_co2e": r["carbon_g_co2"].sum() / 1000,
        "water_m3": r["water_liters"].sum() / 1000,
        "renewable_percent": (with_ren["renewable_percent"] * with_ren["energy_kwh"]).sum()
        / with_ren["energy_kwh"].sum(),
        "cost_eur": float(sum(cost, Decimal(0))),
        "requests": len(p),
    }


@pytest.fixture(scope="module")
def store_report(store: mi.ImpactStore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    return mi.report(
        store, out, start=PERIOD[0], end=PERIOD[1], budgets={"search": {"cost_eur": 5, "carbon_g_co2": 900}}
    )


def test_summary_equals_the_store(store_report: Path, sim: pd.DataFrame) -> None:
    values = parse_page(store_report)
    now = _expected(sim, *PERIOD)
    before = _expected(sim, PERIOD[0] - (PERIOD[1] - PERIOD[0]), PERIOD[0])
    for key, want in now.items():
        kpi = values.by_id[f"kpi-{key}"]
        assert num(kpi["data-value"]) == pytest.approx(want, rel=1e-9), key
        assert num(kpi["data-previous"]) == pytest.approx(before[key], rel=1e-9), key


def test_breakdowns_equal_the_store(store_report: Path, sim: pd.DataFrame) -> None:
    values = parse_page(store_report)
    p = sim[(sim["captured_at"] >= PERIOD[0]) & (sim["captured_at"] < PERIOD[1])]
    for team, g in p.groupby("team"):
        assert num(values.cells[("by-team", team, "requests")]) == len(g)
        carbon = g.loc[g["impact_reported"].astype(bool), "carbon_g_co2"].sum() / 1000
        got = values.cells[("by-team", team, "carbon_kg_co2e")]
        assert (num(got) or 0.0) == pytest.approx(carbon, rel=1e-9)
    for model, g in p.groupby("model"):
        assert num(values.cells[("by-model", model, "requests")]) == len(g)
    text = store_report.read_text(encoding="utf-8")
    reported = int(p["impact_reported"].astype(bool).sum())
    assert (
        f'<tr data-key="reported"><td>with impact reported by Melious</td><td class="num" data-value="{reported}"'
        in text
    )


def test_report_sections_are_all_there(store_report: Path) -> None:
    text = store_report.read_text(encoding="utf-8")
    values = parse_page(store_report)
    for section in ("summary", "breakdowns", "intensity", "forecast", "scenarios", "quality", "methodology"):
        assert f'<section id="{section}">' in text
    assert "Scope 3 / Category 1 (purchased goods and services)" in text
    assert float(values.by_id["scope3"]["data-value"]) == pytest.approx(
        float(values.by_id["kpi-carbon_kg_co2e"]["data-value"]), rel=1e-12
    )
    assert "budget-table" in values.by_id
    assert "intensity-table" in values.by_id
    assert "scenario-table" in values.by_id
    assert re.search(r'id="factor-version">\d{4}\.\d+\.\d+<', text)
    # Every chart container has a spec, and every spec is valid JSON for vega-embed.
    names = {c["data-chart"] for c in values.charts}
    assert {"impact_carbon", "providers", "frontier", "intensity", "grid", "forecast", "scenarios"} <= names


def test_page_is_self_contained(store_report: Path) -> None:
    text = store_report.read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", text)
    assert "<link" not in text
    assert "@import" not in text
    assert "Content-Security-Policy" in text and "default-src &#39;none&#39;" in text
    assert text.count("window.vegaEmbed=") == 1  # the bundle is inlined once


def test_empty_period(sim: pd.DataFrame, tmp_path: Path) -> None:
    out = mi.report(sim, tmp_path / "r.html", start="2030-01-01", end="2030-01-08")
    values = parse_page(out)
    assert "empty-period" in values.by_id
    assert values.by_id["kpi-requests"]["data-value"] == "0"
    assert values.by_id["kpi-energy_kwh"]["data-value"] == ""
    assert values.charts == [] or all(c["data-chart"] != "impact_carbon" for c in values.charts)


def test_empty_frame(sim: pd.DataFrame, tmp_path: Path) -> None:
    out = mi.report(sim.iloc[0:0], tmp_path / "r.html")
    assert "empty-period" in parse_page(out).by_id


def test_single_day(sim: pd.DataFrame, tmp_path: Path) -> None:
    day = sim[
        (sim["captured_at"] >= D(2026, 2, 3, tzinfo=UTC)) & (sim["captured_at"] < D(2026, 2, 4, tzinfo=UTC))
    ]
    out = mi.report(day, tmp_path / "r.html")
    values = parse_page(out)
    assert values.by_id["period"]["data-start"].startswith("2026-02-03T00:00:00")
    assert values.by_id["period"]["data-end"].startswith("2026-02-04T00:00:00")
    assert num(values.by_id["kpi-requests"]["data-value"]) == len(day)
    assert values.by_id["kpi-requests"]["data-previous"] == ""  # nothing the day before in this frame


def test_team_with_only_errors(tmp_path: Path) -> None:
    df = errors_only_rows("ops", 12)
    out = mi.report(df, tmp_path / "r.html")
    values = parse_page(out)
    assert num(values.by_id["kpi-requests"]["data-value"]) == 12
    assert values.cells[("by-team", "ops", "errors")] == "12"
    assert values.cells[("by-team", "ops", "energy_kwh")] == ""
    text = out.read_text(encoding="utf-8")
    assert 'data-key="errors"><td>errors (no impact expected)</td><td class="num" data-value="12"' in text
    assert 'data-section-status="unavailable"' in text  # the model cannot fit on errors only


def test_sections_say_when_a_part_is_missing(
    sim: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import melious_impact.forecasting.forecast as forecast_module

    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("boom")

    # The model part as if it were not installed; the forecast as if it failed on this data.
    monkeypatch.setitem(sys.modules, "melious_impact.model.fit", None)
    monkeypatch.setattr(forecast_module, "forecast", boom)
    out = mi.report(sim, tmp_path / "r.html")
    text = out.read_text(encoding="utf-8")
    assert "Not available in this installation (import of melious_impact.model.fit halted" in text
    assert "Could not be computed on this data: RuntimeError: boom" in text
    assert 'id="kpi-energy_kwh"' in text


def test_static_render_has_inline_svg_and_no_script(sim: pd.DataFrame, tmp_path: Path) -> None:
    out = mi.report(sim, tmp_path / "r.html", render="static", start="2026-02-01", end="2026-02-08")
    text = out.read_text(encoding="utf-8")
    assert "<script" not in text
    values = parse_page(out)
    assert values.charts
    assert text.count("<svg") >= len(values.charts)


def test_bad_arguments(sim: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="render must be one of"):
        mi.report(sim, tmp_path / "r.html", render="png")
    with pytest.raises(ValueError, match="period is empty"):
        mi.report(sim, tmp_path / "r.html", start="2026-02-01", end="2026-01-01")
    with pytest.raises(TypeError, match="DataFrame"):
        mi.report([1, 2], tmp_path / "r.html")


def test_budgets_file(sim: pd.DataFrame, tmp_path: Path) -> None:
    budgets = tmp_path / "budgets.toml"
    budgets.write_text("[search]\ncost_eur = 5\n\n[ops]\nrequests = 100\n", encoding="utf-8")
    out = mi.report(sim, tmp_path / "r.html", budgets=str(budgets), start="2026-02-01", end="2026-02-12")
    values = parse_page(out)
    assert ("budget-table", "search", "metric") in values.cells
    assert values.cells[("budget-table", "ops", "metric")] == "requests"


def test_cli_report_and_dashboard(
    store: mi.ImpactStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli.html"
    code = main(
        [
            "report",
            "--store",
            str(store.root),
            "--out",
            str(out),
            "--from",
            "2026-02-01",
            "--to",
            "2026-02-07",
        ]
    )
    assert code == 0
    assert str(out) in capsys.readouterr().out
    values = parse_page(out)
    # --to is inclusive: the period ends at the midnight after 2026-02-07.
    assert values.by_id["period"]["data-end"].startswith("2026-02-08T00:00:00")
    code = main(["dashboard", "--store", str(store.root), "--out", str(tmp_path / "dash")])
    assert code == 0
    assert (tmp_path / "dash" / "index.html").exists()


def test_report_period_defaults_to_the_data(sim: pd.DataFrame, tmp_path: Path) -> None:
    out = mi.report(sim, tmp_path / "r.html")
    values = parse_page(out)
    first = sim["captured_at"].min().normalize()
    last = sim["captured_at"].max().normalize() + timedelta(days=1)
    assert pd.Timestamp(values.by_id["period"]["data-start"]) == first
    assert pd.Timestamp(values.by_id["period"]["data-end"]) == last
