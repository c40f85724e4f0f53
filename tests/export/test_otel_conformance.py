"""OpenTelemetry GenAI conformance (semantic conventions v1.41.0): spans and metrics exported
from stores made by the emulator (simulated and captured live) and from generated edge cases,
checked against the conventions' rules (``otel_rules``) through the SDK's in-memory exporter
and reader."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from hypothesis import HealthCheck, given, settings
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

sys.path.insert(0, str(Path(__file__).parent))
import otel_rules
from edge_rows import edge_rows

from melious_impact.export._rows import iter_rows
from melious_impact.export.otel import export_frame

SERVERS = (None, "api.melious.ai")


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def _known(value: Any) -> bool:
    """A measured, non-negative number (0 included)."""
    number = _finite(value)
    return number is not None and number >= 0


def conditions(row: Mapping[str, Any], attrs: Mapping[str, Any]) -> dict[str, bool]:
    status = _finite(row.get("status_code"))
    return {
        "model_known": bool(row.get("requested_model") or row.get("model")),
        "error": bool(row.get("error_code")) or (status is not None and status >= 400),
        "server_address_set": "server.address" in attrs,
        "streaming": row.get("stream") is True,
    }


def attribute_violations(
    rules: tuple[otel_rules.AttributeRule, ...], attrs: Mapping[str, Any], cond: Mapping[str, bool]
) -> list[str]:
    out = []
    for rule in rules:
        present = rule.key in attrs
        if present and not isinstance(attrs[rule.key], rule.value_type):
            out.append(f"{rule.key}: type {type(attrs[rule.key]).__name__} ({rule.section})")
        if rule.level == "required" and not present:
            out.append(f"{rule.key}: required ({rule.section})")
        if rule.level == "conditionally_required" and cond.get(rule.condition) and not present:
            out.append(f"{rule.key}: required when {rule.condition} ({rule.section})")
        if (
            rule.key in otel_rules.ONLY_UNDER_CONDITION
            and present
            and not cond.get(rule.condition or "error")
        ):
            out.append(f"{rule.key}: only when {rule.condition or 'error'} ({rule.section})")
    for key, section in otel_rules.DEPRECATED_ATTRIBUTES.items():
        if key in attrs:
            out.append(f"{key}: deprecated ({section})")
    return out


def span_violations(span: Any, row: Mapping[str, Any]) -> list[str]:
    attrs = dict(span.attributes)
    cond = conditions(row, attrs)
    out = attribute_violations(otel_rules.SPAN_ATTRIBUTES, attrs, cond)
    if span.kind.name != otel_rules.SPAN_KIND[0]:
        out.append(f"kind {span.kind.name} ({otel_rules.SPAN_KIND[1]})")
    model = attrs.get("gen_ai.request.model")
    expected_name = (
        f"{attrs.get('gen_ai.operation.name')} {model}" if model else attrs.get("gen_ai.operation.name")
    )
    if span.name != expected_name:
        out.append(f"name {span.name!r} ({otel_rules.SPAN_NAME[1]})")
    well_known = otel_rules.WELL_KNOWN_OPERATIONS.get(row.get("endpoint") or "")
    if well_known and attrs.get("gen_ai.operation.name") != well_known:
        out.append(f"operation {attrs.get('gen_ai.operation.name')} for {row.get('endpoint')}")
    ttfc, ttft_ms = attrs.get("gen_ai.response.time_to_first_chunk"), _finite(row.get("ttft_ms"))
    streamed_ttft = cond["streaming"] and ttft_ms is not None and ttft_ms >= 0
    if streamed_ttft and (ttfc is None or abs(ttfc - (ttft_ms or 0) / 1000) > 1e-9):
        out.append(f"time_to_first_chunk {ttfc} is not {ttft_ms} ms in seconds")
    if attrs.get("gen_ai.request.stream") is False:
        out.append("gen_ai.request.stream set to false")
    return out


def metric_violations(reader: InMemoryMetricReader, rows: list[dict[str, Any]]) -> list[str]:
    out = []
    metrics = {
        m.name: m
        for rm in reader.get_metrics_data().resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
    }
    streaming_ttfc = sum(1 for r in rows if r.get("stream") is True and _known(r.get("ttft_ms")))
    timed = sum(1 for r in rows if _known(r.get("latency_ms")))
    tokens = sum(1 for r in rows for c in ("input_tokens", "output_tokens") if _finite(r.get(c)) is not None)
    expected_points = {  # data points each metric must hold: one per row (and token type) known
        "gen_ai.client.token.usage": tokens,
        "gen_ai.client.operation.duration": timed,
        "gen_ai.client.operation.time_to_first_chunk": streaming_ttfc,
    }
    for rule in otel_rules.METRIC_RULES:
        metric = metrics.get(rule.name)
        if metric is None:
            if expected_points[rule.name]:
                out.append(f"{rule.name}: missing ({rule.section})")
            continue
        if metric.unit != rule.unit:
            out.append(f"{rule.name}: unit {metric.unit} ({rule.section})")
        points = list(metric.data.data_points)
        for point in points:
            if not isinstance(point, HistogramDataPoint):
                out.append(f"{rule.name}: not a histogram ({rule.section})")
                continue
            if tuple(point.explicit_bounds) != rule.buckets:
                out.append(f"{rule.name}: buckets {point.explicit_bounds} ({rule.section})")
            attrs = dict(point.attributes)
            cond = {
                "model_known": True,  # every exported row has a model here; checked on spans
                "server_address_set": "server.address" in attrs,
                "error": "error.type" in attrs,
            }
            out += [f"{rule.name}: {v}" for v in attribute_violations(rule.attributes, attrs, cond)]
            if (
                rule.name == "gen_ai.client.token.usage"
                and attrs.get("gen_ai.token.type") not in otel_rules.TOKEN_TYPES
            ):
                out.append(f"{rule.name}: token type {attrs.get('gen_ai.token.type')}")
        if sum(p.count for p in points) != expected_points[rule.name]:
            out.append(f"{rule.name}: {sum(p.count for p in points)} values for {expected_points[rule.name]}")
    for name, metric in metrics.items():
        if name.startswith("melious.") and not otel_rules.is_ucum(metric.unit):
            out.append(f"{name}: unit {metric.unit!r} is not UCUM ({otel_rules.UCUM_SOURCE})")
    return out


def run_export(source: Any, server_address: str | None) -> tuple[list[str], Any, list[dict[str, Any]]]:
    """Export ``source``; return (violations, stats, rows)."""
    rows = list(iter_rows(source))
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    try:
        stats = export_frame(
            rows,
            tracer=tracer_provider.get_tracer("t"),
            meter=meter_provider.get_meter("t"),
            server_address=server_address,
        )
        spans = exporter.get_finished_spans()
        by_id = {r["request_id"]: r for r in rows}
        found = []
        for span in spans:
            row = by_id[span.attributes["gen_ai.response.id"]]
            found += span_violations(span, row)
            latency_ns = round(float(row["latency_ms"]) * 1_000_000)
            if abs((span.end_time - span.start_time) - latency_ns) > 1_000:
                found.append(f"span duration {span.end_time - span.start_time} is not {latency_ns}")
        found += metric_violations(reader, rows)
        unknown = sum(1 for r in rows if _finite(r.get("latency_ms")) is None or float(r["latency_ms"]) < 0)
        if stats.spans_skipped_unknown_latency != unknown or len(spans) != len(rows) - unknown:
            found.append(f"{stats} for {unknown} rows of unknown latency")
        return found, stats, rows
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()


def test_rule_table_is_cited() -> None:
    for rule in otel_rules.SPAN_ATTRIBUTES:
        assert rule.section.startswith(otel_rules.SPANS)
    for metric in otel_rules.METRIC_RULES:
        assert metric.section.startswith(otel_rules.METRICS)
    assert otel_rules.rule_count() >= 40


@pytest.mark.parametrize("server", SERVERS)
def test_simulated_store_conforms(simulated_store: Any, server: str | None) -> None:
    found, stats, rows = run_export(simulated_store, server)
    assert found == []
    assert any(r.get("stream") is True for r in rows) and any(r.get("stream") is False for r in rows)
    assert stats.spans > 0


@pytest.mark.parametrize("server", SERVERS)
def test_captured_store_conforms(captured_store: Any, server: str | None) -> None:
    found, stats, rows = run_export(captured_store, server)
    assert found == []
    assert stats.spans == len(rows)  # live captures always measure their latency
    assert any(r.get("stream") is True and r.get("ttft_ms") is not None for r in rows)


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(edge=edge_rows())
def test_generated_edge_cases_conform(edge: list[dict[str, Any]]) -> None:
    rows = edge
    for server in SERVERS:
        found, _, _ = run_export(rows, server)
        assert found == []


# --------------------------------------------------------------------------- the checks can fail


class _Span:
    def __init__(self, attributes: dict[str, Any], name: str, kind: str = "CLIENT") -> None:
        self.attributes = attributes
        self.name = name
        self.kind = type("K", (), {"name": kind})()


_GOOD = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "melious",
    "gen_ai.request.model": "glm-4.7",
    "server.address": "api.melious.ai",
    "server.port": 443,
    "gen_ai.request.stream": True,
    "gen_ai.response.time_to_first_chunk": 0.25,
}
_ROW = {"endpoint": "/v1/chat/completions", "requested_model": "glm-4.7", "stream": True, "ttft_ms": 250.0}


@pytest.mark.parametrize(
    ("change", "row_change", "expected"),
    [
        ({"gen_ai.system": "melious"}, {}, "gen_ai.system: deprecated"),
        ({"server.port": None}, {}, "server.port: required when server_address_set"),
        ({"gen_ai.provider.name": None}, {}, "gen_ai.provider.name: required"),
        ({"gen_ai.request.stream": None}, {}, "gen_ai.request.stream: required when streaming"),
        ({}, {"stream": False, "ttft_ms": None}, "gen_ai.request.stream: only when streaming"),
        ({"gen_ai.response.time_to_first_chunk": 250.0}, {}, "time_to_first_chunk 250.0"),
        ({"server.port": "443"}, {}, "server.port: type str"),
        ({"gen_ai.operation.name": "chat_completion"}, {}, "operation chat_completion"),
        ({}, {"status_code": 500}, "error.type: required when error"),
    ],
)
def test_span_checks_can_fail(change: dict[str, Any], row_change: dict[str, Any], expected: str) -> None:
    attrs = {k: v for k, v in {**_GOOD, **change}.items() if v is not None}
    row = {**_ROW, **row_change}
    found = span_violations(_Span(attrs, f"{attrs.get('gen_ai.operation.name')} glm-4.7"), row)
    assert any(expected in v for v in found), found


def test_span_kind_and_name_checks_can_fail() -> None:
    assert span_violations(_Span(dict(_GOOD), "chat glm-4.7"), _ROW) == []
    assert any("kind" in v for v in span_violations(_Span(dict(_GOOD), "chat glm-4.7", "INTERNAL"), _ROW))
    assert any("name" in v for v in span_violations(_Span(dict(_GOOD), "glm-4.7"), _ROW))


def test_ucum_check_can_fail() -> None:
    for unit in ("s", "{token}", "kW.h", "g", "L", "{EUR}", "By/s", "ms"):
        assert otel_rules.is_ucum(unit), unit
    for unit in ("kWh", "EUR", "tokens", "sec", "{EUR", "g CO2"):
        assert not otel_rules.is_ucum(unit), unit
