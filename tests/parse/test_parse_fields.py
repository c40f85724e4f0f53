"""Field helpers: tolerant numbers, exact decimals, flavors, rate-limit and request-id headers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from melious_impact.parse.fields import (
    Warnings,
    ratelimit_from_headers,
    request_id_from_headers,
    to_decimal,
    to_float,
    to_int,
    to_str,
)
from melious_impact.records import split_flavor


@pytest.mark.parametrize(
    ("value", "expected"),
    [(12, 12), ("12", 12), (" 7 ", 7), ("12.0", 12), (Decimal("3"), 3), (0, 0), (2**63 - 1, 2**63 - 1)],
)
def test_to_int_accepts_numbers_and_numeric_strings(value: object, expected: int) -> None:
    w = Warnings()
    assert to_int(value, "input_tokens", w) == expected
    assert w == []


@pytest.mark.parametrize(
    "value", [-1, "-3", "1.5", "abc", "", True, "NaN", "inf", 2**63, "1e400", [1], {"a": 1}]
)
def test_to_int_rejects_with_a_warning(value: object) -> None:
    w = Warnings()
    assert to_int(value, "input_tokens", w) is None
    assert w == ["invalid_input_tokens"]


def test_none_is_missing_not_invalid() -> None:
    w = Warnings()
    assert to_int(None, "x", w) is None
    assert to_float(None, "x", w) is None
    assert to_decimal(None, "x", w) is None
    assert to_str(None, "x", w) is None
    assert w == []


@pytest.mark.parametrize(("value", "expected"), [("0.00015", 0.00015), (85, 85.0), ("1e-5", 1e-5), (0, 0.0)])
def test_to_float(value: object, expected: float) -> None:
    w = Warnings()
    assert to_float(value, "energy_kwh", w) == expected
    assert w == []


@pytest.mark.parametrize(
    "value", ["NaN", "Infinity", "-Infinity", float("nan"), float("inf"), -0.1, "x", True, "1e999"]
)
def test_to_float_rejects_nan_inf_negative(value: object) -> None:
    w = Warnings()
    assert to_float(value, "energy_kwh", w) is None
    assert w == ["invalid_energy_kwh"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.0008", Decimal("0.0008")),
        ("0.0000144", Decimal("0.0000144")),
        (7, Decimal(7)),
        ("0.000000000000000001", Decimal("1E-18")),
        ("12345678901234567890.5", Decimal("12345678901234567890.5")),
        (0.1, Decimal("0.1")),  # a binary float goes through its shortest repr, not its binary value
        ("-0", Decimal(0)),
    ],
)
def test_to_decimal_is_exact_and_quantized(value: object, expected: Decimal) -> None:
    w = Warnings()
    got = to_decimal(value, "billing_energy", w)
    assert got == expected
    assert got is not None and got.as_tuple().exponent == -18
    assert w == []


def test_to_decimal_rounds_beyond_18_places_and_says_so() -> None:
    w = Warnings()
    assert to_decimal("0.0000000000000000015", "billing_energy", w) == Decimal("0.000000000000000002")
    assert w == ["rounded_billing_energy"]


@pytest.mark.parametrize(
    "value", ["NaN", "sNaN", "Infinity", "-0.5", "abc", "1e400", "123456789012345678901", True, None, [1]]
)
def test_to_decimal_rejects(value: object) -> None:
    w = Warnings()
    assert to_decimal(value, "billing_energy", w) is None
    assert w == ([] if value is None else ["invalid_billing_energy"])


def test_to_str() -> None:
    w = Warnings()
    assert to_str(" ovhcloud ", "provider_id", w) == "ovhcloud"
    assert to_str(42, "provider_id", w) == "42"
    assert to_str("", "provider_id", w) is None
    assert to_str({"a": 1}, "location", w) is None
    assert to_str("x" * 300, "location", w) is None
    assert w == ["invalid_provider_id", "invalid_location"]


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("glm-4.7:eco", ("glm-4.7", "eco")),
        ("glm-4.7:BATCH", ("glm-4.7", "batch")),
        ("glm-4.7", ("glm-4.7", None)),
        ("org:model:speed", ("org:model", "speed")),
        ("org:model", ("org:model", None)),  # not one of the five flavors: part of the id
        ("model:quality", ("model:quality", None)),
        (":eco", (":eco", None)),
        ("", ("", None)),
        (None, (None, None)),
    ],
)
def test_split_flavor(model: str | None, expected: tuple[str | None, str | None]) -> None:
    assert split_flavor(model) == expected


def test_ratelimit_documented_family() -> None:
    h = {
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "59",
        "x-ratelimit-reset-requests": "12",
    }
    assert ratelimit_from_headers(h, Warnings()) == (60, 59)


def test_ratelimit_lowercase_family() -> None:
    h = {"x-ratelimit-limit": "240", "x-ratelimit-remaining": "239", "x-ratelimit-reset": "1786348124"}
    assert ratelimit_from_headers(h, Warnings()) == (240, 239)


def test_ratelimit_documented_family_wins_and_bad_values_warn() -> None:
    w = Warnings()
    h = {"x-ratelimit-limit-requests": "60", "x-ratelimit-limit": "240", "x-ratelimit-remaining": "lots"}
    assert ratelimit_from_headers(h, w) == (60, None)
    assert w == ["invalid_ratelimit_remaining_requests"]


def test_request_id_headers() -> None:
    assert request_id_from_headers({"x-request-id": " req_1 "}) == "req_1"
    assert request_id_from_headers({"request-id": "req_2"}) == "req_2"
    assert request_id_from_headers({"content-type": "x"}) is None


def test_warnings_keep_first_order_without_duplicates() -> None:
    w = Warnings()
    for code in ("b", "a", "b"):
        w.add(code)
    assert w.text() == "b,a"
