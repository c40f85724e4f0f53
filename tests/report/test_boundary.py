"""The boundary statement and the optional lines beyond it, on data the emulator did not make.

Rows come from a small generator of our own (providers, locations and gaps the emulator
never produces: an unknown provider, an unknown location, rows without PUE, rows without
impact). The report and dashboard pages are read back from disk.
"""

from __future__ import annotations

import math
import re
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from report_helpers import parse_page, stored

import melious_impact as mi
from melious_impact.charts.source import Cube, connect
from melious_impact.model import boundary_lines as bl
from melious_impact.records import COLUMN_NAMES, empty_row
from melious_impact.reporting import _figures, boundary
from melious_impact.reporting._boundary_sections import ENERGY_SQL, coverage
from melious_impact.reporting.report import scope3_line

DOCS = Path(__file__).resolve().parents[2] / "docs" / "report.md"
START = datetime(2026, 3, 2, tzinfo=UTC)

# (provider, location, pue): "acme" has no market factor, "ZZ" no water factor, None no PUE.
SITES = [
    ("ovhcloud", "FR", 1.25),
    ("nebius", "FI", 1.1),
    ("regolo", "IT", None),
    ("acme", "ZZ", 1.4),
]


def make_rows(spec: list[tuple[int, int, float, bool]], start: datetime = START) -> pd.DataFrame:
    """Rows from ``(site index, hour offset, energy kWh, reported)``; carbon, water follow."""
    rows = []
    for i, (site, hour, kwh, reported) in enumerate(spec):
        provider, location, pue = SITES[site % len(SITES)]
        row = empty_row()
        row.update(
            captured_at=start + timedelta(hours=hour, minutes=i % 60),
            endpoint="/v1/chat/completions",
            status_code=200,
            model="glm-4.7",
            input_tokens=400 + 7 * i,
            output_tokens=120 + 3 * i,
            team=("alpha", "beta")[i % 2],
            record_id=f"bnd{i:08d}",
            billing_credits=Decimal("0.0012"),
            billing_paid_with="credits",
        )
        if reported:
            row.update(
                energy_kwh=kwh,
                carbon_g_co2=kwh * 55.0,
                water_liters=kwh * 0.2,
                renewable_percent=40.0,
                pue=pue,
                provider_id=provider,
                location=location,
                impact_reported=True,
            )
        else:
            row.update(provider_id=provider, location=location, impact_reported=False)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMN_NAMES))


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    spec = [(i % 4, (i * 5) % (24 * 20), 0.0004 + 0.00003 * (i % 11), i % 7 != 3) for i in range(240)]
    return make_rows(spec)


def energy_of(rows: pd.DataFrame) -> pd.DataFrame:
    con = connect(Cube(rows))
    return con.sql(ENERGY_SQL).df()


MARKET = {
    "ovhcloud": {"g_co2e_per_kwh": 12.5, "source": "OVHcloud contractual factor", "year": 2025},
    "nebius": {
        "g_co2e_per_kwh": 30.0,
        "source": "Nebius contractual factor",
        "year": 2024,
        "low": 20,
        "high": 40,
    },
    "regolo": {"g_co2e_per_kwh": 0.0, "source": "Regolo 100% renewable PPA", "year": 2025},
}


# -- the statement itself --------------------------------------------------------------------


def test_statement_names_every_part_of_the_boundary() -> None:
    text = boundary.boundary_text()
    for phrase in (
        "hybrid method",
        "not the supplier-specific method",
        "cradle-to-gate",
        "national average grid intensity",
        "at the hour",
        "No market-based figure",
        "not the share of renewable electricity the supplier buys",
        "on-site cooling water",
        "not the water consumed to generate the electricity",
        "embodied emissions of the hardware",
        "training and fine-tuning",
        "networking",
        "idle, reserved or redundant capacity",
        "share of requests it covers",
    ):
        assert phrase in text, phrase


def test_docs_page_carries_the_statement_verbatim() -> None:
    assert boundary.boundary_markdown() in DOCS.read_text(encoding="utf-8")


def test_scope3_line_names_the_hybrid_method() -> None:
    lo = START
    line = scope3_line(lo, lo + timedelta(days=31), 12.0, Decimal("3.5"), {"reported_share_percent": 87.5})
    assert "hybrid method" in line["line"]
    assert "covering 87.5% of requests" in line["line"]
    assert "(supplier-specific method" not in line["line"]


