"""One face for each number: the formatter's golden outputs and properties, and pages that show
no raw column name and no quantity in two units."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from melious_impact import units

# -- the formatter, pinned ---------------------------------------------------------------

GOLDEN_NUMBERS = [
    (0, "0"),
    (1, "1"),
    (0.873, "0.873"),
    (12.345, "12.3"),
    (999.4, "999"),
    (999.5, "1,000"),
    (12345, "12,300"),
    (1234567.8, "1,230,000"),
    (0.000123456, "0.000123"),
    (-45.678, "-45.7"),
    (Decimal("2.50"), "2.5"),
    (None, "–"),
    (float("nan"), "–"),
]


@pytest.mark.parametrize(("value", "text"), GOLDEN_NUMBERS)
def test_number(value: object, text: str) -> None:
    assert units.number(value) == text


GOLDEN_QUANTITIES = [
    (0.0004, "energy_kwh", "0.4 Wh"),
    (2.5, "energy_kwh", "2.5 kWh"),
    (12_500.0, "energy_kwh", "12.5 MWh"),
    (0.42, "carbon_g_co2", "0.42 g CO2e"),
    (1234.0, "carbon_g_co2", "1.23 kg CO2e"),
    (3_400_000.0, "carbon_g_co2", "3.4 t CO2e"),
    (0.0021, "carbon_kg_co2e", "2.1 g CO2e"),
    (0.05, "water_liters", "50 mL"),
    (12.0, "water_liters", "12 L"),
    (4200.0, "water_liters", "4.2 m³"),
    (0.75, "water_m3", "750 L"),
    (Decimal("1234.565"), "cost_eur", "1,234.56 EUR"),
    (1204, "requests", "1,204 requests"),
]


@pytest.mark.parametrize(("value", "column", "text"), GOLDEN_QUANTITIES)
def test_quantity_picks_a_readable_unit(value: object, column: str, text: str) -> None:
    assert units.quantity(value, column) == text


def test_money_is_exact_and_never_through_a_float() -> None:
    assert units.money(Decimal("0.005")) == "0.005 EUR"  # under a cent: significant digits
    assert units.money(Decimal("0.015")) == "0.02 EUR"  # half-even on the exact decimal
    assert units.money(Decimal("0.025")) == "0.02 EUR"
    assert units.money(Decimal("1000000.004999999999")) == "1,000,000.00 EUR"
    assert units.money(Decimal("-3.1")) == "-3.10 EUR"
    assert units.money(0) == "0.00 EUR"
    assert units.money(None) == "–"


def test_shares_dates_and_labels() -> None:
    assert units.probability(0.873) == "87%"
    assert units.probability(0.004) == "0.4%"
    assert units.probability(1.0) == "100%"
    assert units.percent(87.3) == "87%"
    assert units.percent(99.7) == "99.7%"
    # A share short of its whole never reads 100% (nor a tiny one 0%): coverage is stated, not rounded away.
    assert units.percent(99.96) == "99.9%"
    assert units.percent(99.999) == "99.9%"
    assert units.percent(0.04) == "<0.1%"
    assert units.percent(100) == "100%"
    assert units.percent(0) == "0%"
    assert units.when(pd.Timestamp("2026-10-31")) == "2026-10-31"
    assert units.when(pd.Timestamp("2026-10-31T00:00:00Z")) == "2026-10-31"
    assert units.when(datetime(2026, 10, 31, 14, 5, tzinfo=UTC)) == "2026-10-31 14:05 UTC"
    assert units.when(date(2026, 10, 31)) == "2026-10-31"
    assert units.when(pd.NaT) == "–"
    assert units.header("cost_eur") == "Cost (EUR)"
    assert units.header("carbon_kg_co2e") == "Carbon (kg CO2e)"
    assert units.header("energy_kwh", units.choose("energy_kwh", [0.002, 0.0001])) == "Energy (Wh)"
    assert units.label("p_exceed") == "Chance of overrun"
    assert units.label("crossing_date") == "Crossing date"


FINITE = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False).filter(lambda f: f == 0 or abs(f) > 1e-9)


@given(FINITE)
def test_number_keeps_three_significant_digits(value: float) -> None:
    text = units.number(value)
    back = float(text.replace(",", ""))
    assert back == pytest.approx(value, rel=5e-3, abs=1e-12)
    digits = text.replace(",", "").replace("-", "").replace(".", "").lstrip("0")
    assert len(digits.rstrip("0")) <= 3


@given(
    st.floats(min_value=1e-9, max_value=1e12, allow_nan=False), st.sampled_from(["energy", "carbon", "water"])
)
def test_the_unit_makes_the_number_readable(value: float, quantity: str) -> None:
    unit = units.pick(quantity, value)
    shown = value * unit.factor
    smallest = min(u.factor for u in units._LADDERS[quantity]) == unit.factor
    largest = max(u.factor for u in units._LADDERS[quantity]) == unit.factor
    assert shown >= 1 - 1e-9 or largest  # never "0.002 kWh" when Wh exists
    assert shown < 1000 or smallest  # never "12,000 g" when kg exists


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1e12"), places=6))
def test_money_rounds_the_exact_decimal(value: Decimal) -> None:
    text = units.money(value)
    assert Decimal(text.removesuffix(" EUR").replace(",", "")) == value.quantize(Decimal("0.01"))


# -- pages: labels, not column names; one unit per quantity -----------------------------

UNIT_RE = r"(MWh|kWh|Wh|t CO2e|kg CO2e|g CO2e|m³|mL|L)"
QUANTITY_OF = {
    "Wh": "energy",
    "kWh": "energy",
    "MWh": "energy",
    "g CO2e": "carbon",
    "kg CO2e": "carbon",
    "t CO2e": "carbon",
    "mL": "water",
    "L": "water",
    "m³": "water",
}
# A number then a unit, or a unit in parentheses; not a rate ("g CO2e/kWh", "Wh / 1k tokens").
SHOWN_UNIT = re.compile(rf"(?:\d\s|\()(?<![/\w]){UNIT_RE}(?!\s*/|\w)")


class _Visible(HTMLParser):
    """Text a reader sees: outside scripts, styles and code; the methodology section (which
    names the data's own columns and units on purpose) left out."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self._skip: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        hidden = tag in ("script", "style", "code") or (tag == "section" and a.get("id") == "methodology")
        nested = bool(self._skip) and tag == self._skip[-1]  # the same tag again inside a skipped one
        if hidden or nested:
            self._skip.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._skip and tag == self._skip[-1]:
            self._skip.pop()

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)


