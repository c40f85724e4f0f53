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
import math
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from melious_impact.export._rows import as_utc, iter_rows

logger = logging.getLogger("melious_impact")

#: The semantic conventions release this module follows (GenAI pages).
SEMCONV_VERSION = "1.41.0"
#: gen_ai.provider.name value (not one of the well-known values: a custom one, as allowed).
PROVIDER_NAME = "melious"
INSTRUMENTATION_NAME = "melious_impact"
#: Melious serves its API over HTTPS only: the port when an address is given without one.
DEFAULT_SERVER_PORT = 443

# Advised ExplicitBucketBoundaries (gen-ai-metrics.md, v1.41.0: gen_ai.client.token.usage and
# the seconds-valued client histograms).
TOKEN_BUCKETS: tuple[float, ...] = tuple(float(4**k) for k in range(14))  # 1, 4, ... 67108864
SECONDS_BUCKETS: tuple[float, ...] = tuple(0.01 * 2**k for k in range(14))  # 0.01 ... 81.92

# endpoint path suffix -> gen_ai.operation.name. Well-known values where the conventions have
# one (chat, text_completion, embeddings); otherwise a custom value, as the conventions allow.
_OPERATIONS: tuple[tuple[str, str], ...] = (
    ("/chat/completions", "chat"),
    ("/messages", "chat"),
    ("/completions", "text_completion"),
    ("/embeddings", "embeddings"),
    ("/rerank", "rerank"),
    ("/images/generations", "image_generation"),
    ("/audio/speech", "text_to_speech"),
    ("/audio/transcriptions", "speech_to_text"),
)

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


def operation_name(endpoint: str | None) -> str:
    """gen_ai.operation.name for an endpoint path (``"other"`` when unknown)."""
    if not endpoint:
        return "other"
    path = endpoint.split("?", 1)[0].rstrip("/")
    for suffix, name in _OPERATIONS:
        if path.endswith(suffix):
            return name
    return "other"


def _finite(value: Any) -> float | None:
    """A float for attributes and metrics, or None for missing / NaN / infinite values."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _count(value: Any) -> int | None:
    """A token count as int: frames turn int columns with gaps into floats (100.0)."""
    number = _finite(value)
    if number is None or number < 0 or not number.is_integer():
        return None
    return int(number)


def _decimal_text(value: Any) -> str | None:
    """Exact text of a billing amount: '0.000123', never a float's approximation."""
    if value is None:
        return None
    if isinstance(value, float):  # a frame that lost its decimals; keep what there is
        return None if not math.isfinite(value) else repr(value)
    dec = value if isinstance(value, Decimal) else Decimal(str(value))
    if not dec.is_finite():
        return None
    # normalize() strips the 18-place padding the store adds; 'f' avoids 1E-7 style exponents.
    return format(dec.normalize(), "f")


def _tags(row: Mapping[str, Any]) -> dict[str, str]:
    raw = row.get("tags")
    if not raw:
        return {}
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else dict(raw)
    except (ValueError, TypeError):
        return {}
    return {str(k): str(v) for k, v in parsed.items()} if isinstance(parsed, dict) else {}


def _is_error(row: Mapping[str, Any]) -> bool:
    status = _count(row.get("status_code"))
    return bool(row.get("error_code")) or (status is not None and status >= 400)


def _error_type(row: Mapping[str, Any]) -> str:
    return str(row.get("error_code") or _count(row.get("status_code")))


def span_name(row: Mapping[str, Any]) -> str:
    """``"{operation} {model}"`` as the conventions recommend (just the operation without a model)."""
    op = operation_name(row.get("endpoint"))
    model = row.get("requested_model") or row.get("model")
    return f"{op} {model}" if model else op


def server_endpoint(
    server_address: str | None, server_port: int | None = None
) -> tuple[str | None, int | None]:
    """(server.address, server.port) from a host, ``host:port`` or URL, and an optional port.

    An address without a port gets :data:`DEFAULT_SERVER_PORT` (https), since the conventions
    require ``server.port`` whenever ``server.address`` is set.
    """
    if not server_address:
        if server_port is not None:
            raise ValueError("server_port needs a server_address")
        return None, None
    host, port = server_address, server_port
    if "://" in server_address:
        parts = urlsplit(server_address)
        host = parts.hostname or ""
        if port is None:
            port = parts.port or (80 if parts.scheme == "http" else DEFAULT_SERVER_PORT)
    elif server_address.count(":") == 1 and server_address.rsplit(":", 1)[1].isdigit():
        host, _, text = server_address.rpartition(":")
        port = port if port is not None else int(text)
    if not host:
        raise ValueError(f"server_address {server_address!r} has no host name")
    port = DEFAULT_SERVER_PORT if port is None else int(port)
    if not 0 < port < 65536:
        raise ValueError(f"server_port must be 1..65535, got {port}")
    return host, port


