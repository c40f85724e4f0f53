"""The guarded sections built on the model and forecast parts."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from melious_impact import charts, units
from melious_impact.charts.grid import grid_by_hour
from melious_impact.periods import period
from melious_impact.reporting._sections import Section, guarded
from melious_impact.reporting._tables import table

BUDGET_COLUMNS = [
    ("team", "Team", "text"),
    ("metric", "Metric", "metric"),
    ("budget", "Budget", "amount"),
    ("spent", "Spent", "amount"),
    ("forecast", "Month-end forecast", "amount"),
    ("forecast_low", "Low", "amount"),
    ("forecast_high", "High", "amount"),
    ("p_exceed", "Chance of overrun", "prob"),
    ("crossing_date", "Crossing date", "date"),
    # spent sums the requests that carry the figure: the table says which share that is
    ("spent_covered_percent", "Spent covers (% of requests)", "num"),
]


def budget_table(status: pd.DataFrame, page_units: dict[str, str] | None = None) -> Any:
    """The budget status as a page table: amounts in their metric's unit (the page's), money
    exact (spent from ``spent_exact``), the overrun chance as a percentage."""
    if "spent_exact" in status.columns:
        exact = [
            x if x is not None and not pd.isna(x) else s
            for x, s in zip(status["spent_exact"], status["spent"], strict=True)
        ]
        status = status.assign(spent=exact)
    return table("budget-table", status, BUDGET_COLUMNS, key="team", page_units=page_units)


INTENSITY_COLUMNS = [
    ("model", "Model", "text"),
    ("provider_id", "Provider", "text"),
    ("location", "Location", "text"),
    ("basis", "Basis", "text"),
    ("n_requests", "Requests", "int"),
    # Per-token energy in Wh, as in the per-token table (the model's columns are in kWh).
    ("wh_per_1k_input", "Wh / 1k input tokens", "num"),
    ("wh_per_1k_input_low", "Low", "num"),
    ("wh_per_1k_input_high", "High", "num"),
    ("wh_per_1k_output", "Wh / 1k output tokens", "num"),
    ("wh_per_1k_output_low", "Low", "num"),
    ("wh_per_1k_output_high", "High", "num"),
    ("grid_g_per_kwh", "Grid intensity (g CO2e/kWh)", "num"),
    ("pue", "PUE", "num"),
]


def model_section(data: Any, end: Any) -> Section:
    """The intensity fit on every request of ``data`` (store or frame) captured before ``end``:
    in DuckDB (:func:`melious_impact.fit_intensity` with ``end=``), so no row is left out."""

    def build(sec: Section) -> None:
        from melious_impact.model.fit import fit_intensity  # here: a missing part fails this section only

        m = fit_intensity(data, end=end)
        tab = m.table()
        sec.facts["model"] = m
        in_wh = {
            c.replace("kwh_", "wh_", 1): tab[c] * 1000 for c in tab.columns if c.startswith("kwh_per_1k")
        }
        sec.tables["intensity"] = table(
            "intensity-table", tab.assign(**in_wh), INTENSITY_COLUMNS, key="model"
        )
        sec.charts["intensity"] = charts.energy_per_1k_tokens(tab)
        if "factor_version" in tab.columns and len(tab):
            sec.facts["factor_version"] = ", ".join(sorted(map(str, tab["factor_version"].dropna().unique())))

    return guarded("model", "Fitted intensities", build)


def grid_section(model: Section, period: Any, lo: Any = None, hi: Any = None) -> Section:
    """Grid intensity by hour: the model's profile when fitted, else implied by the rows of
    ``period`` (rows, a store or facts) in ``[lo, hi)``."""

    def build(sec: Section) -> None:
        m = model.facts.get("model")
        profile = grid_by_hour(m) if m is not None else grid_by_hour(period, start=lo, end=hi)
        sec.charts["grid"] = charts.grid_intensity_by_hour(profile)
        sec.facts["cleanest"] = [
            (loc, ", ".join(f"{h:02d}:00" for h in sorted(g.loc[g["cleanest"], "hour"])))
            for loc, g in profile.groupby("location")
        ]

    return guarded("grid", "Grid intensity", build)


def anomalies_section(model: Section, data: Any, lo: Any, hi: Any) -> Section:
    """Every anomaly among the requests of ``data`` (store or frame) captured in ``[lo, hi)``,
    scored in DuckDB by the fitted model (:meth:`IntensityModel.anomalies`): no row is left out."""

    def build(sec: Section) -> None:
        m = model.facts.get("model")
        if m is None:
            raise ValueError(f"needs the fitted model ({model.note or 'not fitted'})")
        found = period_anomalies(m, data, lo, hi)
        sec.facts["count"] = len(found)
        reason = next((c for c in ("reason", "likely_reason", "kind") if c in found.columns), None)
        if reason is not None and len(found):
            counts = (
                found.groupby(reason).size().reset_index(name="rows").sort_values("rows", ascending=False)
            )
            counts = counts.rename(columns={reason: "reason"})
        else:
            counts = pd.DataFrame({"reason": [], "rows": []})
        sec.tables["reasons"] = table(
            "anomaly-table",
            counts,
            [("reason", "Likely reason", "text"), ("rows", "Rows", "int")],
            key="reason",
        )
        if len(found):
            sec.charts["anomalies"] = charts.anomalies_chart(found)

    return guarded("anomalies", "Anomalies", build)


def period_anomalies(m: Any, data: Any, lo: Any, hi: Any) -> pd.DataFrame:
    """``m.anomalies`` over the requests of ``data`` captured in ``[lo, hi)``, largest score
    first. A store is scored whole in DuckDB (each row's score depends on that row and the
    model only) and its hits outside the period dropped; a frame is cut to the period first."""
    from melious_impact.frames import is_store
    from melious_impact.reporting.rows import history_rows

    if not is_store(data):
        return m.anomalies(history_rows(data, start=lo, end=hi))
    found = m.anomalies(data)
    if not len(found):
        return found
    keep = period(lo, hi).mask(found["captured_at"])
    return found[keep]


BASIS_TEXT = {
    "measured": "estimated from the fitted intensity of its own model, provider and location",
    "pooled": "estimated by borrowing from related cells (same model elsewhere, same provider's PUE)",
    "prior": "estimated from public priors only (model size, grid and provider factors)",
    "unknown": "not estimated: no tokens (errors, speech) or a model of unknown size",
}


def estimates_section(model: Section, period_rows: pd.DataFrame) -> Section:
    """Rows without reported impact, estimated by ``fill_missing`` (kept out of the totals).

    ``period_rows`` are the period's rows without reported impact: the only ones it fills,
    or groups of them with their size in ``n_requests`` (:func:`._aggregate.unreported_workload`).
    """

    def build(sec: Section) -> None:
        m = model.facts.get("model")
        if m is None:
            raise ValueError(f"needs the fitted model ({model.note or 'not fitted'})")
        from melious_impact.model.fill import fill_missing  # here: a missing part fails this section only

        filled = fill_missing(period_rows, m)
        size = filled["n_requests"] if "n_requests" in filled.columns else pd.Series(1, index=filled.index)
        filled = filled.assign(_requests=size.astype("int64"))
        est = filled[filled["impact_estimated"].astype(bool)]
        # Each sum is over the rows that have that figure; how many do is said beside it
        # (a carbon estimate is missing where the location has no grid data): never a
        # smaller number that looks complete.
        counts = {
            q: int(est.loc[est[q].notna(), "_requests"].sum())
            for q in ("energy_kwh", "carbon_g_co2", "water_liters")
        }
        sec.facts.update(
            rows=int(est["_requests"].sum()),
            unreported=int(filled["_requests"].sum()),
            energy_kwh=float(est["energy_kwh"].sum()),
            carbon_kg=float(est["carbon_g_co2"].sum()) / 1000,
            water_l=float(est["water_liters"].sum()),
            estimated={
                "energy_kwh": counts["energy_kwh"],
                "carbon_kg_co2e": counts["carbon_g_co2"],
                "water_liters": counts["water_liters"],
            },
        )
        # impact_basis says how each unreported request was handled.
        basis = (
            filled.groupby("impact_basis")["_requests"]
            .sum()
            .reset_index(name="rows")
            .rename(columns={"impact_basis": "basis"})
        )
        basis["how"] = basis["basis"].map(BASIS_TEXT).fillna("")
        basis = basis.sort_values("rows", ascending=False)
        sec.tables["basis"] = table(
            "estimate-basis",
            basis,
            [("basis", "Basis", "text"), ("how", "How", "text"), ("rows", "Requests", "int")],
            key="basis",
        )

    return guarded("estimates", "Estimates", build)


SCENARIO_COLUMNS = [
    ("scenario_name", "Scenario", "text"),
    ("metric", "Metric", "metric"),
    ("observed", "Observed", "amount"),
    ("baseline", "Modelled as run", "amount"),
    ("scenario", "Modelled scenario", "amount"),
    ("delta", "Change", "amount"),
    ("delta_low", "Low (90%)", "amount"),
    ("delta_high", "High (90%)", "amount"),
    ("delta_pct", "Change (%)", "num"),
]
#: Shown when some requests cannot be estimated (their full totals are missing, "–"): the
#: same figures over the requests estimated on both sides, and the share they are of all.
SCENARIO_COVERED_COLUMNS = [
    ("baseline_covered", "As run, covered requests", "amount"),
    ("scenario_covered", "Scenario, covered requests", "amount"),
    ("delta_covered", "Change, covered requests", "amount"),
    ("delta_covered_pct", "Change, covered (%)", "num"),
    ("covered_percent", "Requests covered (%)", "num"),
    ("uncovered_requests", "Requests without an estimate", "int"),
]


def scenarios_section(
    model: Section,
    period_rows: pd.DataFrame,
    requested: list[dict[str, Any]] | None,
    aggregated: bool,
    page_units: dict[str, str] | None = None,
) -> Section:
    """Each scenario runs on its own: one that cannot apply here is noted, the rest shown."""

    def build(sec: Section) -> None:
        m = model.facts.get("model")
        if m is None:
            raise ValueError(f"needs the fitted model ({model.note or 'not fitted'})")
        if period_rows.empty:
            raise ValueError("no requests in this period")
        from melious_impact.model.scenario import scenario  # here: a missing part fails this section only

        specs = requested if requested is not None else default_scenarios(m)
        frames, failed = [], []
        for spec in specs:
            try:
                result = scenario(period_rows, m, **spec)
            except Exception as exc:  # one inapplicable scenario must not hide the others
                failed.append(f"{_describe(spec)}: {exc}")
                continue
            frames.append(result.assign(scenario_name=result.attrs.get("description") or _describe(spec)))
        if not frames:
            raise ValueError("; ".join(failed) or "no scenario requested")
        result = pd.concat(frames, ignore_index=True)
        sec.facts["frame"] = result
        columns = SCENARIO_COLUMNS
        partial = scenario_coverage_text(result)
        if partial:
            result = result.assign(
                covered_percent=[math.floor(1000.0 * float(x)) / 10 for x in result["covered_share"]],
                uncovered_requests=result["requests"] - result["covered_requests"],
            )
            columns = SCENARIO_COLUMNS + SCENARIO_COVERED_COLUMNS
            sec.facts["coverage"] = partial
        sec.tables["scenarios"] = table(
            "scenario-table", result, columns, key="scenario_name", page_units=page_units
        )
        sec.charts["scenarios"] = charts.scenario_savings(result, "carbon_g_co2")
        sec.note = (
            "The same requests, re-estimated under each change by the fitted model; the change is "
            "scenario minus modelled-as-run, with its 90% interval."
            + (
                " Computed on the workload summed per model, site, month and hour of day (expected values"
                " are unchanged; intervals come out somewhat narrower than from single requests)."
                if aggregated
                else ""
            )
            + (f" Not applicable here: {'; '.join(failed)}." if failed else "")
            + (
                " Some requests cannot be estimated (a model of unknown size, a location without grid"
                " data): a total over every request is then missing (–), never the smaller sum of the"
                " rest, and the covered columns give the figures over the requests estimated on both"
                " sides, with their share. " + " ".join(partial)
                if partial
                else ""
            )
        )

    return guarded("scenarios", "Scenarios", build)


def with_estimates(
    estimates: Section, coverage: dict[str, dict[str, Any]], reported: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Per quantity: the reported total plus the estimated one, and the requests that sum covers.

    ``coverage`` is the page's coverage of each reported figure, ``reported`` its values
    (``carbon_kg_co2e``, ``energy_kwh``, ``water_liters``). A request counts as covered when it
    has a reported or an estimated figure; the rest are named, never silently left out.
    """
    if not estimates.ok:
        return {}
    out: dict[str, dict[str, Any]] = {}
    facts = estimates.facts
    est_values = {
        "energy_kwh": facts["energy_kwh"],
        "carbon_kg_co2e": facts["carbon_kg"],
        "water_liters": facts["water_l"],
    }
    for key, est in est_values.items():
        cov = coverage.get(key)
        if cov is None:
            continue
        covered = int(cov["covered"]) + int(facts["estimated"][key])
        total = int(cov["total"])
        value = reported.get(key)
        out[key] = {
            "value": (float(value) if value is not None else 0.0) + est,
            "covered": covered,
            "total": total,
            "missing": total - covered,
            "share": share_text(covered / total) if total else None,
            "estimated": int(facts["estimated"][key]),
            "estimated_missing": int(facts["rows"]) - int(facts["estimated"][key]),
        }
    return out


