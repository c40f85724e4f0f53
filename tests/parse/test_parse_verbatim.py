"""Verbatim impact and billing texts: found in every shape of body, and parsed again exactly.

Also the decoder under everything: the C decode and the json module's agree wherever the C
one accepts the text.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from body_corpus import CLEAN, UNUSUAL, bodies
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from melious_impact.parse.body import JsonBody, apply_json
from melious_impact.parse.fields import _DECODER, Warnings, loads
from melious_impact.parse.reparse import reparse
from melious_impact.parse.sse import SSEParser
from melious_impact.parse.verbatim import find_verbatim
from melious_impact.records import empty_row

IMPACT = '{"energy_kwh": 0.00015, "carbon_g_co2":0.06 ,"provider_id":"ovh\\u00e9"}'
BILLING = '{ "energy":"0.0008","credits": 8E-8, "paid_with":"energy" }'


def _row(body: bytes) -> dict[str, Any]:
    row = empty_row()
    w = Warnings()
    apply_json(body, row, w, verbatim=True)
    row["parse_warnings"] = w.text()
    return row


def test_small_body_keeps_the_bytes_as_sent() -> None:
    body = (
        '{"id":"c","object":"chat.completion","environment_impact": '
        + IMPACT
        + ',"billing_cost":'
        + BILLING
        + "}"
    ).encode()
    row = _row(body)
    assert row["environment_impact_json"] == IMPACT  # spacing, escapes and number forms kept
    assert row["billing_cost_json"] == BILLING
    assert row["carbon_g_co2"] == 0.06 and row["provider_id"] == "ovhé"


def test_not_kept_unless_asked() -> None:
    row = empty_row()
    apply_json(('{"environment_impact":' + IMPACT + "}").encode(), row, Warnings())
    assert row["environment_impact_json"] is None and row["energy_kwh"] == 0.00015


def test_nested_and_decoy_keys() -> None:
    # A decoy inside a completion is escaped and never matches; a nested block is found.
    decoy = json.dumps({"content": '"environment_impact": {"energy_kwh": 9}'})
    body = ('{"choices":[' + decoy + '],"data":{"environment_impact":' + IMPACT + "}}").encode()
    row = _row(body)
    assert row["environment_impact_json"] == IMPACT and row["energy_kwh"] == 0.00015


def test_windowed_body_keeps_the_tail_objects() -> None:
    floats = ",".join(["0.123456789"] * 40_000)
    body = (
        '{"object":"list","data":[{"embedding":[' + floats + ']}],"environment_impact":' + IMPACT + "}"
    ).encode()
    target = JsonBody(verbatim=True)
    for i in range(0, len(body), 65536):
        target.feed(body[i : i + 65536])
    row, w = empty_row(), Warnings()
    target.fields(row, w)
    assert "body_windowed" in w and row["environment_impact_json"] == IMPACT


def test_stream_keeps_the_last_object_and_says_when_there_were_several() -> None:
    events = [
        '{"id":"c","object":"chat.completion.chunk","choices":[{"delta":{"content":"hi"}}]}',
        '{"choices":[],"environment_impact":' + IMPACT + ',"billing_cost":{"energy":"1"}}',
        '{"choices":[],"billing_cost":{"paid_with":"energy"}}',
    ]
    parser = SSEParser(verbatim=True)
    parser.feed("".join(f"data: {e}\n\n" for e in events).encode() + b"data: [DONE]\n\n")
    parser.close()
    assert parser.out["environment_impact_json"] == IMPACT
    assert parser.out["billing_cost_json"] == '{"paid_with":"energy"}'
    assert "repeated_billing_cost" in parser.warnings
    row = empty_row()
    row.update(parser.out)
    row["parse_warnings"] = ",".join(parser.warnings)
    assert reparse(row) == {}  # columns that came from two blocks are left as they are


@pytest.mark.parametrize("body", CLEAN + UNUSUAL)
def test_corpus_texts_are_the_bodies_own_and_reparse_changes_nothing(body: str) -> None:
    row = _row(body.encode())
    for column in ("environment_impact_json", "billing_cost_json"):
        if row[column] is not None:
            assert row[column] in body
    assert reparse(row) == {}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies())
def test_reparse_of_random_bodies_is_exact(body: str) -> None:
    row = _row(body.encode())
    assert reparse(row) == {}
    # A row whose columns were lost is brought back to what parsing gives.
    damaged = dict(row, energy_kwh=None, billing_energy=None, impact_reported=False, parse_warnings="")
    repaired = dict(damaged, **reparse(damaged))
    for column in ("energy_kwh", "impact_reported", "billing_energy", "billing_credits", "pue"):
        if row["environment_impact_json"] is not None or column.startswith("billing"):
            if column.startswith("billing") and row["billing_cost_json"] is None:
                continue
            assert repaired[column] == row[column], column


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(value=_JSON, spaced=st.booleans())
def test_the_c_decode_agrees_with_the_json_module(value: Any, spaced: bool) -> None:
    text = json.dumps(value, separators=(", ", ": ") if spaced else (",", ":"))
    assert loads(text.encode()) == _DECODER.raw_decode(text)[0]


def test_what_the_c_decode_refuses_the_json_module_decides() -> None:
    assert loads(b'{"a": NaN}') == {"a": "NaN"}
    assert loads(b'\xef\xbb\xbf{"a": 1.50}') == {"a": "1.50"}
    assert loads(b'{"a": "\xff"}') == {"a": "\ufffd"}
    with pytest.raises(ValueError):
        loads(b'{"a": ' + b"9" * 5000 + b"}")


def test_find_verbatim_wants_the_same_value() -> None:
    assert find_verbatim(b'{"billing_cost": {"energy": "1"}}', "billing_cost", {"energy": "2"}) is None
    assert (
        find_verbatim('x "billing_cost" : {"energy": "1"} y', "billing_cost", {"energy": "1"})
        == '{"energy": "1"}'
    )
