"""Predictions of rows in DuckDB: the per-row arithmetic of :func:`.predict.predict_keys` as SQL.

What a key resolves to (a cell, the model's pooled fit, public priors; PUE, water, grid
source) is decided in Python once per distinct (model, provider_id, location) key by the
same functions as a frame's prediction (:func:`.predict._resolve`, :func:`.predict._grid_params`):
:func:`key_params`, with the grid intensity, spread and code of each of the key's slots
(month x UTC hour, and one for rows without a time).

Most of a row's prediction is linear in its tokens: energy is ``(a * input + b * output) x
PUE``, carbon that times the slot's grid intensity, water times the key's water factor. So
a row's work in SQL (:func:`row_layers`) is its energy before the key's factors and, per
quantity, that times its log spread (which depends on the row's own mix of input and output
tokens: it cannot be pre-summed); the rows are summed by key, slot and flags, and the
factors applied to the few sums afterwards (:func:`side_sums`). A row finds its key's
parameters by the hash of (model, provider_id, location) as written (:func:`register_rows`:
one small table per key, one per key and slot).

Rows whose provider or location is missing for a measured model (:func:`needs_mix`) are
spread over the model's traffic mix: their cells are columns of one table per key
(:func:`register_mix`) and each row's mean and bound are taken over them
(:func:`mix_layers`), as :func:`.predict._predict_mix` does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from melious_impact.model.predict import BASES, GRID_CODES, _grid_params, _location_sd, _resolve
from melious_impact.model.priors import Z90

if TYPE_CHECKING:  # pragma: no cover
    from melious_impact.model.fit import IntensityModel

_D = "::DOUBLE"
_PRIOR_GRID = GRID_CODES.index("prior_grid")


#: rows that may be spread over a traffic mix (a filter evaluated in the scan, before joins)
MIXED = "(q.provider_id IS NULL OR q.location IS NULL)"


def needs_mix(m: IntensityModel, model: Any, provider: Any, location: Any) -> bool:
    """Whether :func:`.predict.predict` spreads a row of this key over the model's traffic mix."""
    return (
        isinstance(model, str) and (provider is None or location is None) and model in set(m.cells["model"])
    )


def _nz(x: float) -> float:
    return float(np.nan_to_num(x))


def key_table(
    m: IntensityModel, keys: list[tuple[Any, Any, Any]], interval: str
) -> tuple[pd.DataFrame, list[list[str]]]:
    """One row per key (``kid`` = its position in ``keys``) with what its rows need, and the
    warning codes of each key (energy, PUE and water parts; the grid code is per row)."""
    rows = []
    codes = []
    for kid, (model, provider, location) in enumerate(keys):
        r = _resolve(m, model, provider, location)
        gi, gval, gsd, gcode = _grid_params(m, location)
        with np.errstate(divide="ignore", invalid="ignore"):
            sd_in = (
                math.sqrt(_nz(r.var_a)) / _nz(r.a) if _nz(r.a) else (math.inf if _nz(r.var_a) else math.nan)
            )
            sd_out = (
                math.sqrt(_nz(r.var_b)) / _nz(r.b) if _nz(r.b) else (math.inf if _nz(r.var_b) else math.nan)
            )
        extra = r.pue_log_sd**2 + (r.noise_sd**2 if interval == "request" else 0.0)
        rows.append(
            {
                "kid": kid,
                "a0": _nz(r.a),
                "b0": _nz(r.b),
                "a_nan": not math.isfinite(r.a),
                "b_nan": not math.isfinite(r.b),
                "va": _nz(r.var_a),
                "vb": _nz(r.var_b),
                "cv": _nz(r.cov),
                "pue": r.pue,
                "extra": extra,
                "prior": r.basis == "prior",
                "sd_in": sd_in,
                "sd_out": sd_out,
                "water": r.water,
                "wsd2": r.water_log_sd**2,
                # a row without a time: the location's year average, or the annual prior
                "g0": m.grid.annual_mean[gi] if gi >= 0 else gval[0],
                "gsd0": _location_sd(m)[gi] if gi >= 0 else gsd[0],
                "gcode0": GRID_CODES.index("no_timestamp") if gi >= 0 else gcode,
                "basis": BASES.index(r.basis),
                "err": bool(r.error),
            }
        )
        codes.append(r.codes)
    return pd.DataFrame(rows), codes


