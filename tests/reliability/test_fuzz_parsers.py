"""Fuzzing campaign (hypothesis) over the sans-I/O parsers: JSON bodies and SSE streams.

Invariants, whatever the input (random bytes, broken SSE framing, deep JSON, huge numbers,
NaN, negative values, wrong types, unicode):

- nothing raises out of the parser API the transport calls (``feed``/``close``/``fields``);
- values that make no physical sense are rejected on the row (``None`` + a warning code),
  never stored as truth: energy, carbon and water finite and >= 0, renewable share in
  [0, 100], PUE >= 1, token counts whole and >= 0, money finite, >= 0 and within
  DECIMAL(38, 18);
- SSE parsing does not depend on how the bytes were cut into pieces.

``MELIOUS_FUZZ_EXAMPLES`` raises the number of examples per property (default 150, derandomized
so CI is reproducible; set ``MELIOUS_FUZZ_RANDOM=1`` for a fresh random campaign).
"""

from __future__ import annotations

import decimal
import json
import math
import os
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from api_keys import BILLING_KEYS, IMPACT_KEYS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

body_mod = pytest.importorskip("melious_impact.parse.body", reason="parse/body.py not written yet")
sse_mod = pytest.importorskip("melious_impact.parse.sse", reason="parse/sse.py not written yet")
from melious_impact.parse.fields import Warnings  # noqa: E402

