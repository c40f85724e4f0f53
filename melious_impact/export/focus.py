"""FinOps FOCUS export: captured rows as a FOCUS 1.2 cost and usage table.

``to_focus(store_or_frame)`` aggregates per charge period (``"hour"`` or ``"day"``) x resource
(the model) x region x billing balance x tags, or keeps one charge per request
(``granularity="request"``). Costs are exact ``Decimal`` euros: the billed cost of a row is its
``cost_eur`` (``forecast.costs.add_cost_eur``: credits when ``billing_paid_with == 'credits'``,
energy units x ``eur_per_energy_unit`` when ``'energy'``, inferred when the balance is missing).

Rows whose cost is unknown (no billing block) are left out by default: FOCUS forbids a null
BilledCost and a stand-in 0 alike (Columns > Billed Cost; Attributes > Null Handling). Their
count is in ``table.attrs["unknown_cost_requests"]``; ``unknown_cost="null"`` keeps them with
null costs and ``x_CostUnknown`` true instead (a table outside the specification).

With a price list (``focus_prices``: Melious's model catalogue publishes EUR per million input
and output tokens) each charge is split into an Input and an Output row, each with its SKU
price: ``ListUnitPrice`` x ``PricingQuantity`` = ``ListCost`` exactly. The billed amount, one
number per request, is shared between the two rows in proportion to their list cost
(``x_CostAllocation``); the two rows always add up to the exact billed amount. A model with no
published price keeps one row with null unit prices.

``write_focus(df, path)`` writes CSV (decimals as exact text, times as ISO 8601 UTC to the
second) or Parquet (decimal128(38, 18), timestamps in UTC, required fields for the columns
FOCUS forbids to be null). The frame keeps every digit (an energy cost can have 22
decimals); Parquet rounds to the store's 18 decimals, half-even.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from melious_impact.export._focus_groups import MONEY, Group, charges, month_bounds
from melious_impact.export.focus_prices import (
    PRICING_UNIT,
    TOKENS_PER_PRICING_UNIT,
    PriceList,
    UnitPrices,
    price_list_from_mapping,
)
from melious_impact.export.focus_spec import (
    COST_COLUMNS,
    FOCUS_COLUMN_NAMES,
    FOCUS_COLUMNS,
    FOCUS_VERSION,
    REQUEST_LEVEL_COLUMNS,
    SUPPORTED_FOCUS_VERSIONS,
)
from melious_impact.forecast.costs import DEFAULT_EUR_PER_ENERGY_UNIT
from melious_impact.periods import DateLike, period
from melious_impact.records import DECIMAL_PRECISION, DECIMAL_SCALE

GRANULARITIES = ("hour", "day", "request")
UNKNOWN_COST_MODES = ("omit", "null")
_ALLOCATION_QUANTUM = Decimal(1).scaleb(-DECIMAL_SCALE)


@dataclass(frozen=True)
class _Account:
    billing_account_id: str
    billing_account_name: str | None
    currency: str
    service_name: str
    provider_name: str
    invoice_ids: Mapping[str, str]


@dataclass(frozen=True)
class _Part:
    """One FOCUS row of a charge: a token type with its quantity, price and share of the cost."""

    token_type: str | None  # "Input", "Output", or None for one row of both
    tokens: int
    unit_price: Decimal | None
    billed: Decimal | None
    allocation: str | None


def _per_unit(tokens: int) -> Decimal:
    """Tokens in the price list's unit (millions of tokens), exactly."""
    return MONEY.divide(Decimal(tokens), Decimal(TOKENS_PER_PRICING_UNIT))


