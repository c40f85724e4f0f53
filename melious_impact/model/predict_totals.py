"""Predicted totals per group (``m.predict(data, by=...)``): sums, not rows.

A total of predicted energy, carbon or water over many requests needs, per group and per
(model, provider_id, location) key, three sums: the predicted values (expected values,
``interval='mean'``), the values times their log spread, and the rows estimated. Over a
store DuckDB computes them next to the scan (:mod:`.sql_predict`: per-key parameters
resolved once in Python, each row's energy and spread terms in SQL, summed by key and grid
slot, the key's factors applied to the sums), the rows spread over a model's traffic mix (a
measured model without provider or location) in a second query, so the rows never reach
pandas; frames are predicted by :func:`.predict.predict` and summed by pandas. Both end in
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

from melious_impact.errors import ModelError
from melious_impact.frames import is_store
from melious_impact.model.locations import canonical_locations
from melious_impact.model.predict import MIX_MIN_SHARE
from melious_impact.model.priors import Z90
from melious_impact.model.scenario_totals import QUANTITIES, SIMULATIONS
from melious_impact.model.sql_predict import MIXED as _MIXED
from melious_impact.model.sql_predict import (
    SLOTS,
    UNKNOWN,
    KeyParams,
    key_params,
    layered,
    mix_cells,
    mix_layers,
    needs_mix,
    register_mix,
    register_rows,
    row_layers,
    side_sums,
    slot_sql,
    warning_text,
)
from melious_impact.model.warnings import MESSAGES, ImpactWarning, summarise
from melious_impact.periods import DateLike, period
from melious_impact.store.query import quote_ident, to_pandas

if TYPE_CHECKING:  # pragma: no cover
    from melious_impact.model.fit import IntensityModel

_D = "::DOUBLE"
_Q = {"energy_kwh": "e", "carbon_g_co2": "c", "water_liters": "w"}
_KEY = ("model", "provider_id", "location")
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
    """Per (group, key) sums over a store: one scan for the keys, one GROUP BY for the rows
    of each key (its sums of energy and spread terms per grid slot, :func:`.sql_predict.row_layers`,
    times the key's constants in numpy), one for the traffic-mix rows."""
    span = period(start, end)
    cond = " AND ".join(["true", *span.sql_literal("q.captured_at")])
    con = store.connect()
    try:
        present = set(con.sql("SELECT * FROM requests LIMIT 0").columns)
        missing = [g for g in groups if g not in present]
        if missing:
            raise ValueError(f"by: no column {', '.join(missing)} in the store")
        raw = con.sql(
            "SELECT *, hash(model, provider_id, location) FROM (SELECT model, provider_id, location, "
            f"min(input_tokens), min(output_tokens) FROM requests q WHERE {cond} GROUP BY ALL)"
        ).fetchall()
        if any((r[3] is not None and r[3] < 0) or (r[4] is not None and r[4] < 0) for r in raw):
            raise ValueError("input_tokens and output_tokens must be non-negative")
        if len({r[5] for r in raw}) < len(raw):  # rows are matched to their key by this hash
            raise ModelError("two (model, provider_id, location) keys of the store share a hash")
        names = [r[2] for r in raw if isinstance(r[2], str)]
        canon: dict[Any, Any] = {**dict(zip(names, canonical_locations(names), strict=True)), None: None}
        labels: dict[Key, int] = {}
        direct: list[tuple[int, int]] = []
        mixed: list[tuple[int, Key]] = []
        for model, provider, loc, _, _, h in raw:
            key: Key = (_none(model), _none(provider), canon.get(loc, loc))
            if needs_mix(m, *key):
                mixed.append((h, key))
            else:
                direct.append((h, labels.setdefault(key, len(labels))))
        keys = list(labels)
        kp = key_params(m, keys, "mean")
        errs = _errors(m, keys)
        if errs and errors == "raise":
            raise ModelError("; ".join(errs) + " (or pass errors='coerce' to get NaN with a warning)")
        err = [bool(e) for e in kp.table["err"]] if len(keys) else []
        gsel = "".join(f"q.{quote_ident(g)} AS {quote_ident('_g_' + g)}, " for g in groups)
        gcols = "".join(f"{quote_ident('_g_' + g)}, " for g in groups)

        def rows(where: str) -> str:
            return (
                f"SELECT {gsel}hash(q.model, q.provider_id, q.location) AS h, {slot_sql('q.captured_at')} AS slot, "
                f"CAST(q.input_tokens AS DOUBLE) / 1000.0{_D} AS xin, CAST(q.output_tokens AS DOUBLE) / 1000.0{_D} "
                f"AS xout FROM requests q WHERE {where}"
            )

        counts: dict[str, int] = {}
        parts = []
        # keep each layer of per-row arithmetic a projection of its own (pushing the
        # aggregates' inputs down inlines every layer into the next, repeating its work)
        con.execute("SET disabled_optimizers = 'partial_aggregate_pushdown'")
        if keys:
            register_rows(con, "_pr", kp, direct)
            outer = layered(
                f"({rows(cond)}) r JOIN _pr k ON k.h = r.h JOIN _pr_slots g ON g.h = r.h AND g.slot = r.slot",
                "r.*, g.cell",
                row_layers("k", "p", g="g"),
            )
            gk = "(cell * 16 + p_flags)"
            sql = (
                f"SELECT {gcols}{gk} AS gk, count(*)::DOUBLE AS n, sum(p_mu) AS e, sum(p_re) AS re, "
                f"sum(p_rc) AS rc, sum(p_rw) AS rw FROM ({outer}) GROUP BY ALL"
            )
            parts.append(
                _direct_sums(
                    kp,
                    keys,
                    [k for _, k in direct],
                    err,
                    groups,
                    to_pandas(con.sql(sql).to_arrow_table()),
                    counts,
                )
            )
        if mixed:
            parts.append(
                _mix_sums(m, con, mixed, groups, rows(f"{cond} AND {_MIXED}"), gcols, errors, counts)
            )
    finally:
        con.close()
    sums = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[*groups, *_SUM_COLUMNS])
    return sums, counts


