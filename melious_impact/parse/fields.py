"""Shared field helpers: tolerant numbers, exact decimals, headers, model flavors.

Melious (and the servers that imitate it) send numbers as JSON numbers or as numeric
strings, and sometimes send nonsense. Every helper here takes whatever arrived and
returns a clean value or ``None``; it never raises. A value that was present but
unusable adds a warning code to a :class:`Warnings` list so the row records *why* a
column is null, instead of the row being dropped.

JSON is decoded with :func:`loads`, which keeps every float as its lexeme (``str``), so
billing amounts become exact :class:`~decimal.Decimal` values without ever passing
through a binary float.
"""

from __future__ import annotations

import decimal
import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import msgspec

from melious_impact.records import DECIMAL_PRECISION, DECIMAL_SCALE

#: Largest value an int64 column can hold (Arrow/DuckDB BIGINT).
INT64_MAX = 2**63 - 1


# Decimal context for quantizing billing amounts (as records.quantize_money does): the
# default context has 28 digits, too few for DECIMAL(38, 18).
_MONEY_CONTEXT = decimal.Context(prec=DECIMAL_PRECISION + 2, rounding=decimal.ROUND_HALF_EVEN)
_QUANTUM = Decimal(1).scaleb(-DECIMAL_SCALE)


class Warnings(list[str]):
    """Warning codes in order of first appearance (duplicates are ignored)."""

    def add(self, code: str) -> None:
        if code not in self:
            self.append(code)

    def text(self) -> str:
        return ",".join(self)


# Floats are kept as their lexemes (exact decimals later); ints use the fast native
# path. NaN/Infinity arrive as strings and are rejected by the field helpers. An int
# too long for Python to convert makes the decode fail: callers then fall back to
# extracting the objects they need (see body.extract_windows).
_DECODER = json.JSONDecoder(parse_float=str, parse_constant=str)
# The same decode in C for strict JSON (msgspec hands every float over as its lexeme
# too). What it refuses, the json module above decides: NaN and Infinity, invalid
# UTF-8, lone surrogates, ints beyond Python's digit limit, a byte order mark.
_C_DECODER = msgspec.json.Decoder(float_hook=str)
_C_ERRORS = (msgspec.DecodeError, msgspec.ValidationError)


def loads(text: str | bytes) -> Any:
    """``json.loads`` keeping floats as their lexemes and NaN/Infinity as strings.

    Raises ``ValueError`` (``json.JSONDecodeError``) on malformed JSON, like ``json.loads``.
    """
    try:
        return _C_DECODER.decode(text)
    except _C_ERRORS:
        pass
    if not isinstance(text, str):
        data = bytes(text)
        if data[:3] == b"\xef\xbb\xbf":  # a UTF-8 byte order mark
            data = data[3:]
        text = data.decode("utf-8", "replace")
    # raw_decode on the stripped text: json.loads would run two regex matches per call.
    text = text.strip(" \t\r\n")
    obj, end = _DECODER.raw_decode(text)
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return obj


def raw_decode(text: str, index: int) -> tuple[Any, int]:
    """Decode one JSON value starting at ``index`` (same number rules as :func:`loads`)."""
    return _DECODER.raw_decode(text, index)


def to_int(value: Any, name: str, warnings: Warnings) -> int | None:
    """A non-negative int64 from an int, an integral float/lexeme or a numeric string."""
    if value is None:
        return None
    if type(value) is int:
        if 0 <= value <= INT64_MAX:
            return value
    elif type(value) is str and value.isascii() and value.isdigit() and len(value) < 19:
        return int(value)  # the usual numeric string, without a Decimal
    elif isinstance(value, str | Decimal | float) and not isinstance(value, bool):
        try:
            d = Decimal(value.strip() if isinstance(value, str) else value)
        except (decimal.InvalidOperation, ValueError):
            d = None
        if d is not None and d.is_finite() and d == d.to_integral_value() and 0 <= d <= INT64_MAX:
            return int(d)
    warnings.add(f"invalid_{name}")
    return None


def to_float(value: Any, name: str, warnings: Warnings) -> float | None:
    """A finite, non-negative float from a number, a lexeme or a numeric string."""
    if value is None:
        return None
    if not isinstance(value, bool):
        try:
            f = float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError, OverflowError):
            f = math.nan
        if math.isfinite(f) and f >= 0.0:
            return f
    warnings.add(f"invalid_{name}")
    return None


def to_decimal(value: Any, name: str, warnings: Warnings) -> Decimal | None:
    """An exact, finite, non-negative ``Decimal`` quantized to the stored scale.

    Strings and JSON lexemes are converted digit for digit. A binary float (only from
    callers that decoded JSON themselves) goes through its shortest ``repr``, which is
    the lexeme that produced it. Digits beyond the 18th decimal place are rounded and
    flagged ``rounded_<name>``; a value too large for DECIMAL(38, 18) is rejected.
    """
    if value is None:
        return None
    d: Decimal | None = None
    if isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except decimal.InvalidOperation:
            d = None
    elif isinstance(value, Decimal):
        d = value
    elif type(value) is int:
        d = Decimal(value)
    elif type(value) is float:
        d = Decimal(repr(value))
    if d is not None and d.is_finite() and not d.is_signed():
        # quantize() with an explicit context (no localcontext() per value: this runs on
        # the caller's path); the check on adjusted() is quantize_money's 38-digit bound.
        if d.adjusted() < DECIMAL_PRECISION - DECIMAL_SCALE:
            q = d.quantize(_QUANTUM, context=_MONEY_CONTEXT)
            if q != d:
                warnings.add(f"rounded_{name}")
            return q
    elif d is not None and d.is_zero():  # "-0" is a zero, not a negative amount
        return to_decimal(abs(d), name, warnings)
    warnings.add(f"invalid_{name}")
    return None


def to_str(value: Any, name: str, warnings: Warnings, *, max_len: int = 256) -> str | None:
    """A non-empty string (numbers are accepted and kept as their text)."""
    if value is None:
        return None
    if type(value) is str and 0 < len(value) <= max_len and value.strip() is value:
        # The usual case: nothing to strip (CPython's strip() then gives the same object;
        # elsewhere the copy below gives an equal result).
        return value
    if type(value) is int:
        value = str(value)
    if isinstance(value, str):
        text: str = value.strip()
        if text and len(text) <= max_len:
            return text
    warnings.add(f"invalid_{name}")
    return None


# Both families: the documented X-RateLimit-*-Requests and the observed bare form.
_LIMIT_HEADERS = ("x-ratelimit-limit-requests", "x-ratelimit-limit")
_REMAINING_HEADERS = ("x-ratelimit-remaining-requests", "x-ratelimit-remaining")


def ratelimit_from_headers(headers: Mapping[str, str], warnings: Warnings) -> tuple[int | None, int | None]:
    """(limit, remaining) requests from either rate-limit header family (lowercased names)."""
    limit = remaining = None
    for name in _LIMIT_HEADERS:
        if name in headers:
            limit = to_int(headers[name], "ratelimit_limit_requests", warnings)
            break
    for name in _REMAINING_HEADERS:
        if name in headers:
            remaining = to_int(headers[name], "ratelimit_remaining_requests", warnings)
            break
    return limit, remaining


#: Response headers that may carry a request id when the body has no ``id``.
REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-melious-request-id", "openai-request-id")


def request_id_from_headers(headers: Mapping[str, str]) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value.strip()[:256] or None
    return None