def test_summary_labels_the_grid_renewable_share(rows: pd.DataFrame) -> None:
    figures = _figures.summary(Cube(rows), START, START + timedelta(days=21))
    labels = {f.key: f.label for f in figures}
    assert labels["renewable_percent"] == "Grid renewable share"
    water = [label for key, label in labels.items() if key.startswith("water")]
    assert water and all(label.startswith("On-site") for label in water)


def test_coverage_counts_every_request(rows: pd.DataFrame) -> None:
    cov = coverage(connect(Cube(rows)))
    n, reported = len(rows), int(rows["impact_reported"].sum())
    assert reported < n  # the fixture has rows without impact
    assert cov["energy_kwh"]["covered"] == reported
    assert cov["carbon_kg_co2e"]["missing"] == n - reported
    assert cov["carbon_kg_co2e"]["share_percent"] == pytest.approx(100 * reported / n)
    assert cov["cost_eur"]["covered"] == n


# -- the lines (pure functions) -----------------------------------------------------------------


def test_offsite_water_uses_the_table_and_flags_unknown_locations(rows: pd.DataFrame) -> None:
    energy = energy_of(rows)
    table = bl.offsite_water_table()
    line = bl.offsite_water_line(energy, table)
    factor = table.set_index("location")["water_l_per_kwh"]
    rep = rows[rows["impact_reported"]]
    want = sum(
        rep.loc[rep["location"] == loc, "energy_kwh"].sum() * factor[loc] for loc in ("FR", "FI", "IT")
    )
    assert line.value == pytest.approx(want, rel=1e-12)
    assert line.low == pytest.approx(want * 0.5, rel=1e-3)
    assert line.high == pytest.approx(want * 2, rel=1e-3)
    assert [g.what for g in line.gaps] == ["ZZ"]
    zz = rep[rep["location"] == "ZZ"]
    assert line.gaps[0].requests == len(zz)
    assert line.gaps[0].energy_kwh == pytest.approx(zz["energy_kwh"].sum())
    assert line.covered_requests + line.gaps[0].requests == line.total_requests == len(rep)
    assert all(s.year == 2025 and s.licence == "MPL-2.0" for s in line.sources)


def test_offsite_water_resolves_locations_like_the_model() -> None:
    # "AUT", "Austria", "at" and a zone of Austria are Austria (never Australia's AU factor);
    # a spelling that names no country and a region stay flagged gaps, each with its kWh.
    locations = ["AUT", "Austria", "at", "AT-9", "Austrai", "eu-west-1", None]
    n = len(locations)
    energy = pd.DataFrame(
        {
            "provider_id": ["x"] * n,
            "location": locations,
            "requests": [1, 2, 3, 4, 5, 6, 7],
            "energy_kwh": [1.0, 2.0, 3.0, 4.0, 0.5, 0.25, 0.125],
            "it_energy_kwh": [1.0] * n,
            "requests_without_pue": [0] * n,
            "energy_without_pue_kwh": [0.0] * n,
        }
    )
    line = bl.offsite_water_line(energy)
    factors = bl.offsite_water_table().set_index("location")["water_l_per_kwh"]
    assert line.value == pytest.approx(10.0 * float(factors["AT"]), rel=1e-12)
    assert float(factors["AT"]) != float(factors["AU"])
    assert line.covered_requests == 10 and line.total_requests == 28
    assert [d["location"] for d in line.details] == ["AT"]
    gaps = {g.what: (g.requests, g.energy_kwh) for g in line.gaps}
    assert gaps == {"Austrai": (5, 0.5), "eu-west-1": (6, 0.25), "(no location)": (7, 0.125)}


def test_nothing_covered_is_missing_not_zero() -> None:
    energy = pd.DataFrame(
        {
            "provider_id": ["acme"],
            "location": ["ZZ"],
            "requests": [3],
            "energy_kwh": [0.5],
            "it_energy_kwh": [None],
            "requests_without_pue": [3],
            "energy_without_pue_kwh": [0.5],
        }
    )
    for line in (
        bl.offsite_water_line(energy),
        bl.embodied_carbon_line(energy),
        bl.market_based_line(energy, MARKET),
    ):
        assert line.value is None and line.low is None and line.high is None, line.key
        assert line.covered_requests == 0 and line.total_requests == 3
        assert line.gaps and line.gaps[0].requests == 3