#: grid slots of a key: 12 months x 24 UTC hours, then one for rows without a time
SLOTS = 289
UNTIMED = SLOTS - 1


def slot_sql(ts: str) -> str:
    """The grid slot (:data:`SLOTS`) of a row whose instant is ``ts``."""
    return (
        f"coalesce((month(make_timestamp(epoch_us({ts}))) - 1) * 24 "
        f"+ hour(make_timestamp(epoch_us({ts}))), {UNTIMED})"
    )


@dataclass(frozen=True)
class KeyParams:
    """What the rows of each key (``kid`` = position in the key list) need: the key's
    parameters (:func:`key_table`), its warning codes, and per grid slot the intensity,
    its log spread and the grid code; arrays are (keys, :data:`SLOTS`)."""

    table: pd.DataFrame
    codes: list[list[str]]
    g: NDArray[np.float64]
    gsd: NDArray[np.float64]
    gcode: NDArray[np.int64]


def key_params(m: IntensityModel, keys: list[tuple[Any, Any, Any]], interval: str) -> KeyParams:
    """:class:`KeyParams` of ``keys``: a timed row gets its slot of the observed profile,
    else the key's monthly prior; an untimed row the location's year, else the annual prior."""
    t, codes = key_table(m, keys, interval)
    nk = len(keys)
    g = np.zeros((nk, SLOTS))
    gsd = np.zeros((nk, SLOTS))
    gcode = np.zeros((nk, SLOTS), dtype=np.int64)
    mo = np.repeat(np.arange(12), 24)
    prof = m.grid
    for kid, (_, _, location) in enumerate(keys):
        gi, gval, gs, gc = _grid_params(m, location)
        if gi >= 0:
            g[kid, :UNTIMED] = prof.mean[gi].ravel()
            gsd[kid, :UNTIMED] = prof.log_sd[gi].ravel()
            gcode[kid, :UNTIMED] = np.where(prof.n[gi].ravel() == 0, GRID_CODES.index("grid_slot_filled"), 0)
        else:
            g[kid, :UNTIMED], gsd[kid, :UNTIMED] = gval[mo + 1], gs[mo + 1]
            gcode[kid, :UNTIMED] = gc
    if nk:
        g[:, UNTIMED] = t["g0"].to_numpy(dtype=np.float64)
        gsd[:, UNTIMED] = t["gsd0"].to_numpy(dtype=np.float64)
        gcode[:, UNTIMED] = t["gcode0"].to_numpy(dtype=np.int64)
    if interval == "mean":  # slot spread is per-request weather; priors stay uncertain
        gsd = np.where(gcode == _PRIOR_GRID, gsd, 0.0)
    return KeyParams(t, codes, g, gsd, gcode)


#: what a row's arithmetic reads of its key (:func:`row_layers`, :func:`row_columns`):
#: ``kbits`` are the key's energy prior (4), input (2) and output (1) coefficient unknown
_PRIOR, _A_NAN, _B_NAN = 4, 2, 1


def _finite_or_none(x: NDArray[np.float64]) -> NDArray[np.object_]:
    out = np.asarray(x, dtype=object)
    out[~np.isfinite(np.asarray(x, dtype=np.float64))] = None
    return out


