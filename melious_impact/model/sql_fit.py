"""The intensity fit in DuckDB: per-cell sufficient statistics, never the rows in pandas.

The weighted least squares of :mod:`.wls` needs, in each of its passes, five weighted sums
per group (``X'WX`` and ``X'Wy`` of a 2x2 system): a GROUP BY. The usable rows are kept once
in a compact temporary table (cell, tokens, energy before PUE: 20 bytes a row) and every
pass is one aggregation over it, joined with a table of the previous pass's coefficients
(one row per cell, ``_par``). Cell and model fits run in the same passes: a model's sums are the sum
of its cells' sums taken with the model's weights. The outlier screen (relative residual
sd per group) and the final residual sums are GROUP BYs too, and the grid profile, the
sites and the price sample are one query each. Python then solves a few thousand 2x2
systems and builds the same tables as the row-level fit (:func:`.cells.cell_tables`,
:func:`.grid.grid_from_slots`, :func:`.sites.sites_from_sums`,
:func:`.prices.prices_from_sample`), so both paths share everything past the sums.

Cells are ordered by (model, provider_id, location), models and sites by name, grid
locations by name.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from melious_impact.model.cells import cell_tables
from melious_impact.model.grid import GridProfile, grid_from_slots
from melious_impact.model.prices import ROWS_PER_CELL, prices_from_sample
from melious_impact.model.priors import Priors
from melious_impact.model.sites import empty_sites, sites_from_sums
from melious_impact.model.source import KEYS, Source
from melious_impact.model.wls import GroupFit, finish_groups, solve

Array = NDArray[np.float64]

OUTLIER_Z = 6.0  # as wls.fit_groups
MIN_ROWS = 3

USABLE = (
    "rep AND model IS NOT NULL AND provider_id IS NOT NULL AND location IS NOT NULL "
    "AND isfinite(e) AND e > 0 AND isfinite(pue) AND pue >= 1 "
    "AND isfinite(tin) AND isfinite(tout) AND tin >= 0 AND tout >= 0 AND tin + tout > 0"
)
_D = "::DOUBLE"


def _key_hash(alias: str = "") -> str:
    """A cell's key as one number: joining on it costs less than on the three strings."""
    return f"hash({', '.join(alias + k for k in KEYS)})"


def _key_match(hashes_unique: bool) -> str:
    """The join condition of a row ``s`` with its cell ``k`` in ``_keys``. On the key's hash
    when no two cells share one: every usable row's cell is in ``_keys``, so its hash then
    names that cell alone; on the three strings otherwise (a 64-bit collision among a few
    thousand cells: about one chance in 10^12)."""
    if hashes_unique:
        return f"{_key_hash('s.')} = k.h"
    return " AND ".join(f"s.{k} = k.{k}" for k in KEYS)


@dataclass(frozen=True)
class SqlFit:
    cells: pd.DataFrame
    models: pd.DataFrame
    tau_in: float
    tau_out: float
    sites: pd.DataFrame
    grid: GridProfile
    prices: pd.DataFrame


# -- the weighted least squares as GROUP BYs ------------------------------------------------


_SUMS = ("x1 * x1", "x1 * x2", "x2 * x2", "x1 * y", "x2 * y")


