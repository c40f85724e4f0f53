"""The FOCUS charges as the package computed them before the DuckDB GROUP BY: a reference.

Kept only in the tests: the old pandas path (every row loaded, keys grouped with pandas,
exact sums in Python), so the in-database path can be compared with it on the same inputs.
"""

from __future__ import annotations

import decimal
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from melious_impact.export.focus_prices import PRICING_UNIT, TOKENS_PER_PRICING_UNIT, PriceList, UnitPrices
from melious_impact.export.focus_spec import FOCUS_COLUMNS, REQUEST_LEVEL_COLUMNS
from melious_impact.records import DECIMAL_SCALE

ZERO = Decimal(0)
MONEY = decimal.Context(prec=80, rounding=decimal.ROUND_HALF_EVEN, traps=[decimal.InvalidOperation])
_ALLOCATION_QUANTUM = Decimal(1).scaleb(-DECIMAL_SCALE)


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        dec = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return None
    return dec if dec.is_finite() else None


def month_bounds(when: datetime) -> tuple[datetime, datetime]:
    start = when.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


def _tags_json(row: Mapping[str, Any]) -> str:
    """FOCUS Tags: the row's tags plus team and project, as a JSON object with sorted keys."""
    tags: dict[str, Any] = {}
    raw = row.get("tags")
    if raw:
        try:
            parsed = json.loads(raw) if isinstance(raw, str) else dict(raw)
            if isinstance(parsed, dict):
                tags.update({str(k): v for k, v in parsed.items()})
        except (ValueError, TypeError):
            pass
    for key in ("team", "project"):
        if row.get(key):
            tags[key] = row[key]
    return json.dumps(tags, sort_keys=True, ensure_ascii=False)


@dataclass
class Group:
    """Running sums of one charge (one or two FOCUS rows)."""

    period_start: datetime
    period_end: datetime
    model: str | None
    location: str | None
    provider_id: str | None
    paid_with: str | None
    team: str | None
    project: str | None
    tags: str
    request_id: str | None = None
    cost: Decimal | None = ZERO  # None: unknown (no billing block)
    billing_energy: Decimal = ZERO
    billing_credits: Decimal = ZERO
    requests: int = 0
    errors: int = 0
    impact_reported: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    energy_kwh: float = 0.0
    carbon_g_co2: float = 0.0
    water_liters: float = 0.0
    endpoints: set[str] = field(default_factory=set)


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


def reference_row_costs(frame: Any, eur_per_energy_unit: Decimal) -> list[Decimal | None]:
    from melious_impact.forecasting.costs import add_cost_eur

    costs = add_cost_eur(frame, eur_per_energy_unit=eur_per_energy_unit)["cost_eur"].tolist()
    return [_decimal(c) for c in costs]


def _column(frame: Any, name: str) -> Any:
    import pandas as pd

    return (
        frame[name]
        if name in frame.columns
        else pd.Series([None] * len(frame), index=frame.index, dtype=object)
    )


def _numbers(frame: Any, name: str) -> Any:
    """Finite, non-negative numbers of a column as float64 (missing and nonsense count 0)."""
    import numpy as np
    import pandas as pd

    values = pd.to_numeric(_column(frame, name), errors="coerce").astype("float64").to_numpy()
    return np.where(np.isfinite(values) & (values >= 0), values, 0.0)


def _texts(frame: Any, name: str) -> list[str | None]:
    return [None if v is None or v != v or v == "" else str(v) for v in _column(frame, name).tolist()]


