"""Charges of a FOCUS table: one DuckDB GROUP BY per charge period and dimensions, exact sums.

Private to :mod:`melious_impact.export.focus`. The rows never reach Python: DuckDB groups
them by charge period (UTC hour or day) x model x location x provider x billing balance x
team x project x raw tags, and by the *cost class* of a row (its balance word, whether its
credits are missing, zero or not, whether its energy is missing). All rows of a class are
priced by the same line of :data:`melious_impact.billing.COST_RULES`, so a group's cost is
its exact ``DECIMAL`` sum of credits, or of energy units times the rate (multiplied once, in
Python, exactly). Python then merges the few resulting groups into charges (a charge's Tags
JSON can come from several raw tag texts) in the order of their first rows.

A store is aggregated one UTC month at a time, each month over a connection that reads only
that month's partitions: the charge period is part of every key, so a month's charges are
exactly its share of the period's, and DuckDB's hash tables hold one month's groups, not the
year's (on 50M generated rows the aggregation's peak fell from 1.73 GB to 0.80 GB).

A frame is registered with DuckDB (its columns cleaned to the store's types, billing amounts
rounded to the store's 18 decimals) and runs the same query. Impact floats are summed with a
compensated sum (``fsum``), so they do not depend on the order rows are read in.
"""

from __future__ import annotations

import decimal
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import numpy as np

from melious_impact.frames import is_store
from melious_impact.periods import Period

ZERO = Decimal(0)
#: A wide context: 28 significant digits could round 18-decimal sums.
MONEY = decimal.Context(prec=80, rounding=decimal.ROUND_HALF_EVEN, traps=[decimal.InvalidOperation])


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
    from melious_impact.forecasting.costs import to_decimal
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
    # past 38 digits: the integer parts as HUGEINT, the fractions as DECIMAL(38, 18)
    return [f"sum(CAST(trunc({column}) AS HUGEINT))", f"sum({column} - trunc({column}))"]


#: Endpoints a store may hold for the charge descriptions (Melious has about ten).
_MAX_ENDPOINTS = 62

_DIMS = ("model", "location", "provider_id", "paid_with", "team", "project")


#: How stage 1 finds a charge's first row: a frame's row number; a store's first capture
#: time and record id (as the store orders rows: charges often start at one microsecond).
_FIRST_ROW = {"pos": "min(_pos)", "time_record": "min({'t': captured_at, 'r': record_id})"}


def _rows_sql(relation: str, granularity: str, *, order: str, wide: bool) -> str:
    """Stage 1, over the rows: sums per charge key x raw tags x endpoint x cost class."""
    if granularity == "request":  # one charge per row
        period = {
            "p_start": "captured_at",
            "p_latency": _positive("latency_ms"),
            "p_request_id": _text("request_id"),
            "p_row": "_row",
        }
        relation = f"(SELECT *, row_number() OVER () AS _row FROM {relation})"
    else:
        period = {"p_start": f"date_trunc('{granularity}', captured_at)"}
    keys = {
        **period,
        "model": f"coalesce({_text('model')}, {_text('requested_model')})",
        "location": _text("location"),
        "provider_id": _text("provider_id"),
        "paid_with": _text("billing_paid_with"),
        "team": _text("team"),
        "project": _text("project"),
        "raw_tags": "tags",
        "endpoint": _text("endpoint"),
        # the cost class: which line of the cost rule prices the rows
        "credits_state": "CASE WHEN billing_credits IS NULL THEN 0 WHEN billing_credits = 0 THEN 1 ELSE 2 END",
        "energy_present": "billing_energy IS NOT NULL",
    }
    values = {
        "requests": "count(*)",
        "errors": f"count(*) FILTER (WHERE {_text('error_code')} IS NOT NULL OR status_code >= 400)",
        "impact_reported": "count(*) FILTER (WHERE impact_reported)",
        **{c: f"sum(CAST(floor({_positive(c)}) AS HUGEINT))" for c in ("input_tokens", "output_tokens")},
        **{c: f"fsum({_positive(c)})" for c in ("energy_kwh", "carbon_g_co2", "water_liters")},
        **{f"credits_{i}": v for i, v in enumerate(_money_sums("billing_credits", wide))},
        **{f"energy_{i}": v for i, v in enumerate(_money_sums("billing_energy", wide))},
        "first_row": _FIRST_ROW[order],
    }
    return (
        "SELECT "
        + ", ".join(f"{v} AS {k}" for k, v in {**keys, **values}.items())
        + f" FROM {relation} GROUP BY {', '.join(str(i + 1) for i in range(len(keys)))}"
    )


