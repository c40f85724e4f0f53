"""Predict energy, carbon and water (with 90% intervals) for a token workload.

Work is vectorised over rows; the only Python loop runs over the distinct
(model, provider_id, location) keys of the workload, which resolve to a cell
(``measured``/``pooled``), the model's fit at a known site (``pooled``), or public priors
(``prior``). Intervals are for one request: coefficient uncertainty, PUE uncertainty where
it is a prior, the per-request scatter seen in the data, and the grid slot's spread,
combined on the log scale (so they never go below zero).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from melious_impact.errors import ModelError
from melious_impact.frames import as_frame
from melious_impact.model.frames import KeyCodes, floats, require_columns, utc_times
from melious_impact.model.locations import resolve_location
from melious_impact.model.priors import Z90
from melious_impact.model.warnings import summarise

if TYPE_CHECKING:  # pragma: no cover
    from melious_impact.model.fit import IntensityModel

Array = NDArray[np.float64]
OUTPUT_COLUMNS = tuple(
    f"{q}{s}" for q in ("energy_kwh", "carbon_g_co2", "water_liters") for s in ("", "_low", "_high")
)


@dataclass
class Resolved:
    """Parameters of one distinct workload key."""

    a: float = math.nan
    b: float = math.nan
    var_a: float = math.nan
    var_b: float = math.nan
    cov: float = 0.0
    noise_sd: float = 0.0
    pue: float = math.nan
    pue_log_sd: float = 0.0
    water: float = math.nan
    water_log_sd: float = 0.0
    grid_index: int = -1  # row in the grid profile, -1: prior
    basis: str = "unknown"
    codes: list[str] = field(default_factory=list)
    error: str = ""


def _resolve(
    m: IntensityModel, model: Any, provider: Any, location: Any, params_billions: float | None = None
) -> Resolved:
    r = Resolved()
    if not isinstance(model, str):
        r.error = "rows without a model cannot be estimated"
        r.codes.append("unknown")
        return r
    cell = m._cell_lookup.get((model, provider, location))
    site = m._site_lookup.get((provider, location))
    if cell is not None:
        row = m.cells.iloc[cell]
        r.a, r.b = row["kwh_per_1k_input"], row["kwh_per_1k_output"]
        r.var_a, r.var_b, r.cov = row["var_in"], row["var_out"], row["cov_in_out"]
        r.noise_sd, r.pue, r.basis = row["noise_sd"], row["pue"], row["basis"]
        if r.basis != "measured":
            r.codes.append(f"{r.basis}_energy")
    else:
        mrow = m._model_lookup.get(model)
        if mrow is not None:
            row = m.models.iloc[mrow]
            r.a, r.b = row["kwh_per_1k_input"], row["kwh_per_1k_output"]
            r.var_a, r.var_b, r.cov = row["var_in"], row["var_out"], row["cov_in_out"]
            r.noise_sd, r.basis = row["noise_sd"], "pooled"
            r.codes.append("pooled_energy")
        else:
            try:
                p_in, p_out = m.priors.energy(model, params_billions)
            except ModelError as exc:
                r.error = str(exc)
                r.codes.append("unknown")
                return r
            r.a, r.b = p_in.value, p_out.value
            r.var_a = (p_in.value * math.log(p_in.high / p_in.value) / Z90) ** 2
            r.var_b = (p_out.value * math.log(p_out.high / p_out.value) / Z90) ** 2
            r.basis = "prior"
            r.codes.append("prior_energy")
            # prior noise sd: typical scatter of measured cells
            r.noise_sd = float(np.nanmedian(m.cells["noise_sd"])) if len(m.cells) else 0.0
        if site is not None and np.isfinite(m.sites.iloc[site]["pue"]):
            r.pue = float(m.sites.iloc[site]["pue"])
        else:
            prov = m._provider_pue.get(provider)
            if prov is not None:
                r.pue = prov
            else:
                p = m.priors.pue(provider if isinstance(provider, str) else None)
                r.pue = p.value
                r.pue_log_sd = max(math.log(p.high / p.value), math.log(p.value / p.low)) / Z90
                r.codes.append("prior_pue")
                if r.basis == "measured":
                    r.basis = "pooled"
    if site is not None and np.isfinite(m.sites.iloc[site]["water_l_per_kwh"]):
        r.water = float(m.sites.iloc[site]["water_l_per_kwh"])
        r.water_log_sd = float(m.sites.iloc[site]["water_log_sd"])
    else:
        # WUE (The Green Grid) is litres per kWh of IT energy; the model's water factor is per
        # kWh of reported energy, which includes PUE (what Melious' energy_kwh is and what a
        # measured site's water / energy gives): a prior WUE is divided by the key's PUE.
        w = m.priors.wue(provider if isinstance(provider, str) else None)
        pue = r.pue if np.isfinite(r.pue) and r.pue >= 1.0 else m.priors.pue(None).value
        r.water = w.value / pue
        # log sd from the upper side of the range, or the lower side where the value is the
        # top of its range (a provider's latest figure can be its highest)
        up = math.log((w.high + 1e-3) / (w.value + 1e-3))
        r.water_log_sd = (up if up > 0.0 else math.log((w.value + 1e-3) / (w.low + 1e-3))) / Z90
        r.codes.append("prior_water")
    r.grid_index = m._grid_lookup.get(location, -1)
    return r


GRID_CODES = ("", "grid_slot_filled", "no_timestamp", "prior_grid", "grid_unknown", "location_unknown")
MIX_MIN_SHARE = 0.05  # cells below this share of a model's traffic do not widen a mix interval
BASES = ("measured", "pooled", "prior", "unknown")


@dataclass(frozen=True)
class Times:
    """Month (0-11) and UTC hour of each row, and whether it had a timestamp."""

    month: NDArray[np.int64]
    hour: NDArray[np.int64]
    known: NDArray[np.bool_]

    @classmethod
    def of(cls, times: pd.Series | None, n: int) -> Times:
        if times is None:
            zero = np.zeros(n, dtype=np.int64)
            return cls(zero, zero, np.zeros(n, dtype=bool))
        idx = pd.DatetimeIndex(times)
        known = ~np.asarray(idx.isna())
        month = (
            np.where(known, np.nan_to_num(np.asarray(idx.month, dtype=np.float64), nan=1.0), 1).astype(
                np.int64
            )
            - 1
        )
        hour = np.where(known, np.nan_to_num(np.asarray(idx.hour, dtype=np.float64)), 0).astype(np.int64)
        return cls(month, hour, known)

    def take(self, rows: NDArray[np.intp]) -> Times:
        return Times(self.month[rows], self.hour[rows], self.known[rows])


def _grid_params(m: IntensityModel, location: Any) -> tuple[int, Array, Array, int]:
    """Profile row of a location, else its priors: annual figure then the 12 months (value,
    log sd), and the grid code (0 observed, 3 prior, 4 country without data, 5 unknown)."""
    gi = m._grid_lookup.get(location, -1)
    if gi >= 0:
        return gi, np.zeros(13), np.zeros(13), 0
    nan = np.full(13, np.nan)
    if not isinstance(location, str):  # no location at all (the row's model is unknown too)
        return -1, nan, np.zeros(13), GRID_CODES.index("grid_unknown")
    if resolve_location(location) is None:  # never a near match: a flagged gap
        return -1, nan, np.zeros(13), GRID_CODES.index("location_unknown")
    try:
        priors = [m.priors.grid(location, month) for month in range(13)]
    except ModelError:
        return -1, nan, np.zeros(13), GRID_CODES.index("grid_unknown")
    return (
        -1,
        np.array([p.value for p in priors]),
        np.array([math.log(p.high / p.value) / Z90 for p in priors]),
        GRID_CODES.index("prior_grid"),
    )


def _unique_keys(
    codes: tuple[NDArray[np.intp], ...], sizes: tuple[int, ...]
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Distinct key combinations (codes may be -1) in O(n): (first row of each, row -> key)."""
    combined = np.zeros(len(codes[0]), dtype=np.int64)
    for c, size in zip(codes, sizes, strict=True):
        combined = combined * (size + 1) + (c + 1)
    total = int(np.prod([s + 1 for s in sizes]))
    if total <= 50_000_000:
        present = np.bincount(combined, minlength=total) > 0
        remap = np.cumsum(present) - 1
        inverse = remap[combined]
        first = np.full(int(present.sum()), -1, dtype=np.int64)
        first[inverse[::-1]] = np.arange(len(combined))[::-1]
        return first.astype(np.intp), inverse.astype(np.intp)
    _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    return first.astype(np.intp), inverse.astype(np.intp)