EXAMPLES = int(os.environ.get("MELIOUS_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("MELIOUS_FUZZ_RANDOM"),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
COUNTS: Counter[str] = Counter()


# ------------------------------------------------------------------ strategies

weird_numbers = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        ["NaN", "-Infinity", "1e400", "-0", "0.1e-500", "12345678901234567890123.5", "0x10", "", " 1 "]
    ),
    st.decimals(allow_nan=False, allow_infinity=False, places=25).map(str),
)
weird_values = st.recursive(
    st.one_of(st.none(), st.booleans(), weird_numbers, st.text(max_size=20)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
impact_doc = st.fixed_dictionaries(
    {},
    optional={k: weird_values for k in IMPACT_KEYS},
)
billing_doc = st.fixed_dictionaries({}, optional={k: weird_values for k in BILLING_KEYS})
usage_doc = st.fixed_dictionaries(
    {},
    optional={
        k: weird_values
        for k in ("prompt_tokens", "completion_tokens", "input_tokens", "output_tokens", "total_tokens")
    },
)
response_doc = st.fixed_dictionaries(
    {},
    optional={
        "id": weird_values,
        "model": weird_values,
        "object": st.sampled_from(["chat.completion", "chat.completion.chunk", "list", "message"]),
        "type": st.sampled_from(["message", "message_delta", "message_stop", "error"]),
        "usage": st.one_of(usage_doc, weird_values),
        "environment_impact": st.one_of(impact_doc, weird_values),
        "billing_cost": st.one_of(billing_doc, weird_values),
        "error": st.one_of(
            st.fixed_dictionaries({"code": weird_values, "message": st.text(max_size=30)}), weird_values
        ),
        "choices": st.lists(st.dictionaries(st.text(max_size=6), weird_values, max_size=3), max_size=2),
    },
)


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, allow_nan=True, ensure_ascii=False, default=str).encode("utf-8")


# ------------------------------------------------------------------ invariants


def assert_physical(out: dict[str, Any]) -> None:
    """No physically meaningless value is stored as truth."""
    for name in ("energy_kwh", "carbon_g_co2", "water_liters"):
        v = out.get(name)
        assert v is None or (isinstance(v, float) and math.isfinite(v) and v >= 0), (name, v)
    share = out.get("renewable_percent")
    assert share is None or (isinstance(share, float) and 0 <= share <= 100), ("renewable_percent", share)
    pue = out.get("pue")
    assert pue is None or (isinstance(pue, float) and math.isfinite(pue) and pue >= 1), ("pue", pue)
    for name in ("input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens"):
        v = out.get(name)
        assert v is None or (type(v) is int and v >= 0), (name, v)
    for name in ("billing_energy", "billing_credits"):
        v = out.get(name)
        if v is not None:
            assert isinstance(v, Decimal) and v.is_finite() and v >= 0, (name, v)
            with decimal.localcontext(decimal.Context(prec=80)):  # the default 28 digits are too few
                assert v == v.quantize(Decimal(1).scaleb(-18)) and len(v.as_tuple().digits) <= 38, (name, v)
    for name in ("request_id", "model", "provider_id", "location", "billing_paid_with", "error_code"):
        v = out.get(name)
        assert v is None or isinstance(v, str), (name, v)


def parse_body(data: bytes, pieces: list[int] | None = None) -> tuple[dict[str, Any], Warnings]:
    body = body_mod.JsonBody()
    start = 0
    for cut in sorted(pieces or []):
        body.feed(data[start:cut])
        start = cut
    body.feed(data[start:])
    out: dict[str, Any] = {}
    w = Warnings()
    body.fields(out, w)
    return out, w


def parse_sse(data: bytes, cuts: list[int] | None = None) -> Any:
    parser = sse_mod.SSEParser()
    start = 0
    for cut in sorted(set(cuts or [])):
        parser.feed(data[start:cut])
        start = cut
    parser.feed(data[start:])
    parser.close()
    return parser


def sse_stream(docs: list[Any], anthropic: bool) -> bytes:
    parts = []
    for doc in docs:
        if anthropic:
            etype = doc.get("type", "message_delta") if isinstance(doc, dict) else "message_delta"
            parts.append(b"event: " + str(etype).encode() + b"\ndata: " + _dumps(doc) + b"\n\n")
        else:
            parts.append(b"data: " + _dumps(doc) + b"\n\n")
    if not anthropic:
        parts.append(b"data: [DONE]\n\n")
    return b"".join(parts)


# ------------------------------------------------------------------ JSON bodies


@FUZZ
@given(response_doc, st.lists(st.integers(min_value=0, max_value=4000), max_size=5))
def test_body_fields_are_physical(doc: dict[str, Any], cuts: list[int]) -> None:
    COUNTS["body_docs"] += 1
    data = _dumps(doc)
    out, _ = parse_body(data, [c for c in cuts if c <= len(data)])
    assert_physical(out)
    # the same body in one piece gives the same fields
    assert parse_body(data)[0] == out


@FUZZ
@given(st.binary(max_size=3000))
def test_body_random_bytes(data: bytes) -> None:
    COUNTS["body_bytes"] += 1
    out, _ = parse_body(data)
    assert_physical(out)


@FUZZ
@given(st.integers(min_value=1, max_value=40), st.sampled_from([b"[", b'{"a":']))
def test_body_deep_nesting_small(depth_k: int, opener: bytes) -> None:
    """Nesting deep enough to exhaust Python's recursion limit, in a small body (< 48 KB)."""
    COUNTS["body_deep"] += 1
    depth = depth_k * 1000
    closer = b"]" if opener == b"[" else b"}"
    data = (
        b'{"id": "x", "deep": ' + opener * depth + b"1" + closer * depth + b', "usage": {"prompt_tokens": 3}}'
    )
    out, _ = parse_body(data)  # must not raise (RecursionError included)
    assert_physical(out)


def test_body_deep_nesting_large() -> None:
    COUNTS["body_deep"] += 1
    data = b'{"id": "x", "deep": ' + b"[" * 300_000 + b"]" * 300_000 + b"}"
    out, _ = parse_body(data)
    assert_physical(out)


@pytest.mark.parametrize(
    ("impact", "bad"),
    [
        ({"energy_kwh": -0.5, "carbon_g_co2": 1.0}, "energy_kwh"),
        ({"energy_kwh": "NaN", "carbon_g_co2": 1.0}, "energy_kwh"),
        ({"energy_kwh": 1e400, "carbon_g_co2": 1.0}, "energy_kwh"),
        ({"energy_kwh": 1.0, "carbon_g_co2": "-Infinity"}, "carbon_g_co2"),
        ({"energy_kwh": 1.0, "water_liters": [1]}, "water_liters"),
        ({"energy_kwh": 1.0, "pue": 0.5}, "pue"),
        ({"energy_kwh": 1.0, "pue": -1.2}, "pue"),
        ({"energy_kwh": 1.0, "renewable_percent": 250}, "renewable_percent"),
        ({"energy_kwh": 1.0, "renewable_percent": -3}, "renewable_percent"),
    ],
)
def test_meaningless_impact_values_are_rejected_with_a_warning(impact: dict[str, Any], bad: str) -> None:
    """The column is null, the row keeps the rest, and parse_warnings names the column."""
    COUNTS["body_docs"] += 1
    raw = json.dumps({"id": "r1", "environment_impact": impact}).replace("Infinity", "1e999")
    raw = raw.replace('"NaN"', "NaN").replace("1e+400", "1e400")
    out, w = parse_body(raw.encode())
    assert out.get(bad) is None, f"{bad}={out.get(bad)!r} stored from {impact}"
    assert any(bad in code for code in w), f"no warning names {bad}: {list(w)}"
    good = "energy_kwh" if bad != "energy_kwh" else "carbon_g_co2"
    assert out.get(good) == float(impact[good])  # the rest of the block is kept
    assert out.get("request_id") == "r1"


@pytest.mark.parametrize(
    "billing",
    [{"credits": "-0.01", "paid_with": "credits"}, {"credits": "NaN"}, {"energy": "1e60"}, {"energy": -3}],
)
def test_meaningless_billing_is_rejected(billing: dict[str, Any]) -> None:
    COUNTS["body_docs"] += 1
    out, w = parse_body(json.dumps({"id": "r", "billing_cost": billing}).encode())
    assert out.get("billing_credits") is None and out.get("billing_energy") is None
    assert any(code.startswith("invalid_billing") for code in w)


# ------------------------------------------------------------------ SSE streams


@FUZZ
@given(st.lists(response_doc, min_size=1, max_size=6), st.booleans(), st.data())
def test_sse_independent_of_chunking(
    docs: list[dict[str, Any]], anthropic: bool, data: st.DataObject
) -> None:
    COUNTS["sse_streams"] += 1
    stream = sse_stream(docs, anthropic)
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(stream)), max_size=12))
    whole = parse_sse(stream)
    pieces = parse_sse(stream, cuts)
    assert pieces.out == whole.out
    assert list(pieces.warnings) == list(whole.warnings)
    assert "sse_parser_error" not in whole.warnings, f"parser bug on {stream[:300]!r}"
    assert_physical(whole.out)