def _charges_sql(granularity: str, wide: bool, *, keep_unknown: bool) -> str:
    """Stage 2, over stage 1's sums: one row per charge, the cost class priced and the tags
    read (``_classes``, ``_tag_texts``), in the order of the charges' first rows."""
    period = ["p_start", "p_latency", "p_request_id", "p_row"] if granularity == "request" else ["p_start"]
    parts = range(2 if wide else 1)
    keys = [*(f"g.{p}" for p in period), "c.kind IS NOT NULL AS known", *(f"g.{d}" for d in _DIMS), "t.tags"]
    values = [
        # the cost: the credits or energy sums of a charge priced by one rule line (most of
        # them); charges mixing both (a balance word missing) get each side's sum
        "CASE WHEN min(c.kind) = max(c.kind) THEN min(c.kind) END AS kind",
        *(
            f"CASE WHEN min(c.kind) <> max(c.kind) THEN sum(g.credits_{i}) FILTER (WHERE c.kind = 'credits') END"
            f" AS cost_credits_{i}"
            for i in parts
        ),
        *(
            f"CASE WHEN min(c.kind) <> max(c.kind) THEN sum(g.energy_{i}) FILTER (WHERE c.kind = 'energy') END"
            f" AS cost_energy_{i}"
            for i in parts
        ),
        *(f"sum(g.credits_{i}) AS credits_{i}" for i in parts),
        *(f"sum(g.energy_{i}) AS energy_{i}" for i in parts),
        *(
            f"CAST(sum(g.{c}) AS BIGINT) AS {c}"
            for c in ("requests", "errors", "impact_reported", "input_tokens", "output_tokens")
        ),
        *(f"fsum(g.{c}) AS {c}" for c in ("energy_kwh", "carbon_g_co2", "water_liters")),
        # sorted as Python sorts text (by code point: UTF-8 bytes sort the same)
        # the endpoints a charge used, as the bits of _endpoint_bits (few distinct endpoints)
        "bit_or(e.bit) AS endpoint_bits",
        "min(g.first_row) AS first_row",
    ]
    same = " AND ".join
    return (
        f"SELECT {', '.join(keys + values)} FROM _charge_sums g "
        "JOIN _classes c ON "
        + same(f"g.{k} IS NOT DISTINCT FROM c.{k}" for k in ("paid_with", "credits_state", "energy_present"))
        + " JOIN _tag_texts t ON "
        + same(f"g.{k} IS NOT DISTINCT FROM t.{k}" for k in ("raw_tags", "team", "project"))
        + " LEFT JOIN _endpoint_bits e ON g.endpoint = e.endpoint"
        + ("" if keep_unknown else " WHERE c.kind IS NOT NULL")
        + " GROUP BY ALL"
    )


@contextmanager
def rows_connection(
    source: Any, span: Period, teams: Sequence[str] | None = None, *, undated: bool = False
) -> Iterator[tuple[duckdb.DuckDBPyConnection, str, bool]]:
    """(connection, relation, ordered by ``_pos``) over a store's or a frame's rows in
    ``span`` (of ``teams`` when given; only the rows without ``captured_at`` when ``undated``)."""
    import pyarrow as pa

    from melious_impact.store.query import new_connection

    store = is_store(source)
    if store:
        con = source.connect(span.start, span.end)
        where = []
        base = "requests"
    else:
        from melious_impact.export._rows import to_frame

        con = new_connection()
        where = span.sql_literal("captured_at")
        base = "_focus_frame"
    try:
        if not store:
            con.register("_focus_frame", frame_table(to_frame(source)))
        if teams is not None:
            con.register("_focus_teams", pa.table({"team": pa.array([str(t) for t in teams], pa.string())}))
            where.append("team IN (SELECT team FROM _focus_teams)")
        if undated:
            where.append("captured_at IS NULL")
        con.execute(
            f"CREATE TEMP VIEW _focus_rows AS SELECT * FROM {base}"
            + (f" WHERE {' AND '.join(where)}" if where else "")
        )
        yield con, "_focus_rows", not store
    finally:
        con.close()


@dataclass(frozen=True)
class _Chunk:
    span: Period
    undated: bool = False


