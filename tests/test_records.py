"""The row contract: columns, Arrow schema and exact money."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

from melious_impact import records

CONTRACT = [
    "captured_at",
    "endpoint",
    "status_code",
    "request_id",
    "model",
    "stream",
    "input_tokens",
    "output_tokens",
    "energy_kwh",
    "carbon_g_co2",
    "water_liters",
    "renewable_percent",
    "pue",
    "provider_id",
    "location",
    "impact_reported",
    "billing_energy",
    "billing_credits",
    "billing_paid_with",
    "error_code",
    "latency_ms",
    "team",
    "project",
    "tags",
    "source",
    "custom_id",
]


def test_contract_columns_are_all_there_in_order() -> None:
    assert list(records.CONTRACT_COLUMNS) == CONTRACT


def test_schema_types() -> None:
    schema = records.arrow_schema()
    assert schema.field("captured_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("billing_credits").type == pa.decimal128(38, 18)
    assert schema.field("energy_kwh").metadata[b"unit"] == b"kWh"
    assert len(schema) == len(records.COLUMNS)


def test_empty_row_defaults() -> None:
    row = records.empty_row()
    assert set(row) == set(records.COLUMN_NAMES)
    assert row["tags"] == "{}" and row["parse_warnings"] == "" and row["source"] == "live"
    assert row["energy_kwh"] is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0.0008", Decimal("0.000800000000000000")),
        ("12345678901234567890.5", Decimal("12345678901234567890.500000000000000000")),
        ("1e-19", Decimal("0E-18")),
    ],
)
def test_quantize_money_is_exact(raw: str, expected: Decimal) -> None:
    assert records.quantize_money(Decimal(raw)) == expected


@pytest.mark.parametrize("raw", ["1e25", "NaN", "Infinity"])
def test_quantize_money_rejects_what_does_not_fit(raw: str) -> None:
    with pytest.raises(ValueError):
        records.quantize_money(Decimal(raw))