def _pass_sql(params: dict[str, Array], aggregates: list[str]) -> str:
    """``aggregates`` per cell over ``_u``, with ``params`` (one value per cell) as columns and,
    for each side (c: the cell's fit, m: its model's), the fitted mean ``mu``, its weight
    ``w = 1/mu**2`` and, once screened, ``keep`` (relative residual within the threshold)."""
    cols = ", ".join(params)
    lin, mu, wt = [], [], []
    for s in ("c", "m"):
        if f"a{s}" in params:
            lin.append(f"a{s} * x1 + b{s} * x2 AS l{s}")
            mu.append(f"CASE WHEN l{s} > 0 THEN l{s} ELSE y END AS mu{s}")
            wt.append(f"1.0{_D} / (greatest(mu{s}, 1e-300) * greatest(mu{s}, 1e-300)) AS w{s}")
        if f"ka{s}" in params:
            lin.append(f"ka{s} * x1 + kb{s} * x2 AS kl{s}")
            mu.append(f"CASE WHEN kl{s} > 0 THEN kl{s} ELSE y END AS kmu{s}")
            wt.append(f"abs((y - kmu{s}) / kmu{s}) <= kt{s} AS keep{s}")
    rows = (
        f"SELECT cell, CAST(tin AS DOUBLE) / 1000.0{_D} AS x1, CAST(tout AS DOUBLE) / 1000.0{_D} AS x2, y"
        f"{', ' + cols if cols else ''} FROM _u{' JOIN _par USING (cell)' if cols else ''}"
    )
    for layer in (lin, mu, wt):
        if layer:
            rows = f"SELECT *, {', '.join(layer)} FROM ({rows})"
    return f"SELECT cell, {', '.join(aggregates)} FROM ({rows}) GROUP BY cell"


def _weighted_sums(weight: str) -> list[str]:
    return [f"sum({weight} * {t})" for t in _SUMS]


def _by_cell(
    con: duckdb.DuckDBPyConnection, params: dict[str, Array], aggregates: list[str], k: int
) -> NDArray[np.float64]:
    """Run a per-cell aggregation of :func:`_pass_sql` (``params`` go in a small table ``_par``
    joined by cell); a (k, columns) array in cell order (zeros where no row)."""
    if params:
        con.register("_par_df", pd.DataFrame({"cell": np.arange(k, dtype=np.int32), **params}))
        con.execute("CREATE OR REPLACE TEMP TABLE _par AS SELECT * FROM _par_df")
        con.unregister("_par_df")
    rows = con.sql(_pass_sql(params, aggregates)).fetchnumpy()
    cell = np.asarray(rows["cell"], dtype=np.intp)
    names = [c for c in rows if c != "cell"]
    out = np.zeros((k, len(names)))
    for j, c in enumerate(names):
        out[cell, j] = np.asarray(rows[c], dtype=np.float64)
    return out


def _group(values: Array, group_of_cell: NDArray[np.intp], kg: int) -> Array:
    return np.bincount(group_of_cell, weights=values, minlength=kg).astype(np.float64)


def fit_both(
    con: duckdb.DuckDBPyConnection,
    model_of_cell: NDArray[np.intp],
    first_sums: NDArray[np.float64],
) -> tuple[GroupFit, GroupFit]:
    """:func:`.wls.fit_groups` (relative noise) by cell and by model over ``_u``, in SQL.

    ``first_sums``: (k, 5) sums of the first pass (weights ``1/y**2``, the same for cells
    and models), computed with the cell keys in :func:`_cells`."""
    k = len(model_of_cell)
    km = int(model_of_cell.max()) + 1 if k else 0
    groups = {"c": (np.arange(k, dtype=np.intp), k), "m": (model_of_cell, km)}
    params: dict[str, Array] = {}
    screen: dict[str, Array] = {}
    coef: dict[str, tuple[Array, Array, NDArray[np.bool_]]] = {}
    for step in range(4):
        if step == 0:
            sums = np.hstack([first_sums, first_sums])
        else:
            aggs = [
                *_weighted_sums(f"CASE WHEN keepc THEN wc ELSE 0.0{_D} END" if screen else "wc"),
                *_weighted_sums(f"CASE WHEN keepm THEN wm ELSE 0.0{_D} END" if screen else "wm"),
            ]
            sums = _by_cell(con, {**params, **screen}, aggs, k)
        for j, side in enumerate(("c", "m")):
            g, kg = groups[side]
            a, b, full = solve(*(_group(sums[:, 5 * j + i], g, kg) for i in range(5)))
            coef[side] = (a, b, full)
            params[f"a{side}"] = np.nan_to_num(a)[g]
            params[f"b{side}"] = np.nan_to_num(b)[g]
        if step == 1:  # after one reweighting the fit is close: screen outliers once
            rel = [f"sum(((y - mu{s}) / mu{s}) * ((y - mu{s}) / mu{s}))" for s in ("c", "m")]
            sig = _by_cell(con, params, ["count(*)", *rel], k)
            for j, side in enumerate(("c", "m")):
                g, kg = groups[side]
                n = _group(sig[:, 0], g, kg)
                sd = np.sqrt(_group(sig[:, 1 + j], g, kg) / np.maximum(n - 2, 1))
                screen[f"ka{side}"] = params[f"a{side}"]
                screen[f"kb{side}"] = params[f"b{side}"]
                screen[f"kt{side}"] = (OUTLIER_Z * np.maximum(sd, 1e-6))[g]
    aggs = ["count(*)"]
    for s in ("c", "m"):
        wk = f"CASE WHEN keep{s} THEN w{s} ELSE 0.0{_D} END"
        aggs += [
            f"sum(CASE WHEN keep{s} THEN 1 ELSE 0 END)",
            f"sum(CASE WHEN keep{s} THEN 1.0{_D} ELSE 0.0{_D} END * ((y - mu{s}) / mu{s}) * ((y - mu{s}) / mu{s}))",
            *_weighted_sums(wk)[:3],
        ]
    fin = _by_cell(con, {**params, **screen}, aggs, k)
    out = []
    for j, side in enumerate(("c", "m")):
        g, kg = groups[side]
        a, b, full = coef[side]
        col = [_group(fin[:, 1 + 5 * j + i], g, kg) for i in range(5)]
        n_all = _group(fin[:, 0], g, kg).astype(np.int64)
        out.append(
            finish_groups(
                a, b, full, col[0].astype(np.int64), n_all, col[1], col[2], col[3], col[4], min_rows=MIN_ROWS
            )
        )
    return out[0], out[1]


