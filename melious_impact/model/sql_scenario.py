"""A scenario over a store, summed in DuckDB: the rows never reach pandas.

One scan lists the store's distinct (model, provider_id, location) keys as written. Each
key's scenario key (moved to the target site or not), the slot its requests shift to (the
cleanest hour of their month at the scenario location) and the prediction parameters of
every key on either side are decided in Python (:mod:`.sql_predict`), then one ``GROUP BY``
over the rows computes both sides' energies and spread terms per row and sums them by
(raw key and slot, changed, flags); each side's factors (PUE, grid, water) are applied to
those sums and they are gathered by (base key, scenario key, changed, warning codes): the
:class:`.scenario_totals.Groups` a frame gives, with the same rules past that point.
Reported totals and billed euros (exact ``DECIMAL`` sums) come from the same scan.

Rows that a prediction spreads over a model's traffic mix (a measured model without
provider or location) take a second ``GROUP BY`` (:func:`.sql_predict.mix_layers`) that
reads only them; their groups join the others'. Keys are numbered in the order a frame of
the store (``store.to_pandas()``: captured_at, record_id) would number them, so each key
draws the same simulated errors as on the frame.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from melious_impact.errors import ModelError
from melious_impact.model.locations import canonical_locations
from melious_impact.model.predict import MIX_MIN_SHARE
from melious_impact.model.prices import EUR_PER_ENERGY_UNIT
from melious_impact.model.scenario_totals import QUANTITIES, SUMS, Groups
from melious_impact.model.sql_predict import MIXED as _MIXED
from melious_impact.model.sql_predict import (
    SLOTS,
    UNKNOWN,
    UNTIMED,
    KeyParams,
    key_params,
    layered,
    mix_cells,
    mix_layers,
    needs_mix,
    register_mix,
    register_rows,
    row_columns,
    row_layers,
    side_sums,
    slot_sql,
    warning_text,
)
from melious_impact.periods import DateLike, period
from melious_impact.store.query import to_pandas

if TYPE_CHECKING:  # pragma: no cover
    from melious_impact.model.fit import IntensityModel

_D = "::DOUBLE"
_Q = {"energy_kwh": "e", "carbon_g_co2": "c", "water_liters": "w"}
#: a traffic-mix row knows each quantity (s: carbon at its scenario's slot)
_BITS = {"s": 8, "e": 4, "c": 2, "w": 1}
_DAY_US = 86_400_000_000
_HOUR_US = 3_600_000_000
Key = tuple[Any, Any, Any]


def _canon(raw: list[Any]) -> dict[Any, Any]:
    names = [v for v in raw if isinstance(v, str)]
    return {**dict(zip(names, canonical_locations(names), strict=True)), None: None}


def _none(v: Any) -> Any:
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else v


def store_groups(
    store: Any,
    m: IntensityModel,
    *,
    target: tuple[str, str] | None,
    shift: bool,
    models: list[str] | None,
    start: DateLike | None,
    end: DateLike | None,
    prepare: Any = None,
) -> Groups:
    """The groups of :func:`melious_impact.model.scenario.scenario` over a store's rows in
    ``[start, end)``. ``prepare``: unused (every row, traffic-mix rows included, is summed
    in DuckDB)."""
    span = period(start, end)

    def usable(t: str) -> str:
        where = [f"{t}model IS NOT NULL", f"{t}input_tokens IS NOT NULL", f"{t}output_tokens IS NOT NULL"]
        return " AND ".join(where + span.sql_literal(f"{t}captured_at"))

    cond, qcond = usable(""), usable("q.")
    # the keys of the period's rows (a key whose rows are all unusable is resolved and unused:
    # cheaper than reading the token columns to rule it out)
    keys_cond = " AND ".join(["true", *span.sql_literal("captured_at")])
    con = store.connect()
    try:
        raw = con.sql(
            "SELECT *, hash(model, provider_id, location) FROM (SELECT model, provider_id, location "
            f"FROM requests WHERE {keys_cond} GROUP BY ALL)"
        ).fetchall()
        if len({r[3] for r in raw}) < len(raw):  # rows are matched to their key by this hash
            raise ModelError("two (model, provider_id, location) keys of the store share a hash")
        canon = _canon([r[2] for r in raw])
        best = m.grid.mean.argmin(axis=2) if len(m.grid.locations) else np.zeros((0, 12), dtype=np.int64)
        joint: dict[Key, int] = {}

        def kid(key: Key) -> int:
            return joint.setdefault(key, len(joint))

        rk = []
        for model, provider, loc, h in raw:
            base: Key = (model, _none(provider), canon.get(loc, loc))
            moved = models is None or model in models
            scen = (model, *target) if target is not None and moved else base
            li = m._grid_lookup.get(scen[2], -1)
            mix = needs_mix(m, *base) or needs_mix(m, *scen)
            rk.append(
                {
                    "model": model,
                    "provider_id": provider,
                    "location": loc,
                    "h": h,
                    "kb": kid(base) if not mix else -1,
                    "ks": kid(scen) if not mix else (kid(scen) if scen != base else -1),
                    "label": base,
                    "shift": bool(shift and moved and li >= 0),
                    "li": li,
                    "mix": mix,
                }
            )
        labels = list(joint)
        kp = key_params(m, labels, "mean")
        codes = kp.codes
        err = [bool(e) for e in kp.table["err"]] if labels else []
        sslots = _register_sides(con, kp, rk, best)
        # keep each layer of per-row arithmetic a projection of its own (pushing the
        # aggregates' inputs down inlines every layer into the next: 4x slower at 1M rows)
        con.execute("SET disabled_optimizers = 'partial_aggregate_pushdown'")
        everything = (
            _unpacked(to_pandas(con.sql(_groups_sql(qcond)).to_arrow_table()), rk, sslots)
            if rk
            else pd.DataFrame()
        )
        fine = everything[~everything["mix"]].reset_index(drop=True) if len(everything) else everything
        sql_groups = _side_groups(fine, kp) if len(fine) else fine
        other = int(everything["paid_other"].sum()) if len(everything) else 0
        other_cost = _other_cost(con, cond) if other else Decimal(0)
        table = (
            pd.DataFrame(rk)
            if rk
            else pd.DataFrame(columns=["model", "provider_id", "location", "kb", "ks", "mix"])
        )
        con.register("_rk_df", table[["model", "provider_id", "location", "kb", "ks", "mix"]])
        con.execute("CREATE OR REPLACE TEMP TABLE _rk AS SELECT * FROM _rk_df")
        con.unregister("_rk_df")
        mixed = [r for r in rk if r["mix"]]
        mix_parts = [_mix_groups(con, m, kp, labels, mixed, best, qcond, err)] if mixed else []

        def exact_firsts() -> list[tuple[Key, Key, tuple[bool, int, str]]]:
            """First (captured_at, record_id) of each key pair's rows, where times tie."""
            rows = con.sql(
                "SELECT k.kb, k.ks, min(struct_pack(z := q.captured_at IS NULL, u := epoch_us(q.captured_at), "
                "r := q.record_id)) AS f FROM requests q JOIN _rk k ON q.model IS NOT DISTINCT FROM k.model "
                "AND q.provider_id IS NOT DISTINCT FROM k.provider_id AND q.location IS NOT DISTINCT FROM "
                f"k.location WHERE NOT k.mix AND {qcond} GROUP BY ALL"
            ).fetchall()
            return [(labels[b], labels[s], _first_key(f)) for b, s, f in rows]

        return _merge(sql_groups, everything, labels, codes, err, mix_parts, other_cost, exact_firsts)
    finally:
        con.close()