@dataclass(frozen=True)
class Part:
    """Predictions for a subset of rows: numbers, basis codes and warning texts."""

    values: dict[str, Array]
    basis: NDArray[np.int64]
    warn_codes: NDArray[np.intp]
    warn_texts: list[str]


def predict_keys(
    m: IntensityModel,
    model: NDArray[np.object_],
    provider: NDArray[np.object_],
    location: NDArray[np.object_],
    codes: tuple[NDArray[np.intp], ...],
    tin: Array,
    tout: Array,
    times: Times,
    errors: str,
    interval: str = "request",
    sizes: dict[str, float] | None = None,
) -> Part:
    """Predictions for rows keyed by integer codes into ``model``/``provider``/``location``.

    ``sizes`` maps a model name to its parameter count (billions) given in the workload,
    for the energy prior of a model the fit and the shipped size table do not know."""
    first, inverse = _unique_keys(codes, (len(model), len(provider), len(location)))

    def name(values: NDArray[np.object_], c: NDArray[np.intp]) -> Any:
        return _none(values[c]) if c >= 0 else None

    sizes = sizes or {}
    res = [
        _resolve(
            m,
            name(model, codes[0][i]),
            name(provider, codes[1][i]),
            name(location, codes[2][i]),
            sizes.get(name(model, codes[0][i])),
        )
        for i in first
    ]
    errs = sorted({r.error for r in res if r.error})
    if errs and errors == "raise":
        raise ModelError("; ".join(errs) + " (or pass errors='coerce' to get NaN with a warning)")

    def key(attr: str) -> Array:
        return np.array([getattr(r, attr) for r in res], dtype=np.float64)

    # Per-key work first (a handful of keys), then one gather per quantity over the rows.
    a_k, b_k = key("a"), key("b")
    a_nan, b_nan = ~np.isfinite(a_k), ~np.isfinite(b_k)
    xin, xout = tin / 1000.0, tout / 1000.0
    with np.errstate(invalid="ignore"):
        unknown = ((xout > 0) & b_nan[inverse]) | ((xin > 0) & a_nan[inverse])
    mu_it = np.nan_to_num(a_k)[inverse] * xin + np.nan_to_num(b_k)[inverse] * xout
    energy = mu_it * key("pue")[inverse]
    energy[unknown] = np.nan
    var_it = (
        np.square(xin) * np.nan_to_num(key("var_a"))[inverse]
        + np.square(xout) * np.nan_to_num(key("var_b"))[inverse]
        + 2 * xin * xout * np.nan_to_num(key("cov"))[inverse]
    )
    extra = np.square(key("pue_log_sd"))
    if interval == "request":  # one request also scatters around the cell's line
        extra = extra + np.square(key("noise_sd"))
    with np.errstate(divide="ignore", invalid="ignore"):
        # A fitted cell's coefficient uncertainty (least squares: about normal) enters as the
        # log of (upper linear bound / mean): for a well-determined cell that is the usual
        # relative sd, and where a coefficient was clipped to ~0 it stays a linear bound
        # (mean + 1.645 sd) instead of exploding as exp(1.645 * sd / mean) would.
        rel_sd = np.sqrt(np.maximum(var_it, 0)) / mu_it
        # Priors are lognormal by construction (a factor either way). The input and output
        # priors both come from one size factor, so their errors are perfectly correlated:
        # the log sd of a mix is the share-weighted sum of the two (not their quadrature
        # sum, which would make a mixed request look surer than either of its parts).
        from_prior = np.array([r.basis == "prior" for r in res], dtype=bool)[inverse]
        sd_in = np.sqrt(np.nan_to_num(key("var_a")))[inverse] / np.nan_to_num(a_k)[inverse]
        sd_out = np.sqrt(np.nan_to_num(key("var_b")))[inverse] / np.nan_to_num(b_k)[inverse]
        part_in = np.nan_to_num(a_k)[inverse] * xin
        share_in = np.where(mu_it > 0, part_in / mu_it, 0.0)
        prior_sd = np.nan_to_num(share_in * sd_in) + np.nan_to_num((1.0 - share_in) * sd_out)
        coef_log_sd = np.where(from_prior, prior_sd, np.log1p(Z90 * rel_sd) / Z90)
        rel2 = np.square(coef_log_sd) + extra[inverse]
    rel2[~np.isfinite(rel2)] = 0.0
    # grid: observed profile by (month, hour), else monthly priors, else nothing
    gp = [_grid_params(m, name(location, codes[2][i])) for i in first]
    gi_k = np.array([g[0] for g in gp], dtype=np.intp)
    gi = gi_k[inverse]
    seen = gi >= 0
    prof = m.grid
    g = np.zeros(len(gi))
    g_sd = np.zeros(len(gi))
    grid_code = np.zeros(len(gi), dtype=np.int64)
    if len(prof.locations) and seen.any():
        flat = (np.maximum(gi, 0) * 12 + times.month) * 24 + times.hour
        g = prof.mean.ravel()[flat]
        g_sd = prof.log_sd.ravel()[flat]
        grid_code = np.where(prof.n.ravel()[flat] == 0, 1, 0)
        if not times.known.all():
            # no timestamp: the year's average of the profile (months by their days, hours
            # alike), so an untimed estimate equals the mean of a year of timed ones
            untimed = ~times.known
            g[untimed] = prof.annual_mean[np.maximum(gi, 0)][untimed]
            g_sd[untimed] = _location_sd(m)[np.maximum(gi, 0)][untimed]
            grid_code[untimed] = 2
    if not seen.all():
        rows = np.flatnonzero(~seen)
        prior_val = np.stack([p[1] for p in gp])
        prior_sd = np.stack([p[2] for p in gp])
        # column 0 is the annual figure (no timestamp), 1-12 the months
        mo = np.where(times.known[rows], times.month[rows] + 1, 0)
        g[rows] = prior_val[inverse[rows], mo]
        g_sd[rows] = prior_sd[inverse[rows], mo]
        # a location with neither observations nor a public prior (or naming no country):
        # carbon is NaN, and the code says why
        grid_code[rows] = np.array([p[3] for p in gp], dtype=np.int64)[inverse[rows]]
    if interval == "mean":  # slot spread is per-request weather; priors stay uncertain
        g_sd = np.where(grid_code == GRID_CODES.index("prior_grid"), g_sd, 0.0)
    e_sd = np.sqrt(rel2)
    c_sd = np.sqrt(rel2 + g_sd * g_sd)
    w_sd = np.sqrt(rel2 + np.square(key("water_log_sd"))[inverse])
    values: dict[str, Array] = {}
    for q, val, sd in (
        ("energy_kwh", energy, e_sd),
        ("carbon_g_co2", energy * g, c_sd),
        ("water_liters", energy * key("water")[inverse], w_sd),
    ):
        values[q] = val
        f = np.exp(Z90 * sd)
        values[f"{q}_low"] = val / f
        values[f"{q}_high"] = val * f
    out_unknown = unknown
    basis = np.array([BASES.index(r.basis) for r in res], dtype=np.int64)[inverse]
    # missing tokens or coefficients: NaN with basis 'unknown', never a number pretending
    basis = np.where(out_unknown | ~np.isfinite(energy), BASES.index("unknown"), basis)
    # warnings: one small integer per row -> text per distinct combination
    combo = (inverse.astype(np.int64) * len(GRID_CODES) + grid_code) * 2 + out_unknown
    wfirst, winv = _unique_keys((combo.astype(np.intp),), (int(combo.max(initial=0)) + 1,))
    texts = []
    for i in wfirst:
        parts = [
            *res[inverse[i]].codes,
            GRID_CODES[grid_code[i]],
            "coefficient_unknown" if out_unknown[i] and not res[inverse[i]].error else "",
        ]
        texts.append(",".join(p for p in parts if p))
    return Part(values, basis, winv, texts)