def row_columns(
    kp: KeyParams, kid: NDArray[np.int64], slot: NDArray[np.int64], prefix: str = ""
) -> dict[str, Any]:
    """The parameters a row reads (a0, b0, va, vb, cv, sd_in, sd_out, extra, gsd2, wsd2,
    kbits; named ``prefix + name``) of key ``kid`` at grid slot ``slot``
    (arrays of one shape; ``gsd2``, ``wsd2``: squared log spreads, None where not finite:
    no spread term then). A ``kid`` of -1 has zeros (rows the caller does not predict)."""
    t = kp.table
    nk = len(t)
    at = np.where(kid >= 0, kid, nk).ravel()  # one row of zeros past the keys
    sl = slot.ravel()

    def pad(v: NDArray[Any]) -> NDArray[Any]:
        return np.concatenate([v, np.zeros((1, *v.shape[1:]), dtype=v.dtype)])

    def col(c: str) -> NDArray[Any]:
        return pad(t[c].to_numpy() if nk else np.zeros(0))[at]

    cols: dict[str, Any] = {}
    for c in ("a0", "b0", "va", "vb", "cv", "sd_in", "sd_out", "extra"):
        cols[prefix + c] = col(c).astype(np.float64)
    cols[prefix + "wsd2"] = _finite_or_none(col("wsd2").astype(np.float64))
    with np.errstate(over="ignore", invalid="ignore"):
        cols[prefix + "gsd2"] = _finite_or_none(pad(kp.gsd * kp.gsd)[at, sl])
    bits = (
        col("prior").astype(bool) * _PRIOR
        + col("a_nan").astype(bool) * _A_NAN
        + col("b_nan").astype(bool) * _B_NAN
    )
    cols[prefix + "kbits"] = bits.astype(np.int64)
    return cols


def register_rows(
    con: duckdb.DuckDBPyConnection,
    name: str,
    kp: KeyParams,
    raw: list[tuple[int, int]],
    keys: dict[str, NDArray[Any]] | None = None,
    slots: dict[str, NDArray[Any]] | None = None,
) -> None:
    """Two temporary tables: ``name``, per raw key (``h``: its ``hash(model, provider_id,
    location)`` as written), the key's ``kid`` and :func:`row_columns` but ``gsd2``, with
    ``keys`` (more columns, a value per raw key); ``{name}_slots``, per raw key and grid
    slot, ``cell`` (raw key's position x :data:`SLOTS` + slot: what rows are grouped by),
    ``gsd2`` and ``slots`` (arrays of raw keys x :data:`SLOTS`). A row joins the first by
    its key and the second by key and slot: the first is a few rows, so the many
    parameters a row reads stay in the processor's cache."""
    nr = len(raw)
    kid = np.array([k for _, k in raw], dtype=np.int64)
    h = np.array([x for x, _ in raw], dtype=np.uint64)
    params = row_columns(kp, kid, np.zeros(nr, dtype=np.int64))
    gsd2 = row_columns(kp, np.repeat(kid, SLOTS), np.tile(np.arange(SLOTS, dtype=np.int64), nr))["gsd2"]
    key_cols: dict[str, Any] = {"h": h, "kid": kid, **{c: v for c, v in params.items() if c != "gsd2"}}
    key_cols.update(keys or {})
    slot_cols: dict[str, Any] = {
        "h": np.repeat(h, SLOTS),
        "slot": np.tile(np.arange(SLOTS, dtype=np.int64), nr),
        "cell": np.arange(nr * SLOTS, dtype=np.int64),
        "gsd2": gsd2,
        **{c: np.asarray(v).ravel() for c, v in (slots or {}).items()},
    }
    for table, cols in ((name, key_cols), (f"{name}_slots", slot_cols)):
        frame = pd.DataFrame(cols)
        for c in frame.columns:
            if frame[c].dtype == object:  # the squared spreads: NULL where not finite
                frame[c] = frame[c].astype("Float64")
        con.register(f"{table}_df", frame)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM {table}_df")
        con.unregister(f"{table}_df")


#: bits of a row's flags (:func:`row_layers`): its value unknown, its energy before the
#: key's factors finite
UNKNOWN, FIN = 8, 4