def _parts(group: Group, price: UnitPrices | None) -> list[_Part]:
    """The rows of a charge: Input and Output with their SKU prices, or one row without a price."""
    if price is None:
        return [_Part(None, group.input_tokens + group.output_tokens, None, group.cost, None)]
    typed = [("Input", group.input_tokens, price.eur_per_million_input)]
    if group.output_tokens > 0:
        typed.append(("Output", group.output_tokens, price.eur_per_million_output))
    if len(typed) == 1 or group.cost is None:
        return [_Part(t, n, p, group.cost if i == 0 else None, None) for i, (t, n, p) in enumerate(typed)]
    lists = [MONEY.multiply(p, _per_unit(n)) for _, n, p in typed]
    total = MONEY.add(lists[0], lists[1])
    if total == 0:
        first = group.cost
    else:  # the input row's share, rounded to the store's scale; output takes the exact rest
        first = MONEY.divide(MONEY.multiply(group.cost, lists[0]), total).quantize(
            _ALLOCATION_QUANTUM, context=MONEY
        )
    shares = [first, MONEY.subtract(group.cost, first)]
    return [_Part(t, n, p, share, "list-cost share") for (t, n, p), share in zip(typed, shares, strict=True)]


def _focus_rows(group: Group, account: _Account, prices: PriceList) -> list[dict[str, Any]]:
    billing_start, billing_end = month_bounds(group.period_start)
    model = group.model
    price = prices.get(model) if model else None
    endpoints = ", ".join(sorted(group.endpoints)) or "inference"
    paid = f", paid with {group.paid_with}" if group.paid_with else ""
    rows = []
    for index, part in enumerate(_parts(group, price)):
        quantity = Decimal(part.tokens)
        kind = f"{part.token_type.lower()} " if part.token_type else ""
        list_cost: Decimal | None
        if part.unit_price is not None:
            list_cost = MONEY.multiply(part.unit_price, _per_unit(part.tokens))
        else:  # no unit price: List and Contracted cost match the billed cost (their sections)
            list_cost = part.billed
        row = {
            "BilledCost": part.billed,
            "BillingAccountId": account.billing_account_id,
            "BillingAccountName": account.billing_account_name,
            "BillingCurrency": account.currency,
            "BillingPeriodEnd": billing_end,
            "BillingPeriodStart": billing_start,
            "ChargeCategory": "Usage",
            "ChargeClass": None,
            "ChargeDescription": (
                f"{model or 'unknown model'} {kind}tokens on {account.provider_name} {endpoints}{paid}"
            ),
            "ChargeFrequency": "Usage-Based",
            "ChargePeriodEnd": group.period_end,
            "ChargePeriodStart": group.period_start,
            "ConsumedQuantity": quantity,
            "ConsumedUnit": "Tokens",
            "ContractedCost": list_cost,
            "ContractedUnitPrice": part.unit_price,  # no negotiated prices: the list price
            "EffectiveCost": part.billed,  # nothing amortised: what was billed
            "InvoiceId": account.invoice_ids.get(billing_start.strftime("%Y-%m")),
            "InvoiceIssuerName": account.provider_name,
            "ListCost": list_cost,
            "ListUnitPrice": part.unit_price,
            "PricingCategory": "Standard",
            "PricingCurrency": account.currency,
            "PricingQuantity": _per_unit(part.tokens),
            "PricingUnit": PRICING_UNIT,
            "ProviderName": account.provider_name,
            "PublisherName": account.provider_name,
            "RegionId": group.location,
            "RegionName": group.location,
            "ResourceId": model,
            "ResourceName": model,  # the catalogue's display name of a model is its id
            "ResourceType": "Model" if model else None,
            "ServiceCategory": "AI and Machine Learning",
            "ServiceName": account.service_name,
            "ServiceSubcategory": "Generative AI",
            "SkuId": model,
            "SkuMeter": f"{part.token_type} Tokens" if part.token_type else ("Tokens" if model else None),
            "SkuPriceId": (f"{model}:{part.token_type.lower()}" if part.token_type else model),
            "Tags": group.tags,
            "x_TokenType": part.token_type,
            "x_CostUnknown": group.cost is None,
            "x_CostAllocation": part.allocation,
            "x_BillingPaidWith": group.paid_with,
            "x_ProviderId": group.provider_id,
            "x_Team": group.team,
            "x_Project": group.project,
            "x_RequestId": group.request_id,
        }
        request_level: dict[str, Any] = {
            "x_Requests": group.requests,
            "x_ErrorRequests": group.errors,
            "x_ImpactReportedRequests": group.impact_reported,
            "x_InputTokens": group.input_tokens,
            "x_OutputTokens": group.output_tokens,
            "x_EnergyKwh": group.energy_kwh,
            "x_CarbonGCo2": group.carbon_g_co2,
            "x_WaterLiters": group.water_liters,
            "x_BillingEnergyUnits": group.billing_energy,
            "x_BillingCredits": group.billing_credits,
        }
        for name in REQUEST_LEVEL_COLUMNS:
            row[name] = request_level[name] if index == 0 else None
        rows.append(row)
    return rows