def _register_sides(
    con: Any, kp: KeyParams, rk: list[dict[str, Any]], best: NDArray[np.int64]
) -> NDArray[np.int64]:
    """``_sb``: per raw key (by hash) and grid slot, its base key's row parameters
    (:func:`.sql_predict.register_rows`), the scenario key's at the scenario's slot (``s_`` +
    name) and how the scenario changes its rows (:func:`_change_columns`). Returns the
    scenario's slots (raw keys x slots)."""
    sslot, shifted = _shift_slots(rk, best)
    ks = np.array([r["ks"] for r in rk], dtype=np.int64)
    scen = row_columns(kp, np.repeat(ks, SLOTS).reshape(len(rk), SLOTS), sslot, "s_")
    keys = {c: np.asarray(v).reshape(len(rk), SLOTS)[:, 0] for c, v in scen.items() if c != "s_gsd2"}
    slots = _change_columns(np.array([r["kb"] != r["ks"] for r in rk], dtype=bool), sslot, shifted)
    slots["s_gsd2"] = np.asarray(scen["s_gsd2"]).reshape(len(rk), SLOTS)
    register_rows(con, "_sb", kp, [(r["h"], r["kb"]) for r in rk], keys, slots)
    return sslot


def _change_columns(
    moved: NDArray[np.bool_], sslot: NDArray[np.int64], shifted: NDArray[np.bool_]
) -> dict[str, NDArray[Any]]:
    """``chg`` (1: the scenario moves the rows to another key, 2: to the cleanest hour of
    their day, 0: neither) and ``shr`` (that hour) per raw key and slot."""
    chg = np.where(moved[:, None], 1, np.where(shifted, 2, 0)).astype(np.int64)
    return {"chg": chg, "shr": (sslot % 24).astype(np.int64)}


