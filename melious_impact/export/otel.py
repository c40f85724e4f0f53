"""OpenTelemetry export: captured rows as GenAI spans and metrics.

Follows the GenAI semantic conventions of OpenTelemetry semantic conventions v1.41.0
(:data:`SEMCONV_VERSION`; ``docs/gen-ai/`` and ``model/gen-ai/`` of that release). Each row
becomes one CLIENT span (``gen_ai.operation.name``, ``gen_ai.provider.name``,
``gen_ai.request.model``, ``gen_ai.usage.input_tokens``...), plus ``melious.*`` attributes for
what only Melious reports (energy, carbon, water, billing). The deprecated ``gen_ai.system``
is not written. A row whose latency is unknown has no start time: it gets no span (a
zero-length span at a made-up time would look measured) and is counted in
``ExportStats.spans_skipped_unknown_latency`` / ``SinkStats.skipped_unknown_latency``; its
metrics other than durations are still recorded.

Metrics: the histograms ``gen_ai.client.token.usage`` ({token}),
``gen_ai.client.operation.duration`` (s) and, for streaming calls,
``gen_ai.client.operation.time_to_first_chunk`` (s), each with the conventions' advised
explicit bucket boundaries; and the counters ``melious.energy`` (kW.h), ``melious.carbon`` (g),
``melious.water`` (L) and ``melious.billing.credits`` ({EUR}), units in UCUM.

Two ways in:

- batch: :func:`spans_from_rows` / :func:`export_frame` over rows, a frame or a store;
- live: :class:`OTelSink`, with the store's ``RowWriter`` interface (``write``/``flush``/
  ``close``), so a Recorder can tee each row to OpenTelemetry as it is captured.

Billing amounts go on spans as *strings* so that decimals stay exact (OTel attributes have
no decimal type); the metric counters are floats, as every metrics backend is. Only the
``opentelemetry-api`` is needed here; the SDK is the user's choice (and the tests').
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from melious_impact.export._otel_fields import (
    DEFAULT_SERVER_PORT,
    PROVIDER_NAME,
    count,
    decimal_text,
    error_type,
    finite,
    is_error,
    is_stream,
    operation_name,
    row_tags,
    server_attrs,
    server_endpoint,
    span_name,
    ttfc_seconds,
)
from melious_impact.export._otel_metrics import SECONDS_BUCKETS, TOKEN_BUCKETS, Instruments
from melious_impact.export._rows import as_utc, iter_rows

__all__ = [
    "DEFAULT_SERVER_PORT",
    "INSTRUMENTATION_NAME",
    "PROVIDER_NAME",
    "SECONDS_BUCKETS",
    "SEMCONV_VERSION",
    "TOKEN_BUCKETS",
    "ExportStats",
    "OTelSink",
    "SinkStats",
    "emit_span",
    "export_frame",
    "operation_name",
    "server_endpoint",
    "span_attributes",
    "span_name",
    "span_times_ns",
    "spans_from_rows",
    "ttfc_seconds",
]

logger = logging.getLogger("melious_impact")

#: The semantic conventions release this module follows (GenAI pages).
SEMCONV_VERSION = "1.41.0"
INSTRUMENTATION_NAME = "melious_impact"

# Row columns copied to melious.<name> span attributes when present.
_MELIOUS_NUMBERS = ("energy_kwh", "carbon_g_co2", "water_liters", "renewable_percent", "pue")
_MELIOUS_TEXTS = (
    "provider_id",
    "location",
    "team",
    "project",
    "source",
    "custom_id",
    "batch_id",
    "record_id",
    "flavor",
    "endpoint",
    "api_shape",
    "parse_warnings",
)
_MELIOUS_FLAGS = ("impact_reported", "stream_completed")


def span_attributes(
    row: Mapping[str, Any], *, server_address: str | None = None, server_port: int | None = None
) -> dict[str, Any]:
    """The span attributes of one row: GenAI conventions plus ``melious.*``. Missing values are left out."""
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": operation_name(row.get("endpoint")),
        "gen_ai.provider.name": PROVIDER_NAME,
    }
    requested = row.get("requested_model") or row.get("model")
    optional: dict[str, Any] = {
        "gen_ai.request.model": requested,
        "gen_ai.response.model": row.get("model"),
        "gen_ai.response.id": row.get("request_id"),
        "gen_ai.usage.input_tokens": count(row.get("input_tokens")),
        "gen_ai.usage.output_tokens": count(row.get("output_tokens")),
        "gen_ai.usage.cache_read.input_tokens": count(row.get("cached_tokens")),
        "gen_ai.usage.reasoning.output_tokens": count(row.get("reasoning_tokens")),
        # set if and only if the request streamed (conditionally required)
        "gen_ai.request.stream": True if is_stream(row) else None,
        "gen_ai.response.time_to_first_chunk": ttfc_seconds(row),
        "http.request.method": row.get("method"),
        "http.response.status_code": count(row.get("status_code")),
        "url.path": row.get("endpoint"),
        **server_attrs(server_address, server_port),
    }
    for key, value in optional.items():
        if value is not None:
            attrs[key] = value
    if is_error(row):
        attrs["error.type"] = error_type(row)
    for name in _MELIOUS_NUMBERS:
        number = finite(row.get(name))
        if number is not None:
            attrs[f"melious.{name}"] = number
    for name in _MELIOUS_TEXTS:
        value = row.get(name)
        if value not in (None, ""):
            attrs[f"melious.{name}"] = str(value)
    for name in _MELIOUS_FLAGS:
        value = row.get(name)
        if value is not None:
            attrs[f"melious.{name}"] = bool(value)
    attempt = count(row.get("attempt"))
    if attempt is not None:
        attrs["melious.attempt"] = attempt
    for column, key in (("billing_energy", "energy"), ("billing_credits", "credits")):
        text = decimal_text(row.get(column))
        if text is not None:
            attrs[f"melious.billing.{key}"] = text
    if row.get("billing_paid_with"):
        attrs["melious.billing.paid_with"] = str(row["billing_paid_with"])
    tags = row_tags(row)
    if tags:
        attrs["melious.tags"] = json.dumps(tags, sort_keys=True)
        for key, value in tags.items():
            attrs[f"melious.tag.{key}"] = value
    return attrs


def span_times_ns(row: Mapping[str, Any]) -> tuple[int, int] | None:
    """(start, end) in ns since the epoch: the row finished at captured_at after latency_ms.

    None when the latency is unknown (missing, negative or not a number): the start is not
    known, and a zero-length span would pass for a measurement.
    """
    end = as_utc(row.get("captured_at"))
    if end is None:
        raise ValueError("row has no captured_at: cannot place its span in time")
    latency = finite(row.get("latency_ms"))
    if latency is None or latency < 0:
        return None
    return _ns(end - timedelta(milliseconds=latency)), _ns(end)


def _ns(when: datetime) -> int:
    # Integer arithmetic: timestamp() goes through a float and loses microseconds far from 1970.
    delta = when - datetime(1970, 1, 1, tzinfo=when.tzinfo)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _tracer(tracer_provider: Any | None) -> Any:
    from opentelemetry import trace

    from melious_impact import __version__

    provider = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
    return provider.get_tracer(INSTRUMENTATION_NAME, __version__)


def _meter(meter_provider: Any | None) -> Any:
    from opentelemetry import metrics

    from melious_impact import __version__

    provider = meter_provider if meter_provider is not None else metrics.get_meter_provider()
    return provider.get_meter(INSTRUMENTATION_NAME, __version__)


def emit_span(
    tracer: Any, row: Mapping[str, Any], *, server_address: str | None = None, server_port: int | None = None
) -> bool:
    """Emit the span of one row on ``tracer`` with its real start and end times.

    Returns False (and emits nothing) when the row's latency is unknown.
    """
    from opentelemetry.trace import SpanKind, Status, StatusCode

    times = span_times_ns(row)
    if times is None:
        return False
    start_ns, end_ns = times
    span = tracer.start_span(
        span_name(row),
        kind=SpanKind.CLIENT,
        attributes=span_attributes(row, server_address=server_address, server_port=server_port),
        start_time=start_ns,
    )
    if is_error(row):
        span.set_status(Status(StatusCode.ERROR, error_type(row)))
    span.end(end_time=end_ns)
    return True


@dataclass
class ExportStats:
    """What a batch export did: rows read, spans emitted, spans skipped (latency unknown)."""

    rows: int = 0
    spans: int = 0
    spans_skipped_unknown_latency: int = 0


def _export(
    source: Any, tracer: Any, instruments: Instruments | None, server: tuple[str | None, int | None]
) -> ExportStats:
    stats = ExportStats()
    for row in iter_rows(source):
        stats.rows += 1
        if emit_span(tracer, row, server_address=server[0], server_port=server[1]):
            stats.spans += 1
        else:
            stats.spans_skipped_unknown_latency += 1
        if instruments is not None:
            instruments.record(row)
    return stats


def export_frame(
    source: Any,
    *,
    tracer: Any | None = None,
    meter: Any | None = None,
    server_address: str | None = None,
    server_port: int | None = None,
) -> ExportStats:
    """Emit one span per row (latency known) and record the metrics of every row.

    ``source``: rows, a DataFrame with the requests columns, an Arrow table or an ImpactStore.
    ``tracer`` / ``meter``: default to the global providers' (no-ops unless the app set an SDK).
    ``server_address``: a host, ``host:port`` or URL; ``server_port`` defaults to 443.
    """
    server = server_endpoint(server_address, server_port)
    tracer = tracer if tracer is not None else _tracer(None)
    meter = meter if meter is not None else _meter(None)
    instruments = Instruments.create(meter, server_attrs(*server))
    return _export(source, tracer, instruments, server)


def spans_from_rows(
    rows_or_df: Any,
    tracer_provider: Any | None = None,
    *,
    meter_provider: Any | None = None,
    server_address: str | None = None,
    server_port: int | None = None,
) -> ExportStats:
    """Emit one span per row (latency known) through ``tracer_provider`` (global one if None).

    Metrics are recorded too when ``meter_provider`` is given.
    """
    server = server_endpoint(server_address, server_port)
    tracer = _tracer(tracer_provider)
    instruments = (
        Instruments.create(_meter(meter_provider), server_attrs(*server))
        if meter_provider is not None
        else None
    )
    return _export(rows_or_df, tracer, instruments, server)


@dataclass
class SinkStats:
    """What an :class:`OTelSink` did: rows turned into telemetry, rows it failed on."""

    written: int = 0
    dropped: int = 0
    skipped_unknown_latency: int = 0  # written rows that got metrics but no span


class OTelSink:
    """A live sink with the ``RowWriter`` interface: each written row becomes a span and metrics.

    ``Recorder(store, sinks=[OTelSink(tracer_provider, meter_provider)])`` tees every captured
    row here. ``write`` never raises (a failure is counted in ``stats.dropped`` and logged once)
    and does no I/O itself: exporting is up to the providers' processors and readers (use a
    ``BatchSpanProcessor`` so the caller's thread never waits on a collector).
    ``close`` flushes but does not shut the providers down: they belong to the application.
    """

    def __init__(
        self,
        tracer_provider: Any | None = None,
        meter_provider: Any | None = None,
        *,
        server_address: str | None = None,
        server_port: int | None = None,
        metrics: bool = True,
    ) -> None:
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._server = server_endpoint(server_address, server_port)
        self._tracer = _tracer(tracer_provider)
        self._instruments = (
            Instruments.create(_meter(meter_provider), server_attrs(*self._server)) if metrics else None
        )
        self._lock = threading.Lock()
        self._warned = False
        self._closed = False
        self.stats = SinkStats()

    def write(self, row: Mapping[str, Any]) -> None:
        """Emit the row's span and metrics; never raises."""
        if self._closed:
            self._count_drop(None)
            return
        try:
            spanned = emit_span(
                self._tracer, row, server_address=self._server[0], server_port=self._server[1]
            )
            if self._instruments is not None:
                self._instruments.record(row)
        except Exception as exc:  # a telemetry failure must never reach the caller
            self._count_drop(exc)
            return
        with self._lock:
            self.stats.written += 1
            if not spanned:
                self.stats.skipped_unknown_latency += 1

    def _count_drop(self, exc: Exception | None) -> None:
        with self._lock:
            self.stats.dropped += 1
            warn = not self._warned
            self._warned = True
        if warn:
            reason = "sink is closed" if exc is None else f"{type(exc).__name__}: {exc}"
            logger.warning("OTelSink dropped a row (%s); further drops are only counted", reason)

    def flush(self) -> None:
        """Ask the providers to export what they hold (if they can)."""
        for provider in (self._tracer_provider, self._meter_provider):
            force_flush = getattr(provider, "force_flush", None)
            if force_flush is not None:
                try:
                    force_flush()
                except Exception as exc:  # flush is best effort, like the rest of telemetry
                    logger.warning("OTelSink flush failed: %s", exc)

    def close(self) -> None:
        """Flush and stop accepting rows. Idempotent."""
        if not self._closed:
            self.flush()
            self._closed = True

    def __enter__(self) -> OTelSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
