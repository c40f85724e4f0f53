"""POST /v1/chat/completions: OpenAI JSON and SSE shapes with the Melious objects."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from melious_impact.emulator import _text
from melious_impact.emulator._api import ApiError, Call, Reply, Served
from melious_impact.emulator._wire import SSE_DONE, dumps, sse_data

if TYPE_CHECKING:
    from melious_impact.emulator.core import Emulator

FINGERPRINT = "vllm-0.22.0-tp4-emulator"


def check_context(served: Served, input_tokens: int) -> None:
    ctx = served.model.context_length
    if ctx is not None and input_tokens > ctx:
        raise ApiError(
            "INFERENCE_3207",
            400,
            "Input exceeds the model's context window",
            {"context_length": ctx, "input_tokens": input_tokens},
        )


def plan_output(emu: Emulator, call: Call, served: Served, cap: Any) -> tuple[int, int, bool]:
    """(output tokens, reasoning tokens inside them, truncated)."""
    limit = cap if isinstance(cap, int) and not isinstance(cap, bool) else None
    out, truncated = _text.draw_output_tokens(call.rng, emu.config.mean_output_tokens, limit)
    reasoning = int(out * 0.3) if served.model.reasoning and out > 3 else 0
    return out, reasoning, truncated


def chat_completions(emu: Emulator, call: Call) -> Reply:
    req = call.json()
    served = emu.serve(call, req.get("model"), kinds=("chat",))
    messages = req.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError("VALIDATION_4002", 400, "Field 'messages' must be a non-empty array")
    for m in messages:
        if isinstance(m, dict) and m.get("role") == "developer":  # Melious rejects it (pi PR #8903)
            raise ApiError("VALIDATION_4003", 400, "Role 'developer' is not supported")
    input_tokens = _text.prompt_tokens(messages, tools=req.get("tools"))
    check_context(served, input_tokens)
    out, reasoning, truncated = plan_output(
        emu, call, served, req.get("max_tokens", req.get("max_completion_tokens"))
    )
    content_words = _text.words(call.rng, out - reasoning)
    reasoning_text = "".join(_text.words(call.rng, reasoning)) if reasoning else None
    finish = "length" if truncated else "stop"
    cid = call.new_id("chatcmpl-")
    extra = emu.impact_fields(call, served, input_tokens, out)
    usage = {
        "prompt_tokens": input_tokens,
        "completion_tokens": out,
        "total_tokens": input_tokens + out,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }
    if req.get("stream"):
        include_usage = bool((req.get("stream_options") or {}).get("include_usage"))
        events = _stream(
            emu, call, served, cid, content_words, reasoning_text, finish, usage, include_usage, extra
        )
        return Reply(events=events, content_type="text/event-stream; charset=utf-8")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(content_words)}
    if reasoning_text:
        message["reasoning_content"] = reasoning_text
    body = {
        "id": cid,
        "object": "chat.completion",
        "created": call.created,
        "model": served.echo_name,
        "system_fingerprint": FINGERPRINT,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": usage,
        **extra,
    }
    return Reply(body=dumps(body))


def _stream(
    emu: Emulator,
    call: Call,
    served: Served,
    cid: str,
    content_words: list[str],
    reasoning_text: str | None,
    finish: str,
    usage: dict[str, Any],
    include_usage: bool,
    extra: dict[str, Any],
) -> Iterator[bytes]:
    base = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": call.created,
        "model": served.echo_name,
        "system_fingerprint": FINGERPRINT,
    }
    placement = emu.config.stream_impact
    if placement == "final":
        placement = "usage" if include_usage else "finish"
    if placement == "usage" and not include_usage:
        placement = "none"  # asked for the usage chunk, and there is none

    def chunk(delta: dict[str, Any], finish_reason: str | None = None, **more: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return sse_data({**base, "choices": [choice], **more})

    yield chunk({"role": "assistant", "content": ""})
    if reasoning_text:
        yield chunk({"reasoning_content": reasoning_text})
    step = max(1, emu.config.words_per_event)
    for i in range(0, len(content_words), step):
        yield chunk({"content": "".join(content_words[i : i + step])})
    yield chunk({}, finish, **(extra if placement == "finish" else {}))
    if include_usage:
        yield sse_data({**base, "choices": [], "usage": usage, **(extra if placement == "usage" else {})})
    if placement == "trailing" and extra:
        yield sse_data({**base, "choices": [], **extra})
    yield SSE_DONE