def _shift_slots(
    rk: list[dict[str, Any]], best: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Per raw key and grid slot, the scenario's slot (the cleanest hour of the month at the
    scenario location for shifted keys, the same slot otherwise) and whether it shifts."""
    slot = np.arange(SLOTS)
    mo = np.minimum(slot // 24, 11)
    sslot = np.tile(slot, (len(rk), 1))
    shifted = np.zeros((len(rk), SLOTS), dtype=bool)
    for i, r in enumerate(rk):
        if r["shift"] and r["li"] >= 0:
            bh = np.asarray(best[r["li"]], dtype=np.int64)[mo]
            sslot[i, :UNTIMED] = (mo * 24 + bh)[:UNTIMED]
            shifted[i, :UNTIMED] = True
    return sslot, shifted


def _changed_sql(b: str) -> str:
    """A row the scenario moves to another key, or to the cleanest hour of its day unless it
    ran at that instant already (``{b}``: its joined key row; the row has ``us``)."""
    new_us = f"(us - ((us % {_DAY_US}) + {_DAY_US}) % {_DAY_US} + {b}.shr * {_HOUR_US}::BIGINT)"
    return f"({b}.chg = 1 OR coalesce({b}.chg = 2 AND {new_us} <> us, false))"


def _mix_groups(
    con: Any,
    m: IntensityModel,
    kp: KeyParams,
    keys: list[Key],
    mixed: list[dict[str, Any]],
    best: NDArray[np.int64],
    cond: str,
    err: list[bool],
) -> tuple[Groups, list[tuple[bool, int, str]]]:
    """The groups of rows spread over their model's traffic mix (base side as
    :func:`.sql_predict.mix_layers`, a moved row's scenario side at its target key as the
    other rows), with each group's first row (no time, time, record_id)."""
    cell_ids: dict[Key, int] = {}
    raw = []
    for r in mixed:
        cells = mix_cells(m, *r["label"])
        raw.append((r["h"], [(cell_ids.setdefault(c, len(cell_ids)), share) for c, share in cells]))
    cells_kp = key_params(m, list(cell_ids), "mean")
    sslot, shifted = _shift_slots(mixed, best)
    ks = np.array([r["ks"] for r in mixed], dtype=np.int64)
    extra: dict[str, NDArray[Any]] = {"ks": ks, "sslot": sslot, **_change_columns(ks >= 0, sslot, shifted)}
    scen = row_columns(kp, np.repeat(ks, SLOTS).reshape(len(mixed), SLOTS), sslot, "s_")
    for c, v in scen.items():
        arr = np.asarray(v)
        if arr.dtype == object:  # squared spreads: NaN where not finite (no spread term)
            arr = np.array([np.nan if x is None else x for x in arr], dtype=np.float64)
        extra[c] = arr.reshape(len(mixed), SLOTS)
    width = register_mix(con, "_pm", cells_kp, raw, MIX_MIN_SHARE, extra, sslot)
    rows = (
        f"SELECT hash(q.model, q.provider_id, q.location) AS h, {slot_sql('q.captured_at')} AS slot, "
        "epoch_us(q.captured_at) AS us, q.record_id AS rid, CAST(q.input_tokens AS DOUBLE) AS tin, "
        f"CAST(q.output_tokens AS DOUBLE) AS tout FROM requests q WHERE {cond} AND {_MIXED}"
    )
    keep = (
        "k.mid, k.ks, k.sslot, r.us, r.rid, r.tin, r.tout, r.tin / 1000.0::DOUBLE AS xin, "
        f"r.tout / 1000.0::DOUBLE AS xout, {_changed_sql('k')} AS changed"
    )
    lm, ls = mix_layers("k", width, shifted=True), row_layers("k", "ps", "s_")
    empty: list[str] = []
    layers = [[*x, *y] for x, y in itertools.zip_longest(lm, ls, fillvalue=empty)]
    outer = layered(f"({rows}) r JOIN _pm k ON k.h = r.h AND k.slot = r.slot", keep, layers)
    bflags = " + ".join(f"CAST(m_k{c} AS INTEGER) * {bit}" for c, bit in _BITS.items())
    aggs = ["count(*)::DOUBLE AS n", "sum(tin) AS tin", "sum(tout) AS tout"]
    aggs += [f"sum(m_{x}{c}) AS m_{x}{c}" for c in ("e", "c", "w", "s") for x in ("t", "s")]
    aggs += [f"sum(ps_{x}) AS ps_{x}" for x in ("mu", "re", "rc", "rw")]
    aggs.append("min(struct_pack(z := us IS NULL, u := us, r := rid)) AS f")
    sql = (
        f"SELECT mid, ks, sslot, changed, {bflags} AS bflags, ps_flags, {', '.join(aggs)} "
        f"FROM ({outer}) GROUP BY ALL"
    )
    r = to_pandas(con.sql(sql).to_arrow_table())
    mid = r["mid"].to_numpy(dtype=np.int64)
    gks = r["ks"].to_numpy(dtype=np.int64)
    sl = r["sslot"].to_numpy(dtype=np.int64)
    n = r["n"].to_numpy(dtype=np.float64)
    bf = r["bflags"].to_numpy(dtype=np.int64)
    sf = r["ps_flags"].to_numpy(dtype=np.int64)
    moved = gks >= 0
    f = {
        x: pd.to_numeric(r[f"ps_{x}"]).to_numpy(dtype=np.float64, na_value=np.nan)
        for x in ("mu", "re", "rc", "rw")
    }
    side = side_sums(kp, gks, sl, sf, n, f["mu"], f["re"], f["rc"], f["rw"])
    index: dict[Key, int] = {}

    def at(key: Key) -> int:
        return index.setdefault(key, len(index))

    kb = np.array([at(mixed[i]["label"]) for i in mid], dtype=np.intp)
    ks_ = np.array(
        [at(keys[k] if k >= 0 else mixed[i]["label"]) for i, k in zip(mid, gks, strict=True)], dtype=np.intp
    )
    labels = list(index)
    sums: dict[str, NDArray[np.float64]] = {}
    unknown = np.zeros(len(r), dtype=bool)
    for q, c in _Q.items():
        # a row left at its key is the same mix on both sides, carbon at its (shifted) slot
        same = "s" if c == "c" else c
        fb = (bf & _BITS[c]) > 0
        fs = np.where(moved, side[f"k{c}"] > 0, (bf & _BITS[same]) > 0)
        tb = pd.to_numeric(r[f"m_t{c}"]).to_numpy(dtype=np.float64)
        sb = pd.to_numeric(r[f"m_s{c}"]).to_numpy(dtype=np.float64)
        ts = np.where(moved, side[f"t{c}"], pd.to_numeric(r[f"m_t{same}"]).to_numpy(dtype=np.float64))
        ss = np.where(moved, side[f"s{c}"], pd.to_numeric(r[f"m_s{same}"]).to_numpy(dtype=np.float64))
        both = fb & fs
        unknown |= ~both
        for name, v in (
            ("tb", np.where(fb, tb, 0.0)),
            ("sb", np.where(fb, sb, 0.0)),
            ("ts", np.where(fs, ts, 0.0)),
            ("ss", np.where(fs, ss, 0.0)),
            ("tbb", np.where(both, tb, 0.0)),
            ("sbb", np.where(both, sb, 0.0)),
            ("tsb", np.where(both, ts, 0.0)),
            ("ssb", np.where(both, ss, 0.0)),
            ("wb", np.where(fb, n, 0.0)),
            ("ws", np.where(fs, n, 0.0)),
            ("wbb", np.where(both, n, 0.0)),
            ("nbad", np.where(both, 0.0, n)),
        ):
            sums[f"{q}:{name}"] = v
    warnings: dict[str, int] = {}
    for i, k, s_, unk, cnt in zip(mid, gks, sl, (sf & UNKNOWN) > 0, n, strict=True):
        mix_codes = ["routing_mix", "no_matching_site"] if not raw[int(i)][1] else ["routing_mix"]
        texts = [",".join(mix_codes)]
        texts.append(
            warning_text(kp.codes[k], int(kp.gcode[k, s_]), bool(unk), err[k]) if k >= 0 else texts[0]
        )
        for text in texts:
            for code in filter(None, text.split(",")):
                warnings[code] = warnings.get(code, 0) + int(cnt)
    g = Groups(
        labels=labels,
        kb=kb,
        ks=ks_,
        changed=r["changed"].to_numpy(dtype=bool),
        n=n,
        w=n,
        tin=pd.to_numeric(r["tin"]).to_numpy(dtype=np.float64),
        tout=pd.to_numeric(r["tout"]).to_numpy(dtype=np.float64),
        sums=sums,
        observed={},
        observed_cost=None,
        warnings=warnings,
        unknown_rows=int(n[unknown].sum()),
    )
    return g, [_first_key(x) for x in r["f"]]


