"""FinOps FOCUS export: captured rows as a FOCUS 1.2 cost and usage table.

``to_focus(store_or_frame)`` aggregates per charge period (``"hour"`` or ``"day"``) x resource
(the model) x region x billing balance x tags, or keeps one charge per request
(``granularity="request"``). Costs are exact ``Decimal`` euros: the billed cost of a row is its
``cost_eur`` (the rule of :mod:`melious_impact.billing`: credits when ``billing_paid_with ==
'credits'``, energy units x ``eur_per_energy_unit`` when ``'energy'``, inferred when the balance
is missing). The charges are DuckDB ``GROUP BY`` results (:mod:`._focus_groups`): the requests
never reach pandas, only the charges do.

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
FOCUS forbids to be null). The frame keeps every digit of the sums (an energy cost can have
22 decimals); Parquet rounds to the store's 18 decimals, half-even.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from melious_impact.export._focus_groups import MONEY, charge_parts, charges, shared
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
from melious_impact.forecasting.costs import DEFAULT_EUR_PER_ENERGY_UNIT
from melious_impact.periods import DateLike, period
from melious_impact.records import DECIMAL_PRECISION, DECIMAL_SCALE

GRANULARITIES = ("hour", "day", "request")
UNKNOWN_COST_MODES = ("omit", "null")
_ALLOCATION_QUANTUM = Decimal(1).scaleb(-DECIMAL_SCALE)
_MILLION = Decimal(TOKENS_PER_PRICING_UNIT)


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


def _parts(
    input_tokens: int, output_tokens: int, cost: Decimal | None, price: UnitPrices | None
) -> list[_Part]:
    """The rows of a charge: Input and Output with their SKU prices, or one row without a price."""
    if price is None:
        return [_Part(None, input_tokens + output_tokens, None, cost, None)]
    typed = [("Input", input_tokens, price.eur_per_million_input)]
    if output_tokens > 0:
        typed.append(("Output", output_tokens, price.eur_per_million_output))
    if len(typed) == 1 or cost is None:
        return [_Part(t, n, p, cost if i == 0 else None, None) for i, (t, n, p) in enumerate(typed)]
    lists = [MONEY.multiply(p, _per_unit(n)) for _, n, p in typed]
    total = MONEY.add(lists[0], lists[1])
    if total == 0:
        first = cost
    else:  # the input row's share, rounded to the store's scale; output takes the exact rest
        first = MONEY.divide(MONEY.multiply(cost, lists[0]), total).quantize(
            _ALLOCATION_QUANTUM, context=MONEY
        )
    shares = [first, MONEY.subtract(cost, first)]
    return [_Part(t, n, p, share, "list-cost share") for (t, n, p), share in zip(typed, shares, strict=True)]


#: Request-level columns: on a charge's first row, null on its second (see focus_spec).
_REQUEST_LEVEL = {
    "x_Requests": "requests",
    "x_ErrorRequests": "errors",
    "x_ImpactReportedRequests": "impact_reported",
    "x_InputTokens": "input_tokens",
    "x_OutputTokens": "output_tokens",
    "x_EnergyKwh": "energy_kwh",
    "x_CarbonGCo2": "carbon_g_co2",
    "x_WaterLiters": "water_liters",
    "x_BillingEnergyUnits": "billing_energy",
    "x_BillingCredits": "billing_credits",
}


def _focus_columns(charges: Mapping[str, Any], account: _Account, prices: PriceList) -> dict[str, Any]:
    """The FOCUS columns of the charges (one or two rows each), column by column.

    ``charges``: the columns of :func:`._focus_groups.charges` (texts as numpy object arrays,
    numbers and times as numpy arrays, exact decimals as lists).
    """
    import numpy as np
    import pandas as pd

    models = charges["model"]
    n_charges = len(models)
    costs = charges["cost"]
    # the rows: which charge each comes from, and its part (token type, quantity, price, share)
    if any(m in prices for m in set(models.tolist()) if m):
        of: list[int] = []
        parts: list[_Part] = []
        input_tokens, output_tokens = charges["input_tokens"].tolist(), charges["output_tokens"].tolist()
        for g, model in enumerate(models.tolist()):
            for part in _parts(
                input_tokens[g], output_tokens[g], costs[g], prices.get(model) if model else None
            ):
                of.append(g)
                parts.append(part)
        index = np.asarray(of, dtype=np.int64)
        token_types = np.array([p.token_type for p in parts], dtype=object)
        tokens = [p.tokens for p in parts]
        unit_prices: list[Decimal | None] = [p.unit_price for p in parts]
        billed = [p.billed for p in parts]
        allocations: list[str | None] = [p.allocation for p in parts]
    else:  # no published price: one row per charge, both token types together
        index = np.arange(n_charges, dtype=np.int64)
        token_types = np.full(n_charges, None, dtype=object)
        tokens = (charges["input_tokens"] + charges["output_tokens"]).tolist()
        unit_prices = [None] * n_charges
        allocations = [None] * n_charges
        billed = list(costs)
    n = len(index)
    first = np.ones(n, dtype=bool)
    first[1:] = index[1:] != index[:-1]  # a charge's second row repeats its index
    months = charges["start"].astype("datetime64[M]")
    month_list, month_of = np.unique(months, return_inverse=True)
    invoices = np.array(
        [account.invoice_ids.get(m) for m in month_list.astype(str).tolist()], dtype=object
    )  # by "2026-03"
    provider = account.provider_name
    consumed = [Decimal(t) for t in tokens]
    quantities = [MONEY.divide(t, _MILLION) for t in consumed]  # in the price list's unit
    list_costs = [
        b if p is None else MONEY.multiply(p, q)
        for b, p, q in zip(billed, unit_prices, quantities, strict=True)
    ]
    row_models = models[index]
    has_model = np.array([bool(m) for m in models.tolist()])[index]
    typed = token_types != None  # noqa: E711 - elementwise
    kinds = np.array(
        [f"{t.lower()} " if t else "" for t in token_types.tolist()] if typed.any() else [""] * n,
        dtype=object,
    )

    def same(value: Any) -> Any:
        column = np.empty(n, dtype=object)
        column.fill(value)  # one object for every row (np.full would copy a text per row)
        return column

    def model_or_none(text: str) -> Any:  # `text` where the row has a model, else null
        return np.array([text if m else None for m in has_model.tolist()], dtype=object)

    def per_row(name: str) -> Any:
        return charges[name][index]

    columns: dict[str, Any] = {
        "BilledCost": billed,
        "BillingAccountId": same(account.billing_account_id),
        "BillingAccountName": same(account.billing_account_name),
        "BillingCurrency": same(account.currency),
        "BillingPeriodEnd": (months + 1).astype("datetime64[us]")[index],
        "BillingPeriodStart": months.astype("datetime64[us]")[index],
        "ChargeCategory": same("Usage"),
        "ChargeClass": same(None),
        "ChargeDescription": _descriptions(
            row_models, kinds, charges["endpoints"][index], charges["paid_with"][index], provider
        ),
        "ChargeFrequency": same("Usage-Based"),
        "ChargePeriodEnd": charges["end"][index],
        "ChargePeriodStart": charges["start"][index],
        "ConsumedQuantity": consumed,
        "ConsumedUnit": same("Tokens"),
        # no unit price: List and Contracted cost match the billed cost (their sections)
        "ContractedCost": list_costs,
        "ContractedUnitPrice": unit_prices,  # no negotiated prices: the list price
        "EffectiveCost": billed,  # nothing amortised: what was billed
        "InvoiceId": invoices[month_of[index]],
        "InvoiceIssuerName": same(provider),
        "ListCost": list_costs,
        "ListUnitPrice": unit_prices,
        "PricingCategory": same("Standard"),
        "PricingCurrency": same(account.currency),
        "PricingQuantity": quantities,
        "PricingUnit": same(PRICING_UNIT),
        "ProviderName": same(provider),
        "PublisherName": same(provider),
        "RegionId": per_row("location"),
        "RegionName": per_row("location"),
        "ResourceId": row_models,
        "ResourceName": row_models,  # the catalogue's display name of a model is its id
        "ResourceType": model_or_none("Model"),
        "ServiceCategory": same("AI and Machine Learning"),
        "ServiceName": same(account.service_name),
        "ServiceSubcategory": same("Generative AI"),
        "SkuId": row_models,
        "SkuMeter": np.where(
            typed,
            np.array([f"{t} Tokens" if t else None for t in token_types.tolist()], dtype=object)
            if typed.any()
            else same(None),
            model_or_none("Tokens"),
        ),
        "SkuPriceId": np.where(
            typed,
            shared(
                [
                    f"{m}:{t.lower()}" if t else m
                    for t, m in zip(token_types.tolist(), row_models.tolist(), strict=True)
                ]
            )
            if typed.any()
            else row_models,
            row_models,
        ),
        "Tags": per_row("tags"),
        "x_TokenType": token_types,
        "x_CostUnknown": np.array([c is None for c in costs], dtype=bool)[index],
        "x_CostAllocation": allocations,
        "x_BillingPaidWith": per_row("paid_with"),
        "x_ProviderId": per_row("provider_id"),
        "x_Team": per_row("team"),
        "x_Project": per_row("project"),
        "x_RequestId": per_row("request_id"),
    }
    for name in REQUEST_LEVEL_COLUMNS:  # on a charge's first row only
        values = charges[_REQUEST_LEVEL[name]]
        if isinstance(values, list):  # exact decimals
            columns[name] = [
                values[g] if f else None for g, f in zip(index.tolist(), first.tolist(), strict=True)
            ]
        elif values.dtype.kind == "f":
            columns[name] = np.where(first, values[index], np.nan)
        else:
            columns[name] = pd.arrays.IntegerArray(values[index].astype("int64"), ~first)
    return columns


def _descriptions(models: Any, kinds: Any, endpoints: Any, paid_with: Any, provider: str) -> Any:
    """ChargeDescription of each row: "<model> <input |output |>tokens on <provider>
    <endpoints>[, paid with <balance>]", one text object per distinct description."""
    import numpy as np

    texts: dict[tuple[Any, ...], str] = {}
    out = np.empty(len(models), dtype=object)
    keys = zip(models.tolist(), kinds.tolist(), endpoints.tolist(), paid_with.tolist(), strict=True)
    for i, key in enumerate(keys):
        text = texts.get(key)
        if text is None:
            m, k, e, p = key
            text = texts[key] = f"{m or 'unknown model'} {k}tokens on {provider} {e or 'inference'}" + (
                f", paid with {p}" if p else ""
            )
        out[i] = text
    return out


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
    teams: Sequence[str] | None = None,
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
    ``teams``: only the requests of these teams.

    The charges are one DuckDB ``GROUP BY`` over the rows (a store's Parquet files, or the
    frame registered with DuckDB): memory grows with the charges, not with the requests.
    """

    options = _options(
        granularity, eur_per_energy_unit, prices, unknown_cost, invoice_ids, billing_account_id,
        billing_account_name, billing_currency, service_name, provider_name, focus_version, start,
        end, teams,
    )  # fmt: skip
    groups, unknown = charges(source, *options.charges_args, **options.charges_kwargs)
    return _table(groups, unknown, options)


@dataclass(frozen=True)
class _Options:
    """The checked arguments of :func:`to_focus`."""

    charges_args: tuple[Any, ...]  # granularity, rate, span
    charges_kwargs: dict[str, Any]  # keep_unknown, teams
    account: _Account
    prices: PriceList
    focus_version: str
    unknown_cost: str


def _options(
    granularity: str,
    eur_per_energy_unit: Decimal | str,
    prices: PriceList | Mapping[str, Any] | None,
    unknown_cost: str,
    invoice_ids: Mapping[str, str] | None,
    billing_account_id: str,
    billing_account_name: str | None,
    billing_currency: str,
    service_name: str,
    provider_name: str,
    focus_version: str,
    start: DateLike | None,
    end: DateLike | None,
    teams: Sequence[str] | None,
) -> _Options:
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
    account = _Account(
        billing_account_id,
        billing_account_name,
        billing_currency,
        service_name,
        provider_name,
        dict(invoice_ids or {}),
    )
    return _Options(
        (granularity, rate, period(start, end)),
        {"keep_unknown": unknown_cost == "null", "teams": [teams] if isinstance(teams, str) else teams},
        account,
        price_list_from_mapping(prices) if prices else {},
        focus_version,
        unknown_cost,
    )


def _table(groups: dict[str, Any], unknown: int, options: _Options) -> Any:
    """The FOCUS table of some charges (:func:`._focus_groups.charges`); takes them over."""
    columns = _focus_columns(groups, options.account, options.prices)
    groups.clear()  # the charges' own columns, no longer needed while the frame is made
    out = _frame(columns)
    out.attrs["focus_version"] = options.focus_version
    out.attrs["unknown_cost_requests"] = unknown if options.unknown_cost == "omit" else 0
    return out


@dataclass(frozen=True)
class FocusFile:
    """What :func:`export_focus` wrote: the file, its FOCUS rows, the requests they cover,
    their total BilledCost (exact) and the requests left out for an unknown cost."""

    path: Path
    rows: int
    requests: int
    billed_cost: Decimal | int
    unknown_cost_requests: int


def export_focus(source: Any, path: str | Path, *, format: str | None = None, **options: Any) -> FocusFile:
    """Write the FOCUS table of ``source`` (the arguments of :func:`to_focus`) to ``path``.

    A CSV file is written part by part (a store's months in time order, see
    :mod:`._focus_groups`): only one month's FOCUS rows are in memory at a time, and the file
    is byte for byte the one ``write_focus(to_focus(source, ...), path)`` writes. A Parquet
    file is written from the whole table (its schema says whether any cost is null, which
    is known only at the end).
    """
    target = Path(path)
    fmt = _format(target, format)
    if fmt == "parquet":
        table = to_focus(source, **options)
        write_focus(table, target, format=fmt)
        return FocusFile(target, len(table), _requests(table), _billed(table, 0),
                         int(table.attrs["unknown_cost_requests"]))  # fmt: skip
    defaults = {
        name: p.default
        for name, p in inspect.signature(to_focus).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    checked = _options(**{**defaults, **options})
    rows = requests = unknown = 0
    billed: Decimal | int = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")  # the file appears whole or not at all
    try:
        with open(partial, "w", encoding="utf-8", newline="") as out:
            for n, (groups, left_out) in enumerate(
                charge_parts(source, *checked.charges_args, **checked.charges_kwargs)
            ):
                part = _table(groups, left_out, checked)
                del groups
                if n == 0 or len(part):
                    _csv_text(part).to_csv(out, index=False, header=n == 0)
                rows += len(part)
                requests += _requests(part)
                billed = _billed(part, billed)
                unknown += int(part.attrs["unknown_cost_requests"])
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return FocusFile(target, rows, requests, billed, unknown)


def _requests(table: Any) -> int:
    return int(table["x_Requests"].sum()) if len(table) else 0


def _billed(table: Any, total: Decimal | int) -> Decimal | int:
    """``total`` plus the table's BilledCost, added in row order."""
    return sum((v for v in table["BilledCost"] if v is not None), total)