def history_coverage(history: pd.DataFrame, metric: str) -> float | None:
    """Share of the history's requests that carry ``metric`` (None for counts and tokens, or
    when it cannot be told): request rows count their non-missing values, pre-summed rows
    their ``n_<metric>`` of ``n_requests``."""
    if metric not in ("energy_kwh", "carbon_g_co2", "water_liters", "cost_eur") or history.empty:
        return None
    if "n_requests" in history.columns:
        if f"n_{metric}" not in history.columns:
            return None
        total = float(pd.to_numeric(history["n_requests"], errors="coerce").sum())
        covered = float(pd.to_numeric(history[f"n_{metric}"], errors="coerce").sum())
        return covered / total if total > 0 else None
    if metric not in history.columns:
        return None
    return float(history[metric].notna().mean())


def share_text(share: float) -> str:
    """A covered share as ``98.6%``: one decimal, rounded down, so a share short of all
    requests never reads as 100%."""
    return f"{math.floor(1000.0 * share) / 10:.1f}%"


def scenario_coverage_text(result: pd.DataFrame) -> list[str]:
    """One sentence per metric whose full total is missing for lack of estimates: the
    covered total as run and its share (``"Carbon as run: 1.23 kg CO2e over 98.6% of
    requests; 14 without an estimate."``), once when the scenarios agree, else per
    scenario. Empty when every total covers every request."""
    if "covered_share" not in result.columns:
        return []
    found: dict[str, list[tuple[str, str]]] = {}
    for rec in result.to_dict("records"):
        share = rec.get("covered_share")
        if share is None or pd.isna(share) or float(share) >= 1.0:
            continue
        metric = str(rec["metric"])
        missing = int(rec.get("requests", 0)) - int(rec.get("covered_requests", 0))
        value = rec.get("baseline_covered")
        shown = units.quantity(value, metric) if value is not None and not pd.isna(value) else units.MISSING
        tail = f"{shown} over {share_text(float(share))} of requests; {units.count(missing)} without an estimate."
        found.setdefault(metric, []).append((str(rec.get("scenario_name") or ""), tail))
    out = []
    for metric, items in found.items():
        if len({tail for _, tail in items}) == 1:
            out.append(f"{units.label(metric)} as run: {items[0][1]}")
        else:
            out.extend(f"{units.label(metric)} as run ({name}): {tail}" for name, tail in items)
    return out