def row_layers(k: str, p: str, prefix: str = "", g: str | None = None) -> list[list[str]]:
    """Select expressions of one side's prediction for a row, as successive layers (each
    layer's names are columns of the next), given ``xin``/``xout`` (thousands of tokens)
    and ``k``, the alias of its joined :func:`register_rows` key row (``prefix``: of the
    parameters' names there, :func:`row_columns`), ``g`` of its slot row (``gsd2``; ``k``
    when one table has both):

    ``{p}_mu`` (the key's energy per request before PUE: each quantity is it times the
    key's PUE and the slot's grid intensity or the key's water factor, constants of the
    row's key and slot), ``{p}_re``, ``{p}_rc``, ``{p}_rw`` (``{p}_mu`` times each
    quantity's log spread, the sd of its 90% bound: NULL where that spread is not finite)
    and ``{p}_flags`` (:data:`UNKNOWN`: a side of the tokens without a coefficient;
    :data:`FIN`: ``{p}_mu`` is finite). A total over rows of one key, slot and flags is
    then a sum of ``{p}_mu`` times the key's constants: the per-row work is the spread."""
    gsd2 = f"{g or k}.{prefix}gsd2"
    k = f"{k}.{prefix}"
    bits = f"{k}kbits"
    first = [
        f"{k}a0 * xin + {k}b0 * xout AS {p}_mu",
        f"xin * xin * {k}va + xout * xout * {k}vb + 2 * xin * xout * {k}cv AS {p}_var",
        f"coalesce((xout > 0 AND ({bits} & {_B_NAN}) > 0) OR (xin > 0 AND ({bits} & {_A_NAN}) > 0), false) "
        f"AS {p}_unknown",
        f"({bits} & {_PRIOR}) > 0 AS {p}_kprior",
        *(f"{k}{c} AS {p}_k{c}" for c in ("a0", "sd_in", "sd_out", "extra", "wsd2")),
        f"{gsd2} AS {p}_kgsd2",
    ]
    share = f"(CASE WHEN {p}_mu > 0 THEN {p}_ka0 * xin / {p}_mu ELSE 0.0{_D} END)"
    part_in = _nzs(f"{share} * {p}_ksd_in")
    part_out = _nzs(f"(1.0{_D} - {share}) * {p}_ksd_out")
    rel_sd = f"(sqrt(greatest({p}_var, 0.0{_D})) / {p}_mu)"
    coef = (
        f"(CASE WHEN {p}_kprior THEN ({part_in} + {part_out}) "
        f"ELSE ln(1.0{_D} + {Z90!r}{_D} * {rel_sd}) / {Z90!r}{_D} END)"
    )
    second = [f"{coef} * {coef} + {p}_kextra AS {p}_rel2"]
    flags = f"CASE WHEN {p}_unknown THEN {UNKNOWN} WHEN {_fin(f'{p}_mu')} THEN {FIN} ELSE 0 END"
    third = [
        f"CASE WHEN {_fin(f'{p}_rel2')} THEN {p}_rel2 ELSE 0.0{_D} END AS {p}_r2",
        f"{flags} AS {p}_flags",
    ]
    fourth = [
        f"{p}_mu * sqrt({p}_r2) AS {p}_re",
        f"{p}_mu * sqrt({p}_r2 + {p}_kgsd2) AS {p}_rc",
        f"{p}_mu * sqrt({p}_r2 + {p}_kwsd2) AS {p}_rw",
    ]
    return [first, second, third, fourth]


