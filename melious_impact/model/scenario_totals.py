"""A scenario's table from per-group sums: the same rules whether the rows were a frame or a store.

A scenario compares two predictions of one workload. Every figure of its table is a sum
over requests, split by the (model, provider_id, location) key each request has on each
side, by whether the scenario changed it, and by whether each side could estimate it. So
both paths first reduce the rows to :class:`Groups` (one row per base key x scenario key x
changed), a frame with ``numpy.bincount`` (:func:`melious_impact.model.scenario.scenario`),
a store with one DuckDB ``GROUP BY`` (:mod:`.sql_scenario`), and this module turns the groups
into the table: totals, 90% intervals from the per-key lognormal draws, coverage, the
covered figures, exact costs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from melious_impact.model.priors import Z90
from melious_impact.model.warnings import ImpactWarning

if TYPE_CHECKING:  # pragma: no cover
    from melious_impact.model.fit import IntensityModel

Array = NDArray[np.float64]
QUANTITIES = ("energy_kwh", "carbon_g_co2", "water_liters")
UNITS = {"energy_kwh": "kWh", "carbon_g_co2": "g CO2e", "water_liters": "L", "cost_eur": "EUR"}
#: per quantity, per group: sums over the rows known on the base side (``tb``: values, ``sb``:
#: value x log sd), on the scenario side (``ts``, ``ss``), over rows known on both sides
#: (``tbb``, ``sbb``, ``tsb``, ``ssb``), the request weights of those three sets (``wb``,
#: ``ws``, ``wbb``) and the rows not known on both sides (``nbad``)
SUMS = ("tb", "sb", "ts", "ss", "tbb", "sbb", "tsb", "ssb", "wb", "ws", "wbb", "nbad")
SIMULATIONS = 4000  # draws of the per-key errors for the intervals of totals and deltas
_PER_MILLION = Decimal(1_000_000)

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


@dataclass
class Groups:
    """The rows of a scenario summed by (base key, scenario key, changed)."""

    labels: list[tuple[Any, Any, Any]]  # the joint keys, in the order the draws are given
    kb: NDArray[np.intp]  # per group: index of its base key in labels
    ks: NDArray[np.intp]  # and of its scenario key
    changed: NDArray[np.bool_]  # the scenario moved its requests (key or time)
    n: Array  # rows
    w: Array  # requests (``n_requests`` of pre-summed rows, else 1 a row)
    tin: Array  # input tokens (exact: integers below 2**53)
    tout: Array
    sums: dict[str, Array]  # f"{quantity}:{name}" for name in SUMS
    observed: dict[str, float]  # reported totals per quantity (NaN: a reported row lacks it)
    observed_cost: Decimal | None
    warnings: dict[str, int]  # rows per warning code of both predictions
    unknown_rows: int  # rows some quantity cannot estimate on one side or the other
    notes: list[str] = field(default_factory=list)


def row_sums(
    q: str, value_b: Array, high_b: Array, value_s: Array, high_s: Array
) -> dict[str, tuple[Array, NDArray[np.bool_] | None]]:
    """Per-row terms of :data:`SUMS` for one quantity: name -> (values, None) for value sums,
    name -> (weights mask, mask) for weight sums (the caller multiplies by the weights)."""
    fb, fs = np.isfinite(value_b), np.isfinite(value_s)
    both = fb & fs

    def spread(value: Array, high: Array, known: NDArray[np.bool_]) -> Array:
        mean = np.where(known, value, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.log(high / mean) / Z90
        s = np.where(known, np.nan_to_num(s, nan=0.0, posinf=0.0), 0.0)
        return np.asarray(mean * s, dtype=np.float64)

    return {
        f"{q}:tb": (np.where(fb, value_b, 0.0), None),
        f"{q}:sb": (spread(value_b, high_b, fb), None),
        f"{q}:ts": (np.where(fs, value_s, 0.0), None),
        f"{q}:ss": (spread(value_s, high_s, fs), None),
        f"{q}:tbb": (np.where(both, value_b, 0.0), None),
        f"{q}:sbb": (spread(value_b, high_b, both), None),
        f"{q}:tsb": (np.where(both, value_s, 0.0), None),
        f"{q}:ssb": (spread(value_s, high_s, both), None),
        f"{q}:wb": (fb, fb),
        f"{q}:ws": (fs, fs),
        f"{q}:wbb": (both, both),
        f"{q}:nbad": ((~both).astype(np.float64), None),
    }


def _share(part: float, total: float) -> float:
    return part / total if total > 0 else 1.0


def metric_row(q: str, g: Groups, z: Array) -> dict[str, Any]:
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
    factors (``z``: the standard normal draws, one column per key). A total's interval
    therefore never goes below zero.
    """
    k = len(g.labels)
    s = {name: g.sums[f"{q}:{name}"] for name in SUMS}

    def per_key(codes: NDArray[np.intp], total: Array, spread: Array) -> tuple[Array, Array]:
        t = np.bincount(codes, weights=total, minlength=k).astype(np.float64)
        sp = np.bincount(codes, weights=spread, minlength=k)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_sd = np.where(t > 0, sp / t, 0.0)
        return t, log_sd

    def interval(point: float, draws: Array) -> tuple[float, float]:
        low, high = np.quantile(draws, [0.05, 0.95])
        return min(float(low), point), max(float(high), point)

    def sides(covered: bool) -> list[float]:
        """Both totals and the delta, each with its interval."""
        t_b, sd_b = per_key(g.kb, s["tbb" if covered else "tb"], s["sbb" if covered else "sb"])
        t_s, sd_s = per_key(g.ks, s["tsb" if covered else "ts"], s["ssb" if covered else "ss"])
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

    w_all = float(g.w.sum())
    sb, b_low, b_high, ss, s_low, s_high, delta, d_low, d_high = sides(False)
    cov_b, cov_s = _share(float(s["wb"].sum()), w_all), _share(float(s["ws"].sum()), w_all)
    bad = s["nbad"] > 0
    n_both = g.n - s["nbad"]
    covered = sides(True) if bad.any() else [sb, b_low, b_high, ss, s_low, s_high, delta, d_low, d_high]
    if not (n_both > 0).any():
        covered = [np.nan] * 9
    nan = float("nan")
    if cov_b < 1.0:
        sb, b_low, b_high = nan, nan, nan
    if cov_s < 1.0:
        ss, s_low, s_high = nan, nan, nan
    if (bad & g.changed).any():
        delta, d_low, d_high = nan, nan, nan
    cb = covered[0]
    w_both = float(s["wbb"].sum())
    return {
        "metric": q,
        "unit": UNITS[q],
        "observed": g.observed[q],
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
        "covered_share": _share(w_both, w_all),
        "covered_requests": round(w_both),
        "requests": round(w_all),
    }