def _describe(spec: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in spec.items()) or "no change"


def default_scenarios(m: Any) -> list[dict[str, Any]]:
    """What a report asks by default: eco routing, the cleanest hours, the cleanest measured location."""
    specs: list[dict[str, Any]] = [{"flavor": "eco"}, {"shift_to_clean_hours": True}]
    tab = m.table()
    measured = tab[tab["basis"] == "measured"] if "basis" in tab.columns else tab
    if len(measured) and "grid_g_per_kwh" in measured.columns:
        best = measured.sort_values("grid_g_per_kwh").iloc[0]
        specs.append({"provider_id": str(best["provider_id"]), "location": str(best["location"])})
    return specs


def forecast_section(
    history: pd.DataFrame, metric: str, horizon_days: int, page_units: dict[str, str] | None = None
) -> Section:
    """``history``: request rows, or the daily (day, team) rows of ``_aggregate.daily_rows``."""

    def build(sec: Section) -> None:
        if history.empty:
            raise ValueError("no history to forecast from")
        from melious_impact.forecasting.forecast import (
            forecast,  # here: a missing part fails this section only
        )

        fc = forecast(history, metric=metric, by="team", horizon_days=horizon_days, level=0.8)
        sec.facts["frame"] = fc
        totals = (
            fc.groupby("team", as_index=False)[["mean", "low", "high"]]
            .sum()
            .sort_values("mean", ascending=False)
            .assign(metric=metric)
        )
        sec.tables["forecast"] = table(
            "forecast-table",
            totals,
            [
                ("team", "Team", "text"),
                ("mean", f"Next {horizon_days} days: {units.label(metric).lower()}", "amount"),
                ("low", "Low (80%)", "amount"),
                ("high", "High (80%)", "amount"),
            ],
            key="team",
            page_units=page_units,
        )
        at = pd.to_datetime(history["captured_at"], utc=True)
        recent = history[at >= at.max() - pd.Timedelta(days=56)]
        sec.charts["forecast"] = charts.forecast_chart(fc, history=recent, metric=metric)
        sec.note = (
            "Daily totals per team for the next days, with an 80% interval. Sums of the daily "
            "bounds over the horizon assume days move together, a conservative range."
        )
        share = history_coverage(history, metric)
        if share is not None and share < 1.0:
            sec.note += (
                f" The history sums the figures of the requests that carry them: {share_text(share)} of"
                " its requests; the rest add nothing, so the forecast is of that share."
            )

    return guarded("forecast", "Forecast", build)


