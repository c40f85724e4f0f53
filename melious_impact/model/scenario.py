"""What-if scenarios: the same workload elsewhere, with another routing flavor, or at the
cleanest hours, as a table of energy, carbon, water and cost deltas with 90% intervals.

Both sides are *model predictions* of the same token workload, so the delta reflects the
change and not the noise of the reported figures (the reported totals are shown beside
them in ``observed``). The uncertainty of a delta comes from the fitted coefficients: a
request that stays in its cell has the same coefficient on both sides and cancels, so only
moved work adds uncertainty. Costs are exact decimals from the observed prices per token.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal, localcontext
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from melious_impact.frames import as_frame
from melious_impact.model.frames import (
    KeyCodes,
    canonical_location_column,
    dense_codes,
    floats,
    reported_mask,
    require_columns,
    utc_times,
)
from melious_impact.model.locations import resolve_location
from melious_impact.model.prices import EUR_PER_ENERGY_UNIT
from melious_impact.model.priors import Z90
from melious_impact.model.warnings import MESSAGES, ImpactWarning, summarise

if TYPE_CHECKING:  # pragma: no cover
    from melious_impact.model.fit import IntensityModel

FLAVORS = ("eco", "price", "speed")
UNITS = {"energy_kwh": "kWh", "carbon_g_co2": "g CO2e", "water_liters": "L", "cost_eur": "EUR"}
_KEY = ["model", "provider_id", "location"]
_PER_MILLION = Decimal(1_000_000)
_READ = (
    *_KEY,
    "n_requests",
    "input_tokens",
    "output_tokens",
    "captured_at",
    "latency_ms",
    "impact_reported",
    "energy_kwh",
    "carbon_g_co2",
    "water_liters",
    "billing_credits",
    "billing_energy",
    "billing_paid_with",
)
_MONEY = Context(prec=80)  # exact sums of 18-decimal amounts (the default 28 digits could round)
Array = NDArray[np.float64]


def scenario(
    df: Any,
    m: IntensityModel,
    *,
    provider_id: str | None = None,
    location: str | None = None,
    flavor: str | None = None,
    shift_to_clean_hours: bool = False,
    models: list[str] | None = None,
) -> pd.DataFrame:
    """Compare the workload of ``df`` as it ran with a changed version of it.

    - ``provider_id`` / ``location``: move the work there (one given: the other is the
      site observed for it).
    - ``flavor``: ``'eco'`` sends each request to the cell serving its model with the lowest
      expected carbon at that hour, ``'price'`` to the cheapest observed, ``'speed'`` to the
      lowest observed latency per output token (a stand-in for Melious' weighted routing,
      which also weighs live state we cannot see).
    - ``shift_to_clean_hours``: run each request at the cleanest UTC hour of its day.
    - ``models``: only change requests of these models.

    Returns one row per metric (energy_kwh, carbon_g_co2, water_liters, cost_eur) with
    ``observed`` (reported totals / exact billed euros), ``baseline`` and ``scenario``
    (model predictions, with ``_low``/``_high``), ``delta`` with its 90% interval and
    ``delta_pct``. Cost values are ``Decimal``.

    A total over requests the model cannot estimate (or price) in full is missing (NaN,
    ``None`` for cost), never the smaller sum of the rest; ``baseline_coverage`` and
    ``scenario_coverage`` give the share of requests each side estimates. Beside them,
    the same figures over the requests estimated on both sides: ``baseline_covered``,
    ``scenario_covered``, ``delta_covered`` (each with ``_low``/``_high``),
    ``delta_covered_pct``, their share of requests, ``covered_share``, and the counts
    ``covered_requests`` of ``requests``. With every request estimated they equal the
    full figures and ``covered_share`` is 1.

    A row may stand for several requests (a pre-summed workload): an ``n_requests``
    column then weighs the shares by requests instead of rows.
    """
    if flavor is not None and flavor not in FLAVORS:
        raise ValueError(
            f"flavor must be one of {', '.join(FLAVORS)} (balanced/batch routing is not modelled)"
        )
    src = as_frame(df)
    # only the columns a scenario reads: filtering a wide frame row-wise copies every column
    src = src[[c for c in _READ if c in src.columns]].reset_index(drop=True)
    require_columns(src, ("model", "input_tokens", "output_tokens"), "scenario")
    tin, tout = floats(src, "input_tokens"), floats(src, "output_tokens")
    usable = src["model"].notna().to_numpy() & np.isfinite(tin) & np.isfinite(tout)
    src = src[usable].reset_index(drop=True)
    cols = [c for c in (*_KEY, "input_tokens", "output_tokens", "captured_at") if c in src.columns]
    base = src[cols].copy()
    for c in ("provider_id", "location"):
        if c not in base:
            base[c] = None
    scen = base.copy()
    move = scen["model"].isin(models).to_numpy() if models is not None else np.ones(len(scen), dtype=bool)
    notes: list[str] = []
    if provider_id is not None or location is not None:
        p, loc = _target_site(m, provider_id, location)
        scen.loc[move, "provider_id"] = p
        scen.loc[move, "location"] = loc
        notes.append(f"moved to {p} in {loc}")
    if flavor is not None:
        _route(m, scen, move, flavor, src)
        notes.append(f"routed with flavor {flavor!r}")
    if shift_to_clean_hours:
        _shift(m, scen, move)
        notes.append("shifted to the cleanest hour of each day")
    pb = m.predict(base, errors="coerce", interval="mean")
    ps = m.predict(scen, errors="coerce", interval="mean")
    keys = JointKeys.of(base, scen)
    # a request the scenario leaves as it was (same key, same time) adds exactly nothing to
    # a delta, even where its own value is unknown
    changed = keys.base != keys.scen
    if "captured_at" in base.columns:
        tb, ts = utc_times(base), utc_times(scen)
        if tb is not None and ts is not None:
            changed |= ~((tb == ts) | (tb.isna() & ts.isna())).to_numpy(dtype=bool)
    rows = [_metric(q, pb, ps, keys, src, changed) for q in ("energy_kwh", "carbon_g_co2", "water_liters")]
    cost_row, cost_warnings = _cost(m, base, scen, keys, src, changed)
    rows.append(cost_row)
    out = pd.DataFrame(rows)
    out["factor_version"] = m.factor_version
    out.attrs["description"] = "; ".join(notes) or "no change"
    codes = pd.concat([pb["warnings"], ps["warnings"]], ignore_index=True)
    quantities = ("energy_kwh", "carbon_g_co2", "water_liters")
    unknown = np.zeros(len(base), dtype=bool)
    for q in quantities:
        unknown |= ~np.isfinite(pb[q].to_numpy(dtype=np.float64)) | ~np.isfinite(
            ps[q].to_numpy(dtype=np.float64)
        )
    extra: tuple[ImpactWarning, ...] = ()
    if unknown.any():
        extra = (ImpactWarning("scenario_incomplete", MESSAGES["scenario_incomplete"], int(unknown.sum())),)
    out.attrs["impact_warnings"] = summarise(codes) + cost_warnings + extra
    return out


def _target_site(m: IntensityModel, provider_id: str | None, location: str | None) -> tuple[str, str]:
    # "France", "fra" and "FR" are one place; a string naming no country is kept as given,
    # and its carbon comes out missing (location_unknown), never another country's
    location = resolve_location(location) or location
    sites = m.sites.sort_values("n_requests", ascending=False)
    if provider_id is not None and location is not None:
        return provider_id, location
    if provider_id is not None:
        hit = sites[sites["provider_id"] == provider_id]
        if hit.empty:
            raise ValueError(f"provider {provider_id!r} was never observed: pass its location too")
        return provider_id, str(hit["location"].iloc[0])
    hit = sites[sites["location"] == location]
    if hit.empty:
        raise ValueError(f"no provider observed in {location!r}: pass provider_id too")
    return str(hit["provider_id"].iloc[0]), str(location)


def _grid_at(m: IntensityModel, loc: str, times: pd.Series | None, n: int) -> np.ndarray:
    i = m._grid_lookup.get(loc, -1)
    if i < 0:
        try:
            return np.full(n, m.priors.grid(loc).value)
        except Exception:
            return np.full(n, np.nan)
    if times is None:
        return np.full(n, m.grid.annual_mean[i])
    mo = times.dt.month.fillna(1).to_numpy(dtype=np.int64) - 1
    ho = times.dt.hour.fillna(0).to_numpy(dtype=np.int64)
    return np.asarray(m.grid.mean[i, mo, ho])


def _route(m: IntensityModel, scen: pd.DataFrame, move: np.ndarray, flavor: str, src: pd.DataFrame) -> None:
    """Per request, pick the model's cell that is best for the flavor (in place)."""
    cells = m.cells.merge(m.prices, on=_KEY, how="left")
    if flavor == "speed":
        if "latency_ms" not in src:
            raise ValueError("flavor 'speed' needs latency_ms in the data")
        lat = src.assign(per_tok=floats(src, "latency_ms") / np.maximum(floats(src, "output_tokens"), 1))
        speed = lat.groupby(_KEY)["per_tok"].median().rename("ms_per_token").reset_index()
        cells = cells.merge(speed, on=_KEY, how="left")
    times = utc_times(scen)
    xin = floats(scen, "input_tokens") / 1000
    xout = floats(scen, "output_tokens") / 1000
    models = scen["model"].to_numpy(dtype=object)
    provider = scen["provider_id"].to_numpy(dtype=object).copy()
    location = scen["location"].to_numpy(dtype=object).copy()
    for model, group in cells.groupby("model"):
        rows = np.flatnonzero(move & (models == model))
        if not len(rows) or len(group) < 2:
            continue
        t = None if times is None else times.iloc[rows]
        score = np.empty((len(rows), len(group)))
        for j, c in enumerate(group.itertuples()):
            a, b = np.nan_to_num(c.kwh_per_1k_input), np.nan_to_num(c.kwh_per_1k_output)
            if flavor == "eco":
                s = c.pue * (a * xin[rows] + b * xout[rows]) * _grid_at(m, c.location, t, len(rows))
            elif flavor == "price":
                p_in = float(c.eur_per_million_input) if c.eur_per_million_input is not None else np.inf
                p_out = float(c.eur_per_million_output) if c.eur_per_million_output is not None else np.inf
                with np.errstate(over="ignore", invalid="ignore"):  # unpriced: an infinite score
                    s = xin[rows] * np.nan_to_num(p_in, nan=np.inf) + xout[rows] * np.nan_to_num(
                        p_out, nan=np.inf
                    )
            else:
                s = np.full(len(rows), c.ms_per_token if np.isfinite(c.ms_per_token) else np.inf)
            score[:, j] = np.nan_to_num(s, nan=np.inf)
        pick = score.argmin(axis=1)
        provider[rows] = group["provider_id"].to_numpy(dtype=object)[pick]
        location[rows] = group["location"].to_numpy(dtype=object)[pick]
    scen["provider_id"] = provider
    scen["location"] = location