# -- the whole fit ---------------------------------------------------------------------------


def _cells(src: Source) -> tuple[pd.DataFrame, bool]:
    """Cell keys of the usable rows, sorted, with counts and median PUE; whether the token
    counts fit 32-bit integers (the compact table stores them so)."""
    q = (
        "SELECT model, provider_id, location, count(*) AS n, median(pue) AS pue, "
        "max(tin) AS mx_in, max(tout) AS mx_out, bool_and(tin = floor(tin) AND tout = floor(tout)) AS whole, "
        f"list_max(min_by(o, o, {ROWS_PER_CELL})) AS o_last, "
        + ", ".join(f"sum(w0 * {t}) AS s{i}" for i, t in enumerate(_SUMS))
        + f" FROM (SELECT *, 1.0{_D} / (greatest(y, 1e-300) * greatest(y, 1e-300)) AS w0 FROM (SELECT *, "
        f"tin / 1000.0{_D} AS x1, tout / 1000.0{_D} AS x2, e / pue AS y FROM _src WHERE {USABLE})) "
        "GROUP BY ALL"
    )
    keys = src.con.sql(f"SELECT *, {_key_hash()} AS h FROM ({q}) ORDER BY {', '.join(KEYS)}").df()
    ints = bool(
        len(keys) and keys["whole"].all() and keys["mx_in"].max() < 2**31 and keys["mx_out"].max() < 2**31
    )
    return keys, ints


def _materialize(src: Source, keys: pd.DataFrame, ints: bool) -> str:
    """The compact table ``_u`` of the usable rows and ``_keys`` (cell numbers by key and
    by the key's hash, as :func:`_cells` computed it on the same view); returns the join
    condition of a row with its cell (:func:`_key_match`)."""
    kt = pd.DataFrame(
        {
            "model": keys["model"].astype(object),
            "provider_id": keys["provider_id"].astype(object),
            "location": keys["location"].astype(object),
            "h": keys["h"].to_numpy(dtype=np.uint64),
            "cell": np.arange(len(keys), dtype=np.int32),
        }
    )
    src.con.register("_keys", kt)
    match = _key_match(bool(kt["h"].is_unique))
    t = "INTEGER" if ints else "DOUBLE"
    src.con.execute(
        f"CREATE OR REPLACE TEMP TABLE _u AS SELECT k.cell, CAST(s.tin AS {t}) AS tin, "
        f"CAST(s.tout AS {t}) AS tout, s.e / s.pue AS y "
        f"FROM (SELECT * FROM _src WHERE {USABLE}) s JOIN _keys k ON {match}"
    )
    return match


