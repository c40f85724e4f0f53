"""Published unit prices for FOCUS ``ListUnitPrice`` / ``ContractedUnitPrice``.

Melious publishes a price per model in its model catalogue: ``GET /v1/models?include_meta=true``
gives ``_meta.pricing.input_cost_per_million_eur`` and ``output_cost_per_million_eur`` for the
bare model id (flavours such as ``:eco`` are routed and billed differently, so what was billed
can differ from the list price). This module turns that payload, or a plain mapping, into a
price list keyed by model id. Prices are exact decimals: JSON numbers are read from their text,
never through a binary float.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

#: FOCUS PricingUnit of a Melious price: euros are quoted per million tokens.
PRICING_UNIT = "1000000 Tokens"
TOKENS_PER_PRICING_UNIT = 1_000_000


@dataclass(frozen=True)
class UnitPrices:
    """List prices of one model, EUR per million tokens, with where they came from."""

    eur_per_million_input: Decimal
    eur_per_million_output: Decimal
    source: str = "model catalogue"


PriceList = Mapping[str, UnitPrices]


def _price(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        dec = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return None
    return dec if dec.is_finite() and dec >= 0 else None


def price_list_from_models(payload: Any, *, source: str = "model catalogue") -> dict[str, UnitPrices]:
    """Prices from a ``/v1/models?include_meta=true`` body (bytes, text or parsed JSON).

    Models without both an input and an output price are left out (no price is guessed).
    """
    if isinstance(payload, bytes | str):
        payload = json.loads(payload, parse_float=Decimal)
    models = payload.get("data", []) if isinstance(payload, Mapping) else payload
    out: dict[str, UnitPrices] = {}
    for entry in models or []:
        if not isinstance(entry, Mapping) or not entry.get("id"):
            continue
        pricing = (entry.get("_meta") or {}).get("pricing") or {}
        p_in = _price(pricing.get("input_cost_per_million_eur"))
        p_out = _price(pricing.get("output_cost_per_million_eur"))
        if p_in is not None and p_out is not None:
            out[str(entry["id"])] = UnitPrices(p_in, p_out, source)
    return out


def price_list_from_mapping(prices: Mapping[str, Any], *, source: str = "given") -> dict[str, UnitPrices]:
    """Prices from ``{model: {"input": ..., "output": ...}}``, ``{model: (input, output)}`` or
    ``{model: UnitPrices}``; a string value names the model whose price applies (an alias:
    Melious serves ``claude-*`` names with open-weight models and echoes the name it was sent).
    """
    out: dict[str, UnitPrices] = {}
    aliases: dict[str, str] = {}
    for model, value in prices.items():
        if isinstance(value, UnitPrices):
            out[str(model)] = value
            continue
        if isinstance(value, str):
            aliases[str(model)] = value
            continue
        pair = (value.get("input"), value.get("output")) if isinstance(value, Mapping) else tuple(value)
        p_in, p_out = (_price(v) for v in pair)
        if p_in is None or p_out is None:
            raise ValueError(f"price of {model!r} needs non-negative input and output prices, got {value!r}")
        out[str(model)] = UnitPrices(p_in, p_out, source)
    for alias, target in aliases.items():
        if target not in out:
            raise ValueError(f"{alias!r} is priced as {target!r}, which has no price in the list")
        price = out[target]
        out[alias] = UnitPrices(
            price.eur_per_million_input, price.eur_per_million_output, f"{price.source}, as {target}"
        )
    return out


def load_price_list(path: str | Path) -> dict[str, UnitPrices]:
    """A price list from a JSON file: a saved ``/v1/models?include_meta=true`` body, or a mapping
    (see :func:`price_list_from_mapping`). A models body may carry an ``"aliases"`` object
    (``{"claude-opus-4-7": "glm-4.7"}``) beside its ``"data"``.
    """
    target = Path(path)
    payload = json.loads(target.read_text(encoding="utf-8"), parse_float=Decimal)
    if isinstance(payload, Mapping) and "data" not in payload:
        return price_list_from_mapping(payload, source=target.name)
    prices: dict[str, Any] = dict(price_list_from_models(payload, source=target.name))
    if isinstance(payload, Mapping):
        prices.update(payload.get("aliases") or {})
    return price_list_from_mapping(prices, source=target.name)