def _shift(m: IntensityModel, scen: pd.DataFrame, move: np.ndarray) -> None:
    """Move each request to the cleanest UTC hour of its day at its location (in place)."""
    times = utc_times(scen)
    if times is None:
        raise ValueError("shift_to_clean_hours needs captured_at")
    li = m.grid.index(canonical_location_column(scen["location"]))
    ok = move & (li >= 0) & times.notna().to_numpy()
    if not ok.any():
        return
    mo = times.dt.month.fillna(1).to_numpy(dtype=np.int64) - 1
    best = m.grid.mean.argmin(axis=2)  # (L, 12)
    hour = best[np.where(li >= 0, li, 0), mo]
    day = times.dt.floor("D")
    new = day + pd.to_timedelta(hour, unit="h")
    scen["captured_at"] = times.where(~ok, new)


@dataclass(frozen=True)
class JointKeys:
    """One numbering of the (model, provider_id, location) keys of both sides."""

    base: NDArray[np.intp]
    scen: NDArray[np.intp]
    labels: list[tuple[Any, Any, Any]]

    @classmethod
    def of(cls, base: pd.DataFrame, scen: pd.DataFrame) -> JointKeys:
        joint = KeyCodes(pd.concat([base[_KEY], scen[_KEY]], ignore_index=True))
        sizes = [len(joint.models) + 1, len(joint.providers) + 1, len(joint.locations) + 1]
        combined = (
            ((joint.model + 1).astype(np.int64) * sizes[1] + joint.provider + 1) * sizes[2]
            + joint.location
            + 1
        )
        uniq, inverse = dense_codes(combined, sizes[0] * sizes[1] * sizes[2])

        def name(values: NDArray[np.object_], code: int) -> Any:
            return values[code - 1] if code > 0 else None

        labels = [
            (
                name(joint.models, int(u // (sizes[1] * sizes[2]))),
                name(joint.providers, int(u // sizes[2] % sizes[1])),
                name(joint.locations, int(u % sizes[2])),
            )
            for u in uniq
        ]
        n = len(base)
        return cls(inverse[:n], inverse[n:], labels)


#: Columns of the figures over the requests estimated (priced, for cost) on both sides.
COVERED_COLUMNS = (
    "baseline_covered",
    "baseline_covered_low",
    "baseline_covered_high",
    "scenario_covered",
    "scenario_covered_low",
    "scenario_covered_high",
    "delta_covered",
    "delta_covered_low",
    "delta_covered_high",
    "delta_covered_pct",
    "covered_share",
    "covered_requests",
    "requests",
)

SIMULATIONS = 4000  # draws of the per-key errors for the intervals of totals and deltas


def _weights(src: pd.DataFrame) -> Array:
    """Requests each row stands for: ``n_requests`` where given (a pre-summed row), else 1."""
    if "n_requests" in src.columns:
        w = np.nan_to_num(floats(src, "n_requests"), nan=1.0)
        return np.asarray(np.where(w > 0, w, 1.0), dtype=np.float64)
    return np.ones(len(src), dtype=np.float64)


def _share(mask: NDArray[np.bool_], w: Array) -> float:
    total = float(w.sum())
    return float(w[mask].sum()) / total if total > 0 else 1.0


def _metric(
    q: str, pb: pd.DataFrame, ps: pd.DataFrame, keys: JointKeys, src: pd.DataFrame, changed: NDArray[np.bool_]
) -> dict[str, Any]:
    """Totals of one quantity on both sides, their delta and 90% intervals.

    A side with any request it cannot estimate (an unknown location, a country without grid
    data, a model of unknown size) has a missing total, never the smaller sum of what it
    could estimate; ``*_coverage`` says which share of requests was estimated. The delta is
    missing when a request the scenario changes is unknown on either side; requests it
    leaves as they were add nothing to it, known or not.

    Beside them, ``baseline_covered``, ``scenario_covered`` and ``delta_covered`` (with
    ``_low``/``_high``) are the same figures over the requests estimated on *both* sides,
    whose share is ``covered_share``: one set of requests for all three, so they compare.
    With nothing missing they equal the full figures.

    Intervals are built on the log scale, where the per-request spreads live: every
    (model, provider_id, location) key's coefficient error is one lognormal factor shared
    by all its requests and by both sides (a request that stays in its key cancels out of
    the delta), keys are independent, and totals and deltas are simulated from those
    factors. A total's interval therefore never goes below zero.
    """
    k = len(keys.labels)
    vb = pb[q].to_numpy(dtype=np.float64)
    vs = ps[q].to_numpy(dtype=np.float64)
    both = np.isfinite(vb) & np.isfinite(vs)
    w = _weights(src)

    def per_key(
        p: pd.DataFrame, codes: NDArray[np.intp], keep: NDArray[np.bool_] | None = None
    ) -> tuple[Array, Array]:
        value = p[q].to_numpy(dtype=np.float64)
        known = np.isfinite(value) if keep is None else keep
        mean = np.where(known, value, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.log(p[f"{q}_high"].to_numpy(dtype=np.float64) / mean) / Z90
        s = np.where(known, np.nan_to_num(s, nan=0.0, posinf=0.0), 0.0)
        total = np.bincount(codes, weights=mean, minlength=k).astype(np.float64)
        spread = np.bincount(codes, weights=mean * s, minlength=k)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_sd = np.where(total > 0, spread / total, 0.0)
        return total, log_sd

    z = np.random.default_rng(0).standard_normal((SIMULATIONS, k))

    def interval(point: float, draws: Array) -> tuple[float, float]:
        low, high = np.quantile(draws, [0.05, 0.95])
        return min(float(low), point), max(float(high), point)

    def sides(keep_b: NDArray[np.bool_] | None, keep_s: NDArray[np.bool_] | None) -> list[float]:
        """Both totals and the delta, each with its interval, over the rows kept."""
        t_b, sd_b = per_key(pb, keys.base, keep_b)
        t_s, sd_s = per_key(ps, keys.scen, keep_s)
        draw_b = (t_b * np.exp(sd_b * z)).sum(axis=1)
        draw_s = (t_s * np.exp(sd_s * z)).sum(axis=1)
        sb, ss = float(t_b.sum()), float(t_s.sum())
        delta = ss - sb
        return [
            sb,
            *interval(sb, draw_b),
            ss,
            *interval(ss, draw_s),
            delta,
            *interval(delta, draw_s - draw_b),
        ]

    sb, b_low, b_high, ss, s_low, s_high, delta, d_low, d_high = sides(None, None)
    cov_b, cov_s = _share(np.isfinite(vb), w), _share(np.isfinite(vs), w)
    covered = (
        sides(both, both) if not both.all() else [sb, b_low, b_high, ss, s_low, s_high, delta, d_low, d_high]
    )
    if not both.any():
        covered = [np.nan] * 9
    nan = float("nan")
    if cov_b < 1.0:
        sb, b_low, b_high = nan, nan, nan
    if cov_s < 1.0:
        ss, s_low, s_high = nan, nan, nan
    if (~both & changed).any():
        delta, d_low, d_high = nan, nan, nan
    rep = reported_mask(src)
    # what was reported: a reported row without this figure leaves the total unknown
    observed = float(np.sum(floats(src, q)[rep])) if rep.any() else np.nan
    cb = covered[0]
    return {
        "metric": q,
        "unit": UNITS[q],
        "observed": observed,
        "baseline": sb,
        "baseline_low": b_low,
        "baseline_high": b_high,
        "scenario": ss,
        "scenario_low": s_low,
        "scenario_high": s_high,
        "delta": delta,
        "delta_low": d_low,
        "delta_high": d_high,
        "delta_pct": 100.0 * delta / sb if sb else np.nan,
        "baseline_coverage": cov_b,
        "scenario_coverage": cov_s,
        **dict(zip(COVERED_COLUMNS[:9], covered, strict=True)),
        "delta_covered_pct": 100.0 * covered[6] / cb if cb and np.isfinite(cb) else np.nan,
        "covered_share": _share(both, w),
        "covered_requests": round(float(w[both].sum())),
        "requests": round(float(w.sum())),
    }


def _cost(
    m: IntensityModel,
    base: pd.DataFrame,
    scen: pd.DataFrame,
    keys: JointKeys,
    src: pd.DataFrame,
    changed: NDArray[np.bool_],
) -> tuple[dict[str, Any], tuple[ImpactWarning, ...]]:
    """Exact decimal costs from observed prices per token (model median where unseen)."""
    prices = {
        (r.model, r.provider_id, r.location): (r.eur_per_million_input, r.eur_per_million_output)
        for r in m.prices.itertuples()
    }
    fallback = {
        model: (_median_decimal(g["eur_per_million_input"]), _median_decimal(g["eur_per_million_output"]))
        for model, g in m.prices.groupby("model")
    }
    k = len(keys.labels)
    unpriced = 0
    no_price = np.zeros(k, dtype=bool)

    def total(frame: pd.DataFrame, codes: NDArray[np.intp]) -> tuple[Decimal | None, float]:
        """Exact total and the share of requests priced; None when some are not (a sum
        without them would be a smaller number, not the cost)."""
        nonlocal unpriced
        # token sums are exact in float64 up to 2**53 tokens
        tin = np.bincount(codes, weights=np.nan_to_num(floats(frame, "input_tokens")), minlength=k)
        tout = np.bincount(codes, weights=np.nan_to_num(floats(frame, "output_tokens")), minlength=k)
        n = np.bincount(codes, minlength=k)
        acc = Decimal(0)
        missing = 0
        for i, label in enumerate(keys.labels):
            if tin[i] == 0 and tout[i] == 0:
                continue
            cost = _key_cost(tin[i], tout[i], prices.get(label) or fallback.get(label[0], (None, None)))
            if cost is None:
                unpriced += int(tin[i] + tout[i])
                missing += int(n[i])
                no_price[i] = True
                continue
            acc += cost
        share = 1.0 - missing / len(codes) if len(codes) else 1.0
        return (acc.normalize() if not missing else None), share

    (b, cov_b), (s, cov_s) = total(base, keys.base), total(scen, keys.scen)
    w = _weights(src)
    cov_b = _share(~no_price[keys.base], w)
    cov_s = _share(~no_price[keys.scen], w)
    # unpriced requests the scenario leaves as they were cost the same on both sides
    unpriced_either = no_price[keys.base] | no_price[keys.scen]
    lost = unpriced_either & changed
    if b is not None and s is not None:
        delta: Decimal | None = (s - b).normalize()
    elif not lost.any():
        delta = _priced_delta(keys, base, scen, prices, fallback, changed)
    else:
        delta = None
    both = ~unpriced_either
    if not both.any():
        b_cov: Decimal | None = None
        s_cov: Decimal | None = None
    elif both.all():
        b_cov, s_cov = b, s
    else:  # exact euros of the requests priced on both sides
        b_cov = _priced_total(keys, base, keys.base, both, prices, fallback).normalize()
        s_cov = _priced_total(keys, scen, keys.scen, both, prices, fallback).normalize()
    d_cov = (s_cov - b_cov).normalize() if b_cov is not None and s_cov is not None else None
    row = {
        "metric": "cost_eur",
        "unit": "EUR",
        "observed": _observed_cost(src),
        "baseline": b,
        "baseline_low": b,
        "baseline_high": b,
        "scenario": s,
        "scenario_low": s,
        "scenario_high": s,
        "delta": delta,
        "delta_low": delta,
        "delta_high": delta,
        "delta_pct": float(100 * delta / b) if b and delta is not None else np.nan,
        "baseline_coverage": cov_b,
        "scenario_coverage": cov_s,
        "baseline_covered": b_cov,
        "baseline_covered_low": b_cov,
        "baseline_covered_high": b_cov,
        "scenario_covered": s_cov,
        "scenario_covered_low": s_cov,
        "scenario_covered_high": s_cov,
        "delta_covered": d_cov,
        "delta_covered_low": d_cov,
        "delta_covered_high": d_cov,
        "delta_covered_pct": float(100 * d_cov / b_cov) if b_cov and d_cov is not None else np.nan,
        "covered_share": _share(both, w),
        "covered_requests": round(float(w[both].sum())),
        "requests": round(float(w.sum())),
    }
    warnings: tuple[ImpactWarning, ...] = ()
    if unpriced:
        warnings = (
            ImpactWarning(
                "cost_unpriced",
                "tokens at cells and models with no observed price: that side's cost is missing",
                unpriced,
            ),
        )
    return row, warnings


def _key_cost(tin: float, tout: float, price: tuple[Any, Any]) -> Decimal | None:
    """Exact euros of a key's tokens; None when a side with tokens has no price (a side
    without tokens needs none: embeddings have no output price)."""
    p_in, p_out = price
    if (tin > 0 and p_in is None) or (tout > 0 and p_out is None):
        return None
    acc = Decimal(0)
    if tin > 0:
        acc += Decimal(int(tin)) * p_in
    if tout > 0:
        acc += Decimal(int(tout)) * p_out
    return acc / _PER_MILLION


def _priced_total(
    keys: JointKeys,
    frame: pd.DataFrame,
    codes: NDArray[np.intp],
    mask: NDArray[np.bool_],
    prices: dict[tuple[Any, Any, Any], tuple[Any, Any]],
    fallback: dict[Any, tuple[Any, Any]],
) -> Decimal:
    """Exact euros of the requests in ``mask`` (an unpriced key adds nothing: callers mask it out)."""
    k = len(keys.labels)
    tin = np.bincount(
        codes, weights=np.where(mask, np.nan_to_num(floats(frame, "input_tokens")), 0), minlength=k
    )
    tout = np.bincount(
        codes, weights=np.where(mask, np.nan_to_num(floats(frame, "output_tokens")), 0), minlength=k
    )
    acc = Decimal(0)
    for i, label in enumerate(keys.labels):
        if tin[i] == 0 and tout[i] == 0:
            continue
        cost = _key_cost(tin[i], tout[i], prices.get(label) or fallback.get(label[0], (None, None)))
        acc += cost if cost is not None else Decimal(0)
    return acc


def _priced_delta(
    keys: JointKeys,
    base: pd.DataFrame,
    scen: pd.DataFrame,
    prices: dict[tuple[Any, Any, Any], tuple[Any, Any]],
    fallback: dict[Any, tuple[Any, Any]],
    changed: NDArray[np.bool_],
) -> Decimal:
    """Exact cost delta of the changed requests (all priced on both sides)."""
    scen_total = _priced_total(keys, scen, keys.scen, changed, prices, fallback)
    return (scen_total - _priced_total(keys, base, keys.base, changed, prices, fallback)).normalize()


def _median_decimal(s: pd.Series) -> Decimal | None:
    vals = sorted(v for v in s if v is not None)
    return vals[len(vals) // 2] if vals else None


def _observed_cost(src: pd.DataFrame) -> Decimal | None:
    """Exact euros billed, by the one rule of ``forecast.costs`` (fast path for the two
    documented ``paid_with`` words, the row-by-row rule for anything else)."""
    if not {"billing_credits", "billing_energy"} & set(src.columns):
        return None
    try:
        from melious_impact.forecast.costs import add_cost_eur, sum_decimal
    except ImportError:  # pragma: no cover - forecast part absent
        return None
    paid = (
        src["billing_paid_with"].to_numpy(dtype=object)
        if "billing_paid_with" in src
        else np.full(len(src), None)
    )
    credits = (
        src["billing_credits"].to_numpy(dtype=object) if "billing_credits" in src else np.full(len(src), None)
    )
    energy = (
        src["billing_energy"].to_numpy(dtype=object) if "billing_energy" in src else np.full(len(src), None)
    )
    by_credits, by_energy = paid == "credits", paid == "energy"
    other = ~(by_credits | by_energy)
    with localcontext(_MONEY):
        total = _sum_decimals(credits[by_credits], sum_decimal)
        total += _sum_decimals(energy[by_energy], sum_decimal) * EUR_PER_ENERGY_UNIT
        if other.any():
            total += sum_decimal(add_cost_eur(src[other])["cost_eur"])
    return total.normalize()


def _sum_decimals(values: NDArray[np.object_], slow: Any) -> Decimal:
    """Sum of Decimal objects (None skipped); other types go through ``slow``."""
    kept = [v for v in values if v is not None]
    if all(isinstance(v, Decimal) for v in kept):
        return sum(kept, Decimal(0))
    return Decimal(slow(kept))