def to_focus(
    source: Any,
    *,
    granularity: str = "day",
    eur_per_energy_unit: Decimal | str = DEFAULT_EUR_PER_ENERGY_UNIT,
    prices: PriceList | Mapping[str, Any] | None = None,
    unknown_cost: str = "omit",
    invoice_ids: Mapping[str, str] | None = None,
    billing_account_id: str = "melious",
    billing_account_name: str | None = None,
    billing_currency: str = "EUR",
    service_name: str = "Melious Inference API",
    provider_name: str = "Melious",
    focus_version: str = FOCUS_VERSION,
    start: DateLike | None = None,
    end: DateLike | None = None,
) -> Any:
    """A FOCUS 1.2 cost and usage table (pandas DataFrame) from rows, a frame or an ImpactStore.

    ``granularity``: ``"hour"`` or ``"day"`` (charge periods, UTC) or ``"request"`` (one charge
    per captured response; its period [captured_at - latency, captured_at] widened to whole
    seconds, so ChargePeriodEnd is always later than ChargePeriodStart in every file format).
    ``eur_per_energy_unit``: the euro value of one Melious energy unit (exact decimal).
    ``prices``: published prices per model (``focus_prices.price_list_from_models`` of the
    model catalogue, or ``{model: {"input": eur_per_million, "output": ...}}``); without one,
    ListUnitPrice and ContractedUnitPrice stay null, which FOCUS allows only when the provider
    publishes no unit prices.
    ``unknown_cost``: ``"omit"`` (default, the table stays within FOCUS) or ``"null"``.
    ``invoice_ids``: InvoiceId per billing month (``{"2026-03": "INV-..."}``); null otherwise,
    as for charges drawn from prepaid balances that are on no invoice.
    ``start``/``end``: only the requests captured in that period (:mod:`melious_impact.periods`:
    ``[start, end)``, a date ``end`` counts its whole day); a store reads only its partitions.

    The charges are one DuckDB ``GROUP BY`` over the rows (a store's Parquet files, or the
    frame registered with DuckDB): memory grows with the charges, not with the requests.
    """
    import pandas as pd

    if focus_version not in SUPPORTED_FOCUS_VERSIONS:
        raise ValueError(
            f"focus_version {focus_version!r} is not supported; this package writes "
            f"{', '.join(SUPPORTED_FOCUS_VERSIONS)} (see docs/export.md)"
        )
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {', '.join(GRANULARITIES)}, got {granularity!r}")
    if unknown_cost not in UNKNOWN_COST_MODES:
        raise ValueError(f"unknown_cost must be 'omit' or 'null', got {unknown_cost!r}")
    rate = Decimal(str(eur_per_energy_unit))
    if not rate.is_finite() or rate < 0:
        raise ValueError(f"eur_per_energy_unit must be a non-negative decimal, got {eur_per_energy_unit!r}")
    price_list = price_list_from_mapping(prices) if prices else {}
    account = _Account(
        billing_account_id,
        billing_account_name,
        billing_currency,
        service_name,
        provider_name,
        dict(invoice_ids or {}),
    )

    groups, unknown = charges(
        source, granularity, rate, period(start, end), keep_unknown=unknown_cost == "null"
    )
    records = [row for g in groups for row in _focus_rows(g, account, price_list)]
    out = _typed(pd.DataFrame(records, columns=list(FOCUS_COLUMN_NAMES)))
    out.attrs["focus_version"] = focus_version
    out.attrs["unknown_cost_requests"] = unknown if unknown_cost == "omit" else 0
    return out