def visible_text(path: Path) -> str:
    p = _Visible()
    p.feed(path.read_text(encoding="utf-8"))
    return " ".join(" ".join(p.text).split())


def _column_names() -> set[str]:
    from melious_impact.forecasting.budgets import BUDGET_COLUMNS
    from melious_impact.records import COLUMN_NAMES

    derived = {"cost_eur", "carbon_kg_co2e", "water_m3", "carbon_share_percent", "wh_per_1k_tokens"}
    return {c for c in (*COLUMN_NAMES, *BUDGET_COLUMNS, *derived) if "_" in c}


def _rows() -> pd.DataFrame:
    """Three teams over five weeks (made here, not by the emulator): carbon totals in kg,
    each team's in g or kg, water in litres, so a page has to choose one unit."""
    from melious_impact.records import COLUMN_NAMES, empty_row

    rng = np.random.default_rng(5)
    start = datetime(2026, 9, 1, tzinfo=UTC)
    rows = []
    for i in range(1200):
        team = ("search", "support", "labs")[i % 3]
        scale = {"search": 20.0, "support": 2.0, "labs": 0.05}[team]
        kwh = float(rng.lognormal(-7, 0.4)) * scale
        row = empty_row()
        row.update(
            captured_at=start + timedelta(hours=float(rng.uniform(0, 35 * 24))),
            record_id=f"units-{i:05d}",
            endpoint="/v1/chat/completions",
            status_code=200,
            model=("glm-4.7", "qwen3-8b")[i % 2],
            provider_id="ovhcloud",
            location="FR",
            team=team,
            input_tokens=int(rng.integers(100, 3000)),
            output_tokens=int(rng.integers(20, 800)),
            impact_reported=True,
            energy_kwh=kwh,
            carbon_g_co2=kwh * 60.0,
            water_liters=kwh * 0.3,
            renewable_percent=70.0,
            pue=1.2,
            billing_paid_with="credits",
            billing_credits=Decimal(str(round(kwh * 0.9, 6))),
        )
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMN_NAMES))


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    import melious_impact as mi

    out = tmp_path_factory.mktemp("pages")
    rows = _rows()
    budgets = {
        "search": {"cost_eur": 2.0, "carbon_g_co2": 150.0},
        "support": {"cost_eur": 0.5, "carbon_g_co2": 40_000.0},
    }
    report = mi.report(rows, out / "r.html", render="static", budgets=budgets)
    index = mi.dashboard(rows, out / "dash", render="static", budgets=budgets)
    return [report, index, *sorted(index.parent.glob("team-*.html"))]


def test_pages_show_labels_not_column_names(pages: list[Path]) -> None:
    names = _column_names()
    for page in pages:
        text = visible_text(page)
        found = sorted(n for n in names if re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", text))
        assert not found, f"{page.name} shows raw column names {found}"


def test_each_quantity_has_one_unit_per_page(pages: list[Path]) -> None:
    for page in pages:
        seen: dict[str, set[str]] = {}
        for unit in SHOWN_UNIT.findall(visible_text(page)):
            seen.setdefault(QUANTITY_OF[unit], set()).add(unit)
        mixed = {q: sorted(us) for q, us in seen.items() if len(us) > 1}
        assert not mixed, f"{page.name} shows one quantity in several units: {mixed}"
        assert "carbon" in seen, f"{page.name}: no carbon figure found (the check would be empty)"


def test_pages_show_probabilities_as_percentages_and_dates_without_midnight(pages: list[Path]) -> None:
    for page in pages:
        text = visible_text(page)
        assert "00:00:00" not in text, page.name
    report_text = visible_text(pages[0])
    # The budget table's overrun chance is a percentage.
    assert re.search(r"Chance of overrun", report_text)
    assert not re.search(r"\b0\.\d+\s+(?:\d{4}-\d{2}-\d{2}|–)", report_text)


@given(st.floats(min_value=0, max_value=100, allow_nan=False))
def test_a_share_prints_as_its_bounds_only_when_it_is_one(share: float) -> None:
    text = units.percent(share)
    assert (text == "100%") == (share == 100)
    assert (text == "0%") == (share == 0)


@given(st.integers(min_value=1, max_value=10**7).flatmap(lambda t: st.tuples(st.integers(0, t), st.just(t))))
def test_a_covered_share_is_its_count_ratio_rounded_down(pair: tuple[int, int]) -> None:
    covered, total = pair
    text = units.covered_share(covered / total)
    permille = 1000 * covered // total  # exact, in integers
    assert text == f"{permille // 10}.{permille % 10}%"
    assert (text == "100.0%") == (covered == total)


def test_covered_share_golden() -> None:
    assert [units.covered_share(s) for s in (0.986, 0.9999, 1, 0, None)] == [
        "98.6%",
        "99.9%",
        "100.0%",
        "0.0%",
        "–",
    ]
