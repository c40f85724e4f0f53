"""Property tests: the parsers never raise, whatever arrives, and splitting never matters."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from api_keys import BILLING_KEYS, IMPACT_KEYS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sse_streams import anthropic_stream, openai_stream

from melious_impact.parse.batch import parse_batch_output
from melious_impact.parse.body import JsonBody
from melious_impact.parse.extract import apply_response
from melious_impact.parse.fields import Warnings, to_decimal
from melious_impact.parse.sse import SSEParser

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Values of every JSON type, including the awkward ones.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["NaN", "-1", "1e400", "0.0008", " 12 ", "", "∞", "١٢"]),
)
json_values = st.recursive(
    scalars,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=10,
)
FIELD_NAMES = [
    *IMPACT_KEYS,
    *BILLING_KEYS,
    "prompt_tokens",
    "completion_tokens",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cache_read_input_tokens",
    "code",
    "type",
    "cached_tokens",
]
field_dicts = st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=8)
responses = st.fixed_dictionaries(
    {},
    optional={
        "id": json_values,
        "model": json_values,
        "usage": st.one_of(field_dicts, json_values),
        "environment_impact": st.one_of(field_dicts, json_values),
        "billing_cost": st.one_of(field_dicts, json_values),
        "error": st.one_of(field_dicts, json_values),
        "type": st.sampled_from(["message", "error", "x"]),
        "meta": json_values,
    },
)

COLUMN_TYPES = {
    "input_tokens": int,
    "output_tokens": int,
    "cached_tokens": int,
    "reasoning_tokens": int,
    "energy_kwh": float,
    "carbon_g_co2": float,
    "water_liters": float,
    "renewable_percent": float,
    "pue": float,
    "provider_id": str,
    "location": str,
    "billing_energy": Decimal,
    "billing_credits": Decimal,
    "billing_paid_with": str,
    "error_code": str,
    "error_type": str,
    "request_id": str,
    "model": str,
    "impact_reported": bool,
    "api_shape": str,
}


def check_types(out: dict[str, Any]) -> None:
    for k, v in out.items():
        assert k in COLUMN_TYPES, k
        if v is None:
            continue
        assert type(v) is COLUMN_TYPES[k], (k, v)
        if isinstance(v, float):
            assert math.isfinite(v) and v >= 0
        if isinstance(v, int) and not isinstance(v, bool):
            assert 0 <= v < 2**63
        if isinstance(v, Decimal):
            assert v.is_finite() and v >= 0 and v.as_tuple().exponent == -18


def serialize(obj: Any) -> str:
    # allow_nan: NaN/Infinity literals are what a broken server would send
    return json.dumps(obj, allow_nan=True, default=str)


@SETTINGS
@given(responses, st.booleans())
def test_any_response_object_gives_clean_typed_fields(obj: dict[str, Any], input_only: bool) -> None:
    out: dict[str, Any] = {}
    apply_response(out, json.loads(serialize(obj), parse_float=str), Warnings(), input_only=input_only)
    check_types(out)
    if out.get("impact_reported"):
        assert any(out.get(k) is not None for k in ("energy_kwh", "carbon_g_co2", "water_liters"))


@SETTINGS
@given(st.binary(max_size=3000), st.integers(min_value=1, max_value=400))
def test_json_body_never_raises_on_bytes(data: bytes, step: int) -> None:
    jb = JsonBody(full_max=1024, window=256)
    for i in range(0, len(data), step):
        jb.feed(data[i : i + step])
    out: dict[str, Any] = {}
    jb.fields(out, Warnings())
    check_types(out)


@SETTINGS
@given(responses, st.integers(min_value=0, max_value=5000), st.integers(min_value=1, max_value=999))
def test_json_body_truncated_or_windowed_never_raises(obj: dict[str, Any], cut: int, step: int) -> None:
    data = serialize(obj).encode()[:cut]
    for full_max in (10**6, 64):
        jb = JsonBody(full_max=full_max, window=128)
        for i in range(0, len(data), step):
            jb.feed(data[i : i + step])
        out: dict[str, Any] = {}
        jb.fields(out, Warnings())
        check_types(out)


@SETTINGS
@given(st.binary(max_size=3000), st.lists(st.integers(min_value=0, max_value=3000), max_size=8))
def test_sse_parser_never_raises_on_bytes(data: bytes, cuts: list[int]) -> None:
    p = SSEParser()
    prev = 0
    for c in [*sorted(cuts), len(data)]:
        p.feed(data[prev:c])
        prev = max(prev, c)
    p.close()
    check_types(p.out)
    assert "sse_parser_error" not in p.warnings


stream_bodies = st.one_of(
    st.builds(
        openai_stream,
        st.integers(0, 30),
        impact_on=st.sampled_from(["usage", "finish", "trailing", "none"]),
        done=st.booleans(),
        text=st.text(max_size=30),
    ),
    st.builds(
        anthropic_stream,
        impact_on=st.sampled_from(["message_delta", "message_stop", "custom", "none"]),
        stop=st.booleans(),
    ),
)


@SETTINGS
@given(stream_bodies, st.lists(st.integers(min_value=0, max_value=10_000), max_size=12), st.booleans())
def test_sse_split_points_and_line_endings_do_not_matter(data: bytes, cuts: list[int], crlf: bool) -> None:
    if crlf:
        data = data.replace(b"\n", b"\r\n")
    whole = SSEParser()
    whole.feed(data)
    whole.close()
    split = SSEParser()
    prev = 0
    for c in [*sorted(cuts), len(data)]:
        split.feed(data[prev:c])
        prev = max(prev, c)
    split.close()
    assert split.out == whole.out
    assert split.done == whole.done
    check_types(split.out)


@SETTINGS
@given(stream_bodies, st.integers(min_value=0, max_value=10_000))
def test_sse_truncated_streams_never_raise(data: bytes, cut: int) -> None:
    p = SSEParser()
    p.feed(data[:cut])
    p.close()
    check_types(p.out)


@SETTINGS
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=200),
            responses.map(serialize).map(str.encode),
            st.builds(
                lambda r, c: json.dumps(
                    {"id": c, "custom_id": c, "response": {"body": r}}, default=str
                ).encode(),
                responses,
                st.text(max_size=5),
            ),
        ),
        max_size=10,
    )
)
def test_batch_reader_never_raises(lines: list[bytes]) -> None:
    result = parse_batch_output(b"\n".join(lines))
    for row in result.rows:
        check_types({k: row[k] for k in COLUMN_TYPES if k in row})
        assert row["source"] == "batch" and row["dedup_key"]


@SETTINGS
@given(st.decimals(min_value=0, max_value=Decimal("1e19"), allow_nan=False, places=18))
def test_decimal_strings_are_kept_exactly(d: Decimal) -> None:
    w = Warnings()
    assert to_decimal(str(d), "billing_energy", w) == d
    assert to_decimal(format(d, "f"), "billing_energy", w) == d
    assert list(w) == []