def _groups_sql(cond: str) -> str:
    rows = (
        f"SELECT hash(q.model, q.provider_id, q.location) AS h, {slot_sql('q.captured_at')} AS slot, "
        "CAST(q.input_tokens AS DOUBLE) AS tin, CAST(q.output_tokens AS DOUBLE) AS tout, "
        f"epoch_us(q.captured_at) AS us, coalesce(q.impact_reported, false) AS rep, "
        "q.energy_kwh, q.carbon_g_co2, q.water_liters, q.billing_paid_with, q.billing_credits, q.billing_energy "
        f"FROM requests q WHERE {cond}"
    )
    keep = (
        "r.*, g.cell, r.tin / 1000.0::DOUBLE AS xin, r.tout / 1000.0::DOUBLE AS xout, "
        f"{_changed_sql('g')} AS changed"
    )
    source = f"({rows}) r JOIN _sb b ON b.h = r.h JOIN _sb_slots g ON g.h = r.h AND g.slot = r.slot"
    lb, ls = row_layers("b", "pb", g="g"), row_layers("b", "ps", "s_", g="g")
    outer = layered(source, keep, [[*x, *y] for x, y in zip(lb, ls, strict=True)])
    aggs = ["count(*) AS n", "sum(tin) AS tin", "sum(tout) AS tout"]
    for p in ("pb", "ps"):
        aggs += [f"sum({p}_{x}) AS {p}_{x}" for x in ("mu", "re", "rc", "rw")]
    # reported figures and billed amounts: plain sums, split by whether the row reported
    # its impact and how it was paid (group key bits: filtered aggregates over joined rows
    # cost several times the arithmetic)
    for q in _Q:
        aggs += [f'sum({q}) AS "obs:{q}"', f'count({q}) AS "obs_n:{q}"']
    aggs += [
        "sum(billing_credits) AS paid_credits",
        "sum(billing_energy) AS paid_energy",
        "min(us) AS first_us",
    ]
    pay = (
        "(CASE WHEN billing_paid_with = 'credits' THEN 0 WHEN billing_paid_with = 'energy' THEN 1 "
        "WHEN billing_credits IS NOT NULL OR billing_energy IS NOT NULL THEN 2 ELSE 3 END)"
    )
    # one integer group key: the row's raw key and slot (``cell``), changed, both sides'
    # flags, reported, paid
    packed = (
        "(((((cell * 2 + CAST(changed AS BIGINT)) * 16 + pb_flags) * 16 + ps_flags) * 2 "
        f"+ CAST(rep AS BIGINT)) * 4 + {pay})"
    )
    return f"SELECT {packed} AS gk, {', '.join(aggs)} FROM ({outer}) GROUP BY gk"