def _frame(columns: dict[str, Any]) -> Any:
    """The FOCUS table: each column with the dtype its FOCUS data type asks for (decimals
    stay Decimal objects, texts are Python strings or None).

    Takes the columns out of ``columns`` one by one, so each list is freed once its column
    is made, and keeps the columns as they are made (not copied into one block).
    """
    import pandas as pd

    data = {}
    for column in FOCUS_COLUMNS:
        values = columns.pop(column.name)
        if column.data_type == "DateTime":
            data[column.name] = pd.Series(pd.to_datetime(values, utc=True), dtype="datetime64[us, UTC]")
        elif column.data_type == "Integer":
            data[column.name] = pd.Series(values, dtype="Int64")  # null on a charge's second row
        elif column.data_type == "Float":
            data[column.name] = pd.Series(values, dtype="float64")
        elif column.data_type == "Boolean":
            data[column.name] = pd.Series(values, dtype="bool")
        else:  # Decimal, String, JSON: Python objects, None for null
            data[column.name] = pd.Series(values, dtype=object)
        del values
    return pd.DataFrame(data, columns=list(FOCUS_COLUMN_NAMES), copy=False)


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
    fmt = _format(target, format)
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
    _csv_text(frame).to_csv(target, index=False)
    return target


def _format(target: Path, format: str | None) -> str:
    fmt = (format or target.suffix.lstrip(".")).lower()
    if fmt not in {"csv", "parquet"}:
        raise ValueError(
            f"cannot tell the format of {target}: use a .csv or .parquet name, or format='csv'|'parquet'"
        )
    return fmt


def _csv_text(frame: Any) -> Any:
    """A copy of the table with its times and decimals as the CSV text FOCUS asks for."""
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
    return data


def _to_store_scale(value: Decimal) -> Decimal:
    # records.quantize_money runs in the default 28-digit context, too narrow for 38 digits.
    return value.quantize(Decimal(1).scaleb(-DECIMAL_SCALE), context=MONEY)


def format_decimal(value: Decimal) -> str:
    """Exact, exponent-free text of a decimal ('0.0000001', not '1E-7')."""
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", ""} else text
