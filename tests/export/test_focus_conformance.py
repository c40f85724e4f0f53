"""FOCUS 1.2 conformance: every granularity and file format, read back from the file and
checked against the specification's rules (``focus_rules``), on stores made by the emulator
(simulated and captured live) and on generated edge cases."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings

sys.path.insert(0, str(Path(__file__).parent))
import focus_rules
from edge_rows import UNPRICED_MODEL, edge_rows

from melious_impact.export.focus import to_focus, write_focus
from melious_impact.forecasting.costs import add_cost_eur, sum_decimal

GRANULARITIES = ("hour", "day", "request")
FORMATS = ("csv", "parquet")


def read_back(path: Path) -> tuple[list[dict[str, Any]], list[str], list[dict[str, str]]]:
    """(rows as Python values, column order, raw CSV cells or []) of a written FOCUS file."""
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        return table.to_pylist(), table.column_names, []
    with path.open(newline="", encoding="utf-8") as fh:
        texts = list(csv.DictReader(fh))
    with path.open(newline="", encoding="utf-8") as fh:
        columns = next(csv.reader(fh))
    rows = []
    for text in texts:
        row: dict[str, Any] = {}
        for name, cell in text.items():
            rule = focus_rules.COLUMN_RULES_BY_NAME.get(name)
            if cell == "":
                row[name] = None  # CSV has no other null
            elif rule is not None and rule.data_type == "Decimal":
                row[name] = Decimal(cell)
            elif rule is not None and rule.data_type == "DateTime":
                try:
                    row[name] = datetime.strptime(cell, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
                except ValueError:
                    row[name] = cell  # fails the type rule
            else:
                row[name] = cell
        rows.append(row)
    return rows, columns, texts


def violations(path: Path) -> list[tuple[str, int | None, str]]:
    rows, columns, texts = read_back(path)
    return focus_rules.check(rows, columns) + focus_rules.check_csv_text(texts)


_PRICE_RULES = {"ListUnitPrice-not-null", "ContractedUnitPrice-not-null"}
_COST_RULES = {
    "BilledCost-not-null",
    "EffectiveCost-not-null",
    "ListCost-not-null",
    "ContractedCost-not-null",
}


def assert_only_unpriced_departures(found: list[Any], rows: list[dict[str, Any]], prices: Any) -> None:
    """Every rule holds, except that a model with no published price has no unit price."""
    assert {rule for rule, _, _ in found} <= _PRICE_RULES, found[:5]
    assert {rows[i]["SkuId"] for _, i, _ in found if i is not None} == {
        r["SkuId"] for r in rows if r["SkuId"] not in prices
    }


def with_claude_aliases(prices: Any) -> dict[str, Any]:
    """The price list plus the claude-* names the emulator serves, priced as their targets."""
    from melious_impact.emulator.catalogue import resolve_claude

    names = ("claude-opus-4-7", "claude-sonnet-4-6", "claude-haiku-4-5")
    aliases = {n: resolve_claude(n) for n in names}
    return {**prices, **{n: t for n, t in aliases.items() if t in prices}}


def _exact_cost(rows: Any) -> Decimal:
    return sum_decimal(add_cost_eur(pd.DataFrame(rows))["cost_eur"])


# --------------------------------------------------------------------------- the rule table


def test_rule_table_is_cited_and_complete() -> None:
    assert len(focus_rules.MANDATORY) == 21  # the Mandatory feature level of FOCUS 1.2's columns
    for rule in focus_rules.COLUMN_RULES:
        assert rule.section.startswith("Columns > ")
    for row_rule in focus_rules.ROW_RULES:
        assert row_rule.section.startswith(("Columns > ", "Attributes > "))
    assert len({r.id for r in focus_rules.ROW_RULES}) == len(focus_rules.ROW_RULES)
    assert focus_rules.rule_count() >= 150


# --------------------------------------------------------------------------- emulator stores


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("granularity", GRANULARITIES)
def test_simulated_store_conforms(
    simulated_store: Any, emulator_prices: Any, granularity: str, fmt: str, tmp_path: Path
) -> None:
    table = to_focus(simulated_store, granularity=granularity, prices=emulator_prices)
    path = write_focus(table, tmp_path / f"focus.{fmt}")
    rows, _, _ = read_back(path)
    # The simulation also sends claude-* names, which the catalogue does not price: their rows
    # have no unit price, the one departure; every other rule holds on every row.
    assert_only_unpriced_departures(violations(path), rows, emulator_prices)
    assert any(r["SkuId"].startswith("claude") for r in rows)
    # priced as the models Melious serves them with, the table conforms entirely
    aliased = to_focus(simulated_store, granularity=granularity, prices=with_claude_aliases(emulator_prices))
    assert violations(write_focus(aliased, tmp_path / f"aliased.{fmt}")) == []
    assert len(rows) == len(table) > 0
    assert table.attrs["unknown_cost_requests"] > 0  # the simulation has unbilled rows: left out
    assert {r["BillingPeriodStart"].month for r in rows} == {1, 2, 3}  # crosses month boundaries
    expected = _exact_cost(simulated_store.to_pandas())
    got = sum(r["BilledCost"] for r in rows)
    # CSV keeps every digit; Parquet rounds each row to 18 decimals (half-even)
    assert got == expected if fmt == "csv" else abs(got - expected) <= Decimal("1e-18") * len(rows)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("granularity", GRANULARITIES)
def test_captured_store_conforms(
    captured_store: Any, emulator_prices: Any, granularity: str, fmt: str, tmp_path: Path
) -> None:
    frame = captured_store.to_pandas()
    assert frame["stream"].fillna(False).astype(bool).any()
    assert (frame["status_code"] >= 400).any()
    table = to_focus(captured_store, granularity=granularity, prices=emulator_prices)
    path = write_focus(table, tmp_path / f"focus.{fmt}")
    assert violations(path) == []
    rows, _, _ = read_back(path)
    assert {r["x_TokenType"] for r in rows} == {"Input", "Output"}
    assert table.attrs["unknown_cost_requests"] == int((frame["billing_paid_with"].isna()).sum())


def test_parquet_schema_requires_what_focus_forbids_to_be_null(
    simulated_store: Any, emulator_prices: Any, tmp_path: Path
) -> None:
    table = to_focus(simulated_store, granularity="hour", prices=emulator_prices)
    schema = pq.read_schema(write_focus(table, tmp_path / "f.parquet"))
    for rule in focus_rules.COLUMN_RULES:
        if rule.nulls == "never":  # "MUST NOT be null": a required field
            assert not schema.field(rule.name).nullable, rule.name
    assert schema.field("ListUnitPrice").nullable  # null for a model with no published price
    assert schema.metadata[b"focus_version"] == b"1.2"


def test_request_periods_are_whole_seconds_and_never_empty(make_row: Any, tmp_path: Path) -> None:
    base = datetime(2026, 3, 1, 10, 0, 0, 400_000, tzinfo=UTC)
    rows = [
        make_row(1, captured_at=base, latency_ms=120.0),  # inside one second
        make_row(2, captured_at=base, latency_ms=0.0),
        make_row(3, captured_at=base, latency_ms=None),
        make_row(4, captured_at=base.replace(microsecond=0), latency_ms=0.0),  # on the second
    ]
    table = to_focus(rows, granularity="request")
    for fmt in FORMATS:
        back, _, _ = read_back(write_focus(table, tmp_path / f"r.{fmt}"))
        for r in back:
            assert r["ChargePeriodEnd"] > r["ChargePeriodStart"]
            assert r["ChargePeriodStart"] <= base - timedelta(milliseconds=120)
    by_id = {
        r: (s, e)
        for r, s, e in zip(
            table["x_RequestId"], table["ChargePeriodStart"], table["ChargePeriodEnd"], strict=True
        )
    }
    assert by_id[rows[3]["request_id"]][1] - by_id[rows[3]["request_id"]][0] == timedelta(seconds=1)
    assert by_id[rows[0]["request_id"]] == (
        base.replace(microsecond=0),
        base.replace(microsecond=0) + timedelta(seconds=1),
    )


def test_cli_export_with_published_prices_conforms(
    simulated_store: Any, emulator_prices: Any, tmp_path: Path
) -> None:
    import argparse

    from melious_impact.cli import export_cmds

    prices = tmp_path / "prices.json"
    prices.write_text(
        json.dumps(
            {
                m: {"input": str(p.eur_per_million_input), "output": str(p.eur_per_million_output)}
                for m, p in emulator_prices.items()
            }
        )
    )
    parser = argparse.ArgumentParser()
    export_cmds.register(parser.add_subparsers())
    out = tmp_path / "focus.csv"
    args = parser.parse_args(
        [
            "export-focus",
            "--store",
            str(simulated_store.root),
            str(out),
            "--granularity",
            "day",
            "--prices",
            str(prices),
        ]
    )
    assert args.func(args) == 0
    assert_only_unpriced_departures(violations(out), read_back(out)[0], emulator_prices)


# --------------------------------------------------------------------------- generated edge cases


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(edge=edge_rows())
def test_generated_edge_cases_conform(
    edge: list[dict[str, Any]], emulator_prices: Any, tmp_path_factory: Any
) -> None:
    rows = edge
    tmp = tmp_path_factory.mktemp("edge")
    expected = _exact_cost(rows)
    for granularity in GRANULARITIES:
        table = to_focus(rows, granularity=granularity, prices=emulator_prices)
        for fmt in FORMATS:
            path = write_focus(table, tmp / f"{granularity}.{fmt}")
            back, _, _ = read_back(path)
            found = violations(path)
            # the only departures: a model with no published price has no unit price
            assert {rule for rule, _, _ in found} <= _PRICE_RULES, found
            assert {back[i]["SkuId"] for _, i, _ in found if i is not None} <= {UNPRICED_MODEL}
            if fmt == "csv":
                assert sum((r["BilledCost"] for r in back), Decimal(0)) == expected or len(back) == 0
        kept = to_focus(rows, granularity=granularity, prices=emulator_prices, unknown_cost="null")
        assert kept["x_Requests"].sum() == len(rows)
        path = write_focus(kept, tmp / f"{granularity}-null.parquet")
        back, _, _ = read_back(path)
        for rule, i, _ in violations(path):
            assert rule in _PRICE_RULES | _COST_RULES, rule
            assert i is not None and (back[i]["x_CostUnknown"] or back[i]["SkuId"] == UNPRICED_MODEL)


# --------------------------------------------------------------------------- the checker can fail


def _set(column: str, value: Any) -> Callable[[list[dict[str, Any]]], None]:
    def mutate(rows: list[dict[str, Any]]) -> None:
        rows[0][column] = value

    return mutate


def _shift_end_to_start(rows: list[dict[str, Any]]) -> None:
    rows[0]["ChargePeriodEnd"] = rows[0]["ChargePeriodStart"]


def _bump(column: str) -> Callable[[list[dict[str, Any]]], None]:
    def mutate(rows: list[dict[str, Any]]) -> None:
        rows[0][column] = rows[0][column] + Decimal("0.000001")

    return mutate


def _second_parent(rows: list[dict[str, Any]]) -> None:
    rows[1]["SkuPriceId"] = rows[0]["SkuPriceId"]
    rows[1]["SkuId"] = "another-sku"


MUTATIONS: dict[str, Callable[[list[dict[str, Any]]], None]] = {
    "BilledCost-not-null": _set("BilledCost", None),
    "EffectiveCost-not-null": _set("EffectiveCost", None),
    "SkuPriceId-not-null": _set("SkuPriceId", None),
    "ListUnitPrice-not-null": _set("ListUnitPrice", None),
    "ChargePeriodStart-not-null": _set("ChargePeriodStart", None),
    "charge-period-end-exclusive": _shift_end_to_start,
    "ChargeCategory-allowed": _set("ChargeCategory", "Use"),
    "ChargeClass-allowed": _set("ChargeClass", "Refund"),
    "ServiceCategory-allowed": _set("ServiceCategory", "AI"),
    "PricingCategory-allowed": _set("PricingCategory", "Spot"),
    "ListUnitPrice-non-negative": _set("ListUnitPrice", Decimal(-1)),
    "BilledCost-type": _set("BilledCost", 1.5),
    "list-unit-price-times-quantity": _bump("ListCost"),
    "contracted-unit-price-times-quantity": _bump("ContractedCost"),
    "pricing-unit-with-quantity": _set("PricingUnit", None),
    "consumed-unit-with-quantity": _set("ConsumedUnit", None),
    "region-name-with-id": _set("RegionName", None),
    "resource-type-with-id": _set("ResourceType", None),
    "subcategory-parent": _set("ServiceSubcategory", "Object Storage"),
    "billing-currency-code": _set("BillingCurrency", "euro"),
    "tags-key-value": _set("Tags", '{"a": {"b": 1}}'),
    "pricing-unit-format": _set("PricingUnit", "per million tokens"),
    "no-empty-strings": _set("ChargeDescription", " "),
    "datetime-utc": _set("ChargePeriodStart", datetime(2026, 3, 1, 10, 0, tzinfo=None)),
    "sku-price-one-parent": _second_parent,
}


@pytest.fixture
def good_rows(emulator_prices: Any, tmp_path_factory: Any, make_row: Any) -> list[dict[str, Any]]:
    table = to_focus([make_row(i) for i in range(1, 8, 2)], granularity="request", prices=emulator_prices)
    path = write_focus(table, tmp_path_factory.mktemp("good") / "good.parquet")
    rows, columns, _ = read_back(path)
    assert focus_rules.check(rows, columns) == []
    return rows


@pytest.mark.parametrize("rule", sorted(MUTATIONS))
def test_checker_catches_a_broken_rule(good_rows: list[dict[str, Any]], rule: str) -> None:
    rows = [dict(r) for r in good_rows]
    MUTATIONS[rule](rows)
    assert rule in {found for found, _, _ in focus_rules.check(rows, list(rows[0]))}


def test_checker_catches_broken_columns_and_formats(good_rows: list[dict[str, Any]]) -> None:
    columns = list(good_rows[0])
    found = {r for r, _, _ in focus_rules.check(good_rows, [c for c in columns if c != "ListCost"])}
    assert "mandatory-present" in found
    found = {r for r, _, _ in focus_rules.check(good_rows, [c for c in columns if c != "SkuPriceId"])}
    assert "conditional-present" in found
    moved = [c for c in columns if c != "BilledCost"] + ["BilledCost"]
    assert "custom-after-focus" in {r for r, _, _ in focus_rules.check(good_rows, moved)}
    assert "custom-prefix" in {r for r, _, _ in focus_rules.check(good_rows, [*columns, "Extra"])}
    texts = [{"ChargePeriodEnd": "2026-03-01T10:00:00.500Z", "BilledCost": "+1", "ListCost": "1,000"}]
    found = {r for r, _, _ in focus_rules.check_csv_text(texts)}
    assert found == {
        "ChargePeriodEnd-datetime-format",
        "BilledCost-numeric-format",
        "ListCost-numeric-format",
    }
