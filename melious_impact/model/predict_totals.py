"""Predicted totals per group (``m.predict(data, by=...)``): sums, not rows.

A total of predicted energy, carbon or water over many requests needs, per group and per
(model, provider_id, location) key, three sums: the predicted values (expected values,
``interval='mean'``), the values times their log spread, and the rows estimated. Over a
store DuckDB computes them next to the scan (:mod:`.sql_predict`: per-key parameters
resolved once in Python, the per-row arithmetic in SQL), so the rows never reach pandas;
rows spread over a model's traffic mix (a measured model without provider or location) and
frames are predicted by :func:`.predict.predict` and summed by pandas. Both end in
:func:`_finish`.

The interval of a total treats each key's coefficient error as one lognormal factor shared
by all its requests (keys independent), as scenario totals do: 4,000 draws, fixed seed,
one column per key in sorted key order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from melious_impact.errors import ModelError
from melious_impact.frames import is_store
from melious_impact.model.locations import canonical_locations
from melious_impact.model.priors import Z90
from melious_impact.model.scenario_totals import QUANTITIES, SIMULATIONS
from melious_impact.model.sql_predict import MIXED as _MIXED
from melious_impact.model.sql_predict import layered, needs_mix, register_keys, side_layers, warning_text
from melious_impact.model.warnings import MESSAGES, ImpactWarning, summarise
from melious_impact.periods import DateLike, period
from melious_impact.store.query import quote_ident, to_pandas

if TYPE_CHECKING:  # pragma: no cover
    from melious_impact.model.fit import IntensityModel

_D = "::DOUBLE"
_Q = {"energy_kwh": "e", "carbon_g_co2": "c", "water_liters": "w"}
_KEY = ("model", "provider_id", "location")
MIX_CHUNK_ROWS = 100_000  # traffic-mix rows predicted at a time (each expands to a row per cell)
Key = tuple[Any, Any, Any]
#: per group and key: rows, and per quantity the sum of values, of value x log spread, and
#: the rows estimated
_SUM_COLUMNS = ("n", *(f"{q}:{s}" for q in QUANTITIES for s in ("t", "s", "k")))


def _none(v: Any) -> Any:
    return None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else v


def predict_totals(
    m: IntensityModel,
    data: Any,
    by: Sequence[str],
    *,
    errors: str,
    start: DateLike | None = None,
    end: DateLike | None = None,
) -> pd.DataFrame:
    """See :meth:`melious_impact.model.fit.IntensityModel.predict` with ``by``."""
    groups = list(by)
    if is_store(data):
        sums, counts = _store_sums(m, data, groups, errors, start, end)
    else:
        from melious_impact.frames import as_frame

        frame = period(start, end).select(as_frame(data))
        missing = [g for g in groups if g not in frame.columns]
        if missing:
            raise ValueError(f"by: no column {', '.join(missing)} in the data")
        sums, counts = _frame_sums(m, frame, groups, errors)
    return _finish(m, sums, groups, counts)


def _frame_sums(
    m: IntensityModel, frame: pd.DataFrame, groups: list[str], errors: str
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Per (group, key) sums of a frame's predictions (numpy, then a pandas group-by)."""
    from melious_impact.model.frames import KeyCodes

    pred = m.predict(frame, errors=errors, interval="mean")  # type: ignore[arg-type]
    keys = KeyCodes(frame)
    cols: dict[str, Any] = {g: frame[g].to_numpy(dtype=object) for g in groups}
    for name, codes, values in (
        ("model", keys.model, keys.models),
        ("provider_id", keys.provider, keys.providers),
        ("location", keys.location, keys.locations),
    ):
        vals = np.asarray(values, dtype=object)
        cols[f"_k_{name}"] = np.where(codes >= 0, vals[np.maximum(codes, 0)] if len(vals) else None, None)
    cols["n"] = np.ones(len(frame))
    for q in QUANTITIES:
        v = pred[q].to_numpy(dtype=np.float64)
        hi = pred[f"{q}_high"].to_numpy(dtype=np.float64)
        known = np.isfinite(v)
        mean = np.where(known, v, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.log(hi / mean) / Z90
        s = np.where(known, np.nan_to_num(s, nan=0.0, posinf=0.0), 0.0)
        cols[f"{q}:t"] = mean
        cols[f"{q}:s"] = mean * s
        cols[f"{q}:k"] = known.astype(np.float64)
    rows = pd.DataFrame(cols)
    by = [*groups, "_k_model", "_k_provider_id", "_k_location"]
    sums = rows.groupby(by, dropna=False, sort=False)[list(_SUM_COLUMNS)].sum().reset_index()
    sums = sums.rename(columns={f"_k_{k}": f"_key_{k}" for k in _KEY})
    return sums, {w.code: w.rows for w in summarise(pred["warnings"])}


def _store_sums(
    m: IntensityModel,
    store: Any,
    groups: list[str],
    errors: str,
    start: DateLike | None,
    end: DateLike | None,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Per (group, key) sums over a store: one scan for the keys, one GROUP BY for the sums."""
    span = period(start, end)
    cond = " AND ".join(["true", *span.sql_literal("q.captured_at")])
    con = store.connect()
    try:
        present = set(con.sql("SELECT * FROM requests LIMIT 0").columns)
        missing = [g for g in groups if g not in present]
        if missing:
            raise ValueError(f"by: no column {', '.join(missing)} in the store")
        raw = con.sql(
            "SELECT model, provider_id, location, min(input_tokens), min(output_tokens) "
            f"FROM requests q WHERE {cond} GROUP BY ALL"
        ).fetchall()
        if any((r[3] is not None and r[3] < 0) or (r[4] is not None and r[4] < 0) for r in raw):
            raise ValueError("input_tokens and output_tokens must be non-negative")
        names = [r[2] for r in raw if isinstance(r[2], str)]
        canon: dict[Any, Any] = {**dict(zip(names, canonical_locations(names), strict=True)), None: None}
        labels: dict[Key, int] = {}
        rk = []
        for model, provider, loc, _, _ in raw:
            key: Key = (_none(model), _none(provider), canon.get(loc, loc))
            mix = needs_mix(m, *key)
            rk.append(
                {
                    "model": model,
                    "provider_id": provider,
                    "location": loc,
                    "kid": -1 if mix else labels.setdefault(key, len(labels)),
                    "mix": mix,
                }
            )
        keys = list(labels)
        codes = register_keys(con, "_pk", m, keys, "mean")
        errs = _errors(m, keys)
        if errs and errors == "raise":
            raise ModelError("; ".join(errs) + " (or pass errors='coerce' to get NaN with a warning)")
        err = [bool(e) for e in _key_errors(m, keys)]
        table = pd.DataFrame(rk) if rk else pd.DataFrame({c: [] for c in (*_KEY, "kid", "mix")})
        con.register("_rk_df", table)
        con.execute("CREATE OR REPLACE TEMP TABLE _rk AS SELECT * FROM _rk_df")
        con.unregister("_rk_df")
        join = (
            "JOIN _rk k ON q.model IS NOT DISTINCT FROM k.model AND q.provider_id IS NOT DISTINCT FROM "
            "k.provider_id AND q.location IS NOT DISTINCT FROM k.location"
        )
        gsel = "".join(f"q.{quote_ident(g)} AS {quote_ident('_g_' + g)}, " for g in groups)
        rows = (
            f"SELECT {gsel}k.kid, CAST(q.input_tokens AS DOUBLE) / 1000.0{_D} AS xin, "
            f"CAST(q.output_tokens AS DOUBLE) / 1000.0{_D} AS xout, q.captured_at IS NOT NULL AS known, "
            "month(make_timestamp(epoch_us(q.captured_at))) - 1 AS mo, "
            f"hour(make_timestamp(epoch_us(q.captured_at))) AS hr FROM requests q {join} WHERE NOT k.mix AND {cond}"
        )
        source = (
            f"({rows}) r LEFT JOIN _pk b ON b.kid = r.kid "
            "LEFT JOIN _pk_slots gb ON gb.slot = r.kid * 288 + r.mo * 24 + r.hr"
        )
        outer = layered(source, "r.*", side_layers("b", "gb", "r.known", "p"))
        aggs = ["count(*)::DOUBLE AS n"]
        for q, c in _Q.items():
            fin = f"coalesce(isfinite(p_v{c}), false)"
            aggs += [
                f'coalesce(sum(CASE WHEN {fin} THEN p_v{c} ELSE 0.0{_D} END), 0.0{_D}) AS "{q}:t"',
                f'coalesce(sum(CASE WHEN {fin} THEN p_v{c} * p_s{c} ELSE 0.0{_D} END), 0.0{_D}) AS "{q}:s"',
                f'count(*) FILTER (WHERE {fin})::DOUBLE AS "{q}:k"',
            ]
        gcols = "".join(f"{quote_ident('_g_' + g)}, " for g in groups)
        con.execute("SET disabled_optimizers = 'partial_aggregate_pushdown'")  # see .sql_scenario
        sql = (
            f"SELECT {gcols}kid, p_gcode, p_unknown, {', '.join(aggs)} FROM ({outer}) "
            f"GROUP BY {gcols}kid, p_gcode, p_unknown"
        )
        r = to_pandas(con.sql(sql).to_arrow_table()) if keys else pd.DataFrame()
        counts: dict[str, int] = {}
        parts = []
        if len(r):
            for kid, gc, unk, n in zip(r["kid"], r["p_gcode"], r["p_unknown"], r["n"], strict=True):
                text = warning_text(codes[int(kid)], int(gc), bool(unk), err[int(kid)])
                for code in filter(None, text.split(",")):
                    counts[code] = counts.get(code, 0) + int(n)
            r = r.rename(columns={f"_g_{g}": g for g in groups})
            for i, k in enumerate(_KEY):
                r[f"_key_{k}"] = [keys[int(kid)][i] for kid in r["kid"]]
            parts.append(r[[*groups, *(f"_key_{k}" for k in _KEY), *_SUM_COLUMNS]])
        if any(x["mix"] for x in rk):
            read = list(dict.fromkeys([*groups, *_KEY, "input_tokens", "output_tokens", "captured_at"]))
            reader = con.sql(
                f"SELECT {', '.join('q.' + quote_ident(c) for c in read)} FROM requests q {join} "
                f"WHERE k.mix AND {cond} AND {_MIXED}"
            ).to_arrow_reader(MIX_CHUNK_ROWS)
            for batch in reader:  # in chunks: the traffic-mix prediction expands each row per cell
                if not batch.num_rows:
                    continue
                mixed, mix_counts = _frame_sums(m, to_pandas(pa.Table.from_batches([batch])), groups, errors)
                parts.append(mixed)
                for code, cnt in mix_counts.items():
                    counts[code] = counts.get(code, 0) + cnt
    finally:
        con.close()
    sums = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[*groups, *_SUM_COLUMNS])
    return sums, counts


def _key_errors(m: IntensityModel, keys: list[Key]) -> list[str]:
    from melious_impact.model.predict import _resolve

    return [_resolve(m, *k).error for k in keys]


def _errors(m: IntensityModel, keys: list[Key]) -> list[str]:
    return sorted({e for e in _key_errors(m, keys) if e})


def _finish(m: IntensityModel, sums: pd.DataFrame, groups: list[str], counts: dict[str, int]) -> pd.DataFrame:
    """One row per group: requests, each quantity's total (NaN when some request of the
    group has no estimate), its 90% interval, the total over the requests estimated and
    their share."""
    keycols = [f"_key_{k}" for k in _KEY]
    for c in _SUM_COLUMNS:
        sums[c] = pd.to_numeric(sums[c]).astype(np.float64)
    for c in [*groups, *keycols]:
        sums[c] = sums[c].astype(object).map(_none)
    labels = sorted(
        set(map(tuple, sums[keycols].itertuples(index=False, name=None))),
        key=lambda k: tuple((v is not None, str(v) if v is not None else "") for v in k),
    )
    index = {k: i for i, k in enumerate(labels)}
    sums["_kid"] = [index[tuple(k)] for k in sums[keycols].itertuples(index=False, name=None)]
    # one row per (group, key): rows of one key may come from several warning codes
    per_key = (
        sums.groupby([*groups, "_kid"], dropna=False, sort=False)[list(_SUM_COLUMNS)].sum().reset_index()
    )
    z = np.random.default_rng(0).standard_normal((SIMULATIONS, max(len(labels), 1)))
    out = []
    grouped = per_key.groupby(groups, dropna=False, sort=True) if groups else [((), per_key)]
    for gkey, part in grouped:
        row: dict[str, Any] = dict(zip(groups, gkey if isinstance(gkey, tuple) else (gkey,), strict=True))
        n = float(part["n"].sum())
        row["n_requests"] = round(n)
        kid = part["_kid"].to_numpy(dtype=np.intp)
        for q in QUANTITIES:
            t = part[f"{q}:t"].to_numpy(dtype=np.float64)
            sp = part[f"{q}:s"].to_numpy(dtype=np.float64)
            known = float(part[f"{q}:k"].sum())
            with np.errstate(divide="ignore", invalid="ignore"):
                sd = np.where(t > 0, sp / t, 0.0)
            total = float(t.sum())
            draws = (t * np.exp(sd * z[:, kid])).sum(axis=1)
            low, high = np.quantile(draws, [0.05, 0.95])
            complete = known == n
            row[q] = total if complete else np.nan
            row[f"{q}_low"] = min(float(low), total) if complete else np.nan
            row[f"{q}_high"] = max(float(high), total) if complete else np.nan
            row[f"{q}_covered"] = total if known else np.nan
            row[f"{q}_coverage"] = known / n if n else 1.0
        out.append(row)
    cols = [
        *groups,
        "n_requests",
        *(f"{q}{s}" for q in QUANTITIES for s in ("", "_low", "_high", "_covered", "_coverage")),
    ]
    result = pd.DataFrame(out, columns=cols)
    result["factor_version"] = m.factor_version
    result.attrs["impact_warnings"] = tuple(
        ImpactWarning(c, MESSAGES.get(c, c), counts[c]) for c in sorted(counts)
    )
    return result
