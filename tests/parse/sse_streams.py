"""Canned SSE streams shared by the parse and capture tests (what Melious-like servers send)."""

from __future__ import annotations

import json
from typing import Any

IMPACT = {
    "energy_kwh": 0.00031,
    "carbon_g_co2": 0.0124,
    "water_liters": 0.00055,
    "renewable_percent": 72,
    "pue": 1.2,
    "provider_id": "nebius",
    "location": "FI",
}
BILLING_TEXT = '{"energy": "0.0031", "credits": "0.00000031", "paid_with": "energy"}'


def openai_stream(
    n_deltas: int = 5,
    *,
    impact_on: str = "usage",
    done: bool = True,
    model: str = "glm-4.7",
    text: str = "tok",
) -> bytes:
    """An OpenAI-shaped chat stream with include_usage; impact on the usage chunk (or elsewhere)."""
    base = {"id": "chatcmpl-s1", "object": "chat.completion.chunk", "created": 1700000000, "model": model}
    events: list[str] = []
    events.append(
        json.dumps(
            {
                **base,
                "choices": [
                    {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
                ],
                "usage": None,
            }
        )
    )
    for i in range(n_deltas):
        events.append(
            json.dumps(
                {
                    **base,
                    "choices": [{"index": 0, "delta": {"content": f"{text}{i} "}, "finish_reason": None}],
                    "usage": None,
                }
            )
        )
    finish: dict[str, Any] = {
        **base,
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "usage": None,
    }
    usage: dict[str, Any] = {
        **base,
        "choices": [],
        "usage": {"prompt_tokens": 17, "completion_tokens": n_deltas, "total_tokens": 17 + n_deltas},
    }
    extra = f', "environment_impact": {json.dumps(IMPACT)}, "billing_cost": {BILLING_TEXT}'
    finish_s, usage_s = json.dumps(finish), json.dumps(usage)
    if impact_on == "finish":
        finish_s = finish_s[:-1] + extra + "}"
    elif impact_on == "usage":
        usage_s = usage_s[:-1] + extra + "}"
    events += [finish_s, usage_s]
    if impact_on == "trailing":
        events.append(json.dumps({**base, "choices": []})[:-1] + extra + "}")
    out = "".join(f"data: {e}\n\n" for e in events)
    if done:
        out += "data: [DONE]\n\n"
    return out.encode()


def anthropic_stream(*, impact_on: str = "message_delta", stop: bool = True) -> bytes:
    """An Anthropic-shaped messages stream; impact on message_delta, message_stop or a custom event."""
    extra = f', "environment_impact": {json.dumps(IMPACT)}, "billing_cost": {BILLING_TEXT}'
    ev: list[tuple[str, str]] = [
        (
            "message_start",
            json.dumps(
                {
                    "type": "message_start",
                    "message": {
                        "id": "msg_s1",
                        "type": "message",
                        "role": "assistant",
                        "model": "claude-sonnet-4",
                        "content": [],
                        "stop_reason": None,
                        "usage": {"input_tokens": 21, "output_tokens": 1, "cache_read_input_tokens": 4},
                    },
                }
            ),
        ),
        (
            "content_block_start",
            json.dumps(
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
            ),
        ),
        ("ping", json.dumps({"type": "ping"})),
        (
            "content_block_delta",
            json.dumps(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": 'Hello "usage": 1'},
                }
            ),
        ),
        ("content_block_stop", json.dumps({"type": "content_block_stop", "index": 0})),
    ]
    delta = json.dumps(
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 9}}
    )
    stop_s = json.dumps({"type": "message_stop"})
    if impact_on == "message_delta":
        delta = delta[:-1] + extra + "}"
    elif impact_on == "message_stop":
        stop_s = stop_s[:-1] + extra + "}"
    ev.append(("message_delta", delta))
    if impact_on == "custom":
        ev.append(("melious_impact", "{" + extra[2:] + "}"))
    if stop:
        ev.append(("message_stop", stop_s))
    return "".join(f"event: {name}\ndata: {data}\n\n" for name, data in ev).encode()