def _unpacked(r: pd.DataFrame, rk: list[dict[str, Any]], sslots: NDArray[np.int64]) -> pd.DataFrame:
    """The parts of the packed group keys of :func:`_groups_sql` (raw key, base and scenario
    keys and slots, changed, mix, both sides' flags), and the reported and billed sums of
    the groups where they apply (0 or None elsewhere)."""
    gk = r["gk"].to_numpy(dtype=np.int64)
    pay, gk = gk % 4, gk // 4
    rep, gk = (gk % 2).astype(bool), gk // 2
    n = r["n"].to_numpy(dtype=np.int64)
    for q in _Q:
        r[f"obs:{q}"] = np.where(
            rep, pd.to_numeric(r[f"obs:{q}"]).to_numpy(dtype=np.float64, na_value=0.0), 0.0
        )
        r[f"obs_n:{q}"] = np.where(rep, r[f"obs_n:{q}"].to_numpy(dtype=np.int64), 0)
    r["obs_rep"] = np.where(rep, n, 0)
    for c, code in (("paid_credits", 0), ("paid_energy", 1)):
        r[c] = np.where(pay == code, r[c].to_numpy(dtype=object), None)
    r["paid_other"] = np.where(pay == 2, n, 0)
    r["ps_flags"], gk = gk % 16, gk // 16
    r["pb_flags"], gk = gk % 16, gk // 16
    r["changed"], cell = (gk % 2).astype(bool), gk // 2
    ri, slot = cell // SLOTS, cell % SLOTS
    r["slot"] = slot
    r["sslot"] = sslots[ri, slot]
    for c in ("kb", "ks", "mix"):
        v = np.array([x[c] for x in rk])
        r[c] = v[ri]
    r["first_none"] = slot == UNTIMED  # every row of the group without a time
    return r.drop(columns="gk")


