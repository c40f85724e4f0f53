"""OpenTelemetry export of a store: read a batch at a time, the same spans as its frame."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from melious_impact.export import _rows
from melious_impact.export.otel import spans_from_rows
from melious_impact.store.impact_store import ImpactStore


def _spans(source: Any) -> list[tuple[Any, ...]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        stats = spans_from_rows(source, provider)
        spans = exporter.get_finished_spans()
        assert stats.spans == len(spans)
        return [(s.name, s.start_time, s.end_time, dict(s.attributes or {})) for s in spans]
    finally:
        provider.shutdown()


def test_a_store_gives_the_spans_of_its_frame_in_batches(
    rows: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ImpactStore(tmp_path / "store")
    try:
        store.append(rows)
        expected = _spans(store.to_pandas())
        assert len(expected) >= 12
        monkeypatch.setattr(_rows, "STORE_BATCH_ROWS", 5)  # several batches
        assert _spans(store) == expected  # same spans, same order
        monkeypatch.setattr(_rows, "STORE_BATCH_ROWS", 1000)
        assert _spans(store) == expected
    finally:
        store.close()