def _chunks(source: Any, span: Period, teams: Sequence[str] | None) -> list[_Chunk]:
    """The parts a source is aggregated in: a frame at once; a store month by month (UTC).

    A charge never spans two months (its day or hour is part of its key), so each month's
    charges are exactly its share of the charges of the whole period, and DuckDB's hash
    tables hold one month's groups at a time. Each month's connection reads only that
    month's partitions. Rows without ``captured_at`` (possible in a store, never in a charge
    period) form a last part of their own.
    """
    if not is_store(source):
        return [_Chunk(span)]
    with rows_connection(source, span, teams) as (con, relation, _):
        lo, hi, undated = con.sql(
            f"SELECT epoch_us(min(captured_at)), epoch_us(max(captured_at)), "
            f"count(*) FILTER (WHERE captured_at IS NULL) FROM {relation}"
        ).fetchall()[0]
    if lo is None:
        return [_Chunk(span, undated=bool(undated))]
    chunks = []
    for first, last in _months(_from_us(lo), _from_us(hi)):
        start = first if span.start is None else max(first, span.start)
        end = last if span.end is None else min(last, span.end)
        chunks.append(_Chunk(Period(start, end)))
    if undated:
        chunks.append(_Chunk(Period(), undated=True))
    return chunks


def _from_us(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def _months(lo: datetime, hi: datetime) -> list[tuple[datetime, datetime]]:
    """The UTC months ``[first instant, next month's)`` from the month of ``lo`` to that of ``hi``."""
    out = []
    year, month = lo.year, lo.month
    while (year, month) <= (hi.year, hi.month):
        nxt = (year + month // 12, month % 12 + 1)
        out.append((datetime(year, month, 1, tzinfo=UTC), datetime(*nxt, 1, tzinfo=UTC)))
        year, month = nxt
    return out


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


def _lookups(con: duckdb.DuckDBPyConnection) -> None:
    """Register the cost class and Tags JSON of each distinct key of stage 1 (few of them)."""
    import pyarrow as pa

    classes = con.sql("SELECT DISTINCT paid_with, credits_state, energy_present FROM _charge_sums").fetchall()
    con.register(
        "_classes",
        pa.table(
            {
                "paid_with": pa.array([c[0] for c in classes], pa.string()),
                "credits_state": pa.array([c[1] for c in classes], pa.int32()),
                "energy_present": pa.array([c[2] for c in classes], pa.bool_()),
                "kind": pa.array([_rule_amount(*c) for c in classes], pa.string()),
            }
        ),
    )
    tags = con.sql("SELECT DISTINCT raw_tags, team, project FROM _charge_sums").fetchall()
    con.register(
        "_tag_texts",
        pa.table(
            {
                "raw_tags": pa.array([t[0] for t in tags], pa.string()),
                "team": pa.array([t[1] for t in tags], pa.string()),
                "project": pa.array([t[2] for t in tags], pa.string()),
                "tags": pa.array(
                    [_tags_json({"tags": t[0], "team": t[1], "project": t[2]}) for t in tags], pa.string()
                ),
            }
        ),
    )


def _endpoints(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Register each distinct endpoint with a bit, in Python's text order; returns them."""
    import pyarrow as pa

    found = sorted(
        e for (e,) in con.sql("SELECT DISTINCT endpoint FROM _charge_sums").fetchall() if e is not None
    )
    if len(found) > _MAX_ENDPOINTS:
        raise ValueError(
            f"{len(found)} distinct endpoints: a FOCUS export describes at most {_MAX_ENDPOINTS}"
        )
    bits = pa.array([1 << i for i in range(len(found))], pa.int64())
    con.register("_endpoint_bits", pa.table({"endpoint": pa.array(found, pa.string()), "bit": bits}))
    return found


def _endpoint_texts(bits: Any, names: list[str]) -> Any:
    """``"/v1/chat/completions, /v1/embeddings"`` for each charge's endpoint bits (None: none)."""
    texts: dict[int, str | None] = {0: None}
    out = np.empty(len(bits), dtype=object)
    for i, mask in enumerate(bits.fill_null(0).to_numpy().tolist()):
        if mask not in texts:
            texts[mask] = ", ".join(n for k, n in enumerate(names) if mask >> k & 1)
        out[i] = texts[mask]
    return out


def _exact(table: Any, name: str, wide: bool) -> list[Decimal | None]:
    """A money column of stage 2 as exact decimals (its two parts added when ``wide``)."""
    values: list[Decimal | None] = table.column(f"{name}_0").to_pylist()
    if not wide:
        return values
    fractions = table.column(f"{name}_1").to_pylist()
    return [
        None if whole is None else MONEY.add(Decimal(whole), fraction)
        for whole, fraction in zip(values, fractions, strict=True)
    ]


def _request_periods(times: Any, latencies: Any) -> tuple[Any, Any]:
    """[captured_at - latency, captured_at] widened to whole seconds, never empty.

    FOCUS DateTimes are to the second (Attributes > Date/Time Format) and a charge period
    ends after it starts (Columns > Charge Period End: exclusive bound), also for a request
    with no or zero latency.
    """
    import pandas as pd

    when = pd.Series(pd.to_datetime(times, utc=True)).astype("datetime64[us, UTC]")
    start_at = (when - pd.to_timedelta(np.asarray(latencies, dtype="float64"), unit="ms")).dt.floor("s")
    end_at = when.dt.ceil("s")
    end_at = end_at.where(end_at > start_at, start_at + timedelta(seconds=1))
    return _utc_us(start_at), _utc_us(end_at)


def _utc_us(times: Any) -> Any:
    """UTC instants as a numpy ``datetime64[us]`` array (no time zone: UTC by convention)."""
    import pandas as pd

    return pd.Series(times).dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]").to_numpy()


def _texts_of(column: Any) -> Any:
    """A text column as a numpy object array in which each distinct text is one object: a
    million charges hold a few hundred distinct model, team or tag texts, not a million."""
    import pyarrow as pa

    encoded = pa.chunked_array(column.chunks, type=column.type).combine_chunks().dictionary_encode()
    words = np.array([*encoded.dictionary.to_pylist(), None], dtype=object)
    return words[encoded.indices.fill_null(len(encoded.dictionary)).to_numpy()]


def shared(values: list[Any]) -> list[Any]:
    """The same values, each distinct one a single object: a table of a million charges
    holds a few hundred distinct model, team or tag texts, not a million copies."""
    seen: dict[Any, Any] = {}
    return [seen.setdefault(v, v) for v in values]


def _run(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    granularity: str,
    order: str,
    wide: bool,
    keep_unknown: bool,
) -> Any:
    """Both stages; the charges as an Arrow table."""
    import pyarrow as pa

    con.execute(
        "CREATE OR REPLACE TEMP TABLE _charge_sums AS "
        + _rows_sql(relation, granularity, order=order, wide=wide)
    )
    _lookups(con)
    names = _endpoints(con)
    sql = _charges_sql(granularity, wide, keep_unknown=keep_unknown)
    if order == "time_record":  # a struct: DuckDB sorts it
        table = con.sql(sql + " ORDER BY first_row").to_arrow_table()
    else:  # in the order of the charges' first rows (a frame's row numbers)
        table = con.sql(sql).to_arrow_table()
        table = table.take(np.argsort(table.column("first_row").to_numpy(), kind="stable"))
    texts = _endpoint_texts(table.column("endpoint_bits"), names)
    return table.append_column("endpoints", pa.array(texts, pa.string()))


def charge_parts(
    source: Any,
    granularity: str,
    rate: Decimal,
    span: Period,
    *,
    keep_unknown: bool,
    teams: Sequence[str] | None = None,
) -> Iterator[tuple[dict[str, Any], int]]:
    """The charges of ``source`` (a store or rows) in ``span``, part by part (a store's
    months in time order, a frame at once), as the columns of :func:`charges` and the number
    of requests of the part whose cost is unknown. The parts follow one another in time, so
    the charges of all of them, one part after the other, are in the order of their first rows.
    """
    for chunk in _chunks(source, span, teams):
        with rows_connection(source, chunk.span, teams, undated=chunk.undated) as (con, relation, by_pos):
            table, wide, left_out = _chunk_charges(con, relation, granularity, by_pos, keep_unknown)
        columns = _columns(table, granularity, rate, wide)
        del table
        yield columns, left_out


def charges(
    source: Any,
    granularity: str,
    rate: Decimal,
    span: Period,
    *,
    keep_unknown: bool,
    teams: Sequence[str] | None = None,
) -> tuple[dict[str, Any], int]:
    """The charges of ``source`` (a store or rows) in ``span`` as columns (one entry per
    charge, in the order of their first rows), and the number of requests whose cost is
    unknown (their charges are left out unless ``keep_unknown``).

    Columns (lists, or numpy arrays for times and numbers): ``start``, ``end`` (UTC,
    ``datetime64[us]``), ``model``, ``location``, ``provider_id``, ``paid_with``, ``team``,
    ``project``, ``tags`` (FOCUS Tags JSON), ``request_id``, ``cost`` (exact, None when
    unknown), ``billing_credits``, ``billing_energy``, the counts ``requests``, ``errors``,
    ``impact_reported``, ``input_tokens``, ``output_tokens``, the float sums
    ``energy_kwh``, ``carbon_g_co2``, ``water_liters`` and ``endpoints`` (text).

    The parts of :func:`charge_parts`, one after the other.
    """
    parts: list[dict[str, Any]] = []
    unknown = 0
    for columns, left_out in charge_parts(
        source, granularity, rate, span, keep_unknown=keep_unknown, teams=teams
    ):
        parts.append(columns)
        unknown += left_out
    if len(parts) == 1:
        return parts[0], unknown
    return {
        name: np.concatenate([p[name] for p in parts])
        if isinstance(parts[0][name], np.ndarray)
        else [v for p in parts for v in p[name]]
        for name in parts[0]
    }, unknown


def _chunk_charges(
    con: duckdb.DuckDBPyConnection, relation: str, granularity: str, by_pos: bool, keep_unknown: bool
) -> tuple[Any, bool, int]:
    """The charges of one part as an Arrow table, whether its money sums are split in two
    (``wide``), and its requests of unknown cost."""
    classes = " AND ".join(
        f"g.{k} IS NOT DISTINCT FROM c.{k}" for k in ("paid_with", "credits_state", "energy_present")
    )
    wide = False
    order = "pos" if by_pos else "time_record"
    try:
        table = _run(con, relation, granularity, order, wide, keep_unknown)
    except duckdb.OutOfRangeException:  # a sum past 38 digits: add the parts apart
        wide = True
        table = _run(con, relation, granularity, order, wide, keep_unknown)
    unknown = con.sql(
        f"SELECT coalesce(sum(g.requests), 0) FROM _charge_sums g JOIN _classes c ON {classes} "
        "WHERE c.kind IS NULL"
    ).fetchall()[0][0]
    return table, wide, int(unknown)


def _columns(table: Any, granularity: str, rate: Decimal, wide: bool) -> dict[str, Any]:
    """The columns of :func:`charges` from one part's Arrow table."""
    if table.num_rows and table.column("p_start").null_count:
        raise ValueError("a row has no captured_at: FOCUS needs a charge period for every charge")
    cols: dict[str, Any] = {d: _texts_of(table.column(d)) for d in (*_DIMS, "tags", "endpoints")}
    starts = _utc_us(table.column("p_start").to_pandas())
    if granularity == "request":
        cols["start"], cols["end"] = _request_periods(starts, table.column("p_latency").to_numpy())
        cols["request_id"] = table.column("p_request_id").to_numpy(zero_copy_only=False).astype(object)
    else:
        step = 1 if granularity == "hour" else 24
        cols["start"], cols["end"] = starts, starts + np.timedelta64(step, "h")
        cols["request_id"] = np.full(table.num_rows, None, dtype=object)
    credits = [ZERO if v is None else v for v in _exact(table, "credits", wide)]
    energy = [ZERO if v is None else v for v in _exact(table, "energy", wide)]
    add, multiply = MONEY.add, MONEY.multiply
    costs: list[Decimal | None] = []
    for known, kind, c_all, e_all, c_part, e_part in zip(
        table.column("known").to_pylist(),
        table.column("kind").to_pylist(),
        credits,
        energy,
        _exact(table, "cost_credits", wide),
        _exact(table, "cost_energy", wide),
        strict=True,
    ):
        if not known:
            costs.append(None)
        elif kind == "credits":
            costs.append(c_all)
        elif kind == "energy":
            costs.append(multiply(e_all, rate))
        else:
            costs.append(add(c_part or ZERO, multiply(e_part, rate) if e_part is not None else ZERO))
    cols["cost"], cols["billing_credits"], cols["billing_energy"] = costs, credits, energy
    for name in ("requests", "errors", "impact_reported", "input_tokens", "output_tokens"):
        cols[name] = table.column(name).to_numpy().astype("int64")
    for name in ("energy_kwh", "carbon_g_co2", "water_liters"):
        cols[name] = table.column(name).to_numpy().astype("float64")
    return cols
