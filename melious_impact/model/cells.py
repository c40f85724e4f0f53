"""Per-token energy of every (model, provider_id, location) cell, with partial pooling.

Physics (as the Melious API documents it): ``energy_kwh / pue = a * input_tokens/1000 + b * output_tokens/1000``
where ``a`` and ``b`` are the model's kWh per 1k input and output tokens before PUE.

- A cell with at least ``min_requests`` usable rows keeps its own fit: basis ``measured``.
- A sparser cell borrows from its model's fit over every provider (energy before PUE is a
  property of the model), combined with whatever the cell says by precision weighting on
  the log scale, with the between-cell spread ``tau`` (method of moments over measured
  cells) added to the model-level variance: basis ``pooled``.
- A model with no usable fit anywhere falls back to the size-based public prior: ``prior``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from melious_impact.model.frames import KeyCodes, dense_codes, floats, reported_mask
from melious_impact.model.priors import Z90, Priors
from melious_impact.model.tdist import t_quantile
from melious_impact.model.wls import GroupFit, fit_groups

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Usable:
    """The rows an energy fit can use, as arrays (already filtered)."""

    frame_index: NDArray[np.intp]  # positions in the input frame
    model: NDArray[np.intp]  # codes into KeyCodes.models
    provider: NDArray[np.intp]
    location: NDArray[np.intp]
    x_in: Array  # thousands of input tokens
    x_out: Array  # thousands of output tokens
    y: Array  # energy_kwh / pue
    pue: Array


def usable_rows(df: pd.DataFrame, keys: KeyCodes) -> Usable:
    """Reported rows with tokens, positive energy, a PUE >= 1 and a full cell key."""
    tin = floats(df, "input_tokens")
    tout = floats(df, "output_tokens")
    energy = floats(df, "energy_kwh")
    pue = floats(df, "pue")
    with np.errstate(invalid="ignore"):
        ok = (
            reported_mask(df)
            & keys.complete
            & np.isfinite(energy)
            & (energy > 0)
            & np.isfinite(pue)
            & (pue >= 1.0)
            & np.isfinite(tin)
            & np.isfinite(tout)
            & (tin >= 0)
            & (tout >= 0)
            & (tin + tout > 0)
        )
    idx = np.flatnonzero(ok)
    return Usable(
        frame_index=idx,
        model=keys.model[idx],
        provider=keys.provider[idx],
        location=keys.location[idx],
        x_in=tin[idx] / 1000.0,
        x_out=tout[idx] / 1000.0,
        y=energy[idx] / pue[idx],
        pue=pue[idx],
    )


def cell_codes(
    u: Usable, keys: KeyCodes
) -> tuple[NDArray[np.intp], pd.DataFrame, NDArray[np.intp], pd.Index]:
    """Integer cell and model labels for each usable row, and the key tables they index."""
    np_, nl = max(len(keys.providers), 1), max(len(keys.locations), 1)
    combined = (u.model.astype(np.int64) * np_ + u.provider) * nl + u.location
    uniq, codes = dense_codes(combined, max(len(keys.models), 1) * np_ * nl)
    m_of = uniq // (np_ * nl)
    p_of = (uniq // nl) % np_
    l_of = uniq % nl
    # models are renumbered to those with usable rows, in first-seen order of the codes
    model_ids, mcodes = dense_codes(u.model, max(len(keys.models), 1))
    table = pd.DataFrame(
        {
            "model": keys.models[m_of],
            "provider_id": keys.providers[p_of],
            "location": keys.locations[l_of],
            "model_code": np.searchsorted(model_ids, m_of),
        }
    )
    return codes.astype(np.intp), table, mcodes.astype(np.intp), pd.Index(keys.models[model_ids])


def _t90(dof: NDArray[np.int64]) -> Array:
    return t_quantile(np.maximum(dof, 1), 0.95)


def between_cell_log_sd(cell: Array, cell_var: Array, model: Array, measured: NDArray[np.bool_]) -> float:
    """tau: spread of measured cells around their model's fit beyond their own noise."""
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.log(cell / model)
        v = cell_var / np.square(cell)
    use = measured & np.isfinite(d) & np.isfinite(v)
    if use.sum() < 2:
        return 0.0
    return float(np.sqrt(max(float(np.mean(d[use] ** 2) - np.mean(v[use])), 0.0)))