_SITE_ROW = "rep AND provider_id IS NOT NULL AND location IS NOT NULL AND isfinite(e) AND e > 0"


def _sites_and_grid(src: Source, priors: Priors) -> tuple[pd.DataFrame, GridProfile]:
    """Sites by (provider_id, location) and grid slots by (location, month, hour): one
    aggregation each (two scans measured faster than one scan with two grouping sets)."""
    grid_row = "isfinite(e) AND isfinite(c) AND e > 0 AND c >= 0 AND location IS NOT NULL" + (
        " AND ts IS NOT NULL" if src.timed else ""
    )
    slot = "mo, hr" if src.timed else "0 AS mo, 0 AS hr"
    has_w = "(isfinite(w) AND w >= 0)"
    lr = f"CASE WHEN {has_w} AND w > 0 AND isfinite(ln(w / e)) THEN ln(w / e) END"
    lg = "ln(greatest(c / e, 1e-9))"
    sites = (
        "SELECT provider_id, location, count(*) AS n_site, "
        f"coalesce(sum(CASE WHEN {has_w} THEN w END), 0) AS sw, "
        f"coalesce(sum(CASE WHEN {has_w} THEN e END), 0) AS swe, "
        f"count({lr}) AS cnt, coalesce(sum({lr}), 0) AS sl, coalesce(sum(({lr}) * ({lr})), 0) AS sl2, "
        "median(CASE WHEN isfinite(pue) AND pue >= 1 THEN pue END) AS pue "
        f"FROM _src WHERE {_SITE_ROW} GROUP BY ALL"
    )
    grid = (
        f"SELECT location, {slot}, count(*) AS n, sum(e) AS se, sum(c) AS sc, sum({lg}) AS sgl, "
        f"sum({lg} * {lg}) AS sgl2 FROM _src WHERE {grid_row} GROUP BY ALL"
    )
    return _sites(src.con.sql(sites).df()), _grid(src.con.sql(grid).df(), src.timed, priors)


def _grid(r: pd.DataFrame, timed: bool, priors: Priors) -> GridProfile:
    locations = tuple(sorted(str(x) for x in r["location"].unique()))
    nl = len(locations)
    size = nl * 12 * 24
    li = pd.Index(locations).get_indexer(r["location"].astype(str))
    slot_i = (li * 12 + r["mo"].to_numpy(dtype=np.int64)) * 24 + r["hr"].to_numpy(dtype=np.int64)

    def full(col: str) -> Array:
        out = np.zeros(size)
        out[slot_i] = r[col].to_numpy(dtype=np.float64)
        return out

    return grid_from_slots(
        locations,
        full("n").astype(np.int64),
        full("se"),
        full("sc"),
        full("sgl"),
        full("sgl2"),
        timed=timed,
        priors=priors,
    )


def _sites(r: pd.DataFrame) -> pd.DataFrame:
    if not len(r):
        return empty_sites()
    r = r.sort_values(["provider_id", "location"])

    def f(col: str) -> Array:
        return np.asarray(r[col].to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)

    return sites_from_sums(
        r["provider_id"].to_numpy(dtype=object),
        r["location"].to_numpy(dtype=object),
        r["n_site"].to_numpy(dtype=np.int64),
        f("sw"),
        f("swe"),
        f("cnt"),
        f("sl"),
        f("sl2"),
        f("pue"),
    )


_BILLING = ("billing_credits", "billing_energy", "billing_paid_with")