def _side_groups(fine: pd.DataFrame, kp: KeyParams) -> pd.DataFrame:
    """The groups of rows by key, slot and flags on both sides as groups by (keys, changed,
    grid codes, whether each side knows each quantity), with each side's sums of values and
    of value x log spread (the key's factors applied, :func:`.sql_predict.side_sums`)."""
    direct = fine[~fine["mix"]].reset_index(drop=True)
    if not len(direct):
        return direct
    n = direct["n"].to_numpy(dtype=np.float64)
    out = pd.DataFrame(
        {"kb": direct["kb"], "ks": direct["ks"], "changed": direct["changed"], "mix": direct["mix"]}
    )
    for p, k, sl in (("pb", "kb", "slot"), ("ps", "ks", "sslot")):
        kid, slot = direct[k].to_numpy(dtype=np.int64), direct[sl].to_numpy(dtype=np.int64)
        flags = direct[f"{p}_flags"].to_numpy(dtype=np.int64)
        f = {
            x: pd.to_numeric(direct[f"{p}_{x}"]).to_numpy(dtype=np.float64, na_value=np.nan)
            for x in ("mu", "re", "rc", "rw")
        }
        sums = side_sums(kp, kid, slot, flags, n, f["mu"], f["re"], f["rc"], f["rw"])
        out[f"{p}_gcode"] = kp.gcode[kid, slot]
        out[f"{p}_unknown"] = (flags & UNKNOWN) > 0
        for q, c in _Q.items():
            out[f"{p}_f{c}"] = sums[f"k{c}"] > 0
            out[f"{q}:{p}_v"] = sums[f"t{c}"]
            out[f"{q}:{p}_vs"] = sums[f"s{c}"]
    out["n"] = n
    out["tin"] = direct["tin"].to_numpy(dtype=np.float64)
    out["tout"] = direct["tout"].to_numpy(dtype=np.float64)
    out["first_none"] = direct["first_none"].to_numpy(dtype=bool)
    out["first_us"] = pd.to_numeric(direct["first_us"]).to_numpy(dtype=np.float64, na_value=np.nan)
    by = ["kb", "ks", "changed", "mix", "pb_gcode", "ps_gcode", "pb_unknown", "ps_unknown"]
    by += [f"{p}_f{c}" for p in ("pb", "ps") for c in _Q.values()]
    values = [c for c in out.columns if c not in by and c not in ("first_none", "first_us")]
    grouped = out.groupby(by, sort=False)
    res = grouped[values].sum()
    res["first_none"] = grouped["first_none"].all()
    res["first_us"] = grouped["first_us"].min()
    return res.reset_index()