def budgets_section(history: pd.DataFrame, budgets: Any, page_units: dict[str, str] | None = None) -> Section:
    def build(sec: Section) -> None:
        if budgets is None:
            sec.ok = False
            sec.note = "No budgets were given (pass budgets= a dict or a TOML/YAML file, or --budgets FILE)."
            return
        from melious_impact.forecasting.budgets import budget_outlook

        outlook = budget_outlook(history, budgets, period="month")
        st = outlook.status
        sec.facts["outlook"] = outlook
        sec.facts["frame"] = st
        sec.tables["status"] = budget_table(st, page_units)

    return guarded("budgets", "Budgets", build)


def budget_spec(budgets: Any) -> Any:
    """Budgets loaded (a file is read once); a ``market`` table of market-based factors is
    not a team: :func:`market_from_budgets` reads it."""
    if budgets is None:
        return None
    if isinstance(budgets, str | Path):
        from melious_impact.forecasting.budgets import (
            load_budgets,  # here: a missing part fails this section only
        )

        spec = load_budgets(budgets)
    else:
        from melious_impact.forecasting.budgets import split_market

        spec, _ = split_market(budgets)
    return spec


def market_from_budgets(budgets: Any, market_factors: Any) -> Any:
    """The market-based factors a page uses: ``market_factors`` when given, else the
    ``market`` table of the budgets (file or mapping), else None. A budgets file that cannot
    be read gives None here: the budget section says what is wrong with it."""
    if market_factors is not None or budgets is None:
        return market_factors
    from melious_impact.forecasting.budgets import load_market, split_market

    try:
        if isinstance(budgets, str | Path):
            return load_market(budgets)
        return split_market(budgets)[1]
    except (OSError, ValueError, ImportError):
        return None