def cost_row(m: IntensityModel, g: Groups) -> tuple[dict[str, Any], tuple[ImpactWarning, ...]]:
    """Exact decimal costs from observed prices per token (model median where unseen)."""
    prices = {
        (r.model, r.provider_id, r.location): (r.eur_per_million_input, r.eur_per_million_output)
        for r in m.prices.itertuples()
    }
    fallback = {
        model: (_median_decimal(p["eur_per_million_input"]), _median_decimal(p["eur_per_million_output"]))
        for model, p in m.prices.groupby("model")
    }
    k = len(g.labels)

    def price(label: tuple[Any, Any, Any]) -> tuple[Any, Any]:
        return prices.get(label) or fallback.get(label[0], (None, None))

    def priced_total(codes: NDArray[np.intp], mask: NDArray[np.bool_]) -> Decimal:
        """Exact euros of the groups in ``mask`` (an unpriced key adds nothing: callers mask it out)."""
        tin = np.bincount(codes, weights=np.where(mask, g.tin, 0.0), minlength=k)
        tout = np.bincount(codes, weights=np.where(mask, g.tout, 0.0), minlength=k)
        acc = Decimal(0)
        for i, label in enumerate(g.labels):
            if tin[i] == 0 and tout[i] == 0:
                continue
            cost = key_cost(tin[i], tout[i], price(label))
            acc += cost if cost is not None else Decimal(0)
        return acc

    unpriced = 0
    no_price = np.zeros(k, dtype=bool)

    def total(codes: NDArray[np.intp]) -> Decimal | None:
        """Exact total; None when some requests are not priced (a sum without them would
        be a smaller number, not the cost)."""
        nonlocal unpriced
        tin = np.bincount(codes, weights=g.tin, minlength=k)
        tout = np.bincount(codes, weights=g.tout, minlength=k)
        acc = Decimal(0)
        missing = False
        for i, label in enumerate(g.labels):
            if tin[i] == 0 and tout[i] == 0:
                continue
            cost = key_cost(tin[i], tout[i], price(label))
            if cost is None:
                unpriced += int(tin[i] + tout[i])
                missing = True
                no_price[i] = True
                continue
            acc += cost
        return acc.normalize() if not missing else None

    b, s = total(g.kb), total(g.ks)
    w_all = float(g.w.sum())
    cov_b = _share(float(g.w[~no_price[g.kb]].sum()), w_all)
    cov_s = _share(float(g.w[~no_price[g.ks]].sum()), w_all)
    # unpriced requests the scenario leaves as they were cost the same on both sides
    unpriced_either = no_price[g.kb] | no_price[g.ks]
    lost = unpriced_either & g.changed
    if b is not None and s is not None:
        delta: Decimal | None = (s - b).normalize()
    elif not lost.any():
        delta = (priced_total(g.ks, g.changed) - priced_total(g.kb, g.changed)).normalize()
    else:
        delta = None
    both = ~unpriced_either
    if not (both & (g.n > 0)).any():
        b_cov: Decimal | None = None
        s_cov: Decimal | None = None
    elif both.all():
        b_cov, s_cov = b, s
    else:  # exact euros of the requests priced on both sides
        b_cov = priced_total(g.kb, both).normalize()
        s_cov = priced_total(g.ks, both).normalize()
    d_cov = (s_cov - b_cov).normalize() if b_cov is not None and s_cov is not None else None
    w_both = float(g.w[both].sum())
    row = {
        "metric": "cost_eur",
        "unit": "EUR",
        "observed": g.observed_cost,
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
        "covered_share": _share(w_both, w_all),
        "covered_requests": round(w_both),
        "requests": round(w_all),
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


def key_cost(tin: float, tout: float, price: tuple[Any, Any]) -> Decimal | None:
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


def _median_decimal(s: pd.Series) -> Decimal | None:
    vals = sorted(v for v in s if v is not None)
    return vals[len(vals) // 2] if vals else None


def table(m: IntensityModel, g: Groups) -> pd.DataFrame:
    """The scenario's table (one row per metric) from its groups."""
    from melious_impact.model.warnings import MESSAGES

    z = np.random.default_rng(0).standard_normal((SIMULATIONS, len(g.labels)))
    rows = [metric_row(q, g, z) for q in QUANTITIES]
    cost, cost_warnings = cost_row(m, g)
    rows.append(cost)
    out = pd.DataFrame(rows)
    out["factor_version"] = m.factor_version
    out.attrs["description"] = "; ".join(g.notes) or "no change"
    extra: tuple[ImpactWarning, ...] = ()
    if g.unknown_rows:
        extra = (ImpactWarning("scenario_incomplete", MESSAGES["scenario_incomplete"], g.unknown_rows),)
    found = tuple(ImpactWarning(c, MESSAGES.get(c, c), g.warnings[c]) for c in sorted(g.warnings))
    out.attrs["impact_warnings"] = found + cost_warnings + extra
    return out