def side_sums(
    kp: KeyParams,
    kid: NDArray[np.int64],
    slot: NDArray[np.int64],
    flags: NDArray[np.int64],
    n: NDArray[np.float64],
    mu: NDArray[np.float64],
    re: NDArray[np.float64],
    rc: NDArray[np.float64],
    rw: NDArray[np.float64],
) -> dict[str, NDArray[np.float64]]:
    """Per group of rows of one key, slot and flags (sums of :func:`row_layers`' terms):
    per quantity letter q (e, c, w) ``t{q}`` the sum of its values, ``s{q}`` of value x log
    spread and ``k{q}`` the rows with a value (0 where the group has none: a coefficient
    or a factor of the key or slot unknown)."""
    t = kp.table
    at = np.maximum(kid, 0)
    pue = t["pue"].to_numpy(dtype=np.float64)[at] if len(t) else np.zeros(0)
    water = t["water"].to_numpy(dtype=np.float64)[at] if len(t) else np.zeros(0)
    g = kp.g[at, slot] if len(t) else np.zeros(0)
    known = (flags & FIN) > 0
    out: dict[str, NDArray[np.float64]] = {}
    with np.errstate(invalid="ignore", over="ignore"):
        for q, factor in (("e", pue), ("c", pue * g), ("w", pue * water)):
            ok = known & np.isfinite(factor) & (kid >= 0)
            out[f"t{q}"] = np.where(ok, mu * factor, 0.0)
            r = {"e": re, "c": rc, "w": rw}[q]
            out[f"s{q}"] = np.where(ok, np.nan_to_num(r, nan=0.0) * factor, 0.0)
            out[f"k{q}"] = np.where(ok, n, 0.0)
    return out


def _fin(x: str) -> str:
    return f"coalesce(isfinite({x}), false)"


def _nzs(x: str) -> str:
    """numpy's nan_to_num in SQL: NaN and NULL to 0, infinities to the largest doubles."""
    return (
        f"(CASE WHEN {x} IS NULL OR isnan({x}) THEN 0.0{_D} WHEN {x} = 'inf'{_D} THEN 1.7976931348623157e308{_D} "
        f"WHEN {x} = '-inf'{_D} THEN -1.7976931348623157e308{_D} ELSE {x} END)"
    )


def layered(source: str, keep: str, layers: list[list[str]]) -> str:
    """``source`` (a FROM clause; ``keep``: what of it to select, e.g. ``r.*``) with each
    layer of expressions added over the previous."""
    sql = f"SELECT {keep}, {', '.join(layers[0])} FROM {source}"
    for layer in layers[1:]:
        sql = f"SELECT *, {', '.join(layer)} FROM ({sql})"
    return sql


def warning_text(codes: list[str], gcode: int, unknown: bool, error: bool) -> str:
    """The ``warnings`` text of a row, as :func:`.predict.predict_keys` writes it."""
    parts = [*codes, GRID_CODES[gcode], "coefficient_unknown" if unknown and not error else ""]
    return ",".join(p for p in parts if p)


def mix_cells(
    m: IntensityModel, model: str, provider: Any, location: Any
) -> list[tuple[tuple[Any, Any, Any], float]]:
    """The cells a row of a measured model without provider or location is spread over (as
    :func:`.predict._predict_mix`: the model's cells matching what the row gives), with
    their shares of its traffic; empty when none matches."""
    cells = m.cells
    sel = cells["model"] == model
    if provider is not None:
        sel &= cells["provider_id"] == provider
    if location is not None:
        sel &= cells["location"] == location
    part = cells[sel.to_numpy(dtype=bool)]
    n = part["n_requests"].to_numpy(dtype=np.float64)
    shares = n / n.sum() if len(part) else n
    keys = list(zip(part["model"], part["provider_id"], part["location"], strict=True))
    return [((k[0], _none_of(k[1]), _none_of(k[2])), float(s)) for k, s in zip(keys, shares, strict=True)]


def _none_of(v: Any) -> Any:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA else v


#: per cell of a traffic mix, what a row's arithmetic reads (NaN kept: numpy's rules)
_MIX_PARAMS = (
    *("a0", "b0", "va", "vb", "cv", "prior", "sd_in", "sd_out", "extra", "a_nan", "b_nan"),
    *("pue", "g", "gsd", "water", "wsd2", "share", "big"),
)