def _other_cost(con: Any, cond: str) -> Decimal:
    """Exact euros of billed rows paid other than by 'credits' or 'energy' (rare: read as
    rows and costed by :func:`melious_impact.forecasting.costs.add_cost_eur`, the one rule)."""
    rows = to_pandas(
        con.sql(
            "SELECT billing_paid_with, billing_credits, billing_energy FROM requests "
            f"WHERE {cond} AND billing_paid_with IS DISTINCT FROM 'credits' "
            "AND billing_paid_with IS DISTINCT FROM 'energy' "
            "AND (billing_credits IS NOT NULL OR billing_energy IS NOT NULL)"
        ).to_arrow_table()
    )
    if not len(rows):
        return Decimal(0)
    from melious_impact.forecasting.costs import add_cost_eur, sum_decimal

    return sum_decimal(add_cost_eur(rows)["cost_eur"])


def _first_key(first: Any) -> tuple[bool, int, str]:
    if isinstance(first, dict):
        return (bool(first["z"]), int(first["u"]) if first["u"] is not None else 0, str(first["r"]))
    return (True, 0, "")


def _merge(
    direct: pd.DataFrame,
    r: pd.DataFrame,
    labels: list[Key],
    codes: list[list[str]],
    err: list[bool],
    mix_parts: list[tuple[Groups, list[tuple[bool, int, str]]]],
    other_cost: Decimal,
    exact_firsts: Callable[[], list[tuple[Key, Key, tuple[bool, int, str]]]],
) -> Groups:
    """SQL groups and the traffic-mix rows' groups as one :class:`Groups`, keys numbered as a
    frame of the store would number them. ``direct``: the groups of rows predicted in SQL
    (:func:`_side_groups`), ``r``: all rows' groups (reported figures, billed euros)."""
    # group label pairs, first appearance, the sums
    pairs: list[tuple[Key, Key]] = [
        (labels[int(b)], labels[int(s)])
        for b, s in zip(direct.get("kb", []), direct.get("ks", []), strict=True)
    ]
    firsts = [
        (bool(z), int(u) if _present(u) else 0, "")
        for z, u in zip(direct.get("first_none", []), direct.get("first_us", []), strict=True)
    ]
    arrays: dict[str, list[NDArray[np.float64]]] = {"n": [], "w": [], "tin": [], "tout": []}
    sums: dict[str, list[NDArray[np.float64]]] = {f"{q}:{s}": [] for q in QUANTITIES for s in SUMS}
    changed = [np.asarray(direct.get("changed", []), dtype=bool)]

    def f64(col: str, frame: pd.DataFrame) -> NDArray[np.float64]:
        return np.asarray(pd.to_numeric(frame[col]).to_numpy(dtype=np.float64), dtype=np.float64)

    warnings: dict[str, int] = {}
    if len(direct):
        n = f64("n", direct)
        arrays["n"].append(n)
        arrays["w"].append(n)
        arrays["tin"].append(f64("tin", direct))
        arrays["tout"].append(f64("tout", direct))
        for q, c in _Q.items():
            fb, fs = direct[f"pb_f{c}"].to_numpy(dtype=bool), direct[f"ps_f{c}"].to_numpy(dtype=bool)
            both = fb & fs
            vb, vbs = f64(f"{q}:pb_v", direct), f64(f"{q}:pb_vs", direct)
            vs, vss = f64(f"{q}:ps_v", direct), f64(f"{q}:ps_vs", direct)
            for name, mask, v in (
                ("tb", fb, vb),
                ("sb", fb, vbs),
                ("ts", fs, vs),
                ("ss", fs, vss),
                ("tbb", both, vb),
                ("sbb", both, vbs),
                ("tsb", both, vs),
                ("ssb", both, vss),
                ("wb", fb, n),
                ("ws", fs, n),
                ("wbb", both, n),
                ("nbad", ~both, n),
            ):
                sums[f"{q}:{name}"].append(np.where(mask, v, 0.0))
        for side in ("pb", "ps"):
            k = "kb" if side == "pb" else "ks"
            for kk, gc, unk, cnt in zip(
                direct[k], direct[f"{side}_gcode"], direct[f"{side}_unknown"], n, strict=True
            ):
                text = warning_text(codes[int(kk)], int(gc), bool(unk), err[int(kk)])
                for code in filter(None, text.split(",")):
                    warnings[code] = warnings.get(code, 0) + int(cnt)
    unknown_rows = 0
    if len(direct):
        every = np.ones(len(direct), dtype=bool)
        for p in ("pb", "ps"):
            for c in _Q.values():
                every &= direct[f"{p}_f{c}"].to_numpy(dtype=bool)
        unknown_rows = int(direct["n"].to_numpy(dtype=np.int64)[~every].sum())
    for g, mix_firsts in mix_parts:
        pairs += [(g.labels[int(b)], g.labels[int(s)]) for b, s in zip(g.kb, g.ks, strict=True)]
        firsts += mix_firsts
        changed.append(g.changed)
        for name in ("n", "w", "tin", "tout"):
            arrays[name].append(getattr(g, name))
        for name in sums:
            sums[name].append(g.sums[name])
        for code, cnt in g.warnings.items():
            warnings[code] = warnings.get(code, 0) + cnt
        unknown_rows += g.unknown_rows
    n_sql = len(firsts) - sum(len(part[0].kb) for part in mix_parts)
    order_of, tied = _first_seen(pairs, firsts)
    if tied:  # two values first seen at one instant: record_id decides, as in a frame
        exact = exact_firsts()
        more = list(zip(pairs[n_sql:], firsts[n_sql:], strict=True))
        order_of, _ = _first_seen(
            [(b, s) for b, s, _ in exact] + [p for p, _ in more],
            [f for _, _, f in exact] + [f for _, f in more],
        )
    used = sorted(
        {k for pair in pairs for k in pair},
        key=lambda k: tuple(-1 if k[c] is None else order_of[c][k[c]] for c in range(3)),
    )
    index = {k: i for i, k in enumerate(used)}

    def cat(parts: list[NDArray[Any]]) -> NDArray[np.float64]:
        return np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)

    observed = {}
    for q in QUANTITIES:
        if len(r) and int(r["obs_rep"].sum()) > 0:
            complete = int(r[f"obs_n:{q}"].sum()) == int(r["obs_rep"].sum())
            observed[q] = float(f64(f"obs:{q}", r).sum()) if complete else float("nan")
        else:
            observed[q] = float("nan")
    with localcontext() as ctx:
        ctx.prec = 80
        credits = sum((Decimal(v) for v in r.get("paid_credits", []) if _present(v)), Decimal(0))
        energy = sum((Decimal(v) for v in r.get("paid_energy", []) if _present(v)), Decimal(0))
        cost = (credits + energy * EUR_PER_ENERGY_UNIT + other_cost).normalize()
    return Groups(
        labels=used,
        kb=np.array([index[b] for b, _ in pairs], dtype=np.intp),
        ks=np.array([index[s] for _, s in pairs], dtype=np.intp),
        changed=np.concatenate(changed).astype(bool) if changed else np.zeros(0, dtype=bool),
        n=cat(arrays["n"]),
        w=cat(arrays["w"]),
        tin=cat(arrays["tin"]),
        tout=cat(arrays["tout"]),
        sums={name: cat(parts) for name, parts in sums.items()},
        observed=observed,
        observed_cost=cost,
        warnings=warnings,
        unknown_rows=unknown_rows,
    )