def _server_attrs(server_address: str | None, server_port: int | None) -> dict[str, Any]:
    host, port = server_endpoint(server_address, server_port)
    return {} if host is None else {"server.address": host, "server.port": port}


def _is_stream(row: Mapping[str, Any]) -> bool:
    value = row.get("stream")
    return value is True or (not isinstance(value, str) and value == 1)


def ttfc_seconds(row: Mapping[str, Any]) -> float | None:
    """Time to first chunk of a streaming row, in seconds (None for non-streaming rows)."""
    if not _is_stream(row):
        return None
    ttft = _finite(row.get("ttft_ms"))
    return ttft / 1000.0 if ttft is not None and ttft >= 0 else None


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
        "gen_ai.usage.input_tokens": _count(row.get("input_tokens")),
        "gen_ai.usage.output_tokens": _count(row.get("output_tokens")),
        "gen_ai.usage.cache_read.input_tokens": _count(row.get("cached_tokens")),
        "gen_ai.usage.reasoning.output_tokens": _count(row.get("reasoning_tokens")),
        # set if and only if the request streamed (conditionally required)
        "gen_ai.request.stream": True if _is_stream(row) else None,
        "gen_ai.response.time_to_first_chunk": ttfc_seconds(row),
        "http.request.method": row.get("method"),
        "http.response.status_code": _count(row.get("status_code")),
        "url.path": row.get("endpoint"),
        **_server_attrs(server_address, server_port),
    }
    for key, value in optional.items():
        if value is not None:
            attrs[key] = value
    if _is_error(row):
        attrs["error.type"] = _error_type(row)
    for name in _MELIOUS_NUMBERS:
        number = _finite(row.get(name))
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
    attempt = _count(row.get("attempt"))
    if attempt is not None:
        attrs["melious.attempt"] = attempt
    for column, key in (("billing_energy", "energy"), ("billing_credits", "credits")):
        text = _decimal_text(row.get(column))
        if text is not None:
            attrs[f"melious.billing.{key}"] = text
    if row.get("billing_paid_with"):
        attrs["melious.billing.paid_with"] = str(row["billing_paid_with"])
    tags = _tags(row)
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
    latency = _finite(row.get("latency_ms"))
    if latency is None or latency < 0:
        return None
    return _ns(end - timedelta(milliseconds=latency)), _ns(end)


def _ns(when: datetime) -> int:
    # Integer arithmetic: timestamp() goes through a float and loses microseconds far from 1970.
    delta = when - datetime(1970, 1, 1, tzinfo=when.tzinfo)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _metric_attributes(row: Mapping[str, Any], server: Mapping[str, Any]) -> dict[str, Any]:
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
    if _is_error(row):
        attrs["error.type"] = _error_type(row)
    return attrs


@dataclass
class _Instruments:
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
    def create(cls, meter: Any, server: Mapping[str, Any] | None = None) -> _Instruments:
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
        attrs = _metric_attributes(row, self.server)
        for column, token_type in (("input_tokens", "input"), ("output_tokens", "output")):
            tokens = _count(row.get(column))
            if tokens is not None:
                self.token_usage.record(tokens, {**attrs, "gen_ai.token.type": token_type})
        latency = _finite(row.get("latency_ms"))
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
            value = _finite(row.get(column))
            if value is not None and value >= 0:
                instrument.add(value, attrs)
        credits = _finite(row.get("billing_credits"))
        if credits is not None and credits >= 0:
            self.credits.add(credits, attrs)


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
    if _is_error(row):
        span.set_status(Status(StatusCode.ERROR, _error_type(row)))
    span.end(end_time=end_ns)
    return True


@dataclass
class ExportStats:
    """What a batch export did: rows read, spans emitted, spans skipped (latency unknown)."""

    rows: int = 0
    spans: int = 0
    spans_skipped_unknown_latency: int = 0


def _export(
    source: Any, tracer: Any, instruments: _Instruments | None, server: tuple[str | None, int | None]
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
    instruments = _Instruments.create(meter, _server_attrs(*server))
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
        _Instruments.create(_meter(meter_provider), _server_attrs(*server))
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
            _Instruments.create(_meter(meter_provider), _server_attrs(*self._server)) if metrics else None
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

    def write_many(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.write(row)

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
