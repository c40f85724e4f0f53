"""FOCUS charges computed in DuckDB give the table the pandas path gave, cell for cell.

``focus_reference`` keeps the old path (every row in pandas, exact sums in Python). Both run
on the same inputs: the conftest rows, the emulator's simulated and captured stores, a store
generated like the scale benchmark's, frames of those stores, and generated edge cases.
Every cell is compared exactly (decimals to the last digit, texts, times, integers) and the
CSV files are compared byte for byte, except the three float sums (kWh, gCO2e, litres): the
old path summed them naively in row order, DuckDB with a compensated sum, so they may differ
in the last binary digit; they are compared to 1e-12.
"""

from __future__ import annotations

import importlib.util
import math
import sys
import tempfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

sys.path.insert(0, str(Path(__file__).parent))
from edge_rows import edge_rows
from focus_reference import reference_to_focus

from melious_impact.export.focus import to_focus, write_focus

FLOATS = ("x_EnergyKwh", "x_CarbonGCo2", "x_WaterLiters")
GRANULARITIES = ("hour", "day", "request")


def _csv_bytes(frame: Any, path: Path) -> bytes:
    """The CSV file of ``frame`` with its float sums blanked (compared apart)."""
    frame = frame.copy()
    for name in FLOATS:
        frame[name] = 0.0
    return write_focus(frame, path).read_bytes()


def assert_same_table(new: Any, old: Any) -> None:
    assert list(new.columns) == list(old.columns)
    assert len(new) == len(old)
    assert new.attrs == old.attrs
    for name in new.columns:
        a, b = new[name].tolist(), old[name].tolist()
        if name in FLOATS:
            for x, y in zip(a, b, strict=True):
                assert (x is None or x != x) == (y is None or y != y), name
                if x is not None and x == x:
                    assert math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-300), (name, x, y)
            continue
        assert str(new[name].dtype) == str(old[name].dtype), name
        for x, y in zip(a, b, strict=True):
            assert type(x) is type(y), (name, x, y)
            assert (x is pd.NA and y is pd.NA) or x == y, (name, x, y)
    with tempfile.TemporaryDirectory() as tmp:
        assert _csv_bytes(new, Path(tmp) / "new.csv") == _csv_bytes(old, Path(tmp) / "old.csv")


def _both(source: Any, **kw: Any) -> None:
    assert_same_table(to_focus(source, **kw), reference_to_focus(source, **kw))


@pytest.mark.parametrize("unknown_cost", ["omit", "null"])
@pytest.mark.parametrize("granularity", GRANULARITIES)
def test_rows_give_the_same_table(rows: list[dict[str, Any]], granularity: str, unknown_cost: str) -> None:
    _both(rows, granularity=granularity, unknown_cost=unknown_cost)
    _both(rows, granularity=granularity, unknown_cost=unknown_cost, prices={"glm-4.7": ("0.5", "2")})
    _both(
        pd.DataFrame(rows), granularity=granularity, unknown_cost=unknown_cost, eur_per_energy_unit="0.00013"
    )


@pytest.mark.parametrize("granularity", GRANULARITIES)
def test_emulator_stores_give_the_same_table(
    simulated_store: Any, captured_store: Any, emulator_prices: Any, granularity: str
) -> None:
    for store in (simulated_store, captured_store):
        for unknown_cost in ("omit", "null"):
            _both(store, granularity=granularity, prices=emulator_prices, unknown_cost=unknown_cost)
        frame = store.to_pandas()
        assert_same_table(to_focus(frame, granularity=granularity), to_focus(store, granularity=granularity))