def register_mix(
    con: duckdb.DuckDBPyConnection,
    name: str,
    kp: KeyParams,
    raw: list[tuple[int, list[tuple[int, float]]]],
    min_share: float,
    extra: dict[str, NDArray[Any]] | None = None,
    sslot: NDArray[np.int64] | None = None,
) -> int:
    """The temporary table ``name``: per raw key of traffic-mix rows (hash as in
    :func:`register_rows`) and grid slot, ``mid`` (its position in ``raw``), ``lost`` (no cell to spread over) and for each of
    its cells ``i`` (``kid`` into ``kp``, share) :data:`_MIX_PARAMS` as ``{param}_{i}``
    (cells past a key's own count have share 0), and ``extra`` columns (as in
    :func:`register_rows`). ``sslot`` (raw keys x slots): another slot of each row (where a
    scenario shifts it), whose grid intensity and spread per cell are ``sg_{i}``,
    ``sgsd_{i}``. Returns the largest cell count."""
    width = max((len(c) for _, c in raw), default=0)
    nr = len(raw)
    t = kp.table
    cols: dict[str, Any] = {
        "h": np.repeat(np.array([h for h, _ in raw], dtype=np.uint64), SLOTS),
        "slot": np.tile(np.arange(SLOTS, dtype=np.int64), nr),
        "mid": np.repeat(np.arange(nr, dtype=np.int64), SLOTS),
        "lost": np.repeat(np.array([not c for _, c in raw], dtype=bool), SLOTS),
    }
    for i in range(width):
        kid = np.array([c[i][0] if i < len(c) else -1 for _, c in raw], dtype=np.int64)
        has = kid >= 0
        share = np.array([c[i][1] if i < len(c) else 0.0 for _, c in raw], dtype=np.float64)
        at = np.maximum(kid, 0)
        for p in _MIX_PARAMS:
            if p == "share":
                v = np.repeat(share, SLOTS)
            elif p == "big":
                v = np.repeat(has & (share >= min_share), SLOTS)
            elif p in ("g", "gsd"):
                arr = kp.g if p == "g" else kp.gsd
                v = np.where(np.repeat(has, SLOTS), arr[at].ravel(), 0.0)
            else:
                col = t[p].to_numpy() if len(t) else np.zeros(0)
                base = col[at] if len(col) else np.zeros(nr)
                if base.dtype == bool:
                    v = np.repeat(np.where(has, base, False), SLOTS)
                else:
                    v = np.repeat(np.where(has, base.astype(np.float64), 0.0), SLOTS)
            cols[f"{p}_{i}"] = v
        if sslot is not None:
            for p, arr in (("sg", kp.g), ("sgsd", kp.gsd)):
                v = arr[at[:, None], sslot] if len(arr) else np.zeros((nr, SLOTS))
                cols[f"{p}_{i}"] = np.where(has[:, None], v, 0.0).ravel()
    for c, x in (extra or {}).items():
        cols[c] = x.ravel() if x.ndim == 2 else np.repeat(x, SLOTS)
    import pyarrow as pa

    table = pa.table({c: pa.array(v) for c, v in cols.items()})  # NaN stays NaN, not NULL
    con.register(f"{name}_df", table)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_df")
    con.unregister(f"{name}_df")
    return width