def reference_charges(frame: Any, costs: list[Decimal | None], granularity: str) -> list[Group]:
    """The FOCUS groups of ``frame``: keys found with pandas, exact decimal sums in Python.

    Vectorised because stores hold millions of rows; only the decimal sums (which numpy
    cannot do exactly) walk the rows one by one.
    """
    import numpy as np
    import pandas as pd

    n = len(frame)
    when = pd.to_datetime(_column(frame, "captured_at"), utc=True)
    if when.isna().any():
        raise ValueError("a row has no captured_at: FOCUS needs a charge period for every charge")
    when = when.astype("datetime64[us, UTC]")
    models = [m or r for m, r in zip(_texts(frame, "model"), _texts(frame, "requested_model"), strict=True)]
    teams, projects = _texts(frame, "team"), _texts(frame, "project")
    cache: dict[tuple[Any, ...], str] = {}
    tags: list[str | None] = []
    for raw, team, project in zip(_column(frame, "tags").tolist(), teams, projects, strict=True):
        key = (raw if isinstance(raw, str) else None, team, project)
        text = cache.get(key)
        if text is None:
            text = cache[key] = _tags_json({"tags": key[0], "team": team, "project": project})
        tags.append(text)
    dims: dict[str, list[Any]] = {
        "cost_known": [c is not None for c in costs],
        "model": models,
        "location": _texts(frame, "location"),
        "provider_id": _texts(frame, "provider_id"),
        "paid_with": _texts(frame, "billing_paid_with"),
        "team": teams,
        "project": projects,
        "tags": tags,
    }
    if granularity == "request":
        # [start, end) widened to whole seconds: the DateTime format of FOCUS is to the second
        # (Attributes > Date/Time Format), and the end stays later than the start (Columns >
        # Charge Period End: exclusive bound), also for a request with no or zero latency.
        start_at = (when - pd.to_timedelta(_numbers(frame, "latency_ms"), unit="ms")).dt.floor("s")
        end_at = when.dt.ceil("s")
        end_at = end_at.where(end_at > start_at, start_at + timedelta(seconds=1))
        gid = np.arange(n)
    else:
        start_at = when.dt.floor("h" if granularity == "hour" else "D")
        end_at = start_at + (timedelta(hours=1) if granularity == "hour" else timedelta(days=1))
        keys = pd.DataFrame({"start": start_at.to_numpy(), **dims})
        gid = keys.groupby(list(keys.columns), dropna=False, sort=False).ngroup().to_numpy()
    count = int(gid.max()) + 1
    first = np.full(count, n, dtype=np.int64)
    np.minimum.at(first, gid, np.arange(n))
    # Python datetimes only for the groups' first rows: converting every row is slow.
    group_starts = start_at.iloc[first].dt.to_pydatetime().tolist()
    group_ends = end_at.iloc[first].dt.to_pydatetime().tolist()

    def total(values: Any) -> Any:
        return np.bincount(gid, weights=values, minlength=count)

    status = _numbers(frame, "status_code")
    errors = np.array([bool(v) for v in _texts(frame, "error_code")]) | (status >= 400)
    reported = np.array([v is True or v == 1 for v in _column(frame, "impact_reported").tolist()])
    sums = {
        "requests": np.bincount(gid, minlength=count),
        "errors": total(errors.astype(float)),
        "impact_reported": total(reported.astype(float)),
        "input_tokens": total(np.floor(_numbers(frame, "input_tokens"))),
        "output_tokens": total(np.floor(_numbers(frame, "output_tokens"))),
        "energy_kwh": total(_numbers(frame, "energy_kwh")),
        "carbon_g_co2": total(_numbers(frame, "carbon_g_co2")),
        "water_liters": total(_numbers(frame, "water_liters")),
    }
    money = {name: [ZERO] * count for name in ("cost", "billing_energy", "billing_credits")}
    energy_units = _column(frame, "billing_energy").tolist()
    credit_units = _column(frame, "billing_credits").tolist()
    add = MONEY.add  # a wide context: 28 significant digits could round 18-decimal sums
    for g, cost, energy, credit in zip(gid.tolist(), costs, energy_units, credit_units, strict=True):
        if cost is not None:  # a group is all known or all unknown (cost_known is a key)
            money["cost"][g] = add(money["cost"][g], cost)
        if energy is not None:
            money["billing_energy"][g] = add(money["billing_energy"][g], _decimal(energy) or ZERO)
        if credit is not None:
            money["billing_credits"][g] = add(money["billing_credits"][g], _decimal(credit) or ZERO)
    endpoints: dict[int, set[str]] = {}
    for g, endpoint in set(zip(gid.tolist(), _texts(frame, "endpoint"), strict=True)):
        if endpoint:
            endpoints.setdefault(g, set()).add(endpoint)
    request_ids = _texts(frame, "request_id")
    groups = []
    for g in range(count):
        i = int(first[g])
        known, model, location, provider_id, paid_with, team, project, tag_text = (dims[k][i] for k in dims)
        group = Group(
            group_starts[g],
            group_ends[g],
            model,
            location,
            provider_id,
            paid_with,
            team,
            project,
            tag_text or "{}",
        )
        group.request_id = request_ids[i] if granularity == "request" else None
        group.cost, group.billing_energy, group.billing_credits = (
            money["cost"][g] if known else None,
            money["billing_energy"][g],
            money["billing_credits"][g],
        )
        group.requests = int(sums["requests"][g])
        group.errors = int(sums["errors"][g])
        group.impact_reported = int(sums["impact_reported"][g])
        group.input_tokens = int(sums["input_tokens"][g])
        group.output_tokens = int(sums["output_tokens"][g])
        group.energy_kwh = float(sums["energy_kwh"][g])
        group.carbon_g_co2 = float(sums["carbon_g_co2"][g])
        group.water_liters = float(sums["water_liters"][g])
        group.endpoints = endpoints.get(g, set())
        groups.append(group)
    return groups


def reference_to_focus(
    source: Any, *, granularity: str = "day", unknown_cost: str = "omit", **kw: Any
) -> Any:
    """``to_focus`` as it was: rows to pandas, then :func:`reference_charges`."""
    import pandas as pd

    from melious_impact.export._rows import to_frame
    from melious_impact.export.focus_prices import price_list_from_mapping
    from melious_impact.export.focus_spec import FOCUS_COLUMN_NAMES, FOCUS_VERSION

    rate = Decimal(str(kw.pop("eur_per_energy_unit", "0.0001")))
    prices = kw.pop("prices", None)
    price_list = price_list_from_mapping(prices) if prices else {}
    account = _Account(
        kw.pop("billing_account_id", "melious"),
        kw.pop("billing_account_name", None),
        kw.pop("billing_currency", "EUR"),
        kw.pop("service_name", "Melious Inference API"),
        kw.pop("provider_name", "Melious"),
        dict(kw.pop("invoice_ids", None) or {}),
    )
    assert not kw, kw
    frame = to_frame(source)
    costs = reference_row_costs(frame, rate) if len(frame) else []
    unknown = sum(c is None for c in costs)
    if unknown and unknown_cost == "omit":
        keep = [c is not None for c in costs]
        frame = frame[keep].reset_index(drop=True)
        costs = [c for c in costs if c is not None]
    groups = reference_charges(frame, costs, granularity) if len(frame) else []
    records = [row for g in groups for row in _focus_rows(g, account, price_list)]
    out = _typed(pd.DataFrame(records, columns=list(FOCUS_COLUMN_NAMES)))
    out.attrs["focus_version"] = FOCUS_VERSION
    out.attrs["unknown_cost_requests"] = unknown if unknown_cost == "omit" else 0
    return out
