"""Predictions of rows in DuckDB: the per-row arithmetic of :func:`.predict.predict_keys` as SQL.

What a key resolves to (a cell, the model's pooled fit, public priors; PUE, water, grid
source) is decided in Python once per distinct (model, provider_id, location) key by the
same functions as a frame's prediction (:func:`.predict._resolve`, :func:`.predict._grid_params`),
and registered as a small table (:func:`register_keys`); the grid profile is a second one.
Each row then takes its value and log spread from :func:`side_layers`, a few expressions
evaluated by DuckDB next to the scan, so the rows never reach pandas. Rows whose provider or
location is missing for a measured model (spread over the model's traffic mix) are not
handled here: callers predict them as a frame (:func:`needs_mix` says which keys).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pandas as pd

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


def _slot_table(m: IntensityModel, keys: list[tuple[Any, Any, Any]], interval: str) -> pd.DataFrame:
    """Per key, month and UTC hour: the grid intensity a timed row gets, its log spread and
    grid code (the observed profile, else the key's monthly prior)."""
    parts = []
    month, hour = np.meshgrid(np.arange(12), np.arange(24), indexing="ij")
    mo, hr = month.ravel(), hour.ravel()
    prof = m.grid
    for kid, (_, _, location) in enumerate(keys):
        gi, gval, gsd, gcode = _grid_params(m, location)
        if gi >= 0:
            g = prof.mean[gi].ravel()
            sd = prof.log_sd[gi].ravel()
            code = np.where(prof.n[gi].ravel() == 0, GRID_CODES.index("grid_slot_filled"), 0)
        else:
            g, sd = gval[mo + 1], gsd[mo + 1]
            code = np.full(len(mo), gcode)
        if interval == "mean":  # slot spread is per-request weather; priors stay uncertain
            sd = np.where(code == _PRIOR_GRID, sd, 0.0)
        parts.append(
            pd.DataFrame(
                {
                    "kid": kid,
                    "mo": mo.astype(np.int64),
                    "hr": hr.astype(np.int64),
                    "g": np.asarray(g, dtype=np.float64),
                    "gsd": np.asarray(sd, dtype=np.float64),
                    "gcode": code.astype(np.int64),
                    "slot": (kid * 288 + mo * 24 + hr).astype(np.int64),  # one join column
                }
            )
        )
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=np.int64) for c in ("kid", "mo", "hr", "gcode", "slot")})
    return pd.concat(parts, ignore_index=True)


def register_keys(
    con: duckdb.DuckDBPyConnection,
    name: str,
    m: IntensityModel,
    keys: list[tuple[Any, Any, Any]],
    interval: str,
) -> list[list[str]]:
    """Register :func:`key_table` as the temporary table ``name`` and the grid of each key
    as ``{name}_slots`` (kid, mo, hr -> g, gsd, gcode); the keys' warning codes."""
    t, codes = key_table(m, keys, interval)
    if not len(t):
        t = pd.DataFrame({"kid": pd.Series(dtype=np.int64)})
    if interval == "mean" and len(t):  # an untimed row's spread over the year is weather too
        t["gsd0"] = np.where(t["gcode0"] == _PRIOR_GRID, t["gsd0"], 0.0)
    for table, frame in ((name, t), (f"{name}_slots", _slot_table(m, keys, interval))):
        con.register(f"{table}_df", frame)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM {table}_df")
        con.unregister(f"{table}_df")
    return codes


def _fin(x: str) -> str:
    return f"coalesce(isfinite({x}), false)"


def _nzs(x: str) -> str:
    """numpy's nan_to_num in SQL: NaN and NULL to 0, infinities to the largest doubles."""
    return (
        f"(CASE WHEN {x} IS NULL OR isnan({x}) THEN 0.0{_D} WHEN {x} = 'inf'{_D} THEN 1.7976931348623157e308{_D} "
        f"WHEN {x} = '-inf'{_D} THEN -1.7976931348623157e308{_D} ELSE {x} END)"
    )


KEY_COLUMNS = (
    *("a0", "b0", "a_nan", "b_nan", "va", "vb", "cv", "pue", "extra", "prior", "sd_in", "sd_out"),
    *("water", "wsd2", "g0", "gsd0", "gcode0"),
)


