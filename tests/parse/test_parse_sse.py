"""Incremental SSE parsing: both event shapes, impact anywhere, robust framing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sse_streams import IMPACT, anthropic_stream, openai_stream

from melious_impact.parse.sse import SSEParser

EXPECTED_IMPACT = {
    "energy_kwh": 0.00031,
    "carbon_g_co2": 0.0124,
    "water_liters": 0.00055,
    "renewable_percent": 72.0,
    "pue": 1.2,
    "provider_id": "nebius",
    "location": "FI",
    "impact_reported": True,
    "billing_energy": Decimal("0.0031"),
    "billing_credits": Decimal("0.00000031"),
    "billing_paid_with": "energy",
}


def run(data: bytes, step: int | None = None) -> SSEParser:
    p = SSEParser()
    step = step or len(data) or 1
    for i in range(0, len(data), step):
        p.feed(data[i : i + step])
    p.close()
    return p


@pytest.mark.parametrize("impact_on", ["usage", "finish", "trailing"])
def test_openai_stream_impact_wherever_it_rides(impact_on: str) -> None:
    p = run(openai_stream(5, impact_on=impact_on))
    assert p.done and not p.errored
    assert p.out == {
        "api_shape": "openai",
        "request_id": "chatcmpl-s1",
        "model": "glm-4.7",
        "input_tokens": 17,
        "output_tokens": 5,
        **EXPECTED_IMPACT,
    }
    assert list(p.warnings) == []


def test_openai_stream_without_impact_invents_none() -> None:
    p = run(openai_stream(3, impact_on="none"))
    assert p.done
    assert "impact_reported" not in p.out and "energy_kwh" not in p.out
    assert (p.out["input_tokens"], p.out["output_tokens"]) == (17, 3)


@pytest.mark.parametrize("impact_on", ["message_delta", "message_stop", "custom"])
def test_anthropic_stream(impact_on: str) -> None:
    p = run(anthropic_stream(impact_on=impact_on))
    assert p.done
    assert p.out == {
        "api_shape": "anthropic",
        "request_id": "msg_s1",
        "model": "claude-sonnet-4",
        "input_tokens": 25,
        "output_tokens": 9,
        "cached_tokens": 4,
        **EXPECTED_IMPACT,
    }


def test_last_usable_impact_wins_and_a_bad_one_does_not_erase() -> None:
    data = (
        b'data: {"id": "a", "environment_impact": {"energy_kwh": 1.0, "provider_id": "x"}}\n\n'
        b'data: {"environment_impact": {"energy_kwh": 2.0, "provider_id": "y"}}\n\n'
        b'data: {"environment_impact": {"energy_kwh": "bogus"}}\n\n'
        b"data: [DONE]\n\n"
    )
    p = run(data)
    assert (p.out["energy_kwh"], p.out["provider_id"]) == (2.0, "y")
    assert "unusable_environment_impact" in p.warnings


@pytest.mark.parametrize("step", [1, 2, 3, 5, 17, 64, 1000])
def test_split_anywhere_gives_the_same_result(step: int) -> None:
    for data in (openai_stream(40), anthropic_stream(impact_on="custom")):
        whole = run(data)
        assert run(data, step).out == whole.out
        crlf = data.replace(b"\n", b"\r\n")
        assert run(crlf, step).out == whole.out
        assert run(crlf, step).done


def test_comments_multiline_data_cr_only_and_no_space() -> None:
    data = (
        b": keep-alive\r\r"
        b'event:message_start\rdata:{"type": "message_start",\rdata: "message": {"id": "m", "model": "x",'
        b' "usage": {"input_tokens": 3}}}\r\r'
        b'data:{"type":"message_delta","usage":{"output_tokens":4}}\r\r'
        b"event: message_stop\r\r"
    )
    p = run(data, 3)
    assert p.out["input_tokens"] == 3 and p.out["output_tokens"] == 4 and p.out["request_id"] == "m"
    assert p.done  # message_stop announced by the event line alone


def test_text_that_mentions_markers_is_not_decoded_as_usage() -> None:
    data = openai_stream(3, impact_on="none", text='\\"usage\\": {\\"prompt_tokens\\": 999} [DONE]')
    p = run(data.replace(b"data: [DONE]\n\n", b""))
    assert p.out["input_tokens"] == 17
    assert not p.done  # a [DONE] inside content is not the end of the stream


def test_truncated_stream_is_not_done() -> None:
    data = openai_stream(10)
    cut = data[: len(data) // 2]
    p = run(cut)
    assert not p.done
    assert p.out["request_id"] == "chatcmpl-s1"
    assert "impact_reported" not in p.out


def test_mid_stream_errors() -> None:
    openai_err = (
        openai_stream(2, done=False)
        + b'data: {"error": {"message": "x", "type": "server_error", "code": "INFERENCE_3103"}}\n\n'
    )
    p = run(openai_err)
    assert p.errored and p.out["error_code"] == "INFERENCE_3103" and p.out["error_type"] == "server_error"
    anth = (
        anthropic_stream(stop=False)
        + b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n'
    )
    p = run(anth)
    assert p.errored and p.out["error_code"] == "overloaded_error"


def test_bad_json_in_a_marked_event_is_a_warning() -> None:
    p = run(b'data: {"id": "x"}\n\ndata: {"usage": {"prompt_tokens": 1}\n\ndata: [DONE]\n\n')
    assert "sse_bad_json" in p.warnings and p.done


def test_oversized_event_is_skipped_with_bounded_memory() -> None:
    from melious_impact.parse import sse

    p = SSEParser()
    p.feed(b'data: {"id": "a"}\n\n')
    big = b"data: " + b"x" * 1024
    for _ in range(sse.MAX_EVENT_BYTES // 1024 + 2):
        p.feed(big)
        assert p._carry_size <= sse.MAX_EVENT_BYTES
    p.feed(b'\n\ndata: {"usage": {"prompt_tokens": 5}}\n\ndata: [DONE]\n\n')
    p.close()
    assert "sse_event_too_large" in p.warnings
    assert p.out["input_tokens"] == 5 and p.done


def test_impact_in_first_event_only() -> None:
    data = b'data: {"id": "x", "environment_impact": ' + str(IMPACT).replace("'", '"').encode() + b"}\n\n"
    p = run(data)
    assert p.out["impact_reported"] is True and not p.done


def test_only_marked_events_are_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Content deltas (with include_usage's ``"usage": null``) are never JSON-decoded."""
    from melious_impact.parse import sse

    decoded = []
    real = sse.loads
    monkeypatch.setattr(sse, "loads", lambda data: decoded.append(data) or real(data))
    for spaced in (True, False):
        decoded.clear()
        data = openai_stream(300)
        if not spaced:
            data = data.replace(b'": ', b'":').replace(b", ", b",")
        p = run(data, 97)
        assert p.out["output_tokens"] == 300 and p.done
        assert len(decoded) == 2  # the first event (id, model) and the usage chunk


def test_a_later_billing_block_without_amounts_keeps_the_earlier_amounts() -> None:
    from melious_impact.parse.sse import SSEParser

    def chunk(**extra: object) -> bytes:
        import json

        body = {"id": "s", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": []}
        return f"data: {json.dumps({**body, **extra})}\n\n".encode()

    p = SSEParser()
    p.feed(chunk(billing_cost={"energy": "0.5", "credits": "0.00005", "paid_with": "credits"}))
    p.feed(chunk(billing_cost={"paid_with": "credits"}, usage={"prompt_tokens": 3, "completion_tokens": 2}))
    p.feed(b"data: [DONE]\n\n")
    p.close()
    assert str(p.out["billing_credits"]).rstrip("0") == "0.00005"
    assert p.out["billing_paid_with"] == "credits"
