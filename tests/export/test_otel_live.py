"""Live: rows captured by the real Recorder through the OpenAI SDK are teed to OpenTelemetry,
and every span's attributes equal the stored row's values."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("melious_impact.capture.recorder", reason="capture/ not written yet")
pytest.importorskip("openai")

import openai
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import melious_impact as mi
from melious_impact.emulator.core import Emulator
from melious_impact.emulator.transport import make_transport
from melious_impact.export.otel import OTelSink
from melious_impact.export.tee import TeeStore


class _Broken:
    def write(self, row: Any) -> None:
        raise RuntimeError("collector down")

    def flush(self) -> None:
        raise RuntimeError("collector down")

    def close(self) -> None:
        pass


def test_recorder_tees_rows_to_otel(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    sink = OTelSink(tracer_provider, meter_provider, server_address="api.melious.ai")
    store = mi.ImpactStore(tmp_path / "store")
    rec = mi.Recorder(
        store, sinks=[sink, _Broken()], tags={"team": "search", "project": "rag", "feature": "faq"}
    )
    client = openai.OpenAI(
        base_url="https://api.melious.ai/v1",
        api_key="sk-mel-test",
        http_client=rec.http_client(transport=make_transport(Emulator(seed=5))),
    )
    for i in range(4):
        client.chat.completions.create(
            model="glm-4.7", messages=[{"role": "user", "content": f"q{i}"}], max_tokens=8
        )
    stream = client.chat.completions.create(
        model="glm-4.7:eco",
        messages=[{"role": "user", "content": "s"}],
        max_tokens=8,
        stream=True,
        stream_options={"include_usage": True},
    )
    for _ in stream:
        pass
    rec.flush()
    rows = store.to_pandas()
    spans = {s.attributes["gen_ai.response.id"]: s for s in exporter.get_finished_spans()}
    assert len(rows) == 5 and len(spans) == 5
    assert sink.stats.written == 5
    assert rec.stats.capture_errors >= 5  # the broken sink cost nobody anything
    for row in rows.to_dict("records"):
        a = spans[row["request_id"]].attributes
        assert a["gen_ai.request.model"] == row["requested_model"]
        assert a["gen_ai.response.model"] == row["model"]
        assert a["gen_ai.usage.input_tokens"] == row["input_tokens"]
        assert a["gen_ai.usage.output_tokens"] == row["output_tokens"]
        assert a["melious.energy_kwh"] == row["energy_kwh"]
        assert a["melious.carbon_g_co2"] == row["carbon_g_co2"]
        assert a["melious.provider_id"] == row["provider_id"]
        assert a["melious.location"] == row["location"]
        assert Decimal(a["melious.billing.credits"]) == row["billing_credits"]
        assert a["melious.billing.paid_with"] == row["billing_paid_with"]
        assert a["melious.team"] == "search"
        assert a["melious.tag.feature"] == "faq"
        assert a["server.address"] == "api.melious.ai"
    client.close()
    rec.close()
    tracer_provider.shutdown()
    meter_provider.shutdown()


def test_tee_store_still_tees_and_says_it_is_deprecated(tmp_path: Path) -> None:
    store = mi.ImpactStore(tmp_path / "store")
    sink = OTelSink(TracerProvider(), MeterProvider(), server_address="api.melious.ai")
    with pytest.warns(DeprecationWarning, match="sinks="):
        tee = TeeStore(store, sink)
    rec = mi.Recorder(tee)
    client = openai.OpenAI(
        base_url="https://api.melious.ai/v1",
        api_key="sk-mel-test",
        http_client=rec.http_client(transport=make_transport(Emulator(seed=5))),
    )
    client.chat.completions.create(model="glm-4.7", messages=[{"role": "user", "content": "q"}], max_tokens=8)
    rec.flush()
    assert len(store.to_pandas()) == 1 and sink.stats.written == 1
    client.close()
    rec.close()
    store.close()