def _typed(frame: Any) -> Any:
    """Give each column the dtype its FOCUS data type asks for (decimals stay Decimal objects)."""
    import pandas as pd

    for column in FOCUS_COLUMNS:
        name = column.name
        if column.data_type == "DateTime":
            frame[name] = pd.to_datetime(frame[name], utc=True).astype("datetime64[us, UTC]")
        elif column.data_type == "Integer":
            frame[name] = frame[name].astype("Int64")  # null on a charge's second row
        elif column.data_type == "Float":
            frame[name] = frame[name].astype("float64")
        elif column.data_type == "Boolean":
            frame[name] = frame[name].astype("bool")
        elif column.data_type == "Decimal":
            frame[name] = frame[name].astype(object)
        else:
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame


def focus_arrow_schema(*, unknown_costs: bool = False) -> Any:
    """Arrow schema of the FOCUS table (exact decimals, UTC timestamps).

    A column FOCUS forbids to be null is a required (non-nullable) field; ``unknown_costs``
    relaxes the four cost columns for tables made with ``unknown_cost="null"``.
    """
    import pyarrow as pa

    types = {
        "Decimal": pa.decimal128(DECIMAL_PRECISION, DECIMAL_SCALE),
        "DateTime": pa.timestamp("us", tz="UTC"),
        "String": pa.string(),
        "JSON": pa.string(),
        "Integer": pa.int64(),
        "Float": pa.float64(),
        "Boolean": pa.bool_(),
    }
    return pa.schema(
        [
            pa.field(
                c.name, types[c.data_type], nullable=c.nullable or (unknown_costs and c.name in COST_COLUMNS)
            )
            for c in FOCUS_COLUMNS
        ],
        metadata={"focus_version": FOCUS_VERSION, "focus_conformant": "false" if unknown_costs else "true"},
    )


def write_focus(frame: Any, path: str | Path, *, format: str | None = None) -> Path:
    """Write a :func:`to_focus` table to ``path`` as CSV or Parquet (from the suffix or ``format``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = Path(path)
    fmt = (format or target.suffix.lstrip(".")).lower()
    if fmt not in {"csv", "parquet"}:
        raise ValueError(
            f"cannot tell the format of {target}: use a .csv or .parquet name, or format='csv'|'parquet'"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        decimals = [c.name for c in FOCUS_COLUMNS if c.data_type == "Decimal"]
        data = frame.copy()
        for name in decimals:  # quantize so every value fits decimal128(38, 18) exactly
            data[name] = [None if v is None else _to_store_scale(v) for v in data[name]]
        unknown = any(data[name].isna().any() for name in COST_COLUMNS)
        schema = focus_arrow_schema(unknown_costs=unknown)
        table = pa.Table.from_pandas(data, schema=schema, preserve_index=False)
        table = table.cast(schema)  # from_pandas keeps nullable fields: ask for required ones
        pq.write_table(table, target)
        return target
    data = frame.copy()
    for column in FOCUS_COLUMNS:
        if column.data_type == "DateTime":
            values = data[column.name]
            if len(values) and (values.dt.microsecond != 0).any():
                raise ValueError(
                    f"{column.name} has sub-second times: FOCUS CSV writes whole seconds, "
                    "use a table made by to_focus (its periods are whole seconds)"
                )
            # ISO 8601 with a Z, to the second (Attributes > Date/Time Format).
            data[column.name] = values.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif column.data_type == "Decimal":
            data[column.name] = [None if v is None else format_decimal(v) for v in data[column.name]]
    data.to_csv(target, index=False)
    return target


def _to_store_scale(value: Decimal) -> Decimal:
    # records.quantize_money runs in the default 28-digit context, too narrow for 38 digits.
    return value.quantize(Decimal(1).scaleb(-DECIMAL_SCALE), context=MONEY)


def format_decimal(value: Decimal) -> str:
    """Exact, exponent-free text of a decimal ('0.0000001', not '1E-7')."""
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", ""} else text