def _first_seen(
    pairs: list[tuple[Key, Key]], firsts: list[tuple[bool, int, str]]
) -> tuple[list[dict[Any, int]], bool]:
    """Each column's values numbered as a frame's ``pd.factorize`` would: by first appearance
    among base rows, then among scenario rows. ``firsts``: per pair, its first row's
    (no time, time, record_id; record_id "" when not read). Whether two values were first
    seen at the same time with a record_id unread (the order is then unknown)."""
    rank: list[dict[Any, tuple[int, tuple[bool, int, str]]]] = [{}, {}, {}]
    for half in (0, 1):
        for pair, first in zip(pairs, firsts, strict=True):
            for c in range(3):
                v = pair[half][c]
                if v is None:
                    continue
                cur = rank[c].get(v)
                if cur is None or (cur[0] == half and first < cur[1]):
                    rank[c][v] = (half, first)
    tied = False
    for rc in rank:
        seen: dict[tuple[int, bool, int], list[str]] = {}
        for half, (z, u, r) in rc.values():
            seen.setdefault((half, z, u), []).append(r)
        tied |= any(len(rs) > 1 and "" in rs for rs in seen.values())
    order = [{v: i for i, v in enumerate(sorted(rc, key=lambda v: rc[v]))} for rc in rank]
    return order, tied


def _present(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and np.isnan(v))
