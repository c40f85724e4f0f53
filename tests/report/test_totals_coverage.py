"""Every total on a page is complete or says the share it covers: never a silent smaller sum.

Rows come from a generator of our own (not the emulator): reported requests, some of them
without a carbon figure; unreported requests the model can estimate, some at a location
that names no country (energy estimated, carbon not), and speech requests of a model of
unknown size (nothing estimated).
"""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from report_helpers import parse_page, stored

import melious_impact as mi
from melious_impact.charts.source import Cube, connect
from melious_impact.records import COLUMN_NAMES, empty_row
from melious_impact.reporting import _figures
from melious_impact.reporting.report import build_context

START = datetime(2026, 4, 6, tzinfo=UTC)
DAYS = 14
# (provider, location, pue, grid g/kWh); "newco" in "Atlantis" only ever goes unreported
SITES = {"ovh": ("ovhcloud", "FR", 1.2, 50.0), "neb": ("nebius", "FI", 1.1, 80.0)}


def make_rows(seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []

    def add(i: int, site: str | None, *, model: str = "glm-4.7", reported: bool, carbon: bool = True) -> None:
        row = empty_row()
        tin, tout = int(rng.integers(200, 3000)), int(rng.integers(50, 800))
        row.update(
            captured_at=START + timedelta(minutes=int(rng.integers(0, DAYS * 24 * 60))),
            endpoint="/v1/chat/completions",
            status_code=200,
            model=model,
            input_tokens=tin,
            output_tokens=tout,
            team=("alpha", "beta")[i % 2],
            record_id=f"cov{i:08d}",
            billing_credits=Decimal("0.00002") * tin,
            billing_paid_with="credits",
        )
        if site is None:  # unreported, at a place that names no country
            row.update(provider_id="newco", location="Atlantis", impact_reported=False)
        else:
            provider, location, pue, grid = SITES[site]
            row.update(provider_id=provider, location=location, impact_reported=reported)
            if reported:
                kwh = pue * (tin * 2e-7 + tout * 3e-6) * float(rng.lognormal(0, 0.05))
                row.update(
                    energy_kwh=kwh,
                    carbon_g_co2=kwh * grid if carbon else None,
                    water_liters=kwh * 0.3,
                    renewable_percent=40.0,
                    pue=pue,
                )
        rows.append(row)

    i = 0
    for site, n in (("ovh", 260), ("neb", 160)):
        for _ in range(n):
            add(i, site, reported=True, carbon=not (site == "neb" and i % 8 == 0))
            i += 1
    for _ in range(30):
        add(i, "ovh", reported=False)
        i += 1
    for _ in range(12):
        add(i, None, reported=False)
        i += 1
    for _ in range(5):
        add(i, "ovh", model="tts-1", reported=False)
        i += 1
    df = pd.DataFrame(rows, columns=list(COLUMN_NAMES))
    return df.sort_values("captured_at").reset_index(drop=True)


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return make_rows()


@pytest.fixture(scope="module")
def context(rows: pd.DataFrame) -> dict[str, object]:
    ctx, _ = build_context(
        rows, Cube(rows), START, START + timedelta(days=DAYS), scenarios=[{"shift_to_clean_hours": True}]
    )
    return ctx


def test_estimates_say_how_many_requests_they_cover(rows: pd.DataFrame, context: dict) -> None:
    est = context["estimates"]
    assert est.ok, est.note
    unreported = rows[~rows["impact_reported"].astype(bool)]
    assert est.facts["unreported"] == len(unreported)
    # 30 at FR and 12 in Atlantis get an energy estimate; only the 30 a carbon one
    assert est.facts["rows"] == 42
    assert est.facts["estimated"] == {"energy_kwh": 42, "carbon_kg_co2e": 30, "water_liters": 42}
    w = context["with_estimates"]["carbon_kg_co2e"]
    reported = rows["carbon_g_co2"].astype(float)
    assert w["covered"] == int(reported.notna().sum()) + 30
    assert w["total"] == len(rows)
    assert w["missing"] == len(rows) - w["covered"] > 0
    assert w["value"] == pytest.approx(float(reported.sum()) / 1000 + est.facts["carbon_kg"], rel=1e-12)
    assert w["share"] == f"{math.floor(1000 * w['covered'] / len(rows)) / 10:.1f}%"


def test_breakdown_rows_say_what_share_their_sums_cover(rows: pd.DataFrame) -> None:
    df = _figures.breakdown(connect(Cube(rows)), "location").set_index("key")
    for loc, g in rows.groupby(rows["location"]):
        full = g[["energy_kwh", "carbon_g_co2", "water_liters"]].notna().all(axis=1)
        want = math.floor(1000 * full.sum() / len(g)) / 10
        assert df.loc[loc, "impact_covered_percent"] == pytest.approx(want), loc
        assert df.loc[loc, "cost_covered_percent"] == 100.0
    assert df.loc["FI", "impact_covered_percent"] < 100.0  # some FI rows carry no carbon
    assert df.loc["Atlantis", "impact_covered_percent"] == 0.0


def test_per_token_intensity_divides_by_the_rows_that_carry_the_figure(rows: pd.DataFrame) -> None:
    df = _figures.per_token(connect(Cube(rows))).set_index("location")
    fi = rows[(rows["location"] == "FI") & rows["impact_reported"].astype(bool)]
    with_c = fi[fi["carbon_g_co2"].notna()]
    tokens = (with_c["input_tokens"] + with_c["output_tokens"]).sum()
    assert df.loc["FI", "g_co2e_per_1k_tokens"] == pytest.approx(1000 * with_c["carbon_g_co2"].sum() / tokens)
    assert df.loc["FI", "grid_g_per_kwh"] == pytest.approx(80.0, rel=1e-9)


def test_scenario_table_carries_the_covered_totals_and_their_share(context: dict) -> None:
    sec = context["scenarios"]
    assert sec.ok, sec.note
    frame = sec.facts["frame"].set_index("metric")
    carbon = frame.loc["carbon_g_co2"]
    assert math.isnan(carbon["baseline"])  # the full total stays missing
    assert carbon["baseline_covered"] > 0 and 0 < carbon["covered_share"] < 1
    headers = dict(sec.tables["scenarios"].headers)
    assert "baseline_covered" in headers and "covered_percent" in headers
    assert "uncovered_requests" in headers
    assert "over" in sec.note and "without an estimate" in sec.note
    assert "Carbon as run" in sec.note


def test_the_page_shows_covered_figures_with_their_share(rows: pd.DataFrame, tmp_path: Path) -> None:
    out = mi.report(
        rows,
        tmp_path / "r.html",
        start=START,
        end=START + timedelta(days=DAYS),
        render="static",
        scenarios=[{"shift_to_clean_hours": True}],
    )
    page = parse_page(out)
    text = out.read_text(encoding="utf-8")
    tag = page.by_id["carbon-with-estimates"]
    assert int(tag["data-covered"]) < int(tag["data-total"]) == len(rows)
    assert "without a reported or estimated figure" in text
    assert "without a carbon estimate" in text
    row = next(k for (t, k, c) in page.cells if t == "scenario-table" and c == "baseline_covered")
    assert page.cells[("scenario-table", row, "baseline_covered")] not in ("", "nan")
    assert page.cells[("by-location", "FI", "impact_covered_percent")] != "100.0"


def test_scope3_line_states_the_share_its_carbon_covers(rows: pd.DataFrame, context: dict) -> None:
    # reported rows without a carbon figure: the line's coverage is that of carbon, not of
    # the rows that reported impact
    with_carbon = int(rows["carbon_g_co2"].notna().sum())
    reported = int(rows["impact_reported"].astype(bool).sum())
    assert with_carbon < reported
    want = f"covering {math.floor(1000 * with_carbon / len(rows)) / 10:.1f}% of requests"
    assert want in context["scope3"]["line"]


def test_the_pre_summed_workload_gives_the_rows_observed_totals_and_shares(rows: pd.DataFrame) -> None:
    """Above 200,000 requests the report runs scenarios on one row per (model, site, month,
    hour): a reported figure missing inside a group leaves that total missing, as the rows
    do, and the shares count requests, not groups."""
    from melious_impact.reporting._aggregate import hourly_workload

    with pytest.raises(ValueError, match="summed by the day"):
        hourly_workload(connect(Cube(rows)))  # a cube sums days: the workload reads the rows
    work = hourly_workload(connect(rows))
    assert len(work) < len(rows)
    m = mi.fit_intensity(rows)
    by_rows = mi.scenario(rows, m).set_index("metric")
    by_groups = mi.scenario(work, m).set_index("metric")
    assert math.isnan(by_rows.loc["carbon_g_co2", "observed"])  # reported FI rows lack carbon
    assert math.isnan(by_groups.loc["carbon_g_co2", "observed"])
    for q in ("energy_kwh", "water_liters"):
        assert by_groups.loc[q, "observed"] == pytest.approx(by_rows.loc[q, "observed"], rel=1e-9)
    for q in ("energy_kwh", "carbon_g_co2", "water_liters", "cost_eur"):
        for col in ("requests", "covered_requests", "covered_share", "baseline_coverage"):
            assert by_groups.loc[q, col] == pytest.approx(by_rows.loc[q, col]), (q, col)
    carbon = by_groups.loc["carbon_g_co2"]
    assert carbon["baseline_covered"] == pytest.approx(
        by_rows.loc["carbon_g_co2", "baseline_covered"], rel=1e-9
    )


def test_the_report_on_a_pre_summed_workload_states_the_same_coverage(
    rows: pd.DataFrame, context: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from melious_impact.reporting import _aggregate

    monkeypatch.setattr(_aggregate, "AGGREGATE_SCENARIOS_ABOVE", 100)  # the path of a large period
    ctx, _ = build_context(
        rows, Cube(rows), START, START + timedelta(days=DAYS), scenarios=[{"shift_to_clean_hours": True}]
    )
    sec = ctx["scenarios"]
    assert sec.ok, sec.note
    assert "summed per model, site, month and hour" in sec.note
    got = sec.facts["frame"].set_index("metric")
    want = context["scenarios"].facts["frame"].set_index("metric")
    for q in ("energy_kwh", "carbon_g_co2", "water_liters"):
        assert got.loc[q, "covered_share"] == pytest.approx(want.loc[q, "covered_share"])
        assert got.loc[q, "requests"] == want.loc[q, "requests"]
    assert "Carbon as run" in sec.note


def test_budget_status_says_what_share_its_spent_covers(rows: pd.DataFrame) -> None:
    from melious_impact.reporting._aggregate import daily_rows

    plan = {"alpha": {"carbon_g_co2": 1, "cost_eur": 1, "energy_kwh": 1, "requests": 10}}
    st = mi.budget_status(rows, plan).set_index("metric")
    alpha = rows[rows["team"] == "alpha"]
    for metric in ("carbon_g_co2", "energy_kwh"):
        want = math.floor(1000 * alpha[metric].notna().sum() / len(alpha)) / 10
        assert st.loc[metric, "spent_covered_percent"] == pytest.approx(want), metric
    assert (
        st.loc["carbon_g_co2", "spent_covered_percent"] < st.loc["energy_kwh", "spent_covered_percent"] < 100
    )
    assert st.loc["cost_eur", "spent_covered_percent"] == 100.0
    assert st.loc["requests", "spent_covered_percent"] == 100.0
    # the report's pre-summed daily rows give the same shares
    daily = mi.budget_status(daily_rows(connect(Cube(rows))), plan).set_index("metric")
    assert daily["spent_covered_percent"].to_dict() == st["spent_covered_percent"].to_dict()


def test_the_budget_table_shows_the_share_spent_covers(rows: pd.DataFrame) -> None:
    ctx, _ = build_context(
        rows,
        Cube(rows),
        START,
        START + timedelta(days=DAYS),
        scenarios=[],
        budgets={"alpha": {"carbon_g_co2": 1}},
    )
    sec = ctx["budgets"]
    assert sec.ok, sec.note
    assert "spent_covered_percent" in dict(sec.tables["status"].headers)


def test_the_budgets_command_prints_the_share_spent_covers(
    rows: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from melious_impact.cli import main

    store = stored(rows, tmp_path / "store")
    budgets = tmp_path / "b.toml"
    budgets.write_text("[alpha]\ncarbon_g_co2 = 1\n", encoding="utf-8")
    assert main(["budgets", "--store", str(store.root), "--budgets", str(budgets)]) == 0
    out = capsys.readouterr().out
    alpha = rows[rows["team"] == "alpha"]
    share = math.floor(1000 * alpha["carbon_g_co2"].notna().sum() / len(alpha)) / 10
    assert "Spent covered percent" in out and f"{share:g}" in out


def test_the_savings_chart_draws_the_covered_change_with_its_share(context: dict) -> None:
    frame = context["scenarios"].facts["frame"]
    carbon = frame[frame["metric"] == "carbon_g_co2"].iloc[0]
    assert math.isnan(carbon["delta"]) and not math.isnan(carbon["delta_covered"])
    spec = mi.charts.scenario_savings(frame, "carbon_g_co2").to_dict()
    data = [row for rows in spec["datasets"].values() for row in rows]
    assert len(data) == 1
    share = f"{math.floor(1000 * carbon['covered_share']) / 10:.1f}%"
    assert data[0]["scenario"].endswith(f"(over {share} of requests)")
    assert data[0]["saving"] == pytest.approx(-carbon["delta_covered"])
    assert data[0]["saving_low"] == pytest.approx(-carbon["delta_covered_high"])


def test_an_impact_forecast_says_which_share_of_requests_its_history_covers(rows: pd.DataFrame) -> None:
    ctx, _ = build_context(
        rows, Cube(rows), START, START + timedelta(days=DAYS), scenarios=[], forecast_metric="carbon_g_co2"
    )
    sec = ctx["forecast"]
    assert sec.ok, sec.note
    share = math.floor(1000 * rows["carbon_g_co2"].notna().mean()) / 10
    assert f"{share:.1f}% of its requests" in sec.note
