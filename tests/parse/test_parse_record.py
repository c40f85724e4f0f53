"""Compact records: the compact JSON of a body gives the row the whole body gives, and holds
nothing of a prompt or a completion.

Bodies come from three families that are not the emulator's: the corpus of usual and
unusual bodies, random bodies from pools of odd values, and random JSON objects whose
members are any JSON value, each written with other spellings (separators, whitespace,
member order, extra members carrying text) than the parse tests use.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from body_corpus import CLEAN, UNUSUAL, bodies
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_parse_properties import responses

from melious_impact.parse.body import apply_json
from melious_impact.parse.fields import Warnings
from melious_impact.parse.record import FORM_FIELDS, FORM_JSON, compact_json, row_of
from melious_impact.parse.row import ROW_TEMPLATE

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SECRET = "s3cr3t-PROMPT-text"


def parsed(body: bytes, input_only: bool) -> tuple[dict[str, Any], list[str]]:
    row, w = ROW_TEMPLATE.copy(), Warnings()
    apply_json(body, row, w, input_only=input_only, verbatim=True)
    return row, list(w)


def assert_same_row(body: bytes) -> bytes | None:
    compact = compact_json(body)
    if compact is None:
        return None
    for input_only in (False, True):
        assert parsed(compact, input_only) == parsed(body, input_only), (body, compact)
    return compact


def spellings(obj: dict[str, Any], rnd: random.Random) -> list[bytes]:
    """The same object written several ways a server might write it, with text members."""
    items = list(obj.items())
    rnd.shuffle(items)
    extra = {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": SECRET}}],
        "content": [{"type": "text", "text": SECRET}],
        "data": [{"embedding": [0.1, 0.2], "text": SECRET}],
        "system_fingerprint": "fp",
        "prompt_echo": SECRET,
    }
    out = [
        json.dumps(obj, allow_nan=True).encode(),
        json.dumps(obj, allow_nan=True, separators=(",", ":")).encode(),
        json.dumps(dict(items), allow_nan=True, indent=2).encode(),
        json.dumps({**extra, **obj}, allow_nan=True, ensure_ascii=False).encode(),
        json.dumps({**obj, **extra}, allow_nan=True).encode().replace(b", ", b" ,\n\t "),
    ]
    return out


@pytest.mark.parametrize("text", CLEAN + UNUSUAL)
def test_the_corpus_parses_the_same_from_its_compact_json(text: str) -> None:
    assert_same_row(text.encode())


def test_the_usual_bodies_are_kept_compact() -> None:
    # A compact body is the point of the record: the usual ones must not fall back.
    assert all(compact_json(text.encode()) is not None for text in CLEAN)


@SETTINGS
@given(bodies(), st.randoms(use_true_random=False))
def test_random_bodies_parse_the_same_from_their_compact_json(text: str, rnd: random.Random) -> None:
    obj = json.loads(text)
    for body in spellings(obj, rnd):
        compact = assert_same_row(body)
        assert compact is None or SECRET.encode() not in compact


@SETTINGS
@given(responses, st.randoms(use_true_random=False))
def test_any_json_object_parses_the_same_from_its_compact_json(
    obj: dict[str, Any], rnd: random.Random
) -> None:
    for body in spellings(obj, rnd):
        assert_same_row(body)


@pytest.mark.parametrize(
    "body",
    [
        {"error": {"code": "x", "type": "t", "message": SECRET}},
        {"error": SECRET},
        {"type": "error", "error": {"type": "overloaded_error", "message": SECRET, "param": SECRET}},
        {"id": "x", "choices": [{"message": {"content": SECRET, "tool_calls": [{"arguments": SECRET}]}}]},
        {"id": "x", "output": [{"content": [{"text": SECRET}]}], "usage": {"input_tokens": 1}},
        {"results": [{"document": {"text": SECRET}}], "meta": {"billed_units": {"search_units": 1}}},
        {"text": SECRET, "usage": {"type": "duration", "seconds": 3}},
    ],
)
def test_compact_json_keeps_no_prompt_completion_or_error_message(body: dict[str, Any]) -> None:
    text = json.dumps(body).encode()
    compact = assert_same_row(text)
    assert compact is not None and SECRET.encode() not in compact


@pytest.mark.parametrize(
    "text",
    [
        b'{"id":"x","data":{"environment_impact":{"energy_kwh":0.5}}}',  # nested: searched whole
        b'{"id":"x","environment_impact":{"energy_kwh":NaN}}',
        b"\xef\xbb\xbf{}",
        b"[1]",
        b'{"x":' + b"[" * 3000 + b"]" * 3000 + b"}",
        b'{"id":"x"',
        b"",
    ],
)
def test_bodies_compact_json_cannot_stand_for_are_parsed_whole(text: bytes) -> None:
    assert compact_json(text) is None


def _record(form: str | None, body: Any, **over: Any) -> tuple[Any, ...]:
    fields: dict[str, Any] = {
        "captured_at": 1_700_000_000_123_456,
        "record_id": "0" * 32,
        "endpoint": "/v1/chat/completions",
        "method": "POST",
        "status": 200,
        "kind": "chat",
        "requested": "glm-4.7:eco",
        "sse": False,
        "latency_ms": 12.5,
        "ttft_ms": 3.0,
        "attempt": 0,
        "response_bytes": 700,
        "team": "search",
        "project": None,
        "tags": "{}",
        "read_error": False,
        "headers": {b"x-request-id": b"req_1", b"x-ratelimit-limit-requests": b"600"},
        "form": form,
        "body": body,
        "warnings": (),
        "after": (),
        "completed": None,
    }
    fields.update(over)
    return tuple(fields.values())


def test_row_of_builds_the_row_from_context_and_body() -> None:
    body = json.dumps({"id": "c1", "model": "glm-4.7", "usage": {"prompt_tokens": 3, "completion_tokens": 2}})
    row = row_of(_record(FORM_JSON, compact_json(body.encode()), after=("body_incomplete",)))
    assert row is not None
    assert (row["model"], row["flavor"], row["requested_model"]) == ("glm-4.7", "eco", "glm-4.7:eco")
    assert (row["input_tokens"], row["output_tokens"], row["request_id"]) == (3, 2, "c1")
    assert row["captured_at"].isoformat() == "2023-11-14T22:13:20.123456+00:00"
    assert (row["ratelimit_limit_requests"], row["team"]) == (600, "search")
    assert row["parse_warnings"] == "body_incomplete"


def test_row_of_restores_exact_decimals_of_parsed_fields() -> None:
    part = {"billing_energy": "0.000000000000000001", "billing_credits": None, "impact_reported": False}
    row = row_of(_record(FORM_FIELDS, part))
    assert row is not None and str(row["billing_energy"]) == "1E-18"


def test_a_parser_bug_when_the_row_is_built_keeps_a_thin_row(monkeypatch: pytest.MonkeyPatch) -> None:
    from melious_impact.parse import record

    def explode(*a: Any, **k: Any) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(record, "apply_json", explode)
    row = row_of(_record(FORM_JSON, b'{"id":"x"}'))
    assert row is not None and row["parse_warnings"] == "parse_error" and row["status_code"] == 200


def test_impact_headers_apply_under_the_body() -> None:
    headers = {b"x-melious-energy-kwh": b"0.5", b"x-melious-location": b"DE"}
    body = compact_json(b'{"id":"x","environment_impact":{"energy_kwh":0.25,"location":"FR"}}')
    row = row_of(_record(FORM_JSON, body, headers=headers))
    assert row is not None and (row["energy_kwh"], row["location"]) == (0.25, "FR")
    row = row_of(_record(None, None, headers=headers))
    assert row is not None and (row["energy_kwh"], row["location"]) == (0.5, "DE")
