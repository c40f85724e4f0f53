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


# --------------------------------------------------------------------------- emulator data
# Shared by the conformance tests: what the emulator publishes and produces, through real parts
# (its HTTP transport, the OpenAI SDK, the Recorder, an ImpactStore on disk).

EMULATOR_BASE = "https://api.melious.ai/v1"


@pytest.fixture(scope="session")
def emulator_prices() -> dict[str, Any]:
    """The emulator's published prices, read from its /v1/models?include_meta=true."""
    import httpx

    from melious_impact.emulator.core import Emulator
    from melious_impact.emulator.transport import make_transport
    from melious_impact.export.focus_prices import price_list_from_models

    with httpx.Client(transport=make_transport(Emulator(seed=1), lib="httpx")) as client:
        response = client.get(
            f"{EMULATOR_BASE}/models",
            params={"include_meta": "true"},
            headers={"Authorization": "Bearer sk-mel-test"},
        )
        response.raise_for_status()
        body = response.content
    prices = price_list_from_models(body)
    assert prices, "the emulator's catalogue published no prices"
    return prices


@pytest.fixture(scope="session")
def simulated_store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """45 days of simulated traffic over a month boundary, in a real ImpactStore."""
    from melious_impact import ImpactStore
    from melious_impact.emulator.simulate import simulate_requests
    from melious_impact.records import COLUMN_NAMES

    df = simulate_requests(1500, days=45, seed=11, start=datetime(2026, 1, 20, tzinfo=UTC))
    store = ImpactStore(tmp_path_factory.mktemp("simulated"))
    store.append(df[[c for c in COLUMN_NAMES if c in df.columns]])
    store.flush()
    yield store
    store.close()


@pytest.fixture(scope="session")
def captured_store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Rows captured live by the Recorder through the OpenAI SDK against the emulator:
    non-streaming and streaming chat, embeddings and an error."""
    openai = pytest.importorskip("openai")
    import melious_impact as mi
    from melious_impact.emulator.core import Emulator
    from melious_impact.emulator.transport import make_transport

    store = mi.ImpactStore(tmp_path_factory.mktemp("captured"))
    rec = mi.Recorder(store, tags={"team": "search", "project": "rag"})
    client = openai.OpenAI(
        base_url=EMULATOR_BASE,
        api_key="sk-mel-test",
        max_retries=0,
        http_client=rec.http_client(transport=make_transport(Emulator(seed=7))),
    )
    for i in range(3):
        client.chat.completions.create(
            model="glm-4.7", messages=[{"role": "user", "content": f"q{i}"}], max_tokens=16
        )
    for model in ("glm-4.7:eco", "gpt-oss-20b"):
        stream = client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "s"}],
            max_tokens=16,
            stream=True,
            stream_options={"include_usage": True},
        )
        for _ in stream:
            pass
    client.embeddings.create(model="bge-m3", input=["a", "b"])
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    rec.flush()
    client.close()
    rec.close()
    yield store
    store.close()
