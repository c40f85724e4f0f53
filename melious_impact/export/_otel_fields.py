"""Row values as OpenTelemetry GenAI values: operation names, numbers, errors, server, streams.

Private to :mod:`melious_impact.export.otel` (which re-exports the public names). Sans-I/O:
plain row mappings in, attribute values out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

#: gen_ai.provider.name value (not one of the well-known values: a custom one, as allowed).
PROVIDER_NAME = "melious"
#: Melious serves its API over HTTPS only: the port when an address is given without one.
DEFAULT_SERVER_PORT = 443

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


def operation_name(endpoint: str | None) -> str:
    """gen_ai.operation.name for an endpoint path (``"other"`` when unknown)."""
    if not endpoint:
        return "other"
    path = endpoint.split("?", 1)[0].rstrip("/")
    for suffix, name in _OPERATIONS:
        if path.endswith(suffix):
            return name
    return "other"


def finite(value: Any) -> float | None:
    """A float for attributes and metrics, or None for missing / NaN / infinite values."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def count(value: Any) -> int | None:
    """A token count as int: frames turn int columns with gaps into floats (100.0)."""
    number = finite(value)
    if number is None or number < 0 or not number.is_integer():
        return None
    return int(number)


def decimal_text(value: Any) -> str | None:
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


def row_tags(row: Mapping[str, Any]) -> dict[str, str]:
    raw = row.get("tags")
    if not raw:
        return {}
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else dict(raw)
    except (ValueError, TypeError):
        return {}
    return {str(k): str(v) for k, v in parsed.items()} if isinstance(parsed, dict) else {}


def is_error(row: Mapping[str, Any]) -> bool:
    status = count(row.get("status_code"))
    return bool(row.get("error_code")) or (status is not None and status >= 400)


def error_type(row: Mapping[str, Any]) -> str:
    return str(row.get("error_code") or count(row.get("status_code")))


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


def server_attrs(server_address: str | None, server_port: int | None) -> dict[str, Any]:
    host, port = server_endpoint(server_address, server_port)
    return {} if host is None else {"server.address": host, "server.port": port}


def is_stream(row: Mapping[str, Any]) -> bool:
    value = row.get("stream")
    return value is True or (not isinstance(value, str) and value == 1)


def ttfc_seconds(row: Mapping[str, Any]) -> float | None:
    """Time to first chunk of a streaming row, in seconds (None for non-streaming rows)."""
    if not is_stream(row):
        return None
    ttft = finite(row.get("ttft_ms"))
    return ttft / 1000.0 if ttft is not None and ttft >= 0 else None
