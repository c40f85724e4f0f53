"""Complete JSON bodies of every inference endpoint: golden values per shape."""

from __future__ import annotations

import base64
import json
import random
from decimal import Decimal
from typing import Any

import pytest

from melious_impact.parse.body import FULL_PARSE_BYTES, JsonBody, extract_windows
from melious_impact.parse.fields import Warnings

IMPACT = (
    '{"energy_kwh": 0.00015, "carbon_g_co2": 0.06, "water_liters": 0.0002, "renewable_percent": 85,'
    ' "pue": 1.18, "provider_id": "ovhcloud", "location": "FR"}'
)
BILLING = '{"energy": "0.0008", "credits": 0.0000144, "paid_with": "credits"}'
IMPACT_FIELDS = {
    "energy_kwh": 0.00015,
    "carbon_g_co2": 0.06,
    "water_liters": 0.0002,
    "renewable_percent": 85.0,
    "pue": 1.18,
    "provider_id": "ovhcloud",
    "location": "FR",
    "impact_reported": True,
    "billing_energy": Decimal("0.0008"),
    "billing_credits": Decimal("0.0000144"),
    "billing_paid_with": "credits",
}


def parse(body: str | bytes, *, input_only: bool = False, pieces: int = 1) -> tuple[dict[str, Any], Warnings]:
    data = body.encode() if isinstance(body, str) else body
    jb = JsonBody()
    step = max(1, len(data) // pieces)
    for i in range(0, len(data), step):
        jb.feed(data[i : i + step])
    out: dict[str, Any] = {}
    w = Warnings()
    jb.fields(out, w, input_only=input_only)
    return out, w


def test_chat_completion() -> None:
    body = (
        '{"id": "chatcmpl-9", "object": "chat.completion", "created": 1700000000, "model": "glm-4.7",'
        ' "choices": [{"index": 0, "message": {"role": "assistant", "content": "usage: none", "tool_calls":'
        ' [{"id": "call_1", "type": "function"}]}, "finish_reason": "stop"}],'
        ' "usage": {"prompt_tokens": 6202, "completion_tokens": 31, "total_tokens": 6233,'
        ' "prompt_tokens_details": {"cached_tokens": 6144}, "completion_tokens_details": {"reasoning_tokens": 12}},'
        f' "environment_impact": {IMPACT}, "billing_cost": {BILLING}}}'
    )
    out, w = parse(body)
    assert out == {
        "api_shape": "openai",
        "request_id": "chatcmpl-9",
        "model": "glm-4.7",
        "input_tokens": 6202,
        "output_tokens": 31,
        "cached_tokens": 6144,
        "reasoning_tokens": 12,
        **IMPACT_FIELDS,
    }
    assert w == []


def test_anthropic_message_adds_cache_tokens_to_input() -> None:
    body = (
        '{"id": "msg_01", "type": "message", "role": "assistant", "model": "claude-opus-4",'
        ' "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",'
        ' "usage": {"input_tokens": 10, "output_tokens": "25", "cache_read_input_tokens": 100,'
        ' "cache_creation_input_tokens": 5},'
        f' "environment_impact": {IMPACT}, "billing_cost": {BILLING}}}'
    )
    out, w = parse(body)
    assert out["api_shape"] == "anthropic"
    assert (out["input_tokens"], out["output_tokens"], out["cached_tokens"]) == (115, 25, 100)
    assert out["request_id"] == "msg_01" and out["model"] == "claude-opus-4"
    assert out["billing_credits"] == Decimal("0.0000144")
    assert w == []


def test_embeddings_total_only_is_input_and_output_is_zero() -> None:
    body = (
        '{"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.1, -0.2]}],'
        ' "model": "bge-m3", "usage": {"total_tokens": 42}, "environment_impact": ' + IMPACT + "}"
    )
    out, _ = parse(body, input_only=True)
    assert (out["input_tokens"], out["output_tokens"]) == (42, 0)
    assert out["impact_reported"] is True and "billing_energy" not in out


def test_embeddings_prompt_tokens() -> None:
    out, _ = parse(
        '{"object": "list", "data": [], "usage": {"prompt_tokens": 8, "total_tokens": 8}}', input_only=True
    )
    assert (out["input_tokens"], out["output_tokens"]) == (8, 0)


def test_total_only_is_not_split_for_chat() -> None:
    out, _ = parse('{"object": "chat.completion", "usage": {"total_tokens": 42}}')
    assert "input_tokens" not in out and "output_tokens" not in out


def test_rerank_cohere_meta_and_usage_shapes() -> None:
    cohere = '{"id": "rr-1", "results": [{"index": 0, "relevance_score": 0.9}], "meta": {"billed_units": {"search_units": 1}, "tokens": {"input_tokens": 37, "output_tokens": 0}}}'
    out, _ = parse(cohere, input_only=True)
    assert (out["input_tokens"], out["output_tokens"], out["request_id"]) == (37, 0, "rr-1")
    out, _ = parse('{"results": [], "usage": {"total_tokens": "19"}}', input_only=True)
    assert (out["input_tokens"], out["output_tokens"]) == (19, 0)


def test_transcription_json_and_verbose_json() -> None:
    out, w = parse(
        '{"text": "Hallo", "language": "de", "duration": 2.1, "environment_impact": ' + IMPACT + "}"
    )
    assert out["energy_kwh"] == 0.00015 and out["impact_reported"] is True
    verbose = (
        '{"task": "transcribe", "text": "Hallo", "segments": [{"id": 0, "text": "Hallo", "avg_logprob": -0.2}],'
        ' "usage": {"type": "duration", "seconds": 3}, "billing_cost": ' + BILLING + "}"
    )
    out, w = parse(verbose)
    assert out["billing_energy"] == Decimal("0.0008")
    assert "input_tokens" not in out and out.get("request_id") is None
    assert w == []


def test_images_top_level_objects() -> None:
    b64 = base64.b64encode(b"\x89PNG" * 100).decode()
    out, _ = parse(
        '{"created": 1, "data": [{"b64_json": "' + b64 + '"}], "environment_impact": ' + IMPACT + "}"
    )
    assert out["impact_reported"] is True and out["carbon_g_co2"] == 0.06


@pytest.mark.parametrize(
    ("body", "code", "etype"),
    [
        (
            '{"error": {"code": "INFERENCE_3207", "message": "Input exceeds", "details": {"context_length": 131072}}}',
            "INFERENCE_3207",
            None,
        ),
        (
            '{"error": {"message": "no", "type": "authentication_error", "param": null, "code": "insufficient_permissions"}}',
            "insufficient_permissions",
            "authentication_error",
        ),
        (
            '{"error": {"message": "bad", "type": "invalid_request_error", "param": null, "code": null}}',
            "invalid_request_error",
            "invalid_request_error",
        ),
        (
            '{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}',
            "overloaded_error",
            "overloaded_error",
        ),
        ('{"error": {"code": 3207}}', "3207", None),
    ],
)
def test_error_envelopes(body: str, code: str, etype: str | None) -> None:
    out, _ = parse(body)
    assert out["error_code"] == code
    assert out["error_type"] == etype
    assert out.get("impact_reported") is None
    assert "Input exceeds" not in json.dumps(out, default=str)  # messages are never kept


def test_error_as_plain_string_keeps_nothing_of_it() -> None:
    out, w = parse('{"error": "model glm-x not found for prompt: secret"}')
    assert out.get("error_code") is None
    assert "error_without_code" in w
    assert "secret" not in json.dumps(out, default=str)


def test_numbers_as_strings_and_bad_values() -> None:
    body = (
        '{"usage": {"prompt_tokens": "12", "completion_tokens": -3},'
        ' "environment_impact": {"energy_kwh": "0.5", "carbon_g_co2": NaN, "water_liters": "abc", "pue": Infinity},'
        ' "billing_cost": {"energy": "-1", "credits": "0.000100", "paid_with": "credits"}}'
    )
    out, w = parse(body)
    assert out["input_tokens"] == 12 and "output_tokens" not in out
    assert out["energy_kwh"] == 0.5
    assert out["carbon_g_co2"] is None and out["water_liters"] is None and out["pue"] is None
    assert out["impact_reported"] is True
    assert out["billing_energy"] is None and out["billing_credits"] == Decimal("0.0001")
    assert set(w) == {
        "invalid_output_tokens",
        "invalid_carbon_g_co2",
        "invalid_water_liters",
        "invalid_pue",
        "invalid_billing_energy",
    }


def test_unusable_impact_is_not_reported() -> None:
    out, w = parse(
        '{"environment_impact": {"provider_id": "nebius", "energy_kwh": "n/a"}, "billing_cost": null}'
    )
    assert out.get("impact_reported") is None and out.get("provider_id") is None
    assert "unusable_environment_impact" in w
    out, w = parse('{"environment_impact": null, "billing_cost": "0.1"}')
    assert out.get("impact_reported") is None and "invalid_billing_cost" in w


def test_impact_nested_one_level_is_found() -> None:
    out, _ = parse('{"id": "x", "data": {"environment_impact": ' + IMPACT + "}}")
    assert out["impact_reported"] is True


def test_not_json_and_not_object() -> None:
    out, w = parse("Hallo Welt")
    assert out == {} and w == ["body_not_json"]
    out, w = parse("[1, 2]")
    assert w == ["body_not_object"]


def test_truncated_body_is_salvaged_when_the_objects_arrived() -> None:
    body = (
        '{"environment_impact": '
        + IMPACT
        + ', "usage": {"prompt_tokens": 5}, "choices": [{"message": {"content": "abc'
    )
    out, w = parse(body)
    assert out["impact_reported"] is True and out["input_tokens"] == 5
    assert w == ["body_malformed"]


def test_integer_too_long_for_python_falls_back() -> None:
    body = '{"id": "x", "created": ' + "9" * 5000 + ', "usage": {"prompt_tokens": 3, "completion_tokens": 4}}'
    out, _w = parse(body)
    assert (out["input_tokens"], out["output_tokens"], out["request_id"]) == (3, 4, "x")


def big_embeddings(n_vectors: int, dims: int) -> str:
    rnd = random.Random(1)
    data = [
        {"object": "embedding", "index": i, "embedding": [round(rnd.uniform(-1, 1), 8) for _ in range(dims)]}
        for i in range(n_vectors)
    ]
    head = json.dumps({"object": "list", "data": data, "model": "bge-m3"})[:-1]
    return (
        head + ', "usage": {"prompt_tokens": 800, "total_tokens": 800}, "id": "emb-1",'
        f' "environment_impact": {IMPACT}, "billing_cost": {BILLING}}}'
    )


@pytest.mark.parametrize("pieces", [1, 7, 300])
def test_one_megabyte_embeddings_uses_windows_with_exact_values(pieces: int) -> None:
    body = big_embeddings(100, 1024)
    assert len(body) > 1_000_000 > FULL_PARSE_BYTES
    out, w = parse(body, input_only=True, pieces=pieces)
    assert w == ["body_windowed"]
    assert out == {
        "api_shape": "openai",
        "request_id": "emb-1",
        "model": "bge-m3",
        "input_tokens": 800,
        "output_tokens": 0,
        **IMPACT_FIELDS,
    }


def test_multi_megabyte_base64_image() -> None:
    b64 = base64.b64encode(random.Random(2).randbytes(3_000_000)).decode()
    body = (
        '{"created": 1700000000, "model": "flux-schnell", "data": [{"b64_json": "' + b64 + '"}],'
        f' "environment_impact": {IMPACT}, "billing_cost": {BILLING}}}'
    )
    jb = JsonBody()
    data = body.encode()
    for i in range(0, len(data), 65536):
        jb.feed(data[i : i + 65536])
    # bounded memory: the body is not kept, only two windows
    assert jb._head is not None and len(jb._head) <= jb.window
    assert sum(len(p) for p in jb._tail) <= 2 * jb.window
    out: dict[str, Any] = {}
    jb.fields(out, Warnings())
    assert out["model"] == "flux-schnell" and out["billing_credits"] == Decimal("0.0000144")


def test_windows_prefer_last_tail_and_first_head_matches() -> None:
    head = b'{"id": "first", "model": "m1", "data": [1, 2'
    tail = b'3], "usage": {"prompt_tokens": 1}, "usage": {"prompt_tokens": 2}}'
    obj = extract_windows(head, tail)
    assert obj == {"id": "first", "model": "m1", "usage": {"prompt_tokens": 2}}


def test_sniffing_untyped_bodies() -> None:
    jb = JsonBody()
    jb.feed(b"\xef\xbb\xbf  \n")
    jb.feed(b'{"text": "x"}')
    assert jb.looks_like_object()
    jb = JsonBody()
    jb.feed(b"1\n00:00:00,000 --> 00:00:01,000\nHallo\n")
    assert not jb.looks_like_object()


@pytest.mark.parametrize("opener", ["[", '{"a": '])
def test_absurd_nesting_in_a_small_body_keeps_the_row(opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    body = '{"id": "deep", "x": ' + opener * 5_000 + "1" + closer * 5_000 + ', "usage": {"prompt_tokens": 3}}'
    assert len(body) < FULL_PARSE_BYTES
    out, w = parse(body)
    assert out["request_id"] == "deep" and out["input_tokens"] == 3
    assert w == ["body_malformed"]


def test_physically_meaningless_pue_and_share_are_rejected() -> None:
    body = (
        '{"environment_impact": {"energy_kwh": 0.1, "pue": 0.8, "renewable_percent": 140},'
        ' "billing_cost": null}'
    )
    out, w = parse(body)
    assert out["energy_kwh"] == 0.1 and out["pue"] is None and out["renewable_percent"] is None
    assert {"invalid_pue", "invalid_renewable_percent"} <= set(w)
    out, _ = parse('{"environment_impact": {"energy_kwh": 0.1, "pue": 1, "renewable_percent": 100}}')
    assert (out["pue"], out["renewable_percent"]) == (1.0, 100.0)


def _floats(seed: int, n: int) -> str:
    rnd = random.Random(seed)
    return json.dumps([[round(rnd.uniform(-1, 1), 8) for _ in range(128)] for _ in range(n)])


@pytest.mark.parametrize("chunk", [7, 1000, 4096, 65536, 10_000_000])
@pytest.mark.parametrize("where", ["between_arrays", "after_first_array", "before_last_array"])
def test_small_objects_between_large_arrays_are_found(chunk: int, where: str) -> None:
    # The impact sits far from both ends (neither window sees it): the bytes leaving the
    # windows are searched for it, whatever the chunking (keys split across chunks too).
    small = (
        f'"environment_impact": {IMPACT}, "billing_cost": {BILLING},'
        ' "usage": {"prompt_tokens": 77, "total_tokens": 77}'
    )
    first, second, third = _floats(1, 120), _floats(2, 120), _floats(3, 40)
    if where == "between_arrays":
        body = f'{{"object": "list", "data": {first}, {small}, "more": {second}, "model": "bge-m3"}}'
    elif where == "after_first_array":
        body = f'{{"object": "list", "data": {first}, {small}, "more": {second}, "last": {third}}}'
    else:
        body = f'{{"model": "bge-m3", "pad": {third}, {small}, "data": {first}, "more": {second}}}'
    data = body.encode()
    assert len(data) > 4 * FULL_PARSE_BYTES
    jb = JsonBody()
    for i in range(0, len(data), chunk):
        jb.feed(data[i : i + chunk])
    out: dict[str, Any] = {}
    w = Warnings()
    assert jb.fields(out, w, input_only=True)
    expected = json.loads(body)
    assert out["energy_kwh"] == expected["environment_impact"]["energy_kwh"]
    assert out["location"] == "FR" and out["impact_reported"] is True
    assert out["billing_credits"] == Decimal("0.0000144") and out["billing_paid_with"] == "credits"
    assert out["input_tokens"] == 77
    assert "body_windowed" in w.text()
    # bounded: two windows and a few short snippets, never the body
    assert len(jb._mid) <= 16 and all(len(m) <= 8 * 1024 for m in jb._mid)


def test_same_answer_as_a_whole_parse_wherever_the_objects_sit() -> None:
    # The windowed reader against the whole-body reader, for every position of the small
    # objects among large top-level arrays: the fields a row takes must agree.
    arrays = [f'"a{k}": {_floats(10 + k, 60)}' for k in range(5)]
    objects = [
        f'"environment_impact": {IMPACT}',
        f'"billing_cost": {BILLING}',
        '"usage": {"prompt_tokens": 5}',
    ]
    for pos in range(len(arrays) + 1):
        parts = arrays[:pos] + objects + arrays[pos:]
        data = ("{" + ", ".join(parts) + "}").encode()
        windowed, _ = parse(data, input_only=True, pieces=37)
        whole: dict[str, Any] = {}
        jb = JsonBody(full_max=len(data) + 1)
        jb.feed(data)
        jb.fields(whole, Warnings(), input_only=True)
        assert windowed == whole, pos


def test_a_later_snippet_and_the_tail_win_like_repeated_keys() -> None:
    # Python's JSON keeps the last of repeated keys; the snippets follow the same rule.
    early = '{"energy_kwh": 1.0, "location": "SE"}'
    late = '{"energy_kwh": 2.0, "location": "DE"}'
    body = (
        f'{{"a": {_floats(4, 80)}, "environment_impact": {early}, "b": {_floats(5, 80)},'
        f' "environment_impact": {late}, "c": {_floats(6, 80)}}}'
    )
    out, _ = parse(body, pieces=50)
    assert (out["energy_kwh"], out["location"]) == (2.0, "DE")
    obj = extract_windows(b"{", b'"environment_impact": {"energy_kwh": 3.0}}', [b'"environment_impact": {}'])
    assert obj["environment_impact"] == {"energy_kwh": "3.0"}  # numbers stay lexemes until typed


def test_snippets_stay_bounded_when_a_key_repeats_everywhere() -> None:
    noise = ", ".join(f'"x{k}": {{"usage": {{"prompt_tokens": {k}}}}}' for k in range(5000))
    data = f'{{"a": {_floats(7, 60)}, {noise}, "b": {_floats(8, 60)}}}'.encode()
    jb = JsonBody()
    for i in range(0, len(data), 4096):
        jb.feed(data[i : i + 4096])
    jb.fields({}, Warnings())
    assert len(jb._mid) == 16


def test_an_error_object_between_large_arrays_is_not_the_response_error() -> None:
    # An item's error in the middle of a large successful body must not turn the row
    # into an error; error responses are small and parsed whole.
    body = (
        f'{{"object": "list", "data": {_floats(11, 120)}, "item": {{"error": {{"code": "ITEM_1"}}}},'
        f' "more": {_floats(12, 120)}, "environment_impact": {IMPACT}}}'
    )
    out, _ = parse(body, pieces=40)
    assert out.get("error_code") is None and out["energy_kwh"] == 0.00015
