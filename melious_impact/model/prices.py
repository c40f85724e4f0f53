"""Observed price per token of each (model, provider_id, location) cell, from billing.

The charge of a row is ``billing_credits`` when paid with credits, else ``billing_energy``
x the euro value of an energy unit (``melious_impact.billing.EUR_PER_ENERGY_UNIT``). Prices
are linear in tokens, so an ordinary least-squares fit per cell recovers them; they are
returned as exact decimals rounded to 1e-9 euro per million tokens.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from melious_impact.billing import EUR_PER_ENERGY_UNIT as EUR_PER_ENERGY_UNIT  # the one definition
from melious_impact.model.frames import floats
from melious_impact.model.wls import fit_groups

PRICE_QUANTUM = Decimal("0.000000001")  # EUR per million tokens (as forecast.costs rounds fitted prices)


# Prices are exact and linear in tokens: a couple of hundred rows per cell pin them, and
# converting only those keeps a fit on a million rows fast (Decimal -> float is slow).
ROWS_PER_CELL = 200


def _to_float(v: object) -> float:
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def row_cost_eur_float(df: pd.DataFrame) -> np.ndarray:
    """Approximate EUR per row as floats (for fitting prices; totals use exact decimals)."""
    n = len(df)
    credits = (
        np.array([_to_float(v) for v in df["billing_credits"]])
        if "billing_credits" in df
        else np.full(n, np.nan)
    )
    energy = (
        np.array([_to_float(v) for v in df["billing_energy"]])
        if "billing_energy" in df
        else np.full(n, np.nan)
    )
    paid = df["billing_paid_with"].to_numpy(dtype=object) if "billing_paid_with" in df else np.full(n, None)
    return np.where(paid == "energy", energy * float(EUR_PER_ENERGY_UNIT), credits)


def _sample(row_cell: np.ndarray, k: int) -> np.ndarray:
    """Positions (into row_cell) of the first ROWS_PER_CELL rows of every cell."""
    rank = pd.Series(row_cell).groupby(row_cell).cumcount().to_numpy()
    return np.flatnonzero(rank < ROWS_PER_CELL)


def fit_prices(
    df: pd.DataFrame, cells: pd.DataFrame, row_index: np.ndarray, row_cell: np.ndarray
) -> pd.DataFrame:
    """EUR per million input and output tokens per cell (None where no billing was seen)."""
    out = cells[["model", "provider_id", "location"]].copy()
    out["eur_per_million_input"] = None
    out["eur_per_million_output"] = None
    if len(row_index) == 0 or not ({"billing_credits", "billing_energy"} & set(df.columns)):
        return out
    pick = _sample(row_cell, len(cells))
    return prices_from_sample(df.iloc[row_index[pick]], row_cell[pick], cells)


def prices_from_sample(sub: pd.DataFrame, sub_cell: np.ndarray, cells: pd.DataFrame) -> pd.DataFrame:
    """Prices from the first :data:`ROWS_PER_CELL` usable rows of each cell (``sub``, in row
    order, with billing and token columns; ``sub_cell`` their cell): shared by the row-level
    fit above and the in-database one (:mod:`.sql_fit`), which selects the rows in SQL."""
    out = cells[["model", "provider_id", "location"]].copy()
    out["eur_per_million_input"] = None
    out["eur_per_million_output"] = None
    if not len(sub):
        return out
    cost = row_cost_eur_float(sub)
    tin, tout = floats(sub, "input_tokens"), floats(sub, "output_tokens")
    ok = np.isfinite(cost) & (cost >= 0)
    if not ok.any():
        return out
    fit = fit_groups(
        sub_cell[ok], len(cells), tin[ok] / 1e6, tout[ok] / 1e6, cost[ok], relative=False, min_rows=1
    )
    seen = np.bincount(sub_cell[ok], minlength=len(cells)) > 0

    def dec(v: float, has: bool) -> Decimal | None:
        if not has or not np.isfinite(v):
            return None
        return Decimal(repr(max(float(v), 0.0))).quantize(PRICE_QUANTUM)

    out["eur_per_million_input"] = [dec(v, h) for v, h in zip(fit.a, seen, strict=True)]
    out["eur_per_million_output"] = [dec(v, h) for v, h in zip(fit.b, seen, strict=True)]
    return out