def run_all(
    rows_source: Any,
    facts: Any,
    history_con: Any,
    lo: Any,
    hi: Any,
    *,
    n_period: int,
    budgets: Any,
    forecast_metric: str,
    horizon_days: int,
    scenarios: list[dict[str, Any]] | None,
    page_units: dict[str, str] | None = None,
) -> dict[str, Section]:
    """Every model and forecast section, each fed the smallest input that gives its answer."""
    from melious_impact.charts.source import Cube, connect
    from melious_impact.reporting._aggregate import (
        AGGREGATE_SCENARIOS_ABOVE,
        daily_rows,
        hourly_workload,
        unreported_workload,
    )
    from melious_impact.reporting.rows import history_rows

    raw = getattr(facts, "raw_con", None)
    rows = facts.rows if isinstance(facts, Cube) else facts
    # The fit and the anomaly search run in DuckDB on every row: no sample at any size.
    model = model_section(rows_source, hi)
    # Scenarios on many requests run on their hourly workload (same expected values).
    aggregated = n_period > AGGREGATE_SCENARIOS_ABOVE
    if aggregated:
        # by the hour of day: the cube's groups by month x hour of day (else over the rows)
        rate = getattr(facts, "eur_per_energy_unit", None)
        workload = hourly_workload(
            facts.by_hour_of_day(lo, hi)
            if isinstance(facts, Cube)
            else connect(rows, start=lo, end=hi, eur_per_energy_unit=rate)
        )
    else:
        workload = history_rows(rows_source, start=lo, end=hi, con=raw)
    try:
        spec = budget_spec(budgets)
    except Exception as exc:  # a bad budget file fails the budget section only
        spec = exc
    # Forecasts sum rows per day: pre-summed daily rows give the same series (request
    # counts too: each daily row carries how many requests it stands for).
    daily = daily_rows(history_con)
    if n_period:
        grid = grid_section(model, facts, lo, hi)
    else:
        grid = Section("grid", "Grid intensity", ok=False, note="No requests in this period.")
    if isinstance(spec, Exception):
        bud = Section("budgets", "Budgets", ok=False, note=f"Could not read the budgets: {spec}")
    else:
        bud = budgets_section(daily, spec, page_units)
    return {
        "model": model,
        "grid": grid,
        "anomalies": anomalies_section(model, rows_source, lo, hi),
        # estimated once per group of like requests (linear in their tokens), weighted by its size
        "estimates": estimates_section(model, unreported_workload(raw or connect(rows), lo, hi)),
        "scenarios": scenarios_section(model, workload, scenarios, aggregated, page_units),
        "forecast": forecast_section(daily, forecast_metric, horizon_days, page_units),
        "budgets": bud,
    }