@dataclass(frozen=True)
class Coefficient:
    """One coefficient per cell with its variance and 90% interval (kWh per 1k tokens)."""

    value: Array
    var: Array
    low: Array
    high: Array


def combine(
    cell_fit: GroupFit,
    model_fit: GroupFit,
    model_of_cell: NDArray[np.intp],
    measured: NDArray[np.bool_],
    which: str,
    tau: float,
) -> Coefficient:
    """Measured cells keep their fit; the others pool with their model on the log scale."""
    c = getattr(cell_fit, which)
    cv = getattr(cell_fit, f"var_{which}")
    m = getattr(model_fit, which)[model_of_cell]
    mv = getattr(model_fit, f"var_{which}")[model_of_cell]
    model_ok = model_fit.ok[model_of_cell] & np.isfinite(m) & (m > 0)
    t = _t90(cell_fit.dof)
    with np.errstate(divide="ignore", invalid="ignore"):
        # measured: linear-scale t interval
        se = np.sqrt(cv)
        low_m = np.maximum(c - t * se, 0.0)
        high_m = c + t * se
        # pooled: precision-weighted log-scale mean of the cell (if usable) and the model
        lv_model = mv / np.square(m) + tau * tau
        cell_ok = cell_fit.ok & np.isfinite(c) & (c > 0)
        lv_cell = np.where(cell_ok, cv / np.square(c), np.inf)
        w_c = np.where(cell_ok, 1.0 / lv_cell, 0.0)
        w_m = 1.0 / lv_model
        log_mean = (w_c * np.log(np.where(cell_ok, c, 1.0)) + w_m * np.log(m)) / (w_c + w_m)
        lv = 1.0 / (w_c + w_m)
        pooled = np.exp(log_mean)
    use_pooled = ~measured & model_ok
    value = np.where(measured, c, np.where(use_pooled, pooled, np.nan))
    var = np.where(measured, cv, np.where(use_pooled, np.square(pooled) * lv, np.nan))
    low = np.where(measured, low_m, np.where(use_pooled, pooled * np.exp(-Z90 * np.sqrt(lv)), np.nan))
    high = np.where(measured, high_m, np.where(use_pooled, pooled * np.exp(Z90 * np.sqrt(lv)), np.nan))
    return Coefficient(value, var, low, high)


@dataclass(frozen=True)
class CellFit:
    """What :func:`fit_cells` returns: the tables and which row went to which cell."""

    cells: pd.DataFrame
    models: pd.DataFrame
    tau_in: float
    tau_out: float
    row_index: NDArray[np.intp]  # frame positions of the usable rows
    row_cell: NDArray[np.intp]  # their cell


def fit_cells(df: pd.DataFrame, keys_: KeyCodes, priors: Priors, min_requests: int) -> CellFit:
    """The cell table and the model-level table, plus tau for input and output (row level:
    the reference the in-database fit of :mod:`.sql_fit` is tested against)."""
    u = usable_rows(df, keys_)
    codes, keys, mcodes, models = cell_codes(u, keys_)
    k, km = len(keys), len(models)
    cell_fit = fit_groups(codes, k, u.x_in, u.x_out, u.y)
    model_fit = fit_groups(mcodes, km, u.x_in, u.x_out, u.y)
    pue = pd.Series(u.pue).groupby(codes).median().reindex(range(k)).to_numpy()
    cells, mtable, tau_in, tau_out = cell_tables(
        keys,
        models,
        cell_fit,
        model_fit,
        pue,
        np.bincount(codes, minlength=k),
        np.bincount(mcodes, minlength=km),
        priors,
        min_requests,
    )
    return CellFit(cells, mtable, tau_in, tau_out, u.frame_index, codes)


