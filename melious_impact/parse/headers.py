"""Impact and billing carried in response headers: an undocumented, tolerant fallback.

Speech (TTS) returns raw audio, so ``environment_impact`` cannot be in its body, and
no header for it is documented. Should Melious add one, it would most likely be one of
these forms, all accepted here:

- a JSON object in ``x-melious-environment-impact`` / ``x-environment-impact`` (and the
  same for ``billing-cost``);
- one header per field: ``x-melious-energy-kwh``, ``x-melious-carbon-g-co2``,
  ``x-environment-impact-pue``, ``x-melious-billing-energy``, ``x-billing-cost-paid-with`` ...

Values found here are applied before the body's, so a body object always wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from melious_impact.parse.extract import IMPACT_FLOAT_FIELDS, IMPACT_STR_FIELDS, apply_billing, apply_impact
from melious_impact.parse.fields import Warnings, loads

_IMPACT_FIELDS = frozenset(IMPACT_FLOAT_FIELDS + IMPACT_STR_FIELDS)
_BILLING_FIELDS = frozenset({"energy", "credits", "paid_with"})
_PREFIXES = ("x-melious-", "melious-", "x-")


def _strip(name: str) -> str | None:
    for p in _PREFIXES:
        if name.startswith(p):
            return name[len(p) :]
    return None


def has_impact_headers(headers: Mapping[str, str]) -> bool:
    """Cheap pre-check on lowercased names, so most responses skip the rest."""
    names = "\n".join(headers)
    return "impact" in names or "billing" in names or "melious-" in names


def has_impact_header_names(raw: Mapping[bytes, bytes]) -> bool:
    """:func:`has_impact_headers` on raw (bytes) lowercased names."""
    return is_impact_header_name(b"\n".join(raw))


def is_impact_header_name(name: bytes) -> bool:
    """Whether a raw lowercased name (or several joined) may carry impact or billing."""
    return b"impact" in name or b"billing" in name or b"melious-" in name


def apply_impact_headers(out: dict[str, Any], headers: Mapping[str, str], w: Warnings) -> None:
    impact: dict[str, Any] = {}
    billing: dict[str, Any] = {}
    for name, value in headers.items():
        rest = _strip(name)
        if rest is None:
            continue
        if rest in ("environment-impact", "impact", "billing-cost", "billing"):
            try:
                obj = loads(value)
            except (ValueError, RecursionError):
                w.add("invalid_impact_header")
                continue
            target = billing if rest.startswith("billing") else impact
            if isinstance(obj, dict):
                target.update(obj)
            continue
        is_billing = rest.startswith(("billing-cost-", "billing-"))
        for p in ("environment-impact-", "impact-", "billing-cost-", "billing-"):
            if rest.startswith(p):
                rest = rest[len(p) :]
                break
        field = rest.replace("-", "_")
        if is_billing and field in _BILLING_FIELDS:
            billing[field] = value
        elif not is_billing and field in _IMPACT_FIELDS:
            impact[field] = value
    if impact and apply_impact(out, impact, w):
        w.add("impact_from_headers")
    if billing:
        apply_billing(out, billing, w)