@FUZZ
@given(st.lists(response_doc, min_size=1, max_size=4), st.data())
def test_sse_broken_framing(docs: list[dict[str, Any]], data: st.DataObject) -> None:
    """CR/LF mixes, missing blank lines, garbage between events, truncation anywhere."""
    COUNTS["sse_streams"] += 1
    stream = bytearray(sse_stream(docs, anthropic=False))
    for _ in range(data.draw(st.integers(min_value=1, max_value=6))):
        op = data.draw(st.sampled_from(["insert", "delete", "crlf", "truncate", "dup"]))
        pos = data.draw(st.integers(min_value=0, max_value=len(stream)))
        if op == "insert":
            stream[pos:pos] = data.draw(
                st.sampled_from(
                    [b"\n", b"\r", b"\r\n", b":", b"data:", b"event: x\n", b"\xff\xfe", b"\x00", b"{"]
                )
            )
        elif op == "delete":
            del stream[pos : pos + data.draw(st.integers(min_value=1, max_value=8))]
        elif op == "crlf":
            stream = bytearray(bytes(stream).replace(b"\n", b"\r\n"))
        elif op == "truncate":
            del stream[pos:]
        else:
            stream[pos:pos] = stream[max(0, pos - 20) : pos]
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(stream)), max_size=8))
    parser = parse_sse(bytes(stream), cuts)
    assert "sse_parser_error" not in parser.warnings, f"parser bug on {bytes(stream)[:300]!r}"
    assert_physical(parser.out)


@FUZZ
@given(st.binary(max_size=4000), st.lists(st.integers(min_value=0, max_value=4000), max_size=8))
def test_sse_random_bytes(data: bytes, cuts: list[int]) -> None:
    COUNTS["sse_bytes"] += 1
    parser = parse_sse(data, [c for c in cuts if c <= len(data)])
    assert "sse_parser_error" not in parser.warnings
    assert_physical(parser.out)


def test_sse_deep_nesting_event() -> None:
    COUNTS["sse_streams"] += 1
    deep = b"[" * 50_000 + b"]" * 50_000
    stream = (
        b'data: {"id": "c1", "model": "m", "choices": []}\n\n'
        b'data: {"deep": ' + deep + b"}\n\n"
        b'data: {"id": "c1", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2},'
        b' "environment_impact": {"energy_kwh": 0.5}}\n\n'
        b"data: [DONE]\n\n"
    )
    parser = parse_sse(stream)
    # the deep event is skipped; the events around it still count
    assert parser.out.get("input_tokens") == 5
    assert parser.out.get("energy_kwh") == 0.5


# ------------------------------------------------------------------ batch output files

batch_line = st.one_of(
    st.builds(
        lambda i, cid, doc, status: {
            "id": i,
            "custom_id": cid,
            "response": {"status_code": status, "request_id": cid, "body": doc},
            "error": None,
        },
        weird_values,
        weird_values,
        response_doc,
        weird_values,
    ),
    weird_values,
)


def _jsonl(lines: list[Any], junk: list[bytes]) -> bytes:
    out = [_dumps(line) for line in lines] + junk
    return b"\n".join(out) + b"\n"


@FUZZ
@given(
    st.lists(batch_line, max_size=6),
    st.lists(st.one_of(st.binary(max_size=40), st.just(b'{"id": "x", "response": ')), max_size=3),
)
def test_batch_output_lines(lines: list[Any], junk: list[bytes]) -> None:
    batch = pytest.importorskip("melious_impact.parse.batch")
    COUNTS["batch_files"] += 1
    data = _jsonl(lines, junk)
    first = batch.parse_batch_output(data, batch_id="file-1")
    again = batch.parse_batch_output(data, batch_id="file-1")
    for row in first.rows:
        assert_physical(row)
        assert row["source"] == "batch"
    # the same file seen twice gives the same identities: importing it twice counts once
    assert [r["dedup_key"] for r in first.rows] == [r["dedup_key"] for r in again.rows]


def test_fuzz_figures(figures: dict[str, Any]) -> None:
    """Runs last in this module (pytest keeps file order): reports how many inputs were fuzzed."""
    figures.update(inputs_fuzzed=sum(COUNTS.values()), **dict(COUNTS), examples_per_property=EXAMPLES)
    assert sum(COUNTS.values()) > 0
