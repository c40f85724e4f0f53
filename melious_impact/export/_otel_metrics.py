"""The metric instruments of the OpenTelemetry export (GenAI semantic conventions v1.41.0).

Private to :mod:`melious_impact.export.otel`. Histograms carry the conventions' advised
explicit bucket boundaries; units are UCUM.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from melious_impact.export._otel_fields import (
    PROVIDER_NAME,
    count,
    error_type,
    finite,
    is_error,
    operation_name,
    ttfc_seconds,
)

# Advised ExplicitBucketBoundaries (gen-ai-metrics.md, v1.41.0: gen_ai.client.token.usage and
# the seconds-valued client histograms).
TOKEN_BUCKETS: tuple[float, ...] = tuple(float(4**k) for k in range(14))  # 1, 4, ... 67108864
SECONDS_BUCKETS: tuple[float, ...] = tuple(0.01 * 2**k for k in range(14))  # 0.01 ... 81.92


def metric_attributes(row: Mapping[str, Any], server: Mapping[str, Any]) -> dict[str, Any]:
    """Low-cardinality attributes for metrics (no ids, no free-form tags)."""
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": operation_name(row.get("endpoint")),
        "gen_ai.provider.name": PROVIDER_NAME,
        **server,
    }
    for key, column in (
        ("gen_ai.request.model", "requested_model"),
        ("gen_ai.response.model", "model"),
        ("melious.provider_id", "provider_id"),
        ("melious.location", "location"),
        ("melious.team", "team"),
        ("melious.project", "project"),
    ):
        value = row.get(column) if column != "requested_model" else (row.get(column) or row.get("model"))
        if value not in (None, ""):
            attrs[key] = str(value)
    if is_error(row):
        attrs["error.type"] = error_type(row)
    return attrs


@dataclass
class Instruments:
    """The metric instruments, created once per meter."""

    token_usage: Any
    duration: Any
    ttfc: Any
    energy: Any
    carbon: Any
    water: Any
    credits: Any
    server: Mapping[str, Any]

    @classmethod
    def create(cls, meter: Any, server: Mapping[str, Any] | None = None) -> Instruments:
        return cls(
            token_usage=meter.create_histogram(
                "gen_ai.client.token.usage",
                unit="{token}",
                description="Number of input and output tokens used.",
                explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
            ),
            duration=meter.create_histogram(
                "gen_ai.client.operation.duration",
                unit="s",
                description="GenAI operation duration.",
                explicit_bucket_boundaries_advisory=SECONDS_BUCKETS,
            ),
            ttfc=meter.create_histogram(
                "gen_ai.client.operation.time_to_first_chunk",
                unit="s",
                description="Time to receive the first chunk of a streaming response.",
                explicit_bucket_boundaries_advisory=SECONDS_BUCKETS,
            ),
            energy=meter.create_counter(
                "melious.energy", unit="kW.h", description="Energy reported by Melious (PUE included)."
            ),
            carbon=meter.create_counter(
                "melious.carbon", unit="g", description="Carbon reported by Melious, g CO2e."
            ),
            water=meter.create_counter("melious.water", unit="L", description="Water reported by Melious."),
            credits=meter.create_counter(
                "melious.billing.credits",
                unit="{EUR}",
                description="Credits charged (euros; float, see spans for exact).",
            ),
            server=dict(server or {}),
        )

    def record(self, row: Mapping[str, Any]) -> None:
        attrs = metric_attributes(row, self.server)
        for column, token_type in (("input_tokens", "input"), ("output_tokens", "output")):
            tokens = count(row.get(column))
            if tokens is not None:
                self.token_usage.record(tokens, {**attrs, "gen_ai.token.type": token_type})
        latency = finite(row.get("latency_ms"))
        if latency is not None and latency >= 0:
            self.duration.record(latency / 1000.0, attrs)
        ttfc = ttfc_seconds(row)
        if ttfc is not None:  # streaming calls only (the metric's note)
            self.ttfc.record(ttfc, attrs)
        # Counters refuse negative increments; capture already rejects them, so skipping is safe.
        for instrument, column in (
            (self.energy, "energy_kwh"),
            (self.carbon, "carbon_g_co2"),
            (self.water, "water_liters"),
        ):
            value = finite(row.get(column))
            if value is not None and value >= 0:
                instrument.add(value, attrs)
        credits = finite(row.get("billing_credits"))
        if credits is not None and credits >= 0:
            self.credits.add(credits, attrs)
