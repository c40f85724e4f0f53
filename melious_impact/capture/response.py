"""``rec.record_response(obj)``: one row from a response a library hands to user code.

For the paths that do not go through an instrumented HTTP client (a callback that receives
the response object, a framework that keeps its own connection): the object goes through
the same parse path as a captured body (:class:`~melious_impact.parse.body.JsonBody`, then
:func:`~melious_impact.parse.row.finish_row`), so the row has the same columns and warnings.

Accepted: the raw body (``bytes``/``str``, exact), a ``dict``, or a pydantic object (the
OpenAI and Anthropic SDKs' responses, LiteLLM's ``ModelResponse``), dumped to JSON. A parsed
object has been through floats: amounts keep the float's shortest text, which equals what
was sent for up to 15 significant digits; such rows carry ``from_response_object`` in
``parse_warnings``. Timing columns (latency, time to first byte) and the wire size are
unknown here and stay null.

Rows of one response recorded twice this way count once (``dedup_key`` is
``response:<request id>``). A response that also passed through an instrumented client is a
second row: use ``record_response`` only where the transport does not capture.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from melious_impact.capture.exchange import new_record_id
from melious_impact.parse.body import JsonBody
from melious_impact.parse.endpoints import Kind, classify
from melious_impact.parse.fields import Warnings
from melious_impact.parse.row import ROW_HEADER_NAMES, ROW_TEMPLATE, RowContext, finish_row

_ENDPOINT_OF_OBJECT = {
    "chat.completion": "/v1/chat/completions",
    "chat.completion.chunk": "/v1/chat/completions",
    "text_completion": "/v1/completions",
}


def body_of(response: Any) -> tuple[bytes, bool]:
    """(JSON bytes, exact): the raw body as given, or the object dumped to JSON."""
    if isinstance(response, bytes | bytearray | memoryview):
        return bytes(response), True
    if isinstance(response, str):
        return response.encode("utf-8"), True
    if isinstance(response, Mapping):
        obj: Any = dict(response)
    elif callable(getattr(response, "model_dump", None)):
        obj = response.model_dump(mode="json")
    elif callable(getattr(response, "to_dict", None)):
        obj = response.to_dict()
    else:
        raise TypeError(
            "record_response takes a response body (bytes or str), a dict, or a pydantic response "
            f"object (OpenAI, Anthropic, LiteLLM); got {type(response).__name__}"
        )
    if not isinstance(obj, dict):
        raise TypeError(f"record_response: the response is not a JSON object ({type(obj).__name__})")
    return json.dumps(obj, default=str, ensure_ascii=False).encode("utf-8"), False


def endpoint_of(data: bytes) -> str:
    """The API path a response body comes from, read from its ``object``/``type``."""
    try:
        obj = json.loads(data)
    except ValueError:
        obj = None
    if isinstance(obj, dict):
        kind = obj.get("object")
        if isinstance(kind, str) and kind in _ENDPOINT_OF_OBJECT:
            return _ENDPOINT_OF_OBJECT[kind]
        if obj.get("type") == "message":
            return "/v1/messages"
        items = obj.get("data")
        if (
            kind == "list"
            and isinstance(items, list)
            and items
            and isinstance(items[0], dict)
            and items[0].get("object") == "embedding"
        ):
            return "/v1/embeddings"
        if "choices" in obj:
            return "/v1/chat/completions"
    raise ValueError(
        "record_response could not tell which endpoint this response comes from; "
        "pass endpoint='/v1/chat/completions' (or /v1/embeddings, /v1/messages, ...)"
    )


def response_row(
    response: Any,
    *,
    captured_at: datetime,
    tagged: tuple[str | None, str | None, str],
    endpoint: str | None = None,
    method: str = "POST",
    status: int = 200,
    model: str | None = None,
    stream: bool = False,
    latency_ms: float | None = None,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any] | None:
    """The row of one response (None when the endpoint gives no row, e.g. a models list)."""
    data, exact = body_of(response)
    path = endpoint if endpoint is not None else endpoint_of(data)
    ep = classify(method.upper(), path)
    if ep.kind is Kind.NONE or ep.kind is Kind.BATCH_OUTPUT:
        raise ValueError(f"record_response: {method} {path} is not an inference endpoint that gives a row")
    if latency_ms is not None and not latency_ms >= 0:
        raise ValueError(f"record_response: latency_ms must be a non-negative number, got {latency_ms!r}")
    w = Warnings()
    if not exact:
        w.add("from_response_object")
    row = ROW_TEMPLATE.copy()
    body = JsonBody()
    body.feed(data)
    body.fields(row, w, input_only=ep.input_only)
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    team, project, tags_json = tagged
    ctx = RowContext(
        captured_at=captured_at,
        record_id=new_record_id(),
        endpoint=path,
        method=method.upper(),
        status=status,
        kind=ep.kind.value,
        requested_model=model,
        sse=stream,
        latency_ms=latency_ms,  # type: ignore[arg-type]  # unknown here: stored as null
        ttft_ms=None,
        attempt=None,
        response_bytes=None,  # type: ignore[arg-type]  # not the wire size: unknown
        team=team,
        project=project,
        tags=tags_json,
        read_error=False,
        headers={k: lowered[k] for k in ROW_HEADER_NAMES if k in lowered},
    )
    out = finish_row(row, ctx, w, None)
    if out is not None and out.get("request_id"):
        out["dedup_key"] = f"response:{out['request_id']}"
    return out