def test_embodied_line_allocates_by_energy_share(rows: pd.DataFrame) -> None:
    energy = energy_of(rows)
    line = bl.embodied_carbon_line(energy)
    f = bl.embodied_factor()
    rep = rows[rows["impact_reported"]]
    with_pue = rep[rep["pue"].notna()]
    it_kwh = (with_pue["energy_kwh"] / with_pue["pue"]).sum()
    assert line.value == pytest.approx(it_kwh * f.g_per_it_kwh, rel=1e-12)
    # The factor from the shipped table: (5700 + 8 x 164) kg over 4.76 kW x 3 years.
    assert f.g_per_it_kwh == pytest.approx(7_012_000 / (4.76 * 3 * 8760), rel=1e-9)
    assert f.low == pytest.approx(4_144_000 / (6.8 * 6 * 8760), rel=1e-9)
    assert f.high == pytest.approx(7_012_000 / (2.72 * 3 * 8760), rel=1e-9)
    assert f.high / f.low > 5  # a wide interval, as the assumptions are
    assert line.gaps[0].requests == len(rep) - len(with_pue)  # regolo rows have no PUE
    assert {s.year for s in line.sources} == {2025}


def test_market_line_uses_the_given_factors_exactly(rows: pd.DataFrame) -> None:
    energy = energy_of(rows)
    line = bl.market_based_line(energy, MARKET)
    rep = rows[rows["impact_reported"]]
    kwh = rep.groupby("provider_id")["energy_kwh"].sum()
    want = kwh["ovhcloud"] * 12.5 + kwh["nebius"] * 30.0 + kwh["regolo"] * 0.0
    assert line.value == pytest.approx(want, rel=1e-12)
    assert line.low == pytest.approx(kwh["ovhcloud"] * 12.5 + kwh["nebius"] * 20.0, rel=1e-12)
    assert line.high == pytest.approx(kwh["ovhcloud"] * 12.5 + kwh["nebius"] * 40.0, rel=1e-12)
    # The provider without a factor is a flagged gap with its requests and energy.
    assert [(g.what, g.requests) for g in line.gaps] == [("acme", int((rep["provider_id"] == "acme").sum()))]
    assert line.gaps[0].energy_kwh == pytest.approx(kwh["acme"])
    assert {s.year for s in line.sources} == {2024, 2025}
    # Beside it, the reported location-based carbon of the same (covered) requests.
    covered = rep[rep["provider_id"].isin(list(MARKET))]
    assert line.location_based == pytest.approx(covered["carbon_g_co2"].sum(), rel=1e-12)


def test_market_factors_from_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "market.toml"
    path.write_text(
        '[market.ovhcloud]\ng_co2e_per_kwh = 12.5\nsource = "OVHcloud contractual factor"\nyear = 2025\n',
        encoding="utf-8",
    )
    factors = bl.market_factors(path)
    assert factors == {"ovhcloud": bl.MarketFactor(12.5, "OVHcloud contractual factor", 2025)}


@pytest.mark.parametrize(
    "bad",
    [
        {"ovhcloud": 12.5},  # a bare number has no source
        {"ovhcloud": {"g_co2e_per_kwh": 12.5, "year": 2025}},
        {"ovhcloud": {"g_co2e_per_kwh": -1, "source": "s", "year": 2025}},
        {"ovhcloud": {"g_co2e_per_kwh": float("nan"), "source": "s", "year": 2025}},
        {"ovhcloud": {"g_co2e_per_kwh": True, "source": "s", "year": 2025}},
        {"ovhcloud": {"g_co2e_per_kwh": 12.5, "source": "s", "year": "2025"}},
        {"ovhcloud": {"g_co2e_per_kwh": 12.5, "source": "s", "year": 2025, "low": 13}},
        {},
    ],
)
def test_bad_market_factors_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        bl.market_factors(bad)


def test_factor_tables_carry_source_year_unit_licence() -> None:
    for tab in (bl.offsite_water_table(), bl.embodied_table()):
        for col in ("source", "year", "unit", "licence"):
            assert col in tab.columns
            assert tab[col].notna().all() and (tab[col].astype(str).str.strip() != "").all(), col
    water = bl.offsite_water_table()
    assert water["location"].str.fullmatch(r"[A-Z]{2}").all()
    assert water["location"].is_unique
    assert (water["water_low"] <= water["water_l_per_kwh"]).all()
    assert (water["water_l_per_kwh"] <= water["water_high"]).all()


# -- property: lines are additions beside the totals, never inside them ---------------------------

SPEC = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.integers(0, 24 * 10),
        st.floats(1e-7, 0.05, allow_nan=False),
        st.booleans(),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=SPEC)
