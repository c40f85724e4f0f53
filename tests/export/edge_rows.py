"""A generator of edge-case rows of our own (not the emulator's): what exports must survive.

No billing block, errors with and without billing, zero, sub-second, missing and huge
latencies, streams with and without a time to first chunk, non-streams, energy and credits
balances, a missing balance word, models with and without a published price, times on and
around second, hour and month boundaries.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from melious_impact.records import empty_row

PRICED_MODELS = ("glm-4.7", "bge-m3", "gpt-oss-20b")  # in the emulator's published catalogue
UNPRICED_MODEL = "private-finetune-1"  # a model no price list knows
ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings", "/v1/messages", "/v1/rerank")
_BOUNDARY = datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC)  # a month boundary one second away

_money = st.decimals(min_value=0, max_value=1000, places=18, allow_nan=False, allow_infinity=False)


@st.composite
def edge_row(draw: st.DrawFn, i: int = 0) -> dict[str, Any]:
    row = empty_row()
    offset_us = draw(
        st.one_of(
            st.integers(min_value=0, max_value=2_000_000),  # around the boundary second
            st.integers(min_value=0, max_value=3 * 24 * 3600 * 1_000_000),
        )
    )
    stream = draw(st.sampled_from([True, False, None]))
    error = draw(
        st.sampled_from([None, None, None, (402, "BILLING_2003"), (500, "INFERENCE_3000"), (429, None)])
    )
    billing = draw(st.sampled_from(["credits", "energy", "none", "word-missing", "zero"]))
    endpoint = draw(st.sampled_from(ENDPOINTS))
    model = draw(st.sampled_from([*PRICED_MODELS, UNPRICED_MODEL]))
    row.update(
        captured_at=_BOUNDARY + timedelta(microseconds=offset_us),
        endpoint=endpoint,
        method="POST",
        status_code=error[0] if error else 200,
        error_code=error[1] if error else None,
        request_id=f"edge-{i}-{offset_us}",
        requested_model=model,
        model=None if error and draw(st.booleans()) else model,
        stream=stream,
        latency_ms=draw(
            st.one_of(
                st.none(),
                st.just(0.0),
                st.floats(min_value=0.001, max_value=999.0),
                st.floats(min_value=1000.0, max_value=3_600_000.0),
            )
        ),
        ttft_ms=draw(st.one_of(st.none(), st.floats(min_value=0.0, max_value=5000.0))) if stream else None,
        input_tokens=None if error else draw(st.integers(min_value=0, max_value=200_000)),
        output_tokens=None if error or endpoint == "/v1/embeddings" else draw(st.integers(0, 50_000)),
        team=draw(st.sampled_from([None, "search", "ops/ü"])),
        project=draw(st.sampled_from([None, "rag"])),
        tags=draw(st.sampled_from([None, '{"env": "prod"}', '{"flag": true, "n": 3}'])),
        location=draw(st.sampled_from([None, "FR", "FI"])),
        provider_id=draw(st.sampled_from([None, "ovhcloud"])),
    )
    if billing in ("credits", "energy", "word-missing"):
        credits, energy = draw(_money), draw(_money)
        row.update(
            billing_credits=credits,
            billing_energy=energy,
            billing_paid_with=None if billing == "word-missing" else billing,
        )
    elif billing == "zero":
        row.update(billing_credits=Decimal(0), billing_energy=Decimal(0), billing_paid_with="credits")
    return row


@st.composite
def edge_rows(draw: st.DrawFn, max_size: int = 25) -> list[dict[str, Any]]:
    n = draw(st.integers(min_value=1, max_value=max_size))
    return [draw(edge_row(i)) for i in range(n)]
