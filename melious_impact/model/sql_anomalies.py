"""Anomaly scores in DuckDB: the three checks of :mod:`.anomalies` as one query.

The model's per-cell line and PUE and its grid profile are registered as small tables and
joined to the rows; each row's scores, the largest and its reason are computed in SQL and
only the rows above the threshold come back. From a store those rows come with all their
columns (the scan reads the ten columns the scores need, then the full rows of the hits);
a frame is registered with DuckDB (its needed columns) and the hits are taken from it by
position, so both go through the same query. The row-level numpy version stays as
:func:`.anomalies.find_anomalies_rows`, the reference the tests compare with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from melious_impact.model.anomalies import (
    ENERGY_LOG_SD_FLOOR,
    GRID_LOG_SD_FLOOR,
    PUE_LOG_SD_FLOOR,
    REASONS,
    empty_result,
)
from melious_impact.model.source import open_source
from melious_impact.periods import DateLike

if TYPE_CHECKING:  # pragma: no cover
    from melious_impact.model.fit import IntensityModel

_D = "::DOUBLE"


def _register_model(con: Any, m: IntensityModel) -> None:
    c = m.cells

    def col(name: str, nan_to_num: bool) -> np.ndarray:
        v = np.asarray(c[name].to_numpy(dtype=np.float64), dtype=np.float64)
        return np.asarray(np.nan_to_num(v), dtype=np.float64) if nan_to_num else v

    con.register(
        "_acell",
        pd.DataFrame(
            {
                "model": c["model"].to_numpy(dtype=object),
                "provider_id": c["provider_id"].to_numpy(dtype=object),
                "location": c["location"].to_numpy(dtype=object),
                "pue_ref": col("pue", False),
                "a": col("kwh_per_1k_input", True),
                "b": col("kwh_per_1k_output", True),
                "var_in": col("var_in", True),
                "var_out": col("var_out", True),
                "noise": col("noise_sd", False),
            }
        ),
    )
    nl = len(m.grid.locations)
    loc, mo, hr = np.meshgrid(np.arange(nl), np.arange(12), np.arange(24), indexing="ij")
    con.register(
        "_agrid",
        pd.DataFrame(
            {
                "location": np.asarray(m.grid.locations, dtype=object)[loc.ravel()] if nl else [],
                "mo": mo.ravel(),
                "hr": hr.ravel(),
                "g_ref": m.grid.mean.ravel(),
                "g_sd": np.maximum(m.grid.log_sd.ravel(), GRID_LOG_SD_FLOOR),
            }
        ),
    )


def _fin(x: str) -> str:
    """A finite, non-null double (DuckDB may carry NaN from a registered frame)."""
    return f"coalesce(isfinite({x}), false)"


def scores_sql(threshold: float, rows_of: str = "_src") -> str:
    """Hits over ``rows_of`` (``_src`` of :mod:`.source`, or a selection of its rows): its
    columns, then reason index, score, expected and observed."""
    x1, x2 = f"tin / 1000.0{_D}", f"tout / 1000.0{_D}"
    rows = (
        "SELECT s.*, k.pue_ref, k.a, k.b, k.var_in, k.var_out, k.noise, k.model IS NOT NULL AS in_cell, "
        f"g.g_ref, g.g_sd FROM {rows_of} s "
        "LEFT JOIN _acell k ON s.model = k.model AND s.provider_id = k.provider_id AND s.location = k.location "
        "LEFT JOIN _agrid g ON s.location = g.location AND s.mo = g.mo AND s.hr = g.hr"
    )
    step1 = (
        f"SELECT *, coalesce(in_cell AND rep AND {_fin('e')} AND e > 0, false) AS ok, "
        f"a * {x1} + b * {x2} AS mu, ({x1}) * ({x1}) * var_in + ({x2}) * ({x2}) * var_out AS var "
        f"FROM ({rows})"
    )
    sd = "sqrt(var / (mu * mu) + noise * noise)"
    step2 = (
        f"SELECT *, CASE WHEN mu > 0 AND {_fin(sd)} THEN greatest({sd}, {ENERGY_LOG_SD_FLOOR!r}{_D}) "
        f"WHEN mu > 0 AND {sd} > 0 AND NOT isnan({sd}) THEN 1.7976931348623157e308 "
        f"ELSE {ENERGY_LOG_SD_FLOOR!r}{_D} END AS sd_e, pue / pue_ref AS r0, e / pue / mu AS r1, "
        f"c / e / g_ref AS r2 FROM ({step1})"
    )

    def score(ratio: str, sd_: str) -> str:
        # ln only ever sees a positive finite number (DuckDB raises on ln of a negative)
        lr = f"abs(ln(CASE WHEN {_fin(ratio)} AND {ratio} > 0 THEN {ratio} ELSE 1.0{_D} END))"
        return (
            f"CASE WHEN ok AND {_fin(ratio)} AND {ratio} > 0 AND {_fin(f'{lr} / {sd_}')} "
            f"THEN {lr} / {sd_} ELSE 0.0{_D} END"
        )

    step3 = (
        f"SELECT *, {score('r0', f'{PUE_LOG_SD_FLOOR!r}{_D}')} AS s0, {score('r1', 'sd_e')} AS s1, "
        f"CASE WHEN ts IS NULL THEN 0.0{_D} ELSE {score('r2', 'g_sd')} END AS s2 FROM ({step2})"
    )
    return (
        "SELECT *, CASE WHEN s0 >= s1 AND s0 >= s2 THEN 0 WHEN s1 >= s2 THEN 1 ELSE 2 END AS top, "
        "greatest(s0, s1, s2) AS score, "
        "CASE WHEN s0 >= s1 AND s0 >= s2 THEN pue_ref WHEN s1 >= s2 THEN mu * pue ELSE g_ref END AS expected, "
        "CASE WHEN s0 >= s1 AND s0 >= s2 THEN pue WHEN s1 >= s2 THEN e ELSE c / e END AS observed "
        f"FROM ({step3}) WHERE greatest(s0, s1, s2) > {float(threshold)!r}{_D}"
    )


def _at_hit_instants(con: Any, column: str) -> str:
    """``column`` is the capture instant of a hit (one of ``_hit_ts``, NULL included when a
    hit has none), bounded by literals of the first and last so that a store's scan skips
    the row groups without hits."""
    n_at, lo, hi, nulls = con.sql(
        "SELECT count(ts), epoch_us(min(ts)), epoch_us(max(ts)), bool_or(ts IS NULL) FROM _hit_ts"
    ).fetchall()[0]
    found = (
        f"({column} BETWEEN make_timestamptz({int(lo)}) AND make_timestamptz({int(hi)}) "
        f"AND {column} IN (SELECT ts FROM _hit_ts))"
        if n_at
        else "FALSE"
    )
    return f"({found} OR {column} IS NULL)" if nulls else found


def _store_hits(con: Any, threshold: float) -> pd.DataFrame:
    """The hits of a store's rows with their ``record_id``, in two passes: the scores over
    every row give the capture instants of the hits (``record_id``, a string per row, is not
    read), then the rows at those instants are scored again with their ``record_id``. A
    row's score depends on that row only, so the second pass finds exactly the same hits."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _hit_ts AS SELECT DISTINCT ts FROM ({scores_sql(threshold)})")
    if not con.sql("SELECT count(*) FROM _hit_ts").fetchall()[0][0]:
        return pd.DataFrame({"record_id": [], "top": [], "score": [], "expected": [], "observed": []})
    at_hits = f"(SELECT * FROM _src WHERE {_at_hit_instants(con, 'ts')})"
    return con.sql(
        f"SELECT record_id, top, score, expected, observed FROM ({scores_sql(threshold, at_hits)})"
    ).df()


