"""OpenTelemetry export, checked through the SDK's in-memory exporter and reader."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from melious_impact.export.otel import (
    OTelSink,
    export_frame,
    operation_name,
    span_attributes,
    spans_from_rows,
)


@pytest.fixture
def otel() -> Any:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield exporter, tracer_provider, reader, meter_provider
    tracer_provider.shutdown()
    meter_provider.shutdown()


def _metrics(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    out: dict[str, list[Any]] = {}
    for resource_metrics in data.resource_metrics:
        for scope in resource_metrics.scope_metrics:
            for metric in scope.metrics:
                out.setdefault(metric.name, []).extend(metric.data.data_points)
    return out


def test_span_attributes_equal_the_row(rows: list[dict[str, Any]], otel: Any) -> None:
    exporter, tracer_provider, _, _ = otel
    assert spans_from_rows(rows, tracer_provider).spans == len(rows)
    spans = exporter.get_finished_spans()
    assert len(spans) == len(rows)
    by_id = {s.attributes["gen_ai.response.id"]: s for s in spans}
    for row in rows:
        span = by_id[row["request_id"]]
        a = span.attributes
        assert span.kind is SpanKind.CLIENT
        assert span.name == f"{operation_name(row['endpoint'])} {row['requested_model']}"
        assert a["gen_ai.provider.name"] == "melious"
        assert "gen_ai.system" not in a  # deprecated, replaced by gen_ai.provider.name
        assert a["gen_ai.request.model"] == row["requested_model"]
        assert a["gen_ai.response.model"] == row["model"]
        assert a.get("gen_ai.request.stream") == (True if row["stream"] else None)
        assert a["http.response.status_code"] == row["status_code"]
        assert a["melious.team"] == row["team"]
        assert a["melious.project"] == row["project"]
        assert a["melious.provider_id"] == row["provider_id"]
        assert a["melious.location"] == row["location"]
        assert json.loads(a["melious.tags"]) == json.loads(row["tags"])
        assert a["melious.tag.feature"] == json.loads(row["tags"])["feature"]
        if row["error_code"] is None:
            assert a["gen_ai.usage.input_tokens"] == row["input_tokens"]
            assert a["gen_ai.usage.output_tokens"] == row["output_tokens"]
            for col in ("energy_kwh", "carbon_g_co2", "water_liters", "renewable_percent", "pue"):
                assert a[f"melious.{col}"] == row[col]
            # decimals travel as exact text: parse back to the very same Decimal
            assert Decimal(a["melious.billing.energy"]) == row["billing_energy"]
            assert Decimal(a["melious.billing.credits"]) == row["billing_credits"]
            assert a["melious.billing.paid_with"] == row["billing_paid_with"]
            assert "error.type" not in a
            assert span.status.status_code is StatusCode.UNSET
        else:
            assert a["error.type"] == "BILLING_2003"
            assert span.status.status_code is StatusCode.ERROR
            assert "gen_ai.usage.input_tokens" not in a
            assert "melious.energy_kwh" not in a
            assert "melious.billing.credits" not in a


def test_span_times_come_from_captured_at_and_latency(otel: Any, make_row: Any) -> None:
    exporter, tracer_provider, _, _ = otel
    row = make_row(3, latency_ms=1234.5)
    spans_from_rows([row], tracer_provider)
    (span,) = exporter.get_finished_spans()
    end_ns = int(row["captured_at"].timestamp()) * 1_000_000_000
    assert span.end_time == end_ns
    assert span.end_time - span.start_time == 1_234_500_000


def test_decimal_text_is_exact_without_exponent(make_row: Any) -> None:
    row = make_row(
        0, billing_credits=Decimal("0.000000100000000000"), billing_energy=Decimal("12345678901234567890.5")
    )
    a = span_attributes(row)
    assert a["melious.billing.credits"] == "0.0000001"
    assert a["melious.billing.energy"] == "12345678901234567890.5"


def test_server_address_when_known(make_row: Any) -> None:
    a = span_attributes(make_row(1), server_address="api.melious.ai")
    assert (a["server.address"], a["server.port"]) == ("api.melious.ai", 443)
    a = span_attributes(make_row(1), server_address="http://127.0.0.1:8089/v1")
    assert (a["server.address"], a["server.port"]) == ("127.0.0.1", 8089)
    a = span_attributes(make_row(1), server_address="localhost:9000")
    assert (a["server.address"], a["server.port"]) == ("localhost", 9000)
    a = span_attributes(make_row(1), server_address="localhost", server_port=8443)
    assert a["server.port"] == 8443
    assert "server.address" not in span_attributes(make_row(1))
    assert "server.port" not in span_attributes(make_row(1))
    with pytest.raises(ValueError, match="server_address"):
        span_attributes(make_row(1), server_port=443)


@pytest.mark.parametrize(
    ("endpoint", "op"),
    [
        ("/v1/chat/completions", "chat"),
        ("/v1/messages", "chat"),
        ("/v1/embeddings", "embeddings"),
        ("/v1/rerank", "rerank"),
        ("/v1/images/generations", "image_generation"),
        ("/v1/audio/speech", "text_to_speech"),
        ("/v1/audio/transcriptions", "speech_to_text"),
        ("/v1/completions", "text_completion"),
        (None, "other"),
    ],
)
def test_operation_names(endpoint: str | None, op: str) -> None:
    assert operation_name(endpoint) == op


def test_metrics_totals_equal_the_rows(rows: list[dict[str, Any]], otel: Any) -> None:
    _, tracer_provider, reader, meter_provider = otel
    tracer = tracer_provider.get_tracer("t")
    meter = meter_provider.get_meter("t")
    assert export_frame(pd.DataFrame(rows), tracer=tracer, meter=meter).rows == len(rows)
    metrics = _metrics(reader)
    tokens = metrics["gen_ai.client.token.usage"]
    by_type: dict[str, float] = {}
    for point in tokens:
        by_type[point.attributes["gen_ai.token.type"]] = (
            by_type.get(point.attributes["gen_ai.token.type"], 0) + point.sum
        )
    assert by_type["input"] == sum(r["input_tokens"] or 0 for r in rows)
    assert by_type["output"] == sum(r["output_tokens"] or 0 for r in rows)
    energy = sum(p.value for p in metrics["melious.energy"])
    carbon = sum(p.value for p in metrics["melious.carbon"])
    assert energy == pytest.approx(sum(r["energy_kwh"] or 0 for r in rows))
    assert carbon == pytest.approx(sum(r["carbon_g_co2"] or 0 for r in rows))
    credits = sum(p.value for p in metrics["melious.billing.credits"])
    assert credits == pytest.approx(float(sum(r["billing_credits"] or 0 for r in rows)))
    durations = metrics["gen_ai.client.operation.duration"]
    assert sum(p.count for p in durations) == len(rows)
    # per-team split is kept on the counters (low-cardinality attributes)
    teams = {p.attributes["melious.team"] for p in metrics["melious.energy"]}
    assert teams == {r["team"] for r in rows if r["energy_kwh"] is not None}


def test_frame_input_with_pandas_missing_values(rows: list[dict[str, Any]], otel: Any) -> None:
    exporter, tracer_provider, _, _ = otel
    frame = pd.DataFrame(rows)  # None -> NaN / NaT in numeric and float columns
    spans_from_rows(frame, tracer_provider)
    spans = exporter.get_finished_spans()
    assert len(spans) == len(rows)
    err = next(s for s in spans if s.attributes.get("error.type"))
    assert "melious.energy_kwh" not in err.attributes  # NaN never becomes an attribute


def test_sink_tees_rows_live(rows: list[dict[str, Any]], otel: Any) -> None:
    exporter, tracer_provider, reader, meter_provider = otel
    with OTelSink(tracer_provider, meter_provider, server_address="127.0.0.1") as sink:
        for row in rows:
            sink.write(row)
        sink.flush()
        assert sink.stats.written == len(rows)
        assert sink.stats.dropped == 0
    assert len(exporter.get_finished_spans()) == len(rows)
    assert all(s.attributes["server.address"] == "127.0.0.1" for s in exporter.get_finished_spans())
    assert "melious.energy" in _metrics(reader)


def test_sink_never_raises_and_counts_drops(
    otel: Any, caplog: pytest.LogCaptureFixture, make_row: Any
) -> None:
    exporter, tracer_provider, _, meter_provider = otel
    sink = OTelSink(tracer_provider, meter_provider)
    with caplog.at_level(logging.WARNING, logger="melious_impact"):
        sink.write({"captured_at": None})  # no time: cannot be a span
        sink.write({"captured_at": "not a date"})
        sink.write(make_row(1))
    assert sink.stats.dropped == 2
    assert sink.stats.written == 1
    assert sum("OTelSink dropped" in r.message for r in caplog.records) == 1  # logged once
    sink.close()
    sink.write(make_row(2))  # after close: counted, not raised
    assert sink.stats.dropped == 3
    assert len(exporter.get_finished_spans()) == 1


def test_single_row_dict_is_refused_with_a_clear_message(otel: Any, make_row: Any) -> None:
    _, tracer_provider, _, _ = otel
    with pytest.raises(TypeError, match="list of rows"):
        spans_from_rows(make_row(0), tracer_provider)


def test_unknown_latency_gives_no_span_and_is_counted(otel: Any, make_row: Any) -> None:
    exporter, tracer_provider, reader, meter_provider = otel
    rows = [make_row(1, latency_ms=None), make_row(2, latency_ms=0.0), make_row(3)]
    stats = export_frame(
        rows,
        tracer=tracer_provider.get_tracer("t"),
        meter=meter_provider.get_meter("t"),
        server_address="https://api.melious.ai/v1",
    )
    assert (stats.rows, stats.spans, stats.spans_skipped_unknown_latency) == (3, 2, 1)
    spans = {s.attributes["gen_ai.response.id"]: s for s in exporter.get_finished_spans()}
    assert rows[0]["request_id"] not in spans
    zero = spans[rows[1]["request_id"]]
    assert zero.end_time == zero.start_time  # a measured 0 ms stays a 0 ms span
    metrics = _metrics(reader)
    assert sum(p.count for p in metrics["gen_ai.client.operation.duration"]) == 2
    tokens = metrics["gen_ai.client.token.usage"]
    assert sum(p.count for p in tokens) == 6  # tokens of all three rows, latency or not
    for point in tokens:
        assert point.attributes["server.address"] == "api.melious.ai"
        assert point.attributes["server.port"] == 443
    sink = OTelSink(tracer_provider, meter_provider)
    sink.write(make_row(4, latency_ms=float("nan")))
    assert (sink.stats.written, sink.stats.skipped_unknown_latency, sink.stats.dropped) == (1, 1, 0)


def test_time_to_first_chunk_only_on_streams(otel: Any, make_row: Any) -> None:
    _, tracer_provider, reader, meter_provider = otel
    streamed = make_row(5, stream=True, ttft_ms=250.0)
    plain = make_row(6, stream=False, ttft_ms=250.0)  # a non-stream's first byte is no chunk
    assert span_attributes(streamed)["gen_ai.response.time_to_first_chunk"] == 0.25
    assert "gen_ai.response.time_to_first_chunk" not in span_attributes(plain)
    assert "gen_ai.request.stream" not in span_attributes(plain)
    assert "melious.ttft_ms" not in span_attributes(streamed)
    spans_from_rows([streamed, plain], tracer_provider, meter_provider=meter_provider)
    (point,) = _metrics(reader)["gen_ai.client.operation.time_to_first_chunk"]
    assert (point.count, point.sum) == (1, 0.25)
    assert tuple(point.explicit_bounds)[:3] == (0.01, 0.02, 0.04)
