"""Estimate the impact of rows that carry none (abandoned streams, speech, older logs).

``fill_missing(df, m)`` returns a copy where rows with ``impact_reported`` false get model
estimates, marked ``impact_estimated=True`` with their ``impact_basis`` (measured, pooled,
prior, unknown) and a 90% interval. Reported values are never touched: their ``_low`` and
``_high`` equal the value and their basis is ``reported``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from melious_impact.frames import as_frame
from melious_impact.model.frames import floats, reported_mask
from melious_impact.model.predict import OUTPUT_COLUMNS
from melious_impact.model.warnings import summarise

if TYPE_CHECKING:  # pragma: no cover
    from melious_impact.model.fit import IntensityModel

QUANTITIES = ("energy_kwh", "carbon_g_co2", "water_liters")


def fill_missing(df: Any, m: IntensityModel) -> pd.DataFrame:
    """A copy of ``df`` with estimates where the impact was not reported.

    Adds ``impact_estimated`` (bool), ``impact_basis``, ``energy_kwh_low``/``_high`` (and the
    same for carbon and water), ``factor_version`` and ``impact_warnings``. Rows that cannot
    be estimated (no tokens, model of unknown size) keep NaN with basis ``unknown``: never
    a silent zero. Tokens missing on one side (an abandoned stream with no usage) count as
    zero on that side only when the other side is known, and say so in the warnings.
    """
    src = as_frame(df)
    out = src.copy()
    n = len(out)
    for q in QUANTITIES:
        if q not in out.columns:
            out[q] = np.nan
    reported = reported_mask(out) & np.isfinite(floats(out, "energy_kwh"))
    for q in QUANTITIES:
        v = floats(out, q)
        out[f"{q}_low"] = np.where(reported, v, np.nan)
        out[f"{q}_high"] = np.where(reported, v, np.nan)
    out["impact_estimated"] = False
    out["impact_basis"] = np.where(reported, "reported", "unknown").astype(object)
    out["factor_version"] = m.factor_version
    out["impact_warnings"] = ""
    todo = np.flatnonzero(~reported)
    if len(todo) and "model" in out.columns:
        work = out.iloc[todo].reset_index(drop=True)
        tin, tout = floats(work, "input_tokens"), floats(work, "output_tokens")
        one_side = np.isfinite(tin) ^ np.isfinite(tout)
        work["input_tokens"] = np.where(one_side, np.nan_to_num(tin), tin)
        work["output_tokens"] = np.where(one_side, np.nan_to_num(tout), tout)
        has_model = work["model"].notna().to_numpy()
        pred = m.predict(work[has_model], errors="coerce")
        rows = todo[has_model]
        estimated = np.isfinite(pred["energy_kwh"].to_numpy(dtype=np.float64))
        for c in OUTPUT_COLUMNS:
            col = out[c].to_numpy(dtype=np.float64, na_value=np.nan).copy()
            col[rows] = pred[c].to_numpy(dtype=np.float64)
            out[c] = col
        flag = out["impact_estimated"].to_numpy().copy()
        flag[rows] = estimated
        out["impact_estimated"] = flag
        basis = out["impact_basis"].to_numpy().copy()
        basis[rows] = np.where(estimated, pred["basis"].to_numpy(dtype=object), "unknown")
        out["impact_basis"] = basis
        codes = out["impact_warnings"].to_numpy(dtype=object).copy()
        extra = np.where(one_side[has_model], "tokens_partly_missing", "")
        w = pred["warnings"].to_numpy(dtype=object)
        codes[rows] = np.where((w != "") & (extra != ""), w + "," + extra, np.where(w != "", w, extra))
        out["impact_warnings"] = codes
    out.attrs["impact_warnings"] = summarise(out["impact_warnings"]) if n else ()
    return out
