"""Requested model and stream flag from request bodies; response headers with impact."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from melious_impact.parse.fields import Warnings
from melious_impact.parse.headers import apply_impact_headers, has_impact_headers
from melious_impact.parse.request import attempt_from_header, model_and_stream, model_from_form


def test_model_and_stream_from_json() -> None:
    body = json.dumps(
        {
            "messages": [{"role": "user", "content": 'say "model": "evil"'}],
            "tools": [
                {
                    "type": "function",
                    "function": {"parameters": {"properties": {"model": {"type": "string"}}}},
                }
            ],
            "model": "glm-4.7:eco",
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    ).encode()
    assert model_and_stream(body) == ("glm-4.7:eco", True)
    assert model_and_stream(b'{"model":"bge-m3","input":"x"}') == ("bge-m3", False)
    assert model_and_stream(b'{"stream": false, "model": "a\\"b"}') == ('a"b', False)


def test_large_body_and_junk() -> None:
    big = (
        b'{"messages": [{"role": "user", "content": "'
        + b"A" * 5_000_000
        + b'"}], "model": "qwen3-vl", "stream": true}'
    )
    assert model_and_stream(big) == ("qwen3-vl", True)
    assert model_and_stream(b"") == (None, False)
    assert model_and_stream(b"\x00\xff garbage") == (None, False)


def test_form_fields_and_attempt() -> None:
    assert model_from_form([("language", "de"), ("model", b"whisper-large-v3")]) == "whisper-large-v3"
    assert model_from_form([("language", "de")]) is None
    assert attempt_from_header("2") == 2
    assert attempt_from_header(None) is None
    assert attempt_from_header("x") is None
    assert attempt_from_header("-1") is None


def test_impact_headers_per_field_and_json() -> None:
    headers = {
        "content-type": "audio/mpeg",
        "x-melious-energy-kwh": "0.00002",
        "x-melious-carbon-g-co2": "0.001",
        "x-melious-provider-id": "ovhcloud",
        "x-melious-billing-energy": "0.0002",
        "x-melious-billing-paid-with": "energy",
    }
    assert has_impact_headers(headers)
    out: dict[str, object] = {}
    w = Warnings()
    apply_impact_headers(out, headers, w)
    assert (
        out["energy_kwh"] == 0.00002 and out["provider_id"] == "ovhcloud" and out["impact_reported"] is True
    )
    assert str(out["billing_energy"]) == "0.000200000000000000" and out["billing_paid_with"] == "energy"
    assert "impact_from_headers" in w

    out = {}
    apply_impact_headers(
        out,
        {
            "x-environment-impact": '{"energy_kwh": 0.5, "location": "FR"}',
            "x-billing-cost": '{"credits": "0.01"}',
        },
        Warnings(),
    )
    assert (
        out["energy_kwh"] == 0.5
        and out["location"] == "FR"
        and str(out["billing_credits"]) == "0.010000000000000000"
    )


def test_no_impact_headers() -> None:
    assert not has_impact_headers({"content-type": "audio/mpeg", "content-length": "10"})
    out: dict[str, object] = {}
    apply_impact_headers(out, {"x-melious-trace": "abc", "x-environment-impact": "not json"}, w := Warnings())
    assert out == {} and "invalid_impact_header" in w


# The request side: model_and_stream's substring shortcut agrees with the regex search.
REQUESTS = [
    b'{"model":"glm-4.7","messages":[]}',
    b'{"model": "glm-4.7:eco", "stream": true}',
    b'{"messages":[{"role":"model","content":"x"}],"model":"m"}',
    b'{"tools":[{"model":{"type":"object"}}],"model": "m"}',
    b'{"model" : "spaced", "stream" : true}',
    b'{"model":"esc\\"aped","stream":false}',
    b'{"model":"\\u00e9t\\u00e9"}',
    b'{"model":"' + b"x" * 511 + b'"}',
    b'{"model":"' + b"x" * 512 + b'"}',
    b'{"model":"\xff\xfe"}',
    b'{"model":"unterminated',
    b'{"model": 5, "x": {"model": "inner"}}',
    b'{"prompt": "say \\"model\\": \\"no\\"", "model": "yes"}',
    b'{"model":""}',
    b'{"model"',
    b'{"model":',
    b'"model"',
    b"",
    b'{"stream":true}',
]


@pytest.mark.parametrize("body", REQUESTS)
def test_request_model_shortcut_matches_the_regex_search(body: bytes) -> None:
    from melious_impact.parse.request import _STREAM_TRUE, _search_model, model_and_stream

    expected = (_search_model(body), _STREAM_TRUE.search(body) is not None) if body else (None, False)
    assert model_and_stream(body) == expected


@settings(max_examples=300, deadline=None)
@given(
    model=st.one_of(st.text(max_size=20), st.integers(), st.none()),
    before=st.sampled_from([None, {"model": {"a": 1}}, "model", {"role": "model"}]),
    compact=st.booleans(),
    stream=st.sampled_from([None, True, False, "true"]),
)
def test_request_model_shortcut_matches_the_regex_search_random(
    model: Any, before: Any, compact: bool, stream: Any
) -> None:
    from melious_impact.parse.request import _STREAM_TRUE, _search_model, model_and_stream

    body: dict[str, Any] = {}
    if before is not None:
        body["messages"] = [before]
    body["model"] = model
    if stream is not None:
        body["stream"] = stream
    data = json.dumps(body, separators=(",", ":") if compact else None, ensure_ascii=compact).encode()
    assert model_and_stream(data) == (_search_model(data), _STREAM_TRUE.search(data) is not None)
