"""Charges of a FOCUS table: rows grouped per charge period and dimensions, exact sums.

Private to :mod:`melious_impact.export.focus`. Keys are found with pandas (stores hold
millions of rows); only the decimal sums, which numpy cannot do exactly, walk the rows.
"""

from __future__ import annotations

import decimal
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

ZERO = Decimal(0)
#: A wide context: 28 significant digits could round 18-decimal sums.
MONEY = decimal.Context(prec=80, rounding=decimal.ROUND_HALF_EVEN, traps=[decimal.InvalidOperation])


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        dec = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return None
    return dec if dec.is_finite() else None


def row_costs(frame: Any, eur_per_energy_unit: Decimal) -> list[Decimal | None]:
    """Each row's ``cost_eur`` through the one shared definition (``forecast.costs``).

    Using it (not a copy) keeps FOCUS totals equal to the forecasts' and the reports'.
    """
    from melious_impact.forecast.costs import add_cost_eur

    costs = add_cost_eur(frame, eur_per_energy_unit=eur_per_energy_unit)["cost_eur"].tolist()
    return [_decimal(c) for c in costs]


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


def charges(frame: Any, costs: list[Decimal | None], granularity: str) -> list[Group]:
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