def _location_sd(m: IntensityModel) -> Array:
    """Log spread of one request's intensity over all hours and months, per location."""
    prof = m.grid
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = np.log(prof.mean / prof.annual_mean[:, None, None])
        return np.asarray(
            np.sqrt(np.nanmean(np.square(dev) + np.square(prof.log_sd), axis=(1, 2))), dtype=np.float64
        )


def _none(v: Any) -> Any:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA else v


def predict(
    m: IntensityModel,
    workload: Any,
    *,
    errors: Literal["raise", "coerce"] = "raise",
    interval: Literal["request", "mean"] = "request",
) -> pd.DataFrame:
    """See :meth:`IntensityModel.predict`."""
    if errors not in ("raise", "coerce"):
        raise ValueError("errors must be 'raise' or 'coerce'")
    if interval not in ("request", "mean"):
        raise ValueError("interval must be 'request' (one request) or 'mean' (expected value)")
    w = as_frame(workload)
    require_columns(w, ("model", "input_tokens", "output_tokens"), "predict")
    n = len(w)
    tin = floats(w, "input_tokens")
    tout = floats(w, "output_tokens")
    if (np.nan_to_num(tin) < 0).any() or (np.nan_to_num(tout) < 0).any():
        raise ValueError("input_tokens and output_tokens must be non-negative")
    keys = KeyCodes(w)
    times = Times.of(utc_times(w), n)
    sizes: dict[str, float] = {}
    if "params_billions" in w.columns:  # sizes given with the workload, for priors
        given = pd.to_numeric(w["params_billions"], errors="coerce")
        for name_, size in zip(w["model"], given, strict=True):
            if isinstance(name_, str) and np.isfinite(size) and size > 0:
                sizes.setdefault(name_, float(size))
    known_model = np.isin(keys.models, m.cells["model"].to_numpy(dtype=object))
    with np.errstate(invalid="ignore"):
        missing = ((keys.provider < 0) | (keys.location < 0)) & (keys.model >= 0)
        missing &= np.append(known_model, False)[keys.model]
    values = {c: np.full(n, np.nan) for c in OUTPUT_COLUMNS}
    basis = np.full(n, BASES.index("unknown"), dtype=np.int64)
    texts: list[str] = [""]
    wcodes = np.zeros(n, dtype=np.intp)
    direct = np.flatnonzero(~missing)
    if len(direct):
        sel = direct if len(direct) < n else slice(None)
        part = predict_keys(
            m,
            keys.models,
            keys.providers,
            keys.locations,
            (keys.model[sel], keys.provider[sel], keys.location[sel]),
            tin[sel],
            tout[sel],
            times.take(direct) if len(direct) < n else times,
            errors,
            interval,
            sizes,
        )
        _store(values, basis, wcodes, texts, direct, part)
    mix = np.flatnonzero(missing)
    if len(mix):
        part = _predict_mix(m, keys, mix, tin[mix], tout[mix], times.take(mix), errors, interval, sizes)
        _store(values, basis, wcodes, texts, mix, part)
    out = w.copy()
    for c in OUTPUT_COLUMNS:
        out[c] = values[c]
    out["basis"] = pd.Categorical.from_codes(basis, categories=list(BASES))
    out["factor_version"] = m.factor_version
    uniq_texts, text_codes = np.unique(np.array(texts, dtype=object).astype(str), return_inverse=True)
    out["warnings"] = pd.Categorical.from_codes(text_codes[wcodes], categories=list(uniq_texts))
    out.attrs["impact_warnings"] = summarise(out["warnings"])
    return out


