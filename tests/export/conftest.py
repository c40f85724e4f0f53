"""Rows shaped exactly like the store's, built from the records contract."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from melious_impact.records import empty_row, quantize_money


def make_row(i: int, **overrides: Any) -> dict[str, Any]:
    """A complete, realistic row; ``i`` varies the values so sums are meaningful."""
    row = empty_row()
    paid_with = "credits" if i % 3 else "energy"
    row.update(
        captured_at=datetime(2026, 3, 1, 10, 0, tzinfo=UTC) + timedelta(minutes=17 * i),
        endpoint="/v1/chat/completions" if i % 4 else "/v1/embeddings",
        method="POST",
        status_code=200,
        request_id=f"chatcmpl-{i:04d}",
        model="glm-4.7" if i % 2 else "bge-m3",
        requested_model=("glm-4.7:eco" if i % 2 else "bge-m3"),
        flavor="eco" if i % 2 else None,
        stream=bool(i % 5 == 0),
        input_tokens=100 + i,
        output_tokens=20 + 2 * i,
        energy_kwh=0.000125 * (i + 1),
        carbon_g_co2=0.031 * (i + 1),
        water_liters=0.0002 * (i + 1),
        renewable_percent=55.5,
        pue=1.2,
        provider_id="ovhcloud" if i % 2 else "nebius",
        location="FR" if i % 2 else "FI",
        impact_reported=True,
        billing_energy=quantize_money(Decimal("12.3456789") * (i + 1)),
        billing_credits=quantize_money(Decimal("0.000123456789012345") * (i + 1)),
        billing_paid_with=paid_with,
        latency_ms=250.5 + i,
        team=["search", "ads", "été/ü"][i % 3],
        project="rag" if i % 2 else "banners",
        tags=json.dumps({"feature": f"f{i % 2}", "env": "prod"}, sort_keys=True),
        record_id=f"{i:032x}",
        api_shape="openai",
    )
    row.update(overrides)
    return row


@pytest.fixture(name="make_row")
def make_row_fixture() -> Any:
    """The row factory (a fixture: tests/ has no packages to import helpers from)."""
    return make_row


@pytest.fixture
def rows() -> list[dict[str, Any]]:
    rows = [make_row(i) for i in range(12)]
    # an error row: no impact, no billing
    rows.append(
        make_row(
            12,
            status_code=402,
            error_code="BILLING_2003",
            energy_kwh=None,
            carbon_g_co2=None,
            water_liters=None,
            renewable_percent=None,
            pue=None,
            impact_reported=False,
            billing_energy=None,
            billing_credits=None,
            billing_paid_with=None,
            input_tokens=None,
            output_tokens=None,
        )
    )
    return rows
