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

from melious_impact.frames import as_frame, is_store
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
from melious_impact.model.scenario_totals import QUANTITIES, UNITS, Groups, row_sums, table
from melious_impact.model.warnings import summarise
from melious_impact.periods import DateLike, period

if TYPE_CHECKING:  # pragma: no cover
    from melious_impact.model.fit import IntensityModel

FLAVORS = ("eco", "price", "speed")
__all__ = ["FLAVORS", "UNITS", "scenario"]
_KEY = ["model", "provider_id", "location"]
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
    start: DateLike | None = None,
    end: DateLike | None = None,
) -> pd.DataFrame:
    """Compare the workload of ``df`` (a frame or an ``ImpactStore``) as it ran with a
    changed version of it.

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

    ``start``/``end``: only requests captured in ``[start, end)`` (:mod:`melious_impact.periods`).
    Over a store, moves and shifts are summed in DuckDB (:mod:`.sql_scenario`: the rows
    never reach pandas, only those spread over a model's traffic mix); a ``flavor`` picks a
    cell per request and reads the rows' needed columns as a frame.
    """
    if flavor is not None and flavor not in FLAVORS:
        raise ValueError(
            f"flavor must be one of {', '.join(FLAVORS)} (balanced/batch routing is not modelled)"
        )
    target = (
        _target_site(m, provider_id, location) if provider_id is not None or location is not None else None
    )
    notes: list[str] = []
    if target is not None:
        notes.append(f"moved to {target[0]} in {target[1]}")
    if flavor is not None:
        notes.append(f"routed with flavor {flavor!r}")
    if shift_to_clean_hours:
        notes.append("shifted to the cleanest hour of each day")

    def prepare(frame: pd.DataFrame) -> tuple[Groups, NDArray[np.intp], pd.DataFrame]:
        src, base, scen = _sides(frame, m, target, flavor, shift_to_clean_hours, models)
        g, group = frame_groups(src, base, scen, m)
        return g, group, frame

    if is_store(df) and flavor is None:
        from melious_impact.model.sql_scenario import store_groups

        g = store_groups(
            df,
            m,
            target=target,
            shift=shift_to_clean_hours,
            models=models,
            start=start,
            end=end,
            prepare=prepare,
        )
    else:
        if is_store(df):  # routing picks a cell per request: the rows it reads, as a frame
            frame = df.to_pandas(start=start, end=end, columns=[c for c in _READ if c != "n_requests"])
        else:
            frame = period(start, end).select(as_frame(df))
        g = prepare(frame)[0]
    g.notes = notes
    return table(m, g)


def _sides(
    df: pd.DataFrame,
    m: IntensityModel,
    target: tuple[str, str] | None,
    flavor: str | None,
    shift_to_clean_hours: bool,
    models: list[str] | None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The usable rows (only the columns a scenario reads), the workload as it ran and as
    the scenario changes it."""
    # only the columns a scenario reads: filtering a wide frame row-wise copies every column
    src = df[[c for c in _READ if c in df.columns]].reset_index(drop=True)
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
    if target is not None:
        scen.loc[move, "provider_id"] = target[0]
        scen.loc[move, "location"] = target[1]
    if flavor is not None:
        _route(m, scen, move, flavor, src)
    if shift_to_clean_hours:
        _shift(m, scen, move)
    return src, base, scen


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


def _weights(src: pd.DataFrame) -> Array:
    """Requests each row stands for: ``n_requests`` where given (a pre-summed row), else 1."""
    if "n_requests" in src.columns:
        w = np.nan_to_num(floats(src, "n_requests"), nan=1.0)
        return np.asarray(np.where(w > 0, w, 1.0), dtype=np.float64)
    return np.ones(len(src), dtype=np.float64)


def warning_counts(codes: pd.Series) -> dict[str, int]:
    """Rows per warning code in a column of comma-joined codes (as :func:`.warnings.summarise`)."""
    return {w.code: w.rows for w in summarise(codes)}


def frame_groups(
    src: pd.DataFrame,
    base: pd.DataFrame,
    scen: pd.DataFrame,
    m: IntensityModel,
) -> tuple[Groups, NDArray[np.intp]]:
    """Predict both sides of a frame's rows and sum them by (base key, scenario key,
    changed); the groups and each row's group."""
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
    k = len(keys.labels)
    combined = (keys.base.astype(np.int64) * max(k, 1) + keys.scen) * 2 + changed
    uniq, group = dense_codes(combined, max(k, 1) * max(k, 1) * 2)
    ng = len(uniq)
    w = _weights(src)

    def total(v: Array) -> Array:
        return np.bincount(group, weights=v, minlength=ng).astype(np.float64)

    sums: dict[str, Array] = {}
    unknown = np.zeros(len(base), dtype=bool)
    for q in QUANTITIES:
        vb, vs = pb[q].to_numpy(dtype=np.float64), ps[q].to_numpy(dtype=np.float64)
        unknown |= ~np.isfinite(vb) | ~np.isfinite(vs)
        terms = row_sums(
            q, vb, pb[f"{q}_high"].to_numpy(dtype=np.float64), vs, ps[f"{q}_high"].to_numpy(dtype=np.float64)
        )
        for name, (v, mask) in terms.items():
            sums[name] = total(np.where(mask, w, 0.0) if mask is not None else v)
    rep = reported_mask(src)
    counts = warning_counts(pd.concat([pb["warnings"], ps["warnings"]], ignore_index=True))
    groups = Groups(
        labels=keys.labels,
        kb=(uniq // (2 * max(k, 1))).astype(np.intp),
        ks=((uniq // 2) % max(k, 1)).astype(np.intp),
        changed=(uniq % 2).astype(bool),
        n=total(np.ones(len(base))),
        w=total(w),
        tin=total(np.nan_to_num(floats(base, "input_tokens"))),
        tout=total(np.nan_to_num(floats(base, "output_tokens"))),
        sums=sums,
        # what was reported: a reported row without this figure leaves the total unknown
        observed={q: float(np.sum(floats(src, q)[rep])) if rep.any() else np.nan for q in QUANTITIES},
        observed_cost=_observed_cost(src),
        warnings=counts,
        unknown_rows=int(unknown.sum()),
    )
    return groups, group


def _observed_cost(src: pd.DataFrame) -> Decimal | None:
    """Exact euros billed, by the one rule of ``forecast.costs`` (fast path for the two
    documented ``paid_with`` words, the row-by-row rule for anything else)."""
    if not {"billing_credits", "billing_energy"} & set(src.columns):
        return None
    try:
        from melious_impact.forecasting.costs import add_cost_eur, sum_decimal
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