def find_anomalies_sql(
    m: IntensityModel,
    data: Any,
    *,
    threshold: float,
    start: DateLike | None = None,
    end: DateLike | None = None,
) -> pd.DataFrame:
    """See :meth:`IntensityModel.anomalies` (a store or a frame, rows in ``[start, end)``)."""
    from melious_impact.frames import is_store

    with open_source(data, start, end) as src:
        _register_model(src.con, m)
        if src.frame is not None:
            hits = src.con.sql(
                f"SELECT _pos, top, score, expected, observed FROM ({scores_sql(threshold)})"
            ).df()
        else:
            hits = _store_hits(src.con, threshold)
        if src.frame is not None:
            df = src.frame  # rows keep their labels (positions in the caller's frame)
            if not len(hits):
                return empty_result(df)
            out = df.iloc[hits["_pos"].to_numpy(dtype=np.intp)].copy()
        else:
            assert is_store(data)
            from melious_impact.store.query import to_pandas

            if not len(hits):
                empty = to_pandas(src.con.sql("SELECT * FROM requests LIMIT 0").to_arrow_table())
                return empty_result(empty)
            src.con.register("_hit_ids", hits[["record_id"]])
            rows = to_pandas(
                src.con.sql(
                    "SELECT r.* FROM requests r SEMI JOIN _hit_ids h ON r.record_id = h.record_id"
                    f" WHERE {_at_hit_instants(src.con, 'r.captured_at')}"
                ).to_arrow_table()
            )
            out = (
                rows.set_index("record_id", drop=False)
                .loc[hits["record_id"].to_numpy()]
                .reset_index(drop=True)
            )
    top = hits["top"].to_numpy(dtype=np.intp)
    out["reason"] = np.asarray(REASONS, dtype=object)[top]
    out["score"] = hits["score"].to_numpy(dtype=np.float64)
    out["expected"] = hits["expected"].to_numpy(dtype=np.float64)
    out["observed"] = hits["observed"].to_numpy(dtype=np.float64)
    return out.sort_values("score", ascending=False)