def test_lines_are_zero_free_additions(spec: list[tuple[int, int, float, bool]]) -> None:
    rows = make_rows(spec)
    energy = energy_of(rows)
    reported = [s for s in spec if s[3]]
    for line in (
        bl.offsite_water_line(energy),
        bl.embodied_carbon_line(energy),
        bl.market_based_line(energy, MARKET),
    ):
        assert line.total_requests == len(reported)
        assert line.covered_requests + sum(g.requests for g in line.gaps) == line.total_requests
        if line.covered_requests == 0:
            assert line.value is None  # nothing covered: missing, never zero
        else:
            assert line.low is not None and line.high is not None and line.value is not None
            assert 0 <= line.low <= line.value <= line.high
            assert math.isfinite(line.high)
        assert line.sources and all(s.year for s in line.sources)


# -- the pages ------------------------------------------------------------------------------------


def _kpis(page: Path) -> dict[str, str]:
    p = parse_page(page)
    out = {k[len("kpi-") :]: v.get("data-value", "") for k, v in p.by_id.items() if k.startswith("kpi-")}
    out["scope3"] = p.by_id["scope3"]["data-value"]
    return out


@pytest.fixture(scope="module")
def pages(rows: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("bnd")
    plain = mi.report(rows, out / "plain.html", render="static", scenarios=[])
    lined = mi.report(
        rows,
        out / "lined.html",
        render="static",
        scenarios=[],
        lines=["offsite_water", "embodied_carbon"],
        market_factors=MARKET,
    )
    return plain, lined


def _text(page: Path) -> str:
    html = page.read_text(encoding="utf-8")
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'")


def test_report_states_the_boundary_and_the_method(pages: tuple[Path, Path]) -> None:
    plain, _ = pages
    text = _text(plain)
    methodology = text[text.index("Methodology and sources") :]
    for item in boundary.BOUNDARY:
        assert item.text in methodology, item.key
    assert boundary.METHOD_SUMMARY in text
    assert "supplier-specific method:" not in text
    assert "Grid renewable share" in text
    # The page says what share of requests each total covers.
    p = parse_page(plain)
    assert p.by_id["kpi-carbon_kg_co2e"]  # the tile exists
    cov = re.findall(r"covers ([\d.]+)% of requests \(([\d,]+) of ([\d,]+)\)", text)
    assert cov and {c[2] for c in cov} == {"240"}
    # No optional line unless asked.
    assert "Beyond the boundary" not in text
    for key in ("offsite_water", "embodied_carbon", "market_carbon"):
        assert f"line-{key}" not in p.by_id


def test_lines_appear_when_asked_and_leave_the_totals_alone(
    pages: tuple[Path, Path], rows: pd.DataFrame
) -> None:
    plain, lined = pages
    assert _kpis(plain) == _kpis(lined)
    p = parse_page(lined)
    energy = energy_of(rows)
    want = {
        "offsite_water": bl.offsite_water_line(energy),
        "embodied_carbon": bl.embodied_carbon_line(energy),
        "market_carbon": bl.market_based_line(energy, MARKET),
    }
    text = _text(lined)
    for key, line in want.items():
        attrs = p.by_id[f"line-{key}"]
        assert float(attrs["data-value"]) == pytest.approx(line.value, rel=1e-12)
        assert float(attrs["data-low"]) <= float(attrs["data-value"]) <= float(attrs["data-high"])
        assert attrs["data-unit"] == line.unit
    assert "Interval:" in text and "Sources (year 2025)" in text
    assert "Gap: acme" in text and "Gap: ZZ" in text  # flagged, not zero
    assert "never added to the totals" in text


def test_unknown_line_name_is_refused(rows: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="offsite_water"):
        mi.report(rows, tmp_path / "r.html", lines=["offsite-water"], render="static")
    with pytest.raises(ValueError, match="source"):
        mi.report(rows, tmp_path / "r.html", market_factors={"ovhcloud": 3.0}, render="static")


def test_dashboards_state_the_boundary(rows: pd.DataFrame, tmp_path: Path) -> None:
    index = mi.dashboard(rows, tmp_path / "dash", render="static")
    pages = [index, *sorted(index.parent.glob("team-*.html"))]
    assert len(pages) == 3
    for page in pages:
        text = _text(page)
        for item in boundary.BOUNDARY:
            assert item.text in text, (page.name, item.key)
        assert "Grid renewable share" in text
        assert re.search(r"covers [\d.]+% of requests", text), page.name


def test_pdf_is_printed_from_a_page_with_the_boundary(
    rows: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PDF is Chromium's print of a static page: that page states the boundary too."""
    printed: list[str] = []

    def fake_print(src: Path, dst: Path, chromium: str | None = None) -> Path:
        printed.append(Path(src).read_text(encoding="utf-8"))
        Path(dst).write_bytes(b"%PDF-1.4\n")
        return Path(dst)

    monkeypatch.setattr("melious_impact.reporting.pdf.html_to_pdf", fake_print)
    out = mi.report(rows, tmp_path / "r.html", pdf=True, render="static", scenarios=[])
    assert out.with_suffix(".pdf").exists() and len(printed) == 1
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", printed[0])).replace("&#39;", "'")
    for item in boundary.BOUNDARY:
        assert item.text in text, item.key
    assert boundary.METHOD_SUMMARY in text


def test_cli_adds_lines_from_flags_and_a_market_file(
    rows: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from melious_impact.cli import main

    store = stored(rows, tmp_path / "store")
    market = tmp_path / "market.toml"
    market.write_text(
        '[market.nebius]\ng_co2e_per_kwh = 30.0\nsource = "Nebius contractual factor"\nyear = 2024\n',
        encoding="utf-8",
    )
    out = tmp_path / "cli.html"
    argv = ["report", "--store", str(store.root), "--out", str(out), "--static", "--line", "offsite_water"]
    assert main([*argv, "--market", str(market)]) == 0
    assert "hybrid method" in capsys.readouterr().out
    p = parse_page(out)
    assert "line-offsite_water" in p.by_id and "line-market_carbon" in p.by_id
    assert "line-embodied_carbon" not in p.by_id
    energy = energy_of(rows)
    want = bl.market_based_line(energy, bl.market_factors(market))
    assert float(p.by_id["line-market_carbon"]["data-value"]) == pytest.approx(want.value, rel=1e-12)
    # Every provider but nebius is a flagged gap.
    assert {g.what for g in want.gaps} == {"ovhcloud", "regolo", "acme"}


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=SPEC, asked=st.sets(st.sampled_from(bl.LINE_NAMES)), market=st.booleans())
def test_reported_totals_are_identical_with_and_without_lines(
    spec: list[tuple[int, int, float, bool]], asked: set[str], market: bool
) -> None:
    """The whole report context: every figure, the coverage and the Scope 3 line."""
    from melious_impact.reporting.report import build_context

    rows = make_rows(spec)
    lo, hi = START, START + timedelta(days=11)

    def numbers(**kw: object) -> tuple[object, ...]:
        ctx, _ = build_context(rows, Cube(rows), lo, hi, scenarios=[], **kw)  # type: ignore[arg-type]
        figures = [(f.key, f.value, f.previous) for f in ctx["figures"]]
        return figures, ctx["coverage"], ctx["scope3"], ctx["quality"]

    plain = numbers()
    lined = numbers(lines=tuple(sorted(asked)), market_factors=MARKET if market else None)
    assert plain == lined


def test_report_dashboard_and_cli_read_the_market_table_of_the_budgets_file(
    rows: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from melious_impact.cli import main

    budgets = tmp_path / "budgets.toml"
    budgets.write_text(
        "[alpha]\ncost_eur = 1.5\n\n"
        '[market.nebius]\ng_co2e_per_kwh = 30.0\nsource = "Nebius contractual factor"\nyear = 2024\n',
        encoding="utf-8",
    )
    want = bl.market_based_line(energy_of(rows), bl.market_factors(budgets))
    assert want.value is not None and want.covered_requests > 0
    out = mi.report(rows, tmp_path / "r.html", budgets=budgets, render="static", scenarios=[])
    page = parse_page(out)
    assert float(page.by_id["line-market_carbon"]["data-value"]) == pytest.approx(want.value, rel=1e-12)
    assert "budget-table" in page.by_id  # the teams are still budgets
    index = mi.dashboard(rows, tmp_path / "dash", budgets=budgets, render="static")
    dash = parse_page(index)
    assert float(dash.by_id["line-market_carbon"]["data-value"]) == pytest.approx(want.value, rel=1e-12)
    # without a market table, no line
    plain = parse_page(mi.dashboard(rows, tmp_path / "plain", render="static"))
    assert "line-market_carbon" not in plain.by_id
    store = stored(rows, tmp_path / "store")
    cli_dir = tmp_path / "cli-dash"
    assert (
        main(
            [
                "dashboard",
                "--store",
                str(store.root),
                "--out",
                str(cli_dir),
                "--static",
                "--budgets",
                str(budgets),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert "line-market_carbon" in parse_page(cli_dir / "index.html").by_id
