"""POST /v1/messages and /v1/messages/count_tokens: the Anthropic shapes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from melious_impact.emulator import _text
from melious_impact.emulator._api import ApiError, Call, Reply, Served
from melious_impact.emulator._chat import check_context, plan_output
from melious_impact.emulator._wire import dumps, sse_event

if TYPE_CHECKING:
    from melious_impact.emulator.core import Emulator


def _require_version(call: Call) -> None:
    if not call.headers.get("anthropic-version"):
        raise ApiError("VALIDATION_4004", 400, "Header 'anthropic-version' is required")


def count_tokens(emu: Emulator, call: Call) -> Reply:
    _require_version(call)
    req = call.json()
    if not isinstance(req.get("messages"), list):
        raise ApiError("VALIDATION_4002", 400, "Field 'messages' is required")
    n = _text.prompt_tokens(req["messages"], system=req.get("system"), tools=req.get("tools"))
    return Reply(body=dumps({"input_tokens": n}))  # free: no impact, no billing


def messages(emu: Emulator, call: Call) -> Reply:
    _require_version(call)
    req = call.json()
    served = emu.serve(call, req.get("model"), kinds=("chat",))
    msgs = req.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise ApiError("VALIDATION_4002", 400, "Field 'messages' must be a non-empty array")
    if not isinstance(req.get("max_tokens"), int):
        raise ApiError("VALIDATION_4002", 400, "Field 'max_tokens' is required")
    input_tokens = _text.prompt_tokens(msgs, system=req.get("system"), tools=req.get("tools"))
    check_context(served, input_tokens)
    out, _reasoning, truncated = plan_output(emu, call, served, req["max_tokens"])
    words = _text.words(call.rng, out)
    stop = "max_tokens" if truncated else "end_turn"
    mid = call.new_id("msg_")
    extra = emu.impact_fields(call, served, input_tokens, out)
    if req.get("stream"):
        return Reply(
            events=_stream(emu, served, mid, words, stop, input_tokens, extra),
            content_type="text/event-stream; charset=utf-8",
        )
    body = {
        "id": mid,
        "type": "message",
        "role": "assistant",
        "model": served.echo_name,
        "content": [{"type": "text", "text": "".join(words)}],
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": out,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
        **extra,
    }
    return Reply(body=dumps(body))


def _stream(
    emu: Emulator,
    served: Served,
    mid: str,
    words: list[str],
    stop: str,
    input_tokens: int,
    extra: dict[str, Any],
) -> Iterator[bytes]:
    placement = emu.config.anthropic_impact
    start: dict[str, Any] = {
        "id": mid,
        "type": "message",
        "role": "assistant",
        "model": served.echo_name,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": 1,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }
    yield sse_event("message_start", {"type": "message_start", "message": start})
    yield sse_event(
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    )
    yield sse_event("ping", {"type": "ping"})
    step = max(1, emu.config.words_per_event)
    for i in range(0, len(words), step):
        yield sse_event(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "".join(words[i : i + step])},
            },
        )
    yield sse_event("content_block_stop", {"type": "content_block_stop", "index": 0})
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": stop, "stop_sequence": None},
        "usage": {"output_tokens": len(words)},
    }
    if placement == "message_delta":
        delta.update(extra)
    yield sse_event("message_delta", delta)
    stop_event: dict[str, Any] = {"type": "message_stop"}
    if placement == "message_stop":
        stop_event.update(extra)
    yield sse_event("message_stop", stop_event)