def _scale_module() -> Any:
    path = Path(__file__).parents[2] / "benchmarks" / "scale.py"
    spec = importlib.util.spec_from_file_location("_scale_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated_store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """5,000 rows written as the scale benchmark writes its stores (several files a day)."""
    import melious_impact as mi

    scale = _scale_module()
    root = tmp_path_factory.mktemp("generated")
    scale.build_store(root, 5_000)
    store = mi.ImpactStore(root)
    yield store
    store.close()


@pytest.mark.parametrize("granularity", GRANULARITIES)
def test_generated_store_gives_the_same_table(generated_store: Any, granularity: str) -> None:
    prices = {m[0]: (m[3], m[4]) for m in _scale_module().MODELS}
    _both(generated_store, granularity=granularity, prices=prices, invoice_ids={"2025-03": "INV-3"})


@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(edge=edge_rows())
def test_generated_edge_rows_give_the_same_table(edge: list[dict[str, Any]]) -> None:
    for granularity in GRANULARITIES:
        for unknown_cost in ("omit", "null"):
            _both(edge, granularity=granularity, unknown_cost=unknown_cost, prices={"glm-4.7": ("1", "3")})


def test_untidy_frames_give_the_same_table(make_row: Any) -> None:
    """Text numbers, floats for money, empty strings, naive times, odd paid_with words."""
    rows = [make_row(i) for i in range(8)]
    rows[0].update(billing_credits=0.25, billing_paid_with=" Credits ")
    rows[1].update(billing_credits="0.000001", billing_energy="3.5", billing_paid_with="ENERGY")
    rows[2].update(team="", project="", tags="not json", location="", model="")
    rows[3].update(captured_at=datetime(2026, 3, 1, 23, 59, 59, 999999), input_tokens=-5)
    rows[4].update(captured_at=datetime(2026, 3, 2, tzinfo=UTC), energy_kwh=float("nan"), status_code=500)
    rows[5].update(billing_paid_with="other", billing_credits=Decimal(0), billing_energy=Decimal("2"))
    rows[6].update(tags='{"b": 1, "a": 2}')
    rows[7].update(tags='{"a":2,"b":1}', error_code="")
    for granularity in GRANULARITIES:
        _both(rows, granularity=granularity)
        _both(pd.DataFrame(rows), granularity=granularity, unknown_cost="null")


def test_huge_amounts_are_exact(make_row: Any) -> None:
    big = Decimal("99999999999999999999.999999999999999999")  # the widest stored amount
    rows = [make_row(1, billing_credits=big, billing_paid_with="credits") for _ in range(5)]
    for granularity in GRANULARITIES:
        _both(rows, granularity=granularity)
    assert to_focus(rows)["BilledCost"].tolist() == [Decimal("499999999999999999999.999999999999999995")]


@pytest.mark.parametrize("granularity", GRANULARITIES)
def test_a_period_and_teams_give_the_table_of_those_rows(simulated_store: Any, granularity: str) -> None:
    from melious_impact.periods import period

    start, end = "2026-02-01", "2026-02-14T12:00"
    teams = ["search", "support"]
    rows = simulated_store.to_pandas(start=start, end=end, teams=teams)
    assert 0 < len(rows) < len(simulated_store)
    expected = reference_to_focus(rows, granularity=granularity)
    assert_same_table(
        to_focus(simulated_store, granularity=granularity, start=start, end=end, teams=teams), expected
    )
    frame = simulated_store.to_pandas()
    inside = frame[period(start, end).mask(frame["captured_at"]) & frame["team"].isin(teams)]
    assert_same_table(
        to_focus(frame, granularity=granularity, start=start, end=end, teams=teams),
        reference_to_focus(inside.reset_index(drop=True), granularity=granularity),
    )


@pytest.mark.parametrize("granularity", GRANULARITIES)
def test_charges_starting_at_one_instant_keep_the_order_of_the_rows(
    make_row: Any, tmp_path: Path, granularity: str
) -> None:
    """Rows at one microsecond (a batch import at second resolution): a store orders them
    by record id, and so do the charges that start with them."""
    from melious_impact.store.impact_store import ImpactStore

    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    rows = [
        make_row(i, captured_at=at, team=team, record_id=f"{record:032x}")
        for i, (team, record) in enumerate([("b", 5), ("a", 9), ("c", 1), ("a", 2), ("d", 7)])
    ]
    store = ImpactStore(tmp_path / "store")
    try:
        store.append(rows)
        table = to_focus(store, granularity=granularity)
        assert_same_table(table, reference_to_focus(store, granularity=granularity))
        if granularity != "request":
            assert table["x_Team"].tolist() == ["c", "a", "b", "d", "a"]  # by record id: 1, 2, 5, 7, 9
    finally:
        store.close()