def _direct_sums(
    kp: KeyParams,
    keys: list[Key],
    raw_kid: list[int],
    err: list[bool],
    groups: list[str],
    r: pd.DataFrame,
    counts: dict[str, int],
) -> pd.DataFrame:
    """Per (group, key) sums from the groups of rows by raw key, slot and flags (``raw_kid``:
    each raw key's kid); adds the rows' warning codes to ``counts``."""
    gk = r["gk"].to_numpy(dtype=np.int64)
    flags, cell = gk % 16, gk // 16
    slot = cell % SLOTS
    kid = np.asarray(raw_kid, dtype=np.int64)[cell // SLOTS]
    n = r["n"].to_numpy(dtype=np.float64)
    f = {c: pd.to_numeric(r[c]).to_numpy(dtype=np.float64, na_value=np.nan) for c in ("e", "re", "rc", "rw")}
    s = side_sums(kp, kid, slot, flags, n, f["e"], f["re"], f["rc"], f["rw"])
    out = pd.DataFrame({f"_g_{g}": r[f"_g_{g}"] for g in groups})
    out["kid"] = kid
    out["n"] = n
    for q, c in _Q.items():
        for x in ("t", "s", "k"):
            out[f"{q}:{x}"] = s[f"{x}{c}"]
    warn = pd.DataFrame({"kid": kid, "gcode": kp.gcode[kid, slot], "unk": (flags & UNKNOWN) > 0, "n": n})
    for (k, gc, unk), cnt in warn.groupby(["kid", "gcode", "unk"], sort=False)["n"].sum().items():
        text = warning_text(kp.codes[int(k)], int(gc), bool(unk), err[int(k)])
        for code in filter(None, text.split(",")):
            counts[code] = counts.get(code, 0) + int(cnt)
    by = [*(f"_g_{g}" for g in groups), "kid"]
    out = out.groupby(by, dropna=False, sort=False)[list(_SUM_COLUMNS)].sum().reset_index()
    out = out.rename(columns={f"_g_{g}": g for g in groups})
    kids = out["kid"].to_numpy(dtype=np.int64)
    for i, k in enumerate(_KEY):
        out[f"_key_{k}"] = [keys[int(j)][i] for j in kids]
    return out[[*groups, *(f"_key_{k}" for k in _KEY), *_SUM_COLUMNS]]


def _mix_sums(
    m: IntensityModel,
    con: Any,
    mixed: list[tuple[int, Key]],
    groups: list[str],
    rows: str,
    gcols: str,
    errors: str,
    counts: dict[str, int],
) -> pd.DataFrame:
    """Per (group, key) sums of the rows spread over their model's traffic mix, in DuckDB
    (:func:`.sql_predict.mix_layers`); adds their warning codes to ``counts``."""
    cell_ids: dict[Key, int] = {}
    raw: list[tuple[int, list[tuple[int, float]]]] = []
    for h, key in mixed:
        cells = mix_cells(m, *key)
        if not cells and errors == "raise":
            where = ", ".join(
                f"{k}={v!r}"
                for k, v in zip(("provider_id", "location"), key[1:], strict=True)
                if v is not None
            )
            raise ModelError(
                f"model {key[0]!r} was never measured with {where}: give both provider_id and "
                "location for a pooled or prior estimate (or pass errors='coerce' to get NaN with a warning)"
            )
        raw.append((h, [(cell_ids.setdefault(c, len(cell_ids)), share) for c, share in cells]))
    cells_kp = key_params(m, list(cell_ids), "mean")
    width = register_mix(con, "_pm", cells_kp, raw, MIX_MIN_SHARE)
    outer = layered(
        f"({rows}) r JOIN _pm k ON k.h = r.h AND k.slot = r.slot",
        ", ".join(["k.mid", "r.xin", "r.xout", *(f"r.{quote_ident('_g_' + g)}" for g in groups)]),
        mix_layers("k", width),
    )
    aggs = ["count(*)::DOUBLE AS n"]
    for q, c in _Q.items():
        aggs += [f'sum(m_t{c}) AS "{q}:t"', f'sum(m_s{c}) AS "{q}:s"', f'sum(m_k{c}) AS "{q}:k"']
    r = to_pandas(
        con.sql(f"SELECT {gcols}mid, {', '.join(aggs)} FROM ({outer}) GROUP BY ALL").to_arrow_table()
    )
    for mid, n in r.groupby("mid")["n"].sum().items():
        lost = not raw[int(mid)][1]
        for code in ("routing_mix", "no_matching_site") if lost else ("routing_mix",):
            counts[code] = counts.get(code, 0) + int(n)
    r = r.rename(columns={f"_g_{g}": g for g in groups})
    mids = r["mid"].to_numpy(dtype=np.int64)
    for i, k in enumerate(_KEY):
        r[f"_key_{k}"] = [mixed[int(j)][1][i] for j in mids]
    return r[[*groups, *(f"_key_{k}" for k in _KEY), *_SUM_COLUMNS]]


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