def _price_sample(
    src: Source, o_last: NDArray[np.int64], match: str
) -> tuple[pd.DataFrame, NDArray[np.intp]]:
    """The first ROWS_PER_CELL usable rows of each cell, in row order, with billing columns.

    ``o_last``: per cell, the order key of its ROWS_PER_CELL-th row (from :func:`_cells`). Only
    rows up to the latest of those are read (the store skips later row groups by their
    captured_at statistics); ties on the key are kept, then ranked exactly as a frame is
    ordered (captured_at, record_id for a store)."""
    thresholds = pd.DataFrame({"cell": np.arange(len(o_last), dtype=np.int32), "o_last": o_last})
    src.con.register("_o_last", thresholds)
    upto = int(o_last.max()) if len(o_last) else 0
    bound = f"o <= {upto}" if src.frame is not None else f"ts <= make_timestamptz({upto})"
    picked = (
        f"FROM (SELECT * FROM _src WHERE {bound} AND {USABLE}) s JOIN _keys k ON {match} "
        "JOIN _o_last t ON t.cell = k.cell WHERE s.o <= t.o_last"
    )
    if src.frame is not None:
        q = (
            f"SELECT k.cell, s._pos {picked} QUALIFY row_number() OVER (PARTITION BY k.cell ORDER BY s._pos) "
            f"<= {ROWS_PER_CELL} ORDER BY s._pos"
        )
        r = src.con.sql(q).df()
        frame = src.frame.iloc[r["_pos"].to_numpy(dtype=np.intp)]
        cells = r["cell"].to_numpy(dtype=np.intp)
        present = [c for c in _BILLING if c in frame.columns]
        if not ({"billing_credits", "billing_energy"} & set(present)):
            return frame.iloc[:0], cells[:0]
        return frame[["input_tokens", "output_tokens", *present]], cells
    q = (
        "SELECT k.cell, s.tin AS input_tokens, s.tout AS output_tokens, s.billing_credits, s.billing_energy, "
        f"s.billing_paid_with {picked} QUALIFY row_number() OVER (PARTITION BY k.cell ORDER BY s.ts, s.record_id) "
        f"<= {ROWS_PER_CELL} ORDER BY s.ts, s.record_id"
    )
    from melious_impact.store.query import to_pandas

    sub = to_pandas(src.con.sql(q).to_arrow_table())
    return sub.drop(columns="cell"), sub["cell"].to_numpy(dtype=np.intp)


def fit_in_duckdb(src: Source, priors: Priors, min_requests: int) -> SqlFit | None:
    """Everything :func:`.fit.fit_intensity` needs, computed over ``src`` (None: no usable row)."""
    keys, ints = _cells(src)
    if not len(keys):
        return None
    models = pd.Index(sorted(keys["model"].unique()))
    model_of_cell = models.get_indexer(keys["model"]).astype(np.intp)
    match = _materialize(src, keys, ints)
    first = keys[[f"s{i}" for i in range(5)]].to_numpy(dtype=np.float64)
    # each pass's layers (line, weight, sums) stay projections of their own: pushing the
    # aggregates' inputs down inlines every layer into the next (measured 1.2-1.8x slower)
    src.con.execute("SET disabled_optimizers = 'partial_aggregate_pushdown'")
    cell_fit, model_fit = fit_both(src.con, model_of_cell, first)
    src.con.execute("RESET disabled_optimizers")
    src.con.execute("DROP TABLE _u")
    src.con.execute("DROP TABLE IF EXISTS _par")
    n_cell = keys["n"].to_numpy(dtype=np.int64)
    cells, mtable, tau_in, tau_out = cell_tables(
        pd.DataFrame({k: keys[k].to_numpy(dtype=object) for k in KEYS}).assign(model_code=model_of_cell),
        models,
        cell_fit,
        model_fit,
        keys["pue"].to_numpy(dtype=np.float64),
        n_cell,
        np.bincount(model_of_cell, weights=n_cell, minlength=len(models)).astype(np.int64),
        priors,
        min_requests,
    )
    sub, sub_cell = _price_sample(src, keys["o_last"].to_numpy(dtype=np.int64), match)
    sites, grid = _sites_and_grid(src, priors)
    return SqlFit(
        cells=cells,
        models=mtable,
        tau_in=tau_in,
        tau_out=tau_out,
        sites=sites,
        grid=grid,
        prices=prices_from_sample(sub, sub_cell, cells),
    )
