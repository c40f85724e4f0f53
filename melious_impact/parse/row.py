"""Assembling a row: what the exchange knows (:class:`RowContext`) plus what its body gave.

Every response takes the same way: the parse functions set body columns on a copy of
:data:`ROW_TEMPLATE`, then :func:`finish_row` adds the exchange's context (times, status,
tags, headers). Capture calls it once per response, on the caller's thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from melious_impact.parse.endpoints import Kind
from melious_impact.parse.fields import (
    REQUEST_ID_HEADERS,
    Warnings,
    ratelimit_from_headers,
    request_id_from_headers,
)
from melious_impact.records import empty_row, split_flavor

#: A row with every column present: parse functions set columns on a copy of it.
ROW_TEMPLATE: dict[str, Any] = empty_row()

#: Every response header :func:`finish_row` reads (lowercased).
ROW_HEADER_NAMES = (
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    *REQUEST_ID_HEADERS,
)

_SHAPE_OF_KIND = {Kind.MESSAGES: "anthropic", Kind.RERANK: "other", Kind.OTHER: "other", Kind.SPEECH: "other"}


class RowContext(NamedTuple):
    """What a row takes from the exchange rather than from the body."""

    captured_at: datetime | int  # aware UTC; or µs since the epoch in a row for the journal
    record_id: str
    endpoint: str
    method: str
    status: int | None
    kind: str  # a Kind value
    requested_model: str | None
    sse: bool
    latency_ms: float
    ttft_ms: float | None
    attempt: int | None
    response_bytes: int
    team: str | None
    project: str | None
    tags: str  # JSON of the other tags
    read_error: bool
    headers: Mapping[str, str]  # lowercased names; at least ROW_HEADER_NAMES where present


def carries_ours(part: dict[str, Any]) -> bool:
    """Whether parsed body columns hold an impact or a billing amount (what makes a row of
    an unknown endpoint's response, in :func:`finish_row` and before journaling)."""
    return bool(
        part.get("impact_reported")
        or part.get("billing_energy") is not None
        or part.get("billing_credits") is not None
    )


def finish_row(
    row: dict[str, Any], ctx: RowContext, w: Warnings, completed: bool | None
) -> dict[str, Any] | None:
    """Complete ``row`` (body fields already set) from ``ctx``; None when it is no row at all."""
    (
        captured_at,
        record_id,
        endpoint,
        method,
        status,
        kind,
        requested,
        sse,
        latency_ms,
        ttft_ms,
        attempt,
        response_bytes,
        team,
        project,
        tags,
        read_error,
        headers,
    ) = ctx  # one unpacking: cheaper than a named-field lookup per column
    if kind == Kind.OTHER and not carries_ours(row):
        return None  # an unknown endpoint that carries nothing of ours
    if read_error:
        w.add("read_error")
    row["captured_at"] = captured_at
    row["record_id"] = record_id
    row["endpoint"] = endpoint
    row["method"] = method
    row["status_code"] = status
    row["requested_model"] = requested
    if row["model"] is None:
        row["model"] = requested
    flavor = None
    if requested and ":" in requested:
        flavor = split_flavor(requested)[1]
    if row["model"] and ":" in row["model"]:
        # `model` names the model, not the route: "flux-schnell:price" groups with
        # "flux-schnell" (the flavor has its own column, requested_model keeps both).
        base, model_flavor = split_flavor(row["model"])
        row["model"] = base
        flavor = flavor or model_flavor
    row["flavor"] = flavor
    if row["api_shape"] is None:
        row["api_shape"] = _SHAPE_OF_KIND.get(kind, "openai")  # type: ignore[call-overload]
    row["stream"] = sse
    row["stream_completed"] = completed
    row["latency_ms"] = latency_ms
    row["ttft_ms"] = ttft_ms
    row["attempt"] = attempt
    row["response_bytes"] = response_bytes
    if headers:
        lim = headers.get("x-ratelimit-limit-requests")
        rem = headers.get("x-ratelimit-remaining-requests")
        if (
            lim is not None
            and rem is not None
            and len(lim) < 19
            and len(rem) < 19
            and lim.isdigit()
            and rem.isdigit()
            and lim.isascii()
            and rem.isascii()
        ):
            # The documented family with plain counts (to_int's own fast case).
            row["ratelimit_limit_requests"] = int(lim)
            row["ratelimit_remaining_requests"] = int(rem)
        elif (
            lim is not None
            or rem is not None
            or "x-ratelimit-limit" in headers
            or "x-ratelimit-remaining" in headers
        ):
            limit, remaining = ratelimit_from_headers(headers, w)
            row["ratelimit_limit_requests"] = limit
            row["ratelimit_remaining_requests"] = remaining
        if row["request_id"] is None:
            row["request_id"] = request_id_from_headers(headers)
    row["team"], row["project"] = team, project
    row["tags"] = tags
    row["parse_warnings"] = w.text()
    return row