def cell_tables(
    keys: pd.DataFrame,
    models: pd.Index,
    cell_fit: GroupFit,
    model_fit: GroupFit,
    pue: Array,
    n_cell: NDArray[np.int64],
    n_model: NDArray[np.int64],
    priors: Priors,
    min_requests: int,
) -> tuple[pd.DataFrame, pd.DataFrame, float, float]:
    """Cells (``keys``: model, provider_id, location, model_code) and models from their fits."""
    model_of_cell = keys["model_code"].to_numpy(dtype=np.intp)
    measured = cell_fit.ok & (cell_fit.n >= min_requests)
    tau_in = between_cell_log_sd(cell_fit.a, cell_fit.var_a, model_fit.a[model_of_cell], measured)
    tau_out = between_cell_log_sd(cell_fit.b, cell_fit.var_b, model_fit.b[model_of_cell], measured)
    a = combine(cell_fit, model_fit, model_of_cell, measured, "a", tau_in)
    b = combine(cell_fit, model_fit, model_of_cell, measured, "b", tau_out)
    # cov(a, b) is kept for measured cells (same rows); pooled values are combined per
    # coefficient, so their covariance is not tracked (it is small next to tau).
    cov = np.where(measured, cell_fit.cov_ab, 0.0)
    cells = keys.drop(columns="model_code").assign(
        kwh_per_1k_input=a.value,
        kwh_per_1k_input_low=a.low,
        kwh_per_1k_input_high=a.high,
        kwh_per_1k_output=b.value,
        kwh_per_1k_output_low=b.low,
        kwh_per_1k_output_high=b.high,
        var_in=a.var,
        var_out=b.var,
        cov_in_out=cov,
        noise_sd=cell_fit.sigma,
        pue=pue,
        n_requests=np.asarray(n_cell, dtype=np.int64),
        n_outliers=cell_fit.n_outliers,
        basis=np.where(measured, "measured", "pooled").astype(object),
    )
    _prior_fill(cells, priors)
    # a negative fitted coefficient (true value ~0, e.g. image prompts) means "nothing
    # measurable": clip so estimates stay non-negative
    for col in ("kwh_per_1k_input", "kwh_per_1k_output"):
        cells[col] = cells[col].clip(lower=0.0)
        cells[f"{col}_low"] = cells[f"{col}_low"].clip(lower=0.0)
        # the interval must still hold the (clipped) estimate: low <= value <= high
        cells[f"{col}_high"] = np.fmax(cells[f"{col}_high"], cells[col])
    mtable = pd.DataFrame(
        {
            "model": np.asarray(models, dtype=object),
            "kwh_per_1k_input": model_fit.a,
            "kwh_per_1k_output": model_fit.b,
            "var_in": model_fit.var_a + np.square(model_fit.a) * tau_in**2,
            "var_out": model_fit.var_b + np.square(model_fit.b) * tau_out**2,
            "cov_in_out": model_fit.cov_ab,
            "noise_sd": model_fit.sigma,
            "n_requests": np.asarray(n_model, dtype=np.int64),
            "ok": model_fit.ok,
        }
    )
    for col in ("kwh_per_1k_input", "kwh_per_1k_output"):
        mtable[col] = mtable[col].clip(lower=0.0)
    return cells, mtable, tau_in, tau_out


def _prior_fill(cells: pd.DataFrame, priors: Priors) -> None:
    """Cells with neither their own nor a model-level fit take the size prior (in place)."""
    need_in = cells["kwh_per_1k_input"].isna()
    need_out = cells["kwh_per_1k_output"].isna()
    need = need_in & need_out
    for i in np.flatnonzero(need.to_numpy()):
        model = str(cells.at[i, "model"])
        try:
            p_in, p_out = priors.energy(model)
        except Exception:  # no size known: leave nan, predict reports it clearly
            continue
        for col, p in (("kwh_per_1k_input", p_in), ("kwh_per_1k_output", p_out)):
            cells.at[i, col] = p.value
            cells.at[i, f"{col}_low"] = p.low
            cells.at[i, f"{col}_high"] = p.high
        cells.at[i, "var_in"] = (p_in.value * (np.log(p_in.high / p_in.value) / Z90)) ** 2
        cells.at[i, "var_out"] = (p_out.value * (np.log(p_out.high / p_out.value) / Z90)) ** 2
        cells.at[i, "basis"] = "prior"
