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
    dense_codes,
    floats,
    reported_mask,
    require_columns,
    utc_times,
)
from melious_impact.model.prices import EUR_PER_ENERGY_UNIT
from melious_impact.model.priors import Z90
from melious_impact.model.warnings import ImpactWarning, summarise

if TYPE_CHECKING:  # pragma: no cover
    from melious_impact.model.fit import IntensityModel

FLAVORS = ("eco", "price", "speed")
UNITS = {"energy_kwh": "kWh", "carbon_g_co2": "g CO2e", "water_liters": "L", "cost_eur": "EUR"}
_KEY = ["model", "provider_id", "location"]
_PER_MILLION = Decimal(1_000_000)
_READ = (
    *_KEY,
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
    rows = [_metric(q, pb, ps, keys, src) for q in ("energy_kwh", "carbon_g_co2", "water_liters")]
    cost_row, cost_warnings = _cost(m, base, scen, keys, src)
    rows.append(cost_row)
    out = pd.DataFrame(rows)
    out["factor_version"] = m.factor_version
    out.attrs["description"] = "; ".join(notes) or "no change"
    codes = pd.concat([pb["warnings"], ps["warnings"]], ignore_index=True)
    out.attrs["impact_warnings"] = summarise(codes) + cost_warnings
    return out


def _target_site(m: IntensityModel, provider_id: str | None, location: str | None) -> tuple[str, str]:
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
    li = m.grid.index(scen["location"])
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


def _metric(q: str, pb: pd.DataFrame, ps: pd.DataFrame, keys: JointKeys, src: pd.DataFrame) -> dict[str, Any]:
    k = len(keys.labels)

    def per_key(p: pd.DataFrame, codes: NDArray[np.intp]) -> tuple[Array, Array]:
        mean = np.nan_to_num(p[q].to_numpy(dtype=np.float64))
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.log(p[f"{q}_high"].to_numpy(dtype=np.float64) / mean) / Z90
        return (
            np.bincount(codes, weights=mean, minlength=k).astype(np.float64),
            np.bincount(codes, weights=mean * np.nan_to_num(s), minlength=k).astype(np.float64),
        )

    # within a key the coefficient error is shared by every row (and by both sides): sum
    # the per-row spreads there, and add keys in quadrature
    s_b, u_b = per_key(pb, keys.base)
    s_s, u_s = per_key(ps, keys.scen)
    sb, ss = float(s_b.sum()), float(s_s.sum())
    delta = ss - sb
    sd = float(np.sqrt(np.square(u_s - u_b).sum()))
    sd_b = float(np.sqrt(np.square(u_b).sum()))
    sd_s = float(np.sqrt(np.square(u_s).sum()))
    rep = reported_mask(src)
    observed = float(np.nansum(floats(src, q)[rep])) if rep.any() else np.nan
    return {
        "metric": q,
        "unit": UNITS[q],
        "observed": observed,
        "baseline": sb,
        "baseline_low": sb - Z90 * sd_b,
        "baseline_high": sb + Z90 * sd_b,
        "scenario": ss,
        "scenario_low": ss - Z90 * sd_s,
        "scenario_high": ss + Z90 * sd_s,
        "delta": delta,
        "delta_low": delta - Z90 * sd,
        "delta_high": delta + Z90 * sd,
        "delta_pct": 100.0 * delta / sb if sb else np.nan,
    }


def _cost(
    m: IntensityModel, base: pd.DataFrame, scen: pd.DataFrame, keys: JointKeys, src: pd.DataFrame
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

    def total(frame: pd.DataFrame, codes: NDArray[np.intp]) -> Decimal:
        nonlocal unpriced
        # token sums are exact in float64 up to 2**53 tokens
        tin = np.bincount(codes, weights=np.nan_to_num(floats(frame, "input_tokens")), minlength=k)
        tout = np.bincount(codes, weights=np.nan_to_num(floats(frame, "output_tokens")), minlength=k)
        acc = Decimal(0)
        for i, label in enumerate(keys.labels):
            if tin[i] == 0 and tout[i] == 0:
                continue
            p_in, p_out = prices.get(label) or fallback.get(label[0], (None, None))
            if p_in is None or p_out is None:
                unpriced += int(tin[i] + tout[i])
                continue
            acc += (Decimal(int(tin[i])) * p_in + Decimal(int(tout[i])) * p_out) / _PER_MILLION
        return acc.normalize()

    b, s = total(base, keys.base), total(scen, keys.scen)
    delta = (s - b).normalize()
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
        "delta_pct": float(100 * delta / b) if b else np.nan,
    }
    warnings: tuple[ImpactWarning, ...] = ()
    if unpriced:
        warnings = (
            ImpactWarning(
                "cost_unpriced",
                "tokens at cells and models with no observed price are left out of the cost",
                unpriced,
            ),
        )
    return row, warnings


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