def side_layers(k: str, g: str, known: str, p: str) -> list[list[str]]:
    """Select expressions of one side's prediction for a row, as successive layers (each
    layer's names are columns of the next): ``{p}_v{q}`` (NaN or NULL where unknown) and
    ``{p}_s{q}`` (the log spread of its 90% bound, ``ln(high / value) / z`` = sd, 0 where
    unknown) for q in e (energy), c (carbon), w (water), with ``{p}_unknown`` (a side of
    the tokens without a coefficient) and ``{p}_gcode`` (:data:`.predict.GRID_CODES`).

    ``k``: alias of the joined key table row (:func:`register_keys`, whose interval the
    spreads follow), ``g``: of its joined ``_slots`` row at the row's month and hour (NULL
    without a time); the row has ``xin``/``xout`` (thousands of tokens); ``known``: it has
    a time."""
    c = {name: f"{p}_k{name}" for name in KEY_COLUMNS}  # the key's parameters
    first = [f"{k}.{name} AS {c[name]}" for name in KEY_COLUMNS]
    first += [
        f"CASE WHEN {known} THEN {g}.g ELSE {k}.g0 END AS {p}_g",
        f"CASE WHEN {known} THEN {g}.gsd ELSE {k}.gsd0 END AS {p}_gsd",
        f"CASE WHEN {known} THEN {g}.gcode ELSE {k}.gcode0 END AS {p}_gcode",
    ]
    second = [
        f"coalesce((xout > 0 AND {c['b_nan']}) OR (xin > 0 AND {c['a_nan']}), false) AS {p}_unknown",
        f"{c['a0']} * xin + {c['b0']} * xout AS {p}_mu",
        f"xin * xin * {c['va']} + xout * xout * {c['vb']} + 2 * xin * xout * {c['cv']} AS {p}_var",
    ]
    share = f"(CASE WHEN {p}_mu > 0 THEN {c['a0']} * xin / {p}_mu ELSE 0.0{_D} END)"
    part_in = _nzs(f"{share} * {c['sd_in']}")
    part_out = _nzs(f"(1.0{_D} - {share}) * {c['sd_out']}")
    prior_sd = f"({part_in} + {part_out})"
    rel_sd = f"(sqrt(greatest({p}_var, 0.0{_D})) / {p}_mu)"
    coef = f"(CASE WHEN {c['prior']} THEN {prior_sd} ELSE ln(1.0{_D} + {Z90!r}{_D} * {rel_sd}) / {Z90!r}{_D} END)"
    third = [
        f"{coef} AS {p}_coef",
        f"CASE WHEN {p}_unknown THEN 'nan'{_D} ELSE {p}_mu * {c['pue']} END AS {p}_e",
    ]
    rel2 = f"({p}_coef * {p}_coef + {c['extra']})"
    fourth = [f"CASE WHEN {_fin(rel2)} THEN {rel2} ELSE 0.0{_D} END AS {p}_rel2"]
    sds = {
        "e": f"sqrt({p}_rel2)",
        "c": f"sqrt({p}_rel2 + {p}_gsd * {p}_gsd)",
        "w": f"sqrt({p}_rel2 + {c['wsd2']})",
    }
    vals = {"e": f"{p}_e", "c": f"{p}_e * {p}_g", "w": f"{p}_e * {c['water']}"}
    fifth = [f"{vals[q]} AS {p}_v{q}" for q in ("e", "c", "w")]
    fifth += [f"{sds[q]} AS {p}_sd{q}" for q in ("e", "c", "w")]
    # ln(high / value) / z of a bound high = value * exp(z * sd) is sd itself (to the last
    # bits): taken directly, 0 where the value is unknown
    sixth = [
        f"CASE WHEN {_fin(f'{p}_v{q}')} AND {_fin(f'{p}_sd{q}')} THEN {p}_sd{q} ELSE 0.0{_D} END AS {p}_s{q}"
        for q in ("e", "c", "w")
    ]
    return [first, second, third, fourth, fifth, sixth]


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
