"""Charges of a FOCUS table: one DuckDB GROUP BY per charge period and dimensions, exact sums.

Private to :mod:`melious_impact.export.focus`. The rows never reach Python: DuckDB groups
them by charge period (UTC hour or day) x model x location x provider x billing balance x
team x project x raw tags, and by the *cost class* of a row (its balance word, whether its
credits are missing, zero or not, whether its energy is missing). All rows of a class are
priced by the same line of :data:`melious_impact.billing.COST_RULES`, so a group's cost is
its exact ``DECIMAL`` sum of credits, or of energy units times the rate (multiplied once, in
Python, exactly). Python then merges the few resulting groups into charges (a charge's Tags
JSON can come from several raw tag texts) in the order of their first rows.

A frame is registered with DuckDB (its columns cleaned to the store's types, billing amounts
rounded to the store's 18 decimals) and runs the same query. Impact floats are summed with a
compensated sum (``fsum``), so they do not depend on the order rows are read in.
"""

from __future__ import annotations

import decimal
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import duckdb

from melious_impact.periods import Period

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


# -- the rows as DuckDB reads them ---------------------------------------------------------

_TEXTS = (
    "model",
    "requested_model",
    "location",
    "provider_id",
    "billing_paid_with",
    "team",
    "project",
    "endpoint",
    "request_id",
    "error_code",
)
_NUMBERS = (
    "status_code",
    "latency_ms",
    "input_tokens",
    "output_tokens",
    "energy_kwh",
    "carbon_g_co2",
    "water_liters",
)
_MONEY_COLUMNS = ("billing_credits", "billing_energy")


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


def _money(value: Any) -> Decimal | None:
    """A billing amount as the store holds it (exact, rounded to 18 places), or None."""
    from melious_impact.forecast.costs import to_decimal
    from melious_impact.records import quantize_money

    amount = to_decimal(value)
    return None if amount is None else quantize_money(amount)