def _store(
    values: dict[str, Array],
    basis: NDArray[np.int64],
    wcodes: NDArray[np.intp],
    texts: list[str],
    rows: NDArray[np.intp],
    part: Part,
) -> None:
    for c in OUTPUT_COLUMNS:
        values[c][rows] = part.values[c]
    basis[rows] = part.basis
    wcodes[rows] = part.warn_codes + len(texts)
    texts.extend(part.warn_texts)


def _predict_mix(
    m: IntensityModel,
    keys: KeyCodes,
    rows: NDArray[np.intp],
    tin: Array,
    tout: Array,
    times: Times,
    errors: str,
    interval: str,
    sizes: dict[str, float] | None = None,
) -> Part:
    """Rows without provider or location: spread over the model's observed cells by traffic."""
    shares = m.cells[["model", "provider_id", "location", "n_requests"]]
    frame = pd.DataFrame(
        {
            "row": np.arange(len(rows)),
            "model": keys.models[keys.model[rows]],
            "provider_id": np.where(
                keys.provider[rows] >= 0,
                keys.providers[np.maximum(keys.provider[rows], 0)] if len(keys.providers) else None,
                None,
            ),
            "location": np.where(
                keys.location[rows] >= 0,
                keys.locations[np.maximum(keys.location[rows], 0)] if len(keys.locations) else None,
                None,
            ),
        }
    ).astype(object)
    parts = []
    for on in (["model"], ["model", "provider_id"], ["model", "location"]):
        absent = [k for k in ("provider_id", "location") if k not in on]
        present = [k for k in on if k != "model"]
        sel = frame[frame[absent].isna().all(axis=1) & frame[present].notna().all(axis=1)]
        if len(sel):
            parts.append(sel[["row", *on]].merge(shares, on=on, how="inner"))
    ex = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    matched = np.zeros(len(rows), dtype=bool)
    if len(ex):
        matched[ex["row"].to_numpy(dtype=np.intp)] = True
    if not matched.all() and errors == "raise":
        first = frame.iloc[int(np.flatnonzero(~matched)[0])]
        where = ", ".join(f"{k}={first[k]!r}" for k in ("provider_id", "location") if first[k] is not None)
        raise ModelError(
            f"model {first['model']!r} was never measured with {where}: give both provider_id and "
            "location for a pooled or prior estimate (or pass errors='coerce' to get NaN with a warning)"
        )
    if not len(ex):  # nothing to spread over: every row is unknown, never a silent zero
        nan = np.full(len(rows), np.nan)
        unknown = np.full(len(rows), BASES.index("unknown"), dtype=np.int64)
        return Part(
            {c: nan.copy() for c in OUTPUT_COLUMNS},
            unknown,
            np.zeros(len(rows), dtype=np.intp),
            ["routing_mix,no_matching_site"],
        )
    ex["share"] = ex["n_requests"] / ex.groupby("row")["n_requests"].transform("sum")
    r = ex["row"].to_numpy(dtype=np.intp)
    ek = KeyCodes(ex)
    part = predict_keys(
        m,
        ek.models,
        ek.providers,
        ek.locations,
        (ek.model, ek.provider, ek.location),
        tin[r],
        tout[r],
        times.take(r),
        errors,
        interval,
        sizes,
    )
    share = ex["share"].to_numpy(dtype=np.float64)
    values: dict[str, Array] = {}
    # The centre is the traffic-weighted mean; the interval is the envelope of the cells
    # carrying at least MIX_MIN_SHARE of the model's traffic: the request went to one of
    # them, we do not know which, and a 90% interval has to cover that.
    for q in ("energy_kwh", "carbon_g_co2", "water_liters"):
        values[q] = np.bincount(r, weights=part.values[q] * share, minlength=len(rows)).astype(np.float64)
        big = share >= MIX_MIN_SHARE
        low = np.full(len(rows), np.inf)
        high = np.full(len(rows), -np.inf)
        with np.errstate(invalid="ignore"):  # NaN rows (unknown coefficients) stay NaN
            np.minimum.at(low, r[big], part.values[f"{q}_low"][big])
            np.maximum.at(high, r[big], part.values[f"{q}_high"][big])
        values[f"{q}_low"] = np.minimum(np.where(np.isfinite(low), low, values[q]), values[q])
        values[f"{q}_high"] = np.maximum(np.where(np.isfinite(high), high, values[q]), values[q])
    worst = np.zeros(len(rows), dtype=np.int64)
    np.maximum.at(worst, r, part.basis)
    # rows whose site matched no measured cell of their model (errors='coerce'): unknown
    lost = ~matched
    for q in values:
        values[q][lost] = np.nan
    worst[lost] = BASES.index("unknown")
    return Part(values, worst, lost.astype(np.intp), ["routing_mix", "routing_mix,no_matching_site"])
