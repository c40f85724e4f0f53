"""prune_json: the journaled form of a small body parses to exactly the whole body's fields.

Capture journals a pruned body for the usual small JSON response and builds the row
later (parse/row.py). These tests pin that, whenever prune_json accepts a body, the
fields *and* warnings of ``apply_json(pruned)`` equal those of ``apply_json(body)``, on
the fast-path corpus (clean and unusual bodies) and on generated ones; that it declines
what it must (errors, nested blocks, malformed or non-UTF-8 bodies); and that nothing of
the completion survives pruning.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_parse_fast_path import CLEAN, UNUSUAL, chat

from melious_impact.parse.body import apply_json
from melious_impact.parse.fields import Warnings
from melious_impact.parse.prune import prune_json


def fields(data: bytes, input_only: bool) -> tuple[dict[str, Any], list[str], bool]:
    out: dict[str, Any] = {}
    w = Warnings()
    ok = apply_json(data, out, w, input_only=input_only)
    return out, list(w), ok


def assert_prunes_exactly(body: bytes, input_only: bool) -> bytes | None:
    pruned = prune_json(body)
    if pruned is None:
        return None
    whole, cut = fields(body, input_only), fields(pruned, input_only)
    assert cut == whole, (body, pruned)
    for k, v in whole[0].items():  # same types and the same digits for decimals
        assert type(cut[0][k]) is type(v), k
        if isinstance(v, Decimal):
            assert str(cut[0][k]) == str(v)
    return pruned


@pytest.mark.parametrize("input_only", [False, True])
@pytest.mark.parametrize("body", CLEAN + UNUSUAL)
def test_pruned_bodies_give_the_same_fields_and_warnings(body: str, input_only: bool) -> None:
    assert_prunes_exactly(body.encode(), input_only)


@pytest.mark.parametrize("body", CLEAN)
def test_every_clean_body_is_pruned(body: str) -> None:
    assert prune_json(body.encode()) is not None


@pytest.mark.parametrize(
    "body",
    [
        '{"error":{"code":"INFERENCE_3207","message":"echoes the secret prompt"}}',
        '{"error":null,"id":"x"}',  # any error key goes the whole way
        '{"meta":{"billed_units":{"input_tokens":3}},"results":[]}',
        '{"id":"x","data":{"environment_impact":{"energy_kwh":0.5}}}',  # nested: searched for
        '{"id":"x","wrapper":{"billing_cost":{"energy":"1"}}}',
        '{"id":"x","environment_impact":{"energy_kwh":NaN}}',  # Python's parser accepts NaN
        '{"id":"x"',  # cut short: the salvage path decides
        "[1, 2]",
        '"text"',
        "",
        '\ufeff{"id":"x"}',  # a byte order mark
    ],
)
def test_declines_what_only_the_whole_body_can_decide(body: str) -> None:
    assert prune_json(body.encode()) is None


def test_declines_invalid_utf8_that_msgspec_would_skip() -> None:
    body = b'{"id":"x","choices":[{"message":{"content":"\xff\xfe"}}],"usage":{"prompt_tokens":1}}'
    assert prune_json(body) is None  # Python's parser decides how to read it


def test_the_completion_never_survives_pruning() -> None:
    secret = "CANARY-completion-text-7f3a"
    body = json.dumps(
        chat(
            choices=[{"index": 0, "message": {"role": "assistant", "content": secret}}],
            system_fingerprint=secret,
        )
    ).encode()
    pruned = assert_prunes_exactly(body, False)
    assert pruned is not None and secret.encode() not in pruned
    assert b'"choices":[]' in pruned  # presence kept: it decides the response family


def test_key_order_and_duplicates_follow_pythons_parser() -> None:
    # The last duplicate wins in both parsers; keys may come in any order.
    body = b'{"usage":{"prompt_tokens":1},"model":"a","model":"b","id":"x","object":"chat.completion"}'
    pruned = assert_prunes_exactly(body, False)
    assert pruned is not None and fields(pruned, False)[0]["model"] == "b"


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["0.0008", "1e-3", " 5 ", "NaN", "-1", ""]),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["energy_kwh", "x", "credits"]), inner, max_size=3),
    ),
    max_leaves=8,
)
_KEYS = [
    "id",
    "model",
    "object",
    "type",
    "usage",
    "environment_impact",
    "billing_cost",
    "choices",
    "data",
    "wrapper",
    "error",
    "meta",
    "other",
]
_impact = st.fixed_dictionaries(
    {},
    optional={
        "energy_kwh": _scalars,
        "carbon_g_co2": _scalars,
        "water_liters": _scalars,
        "pue": _scalars,
        "renewable_percent": _scalars,
        "provider_id": _scalars,
        "location": _scalars,
    },
)
_usage = st.fixed_dictionaries(
    {},
    optional={
        "prompt_tokens": _scalars,
        "completion_tokens": _scalars,
        "input_tokens": _scalars,
        "output_tokens": _scalars,
        "total_tokens": _scalars,
        "cache_read_input_tokens": _scalars,
    },
)


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    body = draw(st.dictionaries(st.sampled_from(_KEYS), _values, max_size=6))
    if draw(st.booleans()):
        body["environment_impact"] = draw(_impact)
    if draw(st.booleans()):
        body["usage"] = draw(_usage)
    if draw(st.booleans()):
        body["billing_cost"] = draw(
            st.fixed_dictionaries(
                {}, optional={"energy": _scalars, "credits": _scalars, "paid_with": _scalars}
            )
        )
    return body


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies(), st.booleans(), st.booleans())
def test_generated_bodies_prune_exactly_or_decline(
    body: dict[str, Any], input_only: bool, spaced: bool
) -> None:
    text = json.dumps(body) if spaced else json.dumps(body, separators=(",", ":"))
    assert_prunes_exactly(text.encode(), input_only)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    result = prune_json(data)
    if result is not None:
        assert_prunes_exactly(data, False)
