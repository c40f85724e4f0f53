"""FinOps FOCUS export: captured rows as a FOCUS 1.2 cost and usage table.

``to_focus(store_or_frame)`` aggregates per charge period (``"hour"`` or ``"day"``) x resource
(the model) x region x billing balance x tags, or keeps one FOCUS row per request
(``granularity="request"``). Costs are exact ``Decimal`` euros: the cost of a row is its
``cost_eur`` (``forecast.costs.add_cost_eur``: credits when ``billing_paid_with == 'credits'``,
energy units x ``eur_per_energy_unit`` when ``'energy'``, inferred when missing). Melious publishes
no discounts, so ListCost = ContractedCost = EffectiveCost = BilledCost, and rows with no
billing block cost 0 (they are still counted in ``x_Requests``).

``write_focus(df, path)`` writes CSV (decimals as exact text, times as ISO 8601 UTC) or
Parquet (decimal128(38, 18), timestamps in UTC). The frame keeps every digit (an energy
cost can have 22 decimals); Parquet rounds to the store's 18 decimals, half-even.
"""

from __future__ import annotations

import decimal
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from melious_impact.export._rows import to_frame
from melious_impact.export.focus_spec import FOCUS_COLUMN_NAMES, FOCUS_COLUMNS
from melious_impact.forecast.costs import DEFAULT_EUR_PER_ENERGY_UNIT
from melious_impact.records import DECIMAL_PRECISION, DECIMAL_SCALE

GRANULARITIES = ("hour", "day", "request")
_ZERO = Decimal(0)
_MONEY = decimal.Context(prec=80, rounding=decimal.ROUND_HALF_EVEN, traps=[decimal.InvalidOperation])


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        dec = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return None
    return dec if dec.is_finite() else None


def _row_costs(frame: Any, eur_per_energy_unit: Decimal) -> list[Decimal | None]:
    """Each row's ``cost_eur`` through the one shared definition (``forecast.costs``).

    Using it (not a copy) keeps FOCUS totals equal to the forecasts' and the reports'.
    """
    from melious_impact.forecast.costs import add_cost_eur

    costs = add_cost_eur(frame, eur_per_energy_unit=eur_per_energy_unit)["cost_eur"].tolist()
    return [_decimal(c) for c in costs]


def _month_bounds(when: datetime) -> tuple[datetime, datetime]:
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
class _Group:
    """Running sums of one FOCUS row."""

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
    cost: Decimal = _ZERO
    billing_energy: Decimal = _ZERO
    billing_credits: Decimal = _ZERO
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


def _focus_row(group: _Group, account: _Account) -> dict[str, Any]:
    tokens = Decimal(group.input_tokens + group.output_tokens)
    billing_start, billing_end = _month_bounds(group.period_start)
    model = group.model
    endpoints = ", ".join(sorted(group.endpoints)) or "inference"
    paid = f", paid with {group.paid_with}" if group.paid_with else ", not billed"
    return {
        "BilledCost": group.cost,
        "BillingAccountId": account.billing_account_id,
        "BillingAccountName": account.billing_account_name,
        "BillingCurrency": account.currency,
        "BillingPeriodEnd": billing_end,
        "BillingPeriodStart": billing_start,
        "ChargeCategory": "Usage",
        "ChargeClass": None,
        "ChargeDescription": f"{model or 'unknown model'} tokens on {account.provider_name} {endpoints}{paid}",
        "ChargeFrequency": "Usage-Based",
        "ChargePeriodEnd": group.period_end,
        "ChargePeriodStart": group.period_start,
        "ConsumedQuantity": tokens,
        "ConsumedUnit": "Tokens",
        "ContractedCost": group.cost,
        "EffectiveCost": group.cost,
        "InvoiceIssuerName": account.provider_name,
        "ListCost": group.cost,
        "PricingCategory": "Standard",
        "PricingCurrency": account.currency,
        "PricingQuantity": tokens,
        "PricingUnit": "Tokens",
        "ProviderName": account.provider_name,
        "PublisherName": account.provider_name,
        "RegionId": group.location,
        "RegionName": group.location,
        "ResourceId": model,
        "ResourceName": model,
        "ResourceType": "Model" if model else None,
        "ServiceCategory": "AI and Machine Learning",
        "ServiceName": account.service_name,
        "ServiceSubcategory": "Generative AI",
        "SkuId": model,
        "SkuMeter": "Tokens" if model else None,
        "SkuPriceId": f"{model}:{group.paid_with}" if model and group.paid_with else None,
        "Tags": group.tags,
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
        "x_BillingPaidWith": group.paid_with,
        "x_ProviderId": group.provider_id,
        "x_Team": group.team,
        "x_Project": group.project,
        "x_RequestId": group.request_id,
    }