def frame_table(frame: Any) -> Any:
    """The columns the charges read, from a frame, cleaned to the store's types (Arrow).

    ``_pos`` numbers the rows: charges come in the order of their first rows.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from melious_impact.records import DECIMAL_PRECISION, DECIMAL_SCALE

    when = pd.to_datetime(_column(frame, "captured_at"), utc=True).astype("datetime64[us, UTC]")
    arrays: dict[str, Any] = {
        "_pos": pa.array(np.arange(len(frame), dtype=np.int64)),
        "captured_at": pa.Array.from_pandas(when, type=pa.timestamp("us", "UTC")),
        "tags": pa.array(
            [v if isinstance(v, str) else None for v in _column(frame, "tags").tolist()], pa.string()
        ),
        "impact_reported": pa.array(
            [v is True or v == 1 for v in _column(frame, "impact_reported").tolist()], pa.bool_()
        ),
    }
    for name in _TEXTS:
        arrays[name] = pa.array(_texts(frame, name), pa.string())
    for name in _NUMBERS:
        arrays[name] = pa.array(_numbers(frame, name), pa.float64())
    money = pa.decimal128(DECIMAL_PRECISION, DECIMAL_SCALE)
    for name in _MONEY_COLUMNS:
        arrays[name] = pa.array([_money(v) for v in _column(frame, name).tolist()], money)
    return pa.table(arrays)


def _text(column: str) -> str:
    return f"nullif({column}, '')"


def _positive(column: str) -> str:
    return f"CASE WHEN isfinite(CAST({column} AS DOUBLE)) AND {column} >= 0 THEN {column} ELSE 0 END"


def _money_sums(column: str, wide: bool) -> list[str]:
    if not wide:
        return [f"sum({column})"]
    # beyond 38 digits: the integer parts as HUGEINT, the fractions as DECIMAL(38, 18)
    return [f"sum(CAST(trunc({column}) AS HUGEINT))", f"sum({column} - trunc({column}))"]


def charges_sql(relation: str, granularity: str, *, ordered_by_pos: bool, wide: bool = False) -> str:
    """The GROUP BY of the charges over ``relation`` (the ``requests`` columns)."""
    if granularity == "request":
        period = ["captured_at", _positive("latency_ms"), _text("request_id"), "_row"]
    else:
        period = [f"date_trunc('{granularity}', captured_at)"]
    keys = [
        *period,
        f"coalesce({_text('model')}, {_text('requested_model')})",
        _text("location"),
        _text("provider_id"),
        _text("billing_paid_with"),
        _text("team"),
        _text("project"),
        "tags",
        # the cost class: which line of the cost rule prices the rows
        "CASE WHEN billing_credits IS NULL THEN 0 WHEN billing_credits = 0 THEN 1 ELSE 2 END",
        "billing_energy IS NOT NULL",
    ]
    first = "min(_pos)" if ordered_by_pos else "min({'t': captured_at, 'r': record_id})"
    values = [
        "count(*)",
        f"count(*) FILTER (WHERE {_text('error_code')} IS NOT NULL OR status_code >= 400)",
        "count(*) FILTER (WHERE impact_reported)",
        *(f"sum(CAST(floor({_positive(c)}) AS HUGEINT))" for c in ("input_tokens", "output_tokens")),
        *(f"fsum({_positive(c)})" for c in ("energy_kwh", "carbon_g_co2", "water_liters")),
        *_money_sums("billing_credits", wide),
        *_money_sums("billing_energy", wide),
        f"list(DISTINCT {_text('endpoint')}) FILTER (WHERE {_text('endpoint')} IS NOT NULL)",
        first,
    ]
    source = relation
    if granularity == "request":  # one charge per row
        source = f"(SELECT *, row_number() OVER () AS _row FROM {relation})"
    names = ", ".join(f"k{i}" for i in range(len(keys)))
    return (
        f"SELECT {', '.join(f'{k} AS k{i}' for i, k in enumerate(keys))}, {', '.join(values)} "
        f"FROM {source} GROUP BY {names}"
    )


@contextmanager
def rows_connection(source: Any, span: Period) -> Iterator[tuple[duckdb.DuckDBPyConnection, str, bool]]:
    """(connection, relation, ordered by ``_pos``) over a store's or a frame's rows in ``span``."""
    from melious_impact.store.query import new_connection

    if callable(getattr(source, "connect", None)) and type(source).__name__ != "DataFrame":
        con = source.connect(span.start, span.end)
        try:
            yield con, "requests", False
        finally:
            con.close()
        return
    from melious_impact.export._rows import to_frame

    con = new_connection()
    try:
        con.register("_focus_frame", frame_table(to_frame(source)))
        where = span.sql_literal("captured_at")
        con.execute(
            "CREATE TEMP VIEW _focus_rows AS SELECT * FROM _focus_frame"
            + (f" WHERE {' AND '.join(where)}" if where else "")
        )
        yield con, "_focus_rows", True
    finally:
        con.close()


# -- from the GROUP BY to charges ----------------------------------------------------------


def _rule_amount(paid_with: str | None, credits_state: int, energy_present: bool) -> str | None:
    """Which amount the cost rule takes for a class of rows: ``credits``, ``energy`` or None.

    Asks :func:`melious_impact.billing.cost_eur` itself (the one rule) with stand-in amounts
    that say which field it took: credits 0 or 1, energy 2, at a rate of 1.
    """
    from melious_impact.billing import cost_eur

    credits = (None, Decimal(0), Decimal(1))[credits_state]
    value, _ = cost_eur(paid_with, credits, Decimal(2) if energy_present else None, Decimal(1))
    if value is None:
        return None
    return "energy" if value == 2 else "credits"


def _money_value(parts: tuple[Any, ...]) -> Decimal:
    total = ZERO
    for part in parts:
        if part is not None:
            total = MONEY.add(total, Decimal(part))
    return total


def _request_periods(times: list[datetime], latencies: list[float]) -> tuple[list[datetime], list[datetime]]:
    """[captured_at - latency, captured_at] widened to whole seconds, never empty.

    FOCUS DateTimes are to the second (Attributes > Date/Time Format) and a charge period
    ends after it starts (Columns > Charge Period End: exclusive bound), also for a request
    with no or zero latency.
    """
    import numpy as np
    import pandas as pd

    when = pd.Series(pd.to_datetime(times, utc=True)).astype("datetime64[us, UTC]")
    start_at = (when - pd.to_timedelta(np.asarray(latencies, dtype="float64"), unit="ms")).dt.floor("s")
    end_at = when.dt.ceil("s")
    end_at = end_at.where(end_at > start_at, start_at + timedelta(seconds=1))
    return start_at.dt.to_pydatetime().tolist(), end_at.dt.to_pydatetime().tolist()


def charges(
    source: Any, granularity: str, rate: Decimal, span: Period, *, keep_unknown: bool
) -> tuple[list[Group], int]:
    """The charges of ``source`` (a store or rows) in ``span``, in the order of their first
    rows, and the number of requests whose cost is unknown (left out unless ``keep_unknown``)."""
    with rows_connection(source, span) as (con, relation, by_pos):
        try:
            found = con.sql(charges_sql(relation, granularity, ordered_by_pos=by_pos)).fetchall()
            wide = False
        except duckdb.OutOfRangeException:  # a sum past 38 digits: add the parts apart
            found = con.sql(charges_sql(relation, granularity, ordered_by_pos=by_pos, wide=True)).fetchall()
            wide = True
    n_period = 4 if granularity == "request" else 1
    money_width = 2 if wide else 1
    tag_texts: dict[tuple[Any, ...], str] = {}
    merged: dict[Any, tuple[Any, Group]] = {}
    unknown = 0
    latencies: dict[int, float] = {}
    for record in found:
        period, dims, values = record[:n_period], record[n_period : n_period + 9], record[n_period + 9 :]
        model, location, provider_id, paid_with, team, project, raw_tags, credits_state, energy_present = dims
        n, errors, reported, tokens_in, tokens_out, kwh, co2, water = values[:8]
        credit_sum = _money_value(values[8 : 8 + money_width])
        energy_sum = _money_value(values[8 + money_width : 8 + 2 * money_width])
        endpoints, first = values[8 + 2 * money_width :]
        if period[0] is None:
            raise ValueError("a row has no captured_at: FOCUS needs a charge period for every charge")
        amount = _rule_amount(paid_with, credits_state, energy_present)
        if amount is None:
            unknown += n
            if not keep_unknown:
                continue
        order = (first,) if by_pos else (first["t"], first["r"] is None, first["r"] or "")
        tag_key = (raw_tags, team, project)
        tags = tag_texts.get(tag_key)
        if tags is None:
            tags = tag_texts[tag_key] = _tags_json({"tags": raw_tags, "team": team, "project": project})
        if granularity == "request":
            key: Any = period[3]
            latencies[key] = float(period[1])
            start, end = period[0], period[0]
        else:
            key = (
                period[0],
                amount is not None,
                model,
                location,
                provider_id,
                paid_with,
                team,
                project,
                tags,
            )
            start = period[0]
            end = start + (timedelta(hours=1) if granularity == "hour" else timedelta(days=1))
        cost = None
        if amount == "credits":
            cost = credit_sum
        elif amount == "energy":
            cost = MONEY.multiply(energy_sum, rate)
        held = merged.get(key)
        if held is None:
            group = Group(start, end, model, location, provider_id, paid_with, team, project, tags or "{}")
            group.request_id = period[2] if granularity == "request" else None
            group.cost = cost
            merged[key] = (order, group)
        else:
            group = held[1]
            if cost is not None and group.cost is not None:
                group.cost = MONEY.add(group.cost, cost)
            if order < held[0]:
                merged[key] = (order, group)
        group.billing_credits = MONEY.add(group.billing_credits, credit_sum)
        group.billing_energy = MONEY.add(group.billing_energy, energy_sum)
        group.requests += int(n)
        group.errors += int(errors)
        group.impact_reported += int(reported)
        group.input_tokens += int(tokens_in)
        group.output_tokens += int(tokens_out)
        group.energy_kwh += float(kwh)
        group.carbon_g_co2 += float(co2)
        group.water_liters += float(water)
        group.endpoints.update(endpoints or ())
    ordered = [(order, key, group) for key, (order, group) in merged.items()]
    ordered.sort(key=lambda item: item[0])
    groups = [group for _, _, group in ordered]
    if granularity == "request" and groups:
        starts, ends = _request_periods(
            [g.period_start for g in groups], [latencies[key] for _, key, _ in ordered]
        )
        for group, start, end in zip(groups, starts, ends, strict=True):
            group.period_start, group.period_end = start, end
    return groups, unknown