def mix_layers(k: str, width: int, shifted: bool = False) -> list[list[str]]:
    """Select expressions of a traffic-mix row's prediction (:func:`.predict._predict_mix`
    with ``interval='mean'``: the share-weighted mean over the cells, its 90% bound the
    largest bound of the cells with a big share), given ``xin``/``xout`` and ``k``, the
    alias of its joined :func:`register_mix` row: per quantity q (e, c, w) ``m_t{q}``
    (its value, 0 where unknown), ``m_s{q}`` (value x log spread of the bound) and
    ``m_k{q}`` (1 where known); ``shifted``: also q = s, carbon at the row's other slot
    (:func:`register_mix` with ``sslot``)."""
    nan = f"'nan'{_D}"
    qs = ("e", "c", "w", "s") if shifted else ("e", "c", "w")
    first: list[str] = []
    for i in range(width):
        a0, b0 = f"{k}.a0_{i}", f"{k}.b0_{i}"
        mu = f"({a0} * xin + {b0} * xout)"
        var = f"(xin * xin * {k}.va_{i} + xout * xout * {k}.vb_{i} + 2 * xin * xout * {k}.cv_{i})"
        unknown = f"coalesce((xout > 0 AND {k}.b_nan_{i}) OR (xin > 0 AND {k}.a_nan_{i}), false)"
        first += [
            f"{mu} AS mu_{i}",
            f"{var} AS var_{i}",
            f"CASE WHEN {unknown} THEN {nan} ELSE {mu} * {k}.pue_{i} END AS e_{i}",
            *(f"{k}.{p}_{i} AS k{p}_{i}" for p in ("a0", "prior", "sd_in", "sd_out", "extra")),
            *(f"{k}.{p}_{i} AS k{p}_{i}" for p in ("g", "gsd", "water", "wsd2", "share", "big")),
            *(f"{k}.{p}_{i} AS k{p}_{i}" for p in (("sg", "sgsd") if shifted else ())),
        ]
    first.append(f"CASE WHEN {k}.lost THEN {nan} ELSE 0.0{_D} END AS base")
    second: list[str] = []
    for i in range(width):
        mu = f"mu_{i}"
        share = f"(CASE WHEN {mu} > 0 THEN ka0_{i} * xin / {mu} ELSE 0.0{_D} END)"
        prior_sd = f"({_nzs(f'{share} * ksd_in_{i}')} + {_nzs(f'(1.0{_D} - {share}) * ksd_out_{i}')})"
        rel_sd = f"(sqrt(greatest(var_{i}, 0.0{_D})) / {mu})"
        coef = f"(CASE WHEN kprior_{i} THEN {prior_sd} ELSE ln(1.0{_D} + {Z90!r}{_D} * {rel_sd}) / {Z90!r}{_D} END)"
        second.append(f"{coef} * {coef} + kextra_{i} AS rel2_{i}")
    third = [f"CASE WHEN {_fin(f'rel2_{i}')} THEN rel2_{i} ELSE 0.0{_D} END AS r2_{i}" for i in range(width)]
    vals = {"e": "e_{i}", "c": "e_{i} * kg_{i}", "w": "e_{i} * kwater_{i}", "s": "e_{i} * ksg_{i}"}
    sds = {
        "e": "r2_{i}",
        "c": "r2_{i} + kgsd_{i} * kgsd_{i}",
        "w": "r2_{i} + kwsd2_{i}",
        "s": "r2_{i} + ksgsd_{i} * ksgsd_{i}",
    }
    fourth: list[str] = []
    for q in qs:
        terms = [f"kshare_{i} * ({vals[q].format(i=i)})" for i in range(width)]
        mean = " + ".join(["base", *terms])
        bounds = [
            f"CASE WHEN kbig_{i} THEN ({vals[q].format(i=i)}) * exp({Z90!r}{_D} * sqrt({sds[q].format(i=i)})) "
            f"ELSE '-inf'{_D} END"
            for i in range(width)
        ]
        high = (
            f"greatest({', '.join(bounds)})" if len(bounds) > 1 else (bounds[0] if bounds else f"'-inf'{_D}")
        )
        fourth += [f"{mean} AS m_v{q}", f"{high} AS m_h{q}"]
    fifth: list[str] = []
    for q in qs:
        v, h = f"m_v{q}", f"m_h{q}"
        fifth.append(f"greatest(CASE WHEN {_fin(h)} THEN {h} ELSE {v} END, {v}) AS m_hi{q}")
    sixth: list[str] = []
    for q in qs:
        v, ratio = f"m_v{q}", f"(m_hi{q} / m_v{q})"
        known = _fin(v)
        s = f"(CASE WHEN {_fin(ratio)} AND {ratio} > 0 THEN ln({ratio}) / {Z90!r}{_D} ELSE 0.0{_D} END)"
        sixth += [
            f"CASE WHEN {known} THEN {v} ELSE 0.0{_D} END AS m_t{q}",
            f"CASE WHEN {known} THEN {v} * {s} ELSE 0.0{_D} END AS m_s{q}",
            f"CASE WHEN {known} THEN 1.0{_D} ELSE 0.0{_D} END AS m_k{q}",
        ]
    return [first, second, third, fourth, fifth, sixth]