def to_focus(
    source: Any,
    *,
    granularity: str = "day",
    eur_per_energy_unit: Decimal | str = DEFAULT_EUR_PER_ENERGY_UNIT,
    billing_account_id: str = "melious",
    billing_account_name: str | None = None,
    billing_currency: str = "EUR",
    service_name: str = "Melious Inference API",
    provider_name: str = "Melious",
) -> Any:
    """A FOCUS 1.2 cost and usage table (pandas DataFrame) from rows, a frame or an ImpactStore.

    ``granularity``: ``"hour"`` or ``"day"`` (charge periods, UTC) or ``"request"`` (one FOCUS
    row per captured response, ChargePeriod = [captured_at - latency, captured_at]).
    ``eur_per_energy_unit``: the euro value of one Melious energy unit (exact decimal).
    """
    import pandas as pd

    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {', '.join(GRANULARITIES)}, got {granularity!r}")
    rate = Decimal(str(eur_per_energy_unit))
    if not rate.is_finite() or rate < 0:
        raise ValueError(f"eur_per_energy_unit must be a non-negative decimal, got {eur_per_energy_unit!r}")
    account = _Account(
        billing_account_id, billing_account_name, billing_currency, service_name, provider_name
    )

    frame = to_frame(source)
    groups = _groups(frame, _row_costs(frame, rate), granularity) if len(frame) else []
    out = pd.DataFrame([_focus_row(g, account) for g in groups], columns=list(FOCUS_COLUMN_NAMES))
    return _typed(out)


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


def _groups(frame: Any, costs: list[Decimal | None], granularity: str) -> list[_Group]:
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
    dims: dict[str, list[str | None]] = {
        "model": models,
        "location": _texts(frame, "location"),
        "provider_id": _texts(frame, "provider_id"),
        "paid_with": _texts(frame, "billing_paid_with"),
        "team": teams,
        "project": projects,
        "tags": tags,
    }
    if granularity == "request":
        start_at = when - pd.to_timedelta(_numbers(frame, "latency_ms"), unit="ms")
        # FOCUS periods are [start, end): a zero-length request still needs end > start.
        end_at = when.where(when > start_at, when + timedelta(microseconds=1))
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
    money = {name: [_ZERO] * count for name in ("cost", "billing_energy", "billing_credits")}
    energy_units = _column(frame, "billing_energy").tolist()
    credit_units = _column(frame, "billing_credits").tolist()
    add = _MONEY.add  # a wide context: 28 significant digits could round 18-decimal sums
    for g, cost, energy, credit in zip(gid.tolist(), costs, energy_units, credit_units, strict=True):
        if cost is not None:
            money["cost"][g] = add(money["cost"][g], cost)
        if energy is not None:
            money["billing_energy"][g] = add(money["billing_energy"][g], _decimal(energy) or _ZERO)
        if credit is not None:
            money["billing_credits"][g] = add(money["billing_credits"][g], _decimal(credit) or _ZERO)
    endpoints: dict[int, set[str]] = {}
    for g, endpoint in set(zip(gid.tolist(), _texts(frame, "endpoint"), strict=True)):
        if endpoint:
            endpoints.setdefault(g, set()).add(endpoint)
    request_ids = _texts(frame, "request_id")
    groups = []
    for g in range(count):
        i = int(first[g])
        model, location, provider_id, paid_with, team, project, tag_text = (dims[k][i] for k in dims)
        group = _Group(
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
            money["cost"][g],
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


def _typed(frame: Any) -> Any:
    """Give each column the dtype its FOCUS data type asks for (decimals stay Decimal objects)."""
    import pandas as pd

    for column in FOCUS_COLUMNS:
        name = column.name
        if column.data_type == "DateTime":
            frame[name] = pd.to_datetime(frame[name], utc=True).astype("datetime64[us, UTC]")
        elif column.data_type == "Integer":
            frame[name] = frame[name].astype("int64")
        elif column.data_type == "Float":
            frame[name] = frame[name].astype("float64")
        elif column.data_type == "Decimal":
            frame[name] = frame[name].astype(object)
        else:
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame


def focus_arrow_schema() -> Any:
    """Arrow schema of the FOCUS table (exact decimals, UTC timestamps)."""
    import pyarrow as pa

    types = {
        "Decimal": pa.decimal128(DECIMAL_PRECISION, DECIMAL_SCALE),
        "DateTime": pa.timestamp("us", tz="UTC"),
        "String": pa.string(),
        "JSON": pa.string(),
        "Integer": pa.int64(),
        "Float": pa.float64(),
    }
    return pa.schema(
        [
            pa.field(c.name, types[c.data_type], nullable=c.nullable or c.data_type == "Decimal")
            for c in FOCUS_COLUMNS
        ],
        metadata={"focus_version": "1.2"},
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
        table = pa.Table.from_pandas(data, schema=focus_arrow_schema(), preserve_index=False)
        pq.write_table(table, target)
        return target
    data = frame.copy()
    for column in FOCUS_COLUMNS:
        if column.data_type == "DateTime":
            # ISO 8601 with a Z, as FOCUS asks for date/time values.
            data[column.name] = data[column.name].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif column.data_type == "Decimal":
            data[column.name] = [None if v is None else format_decimal(v) for v in data[column.name]]
    data.to_csv(target, index=False)
    return target


def _to_store_scale(value: Decimal) -> Decimal:
    # records.quantize_money runs in the default 28-digit context, too narrow for 38 digits.
    return value.quantize(Decimal(1).scaleb(-DECIMAL_SCALE), context=_MONEY)


def format_decimal(value: Decimal) -> str:
    """Exact, exponent-free text of a decimal ('0.0000001', not '1E-7')."""
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", ""} else text
