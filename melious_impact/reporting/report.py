"""``mi.report``: a self-contained sustainability report for a period, as HTML (and PDF)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from melious_impact import charts, units
from melious_impact.charts.source import Cube, as_arrow, connect, default_eur_per_energy_unit
from melious_impact.frames import is_store
from melious_impact.periods import Period
from melious_impact.reporting import _figures, _model_sections, boundary
from melious_impact.reporting._boundary_sections import check_lines, coverage, lines_section
from melious_impact.reporting._html import RENDER_MODES, ChartSlot, chart_slot, prefetch_bundle, render_page
from melious_impact.reporting._tables import table

BREAKDOWN_COLUMNS = [
    ("key", "", "text"),
    ("requests", "Requests", "int"),
    ("errors", "Errors", "int"),
    ("input_tokens", "Input tokens", "int"),
    ("output_tokens", "Output tokens", "int"),
    ("energy_kwh", "Energy", "qty"),
    ("carbon_kg_co2e", "Carbon", "qty"),
    ("water_liters", "Water", "qty"),
    ("cost_eur", "Cost (EUR)", "money"),
    ("carbon_share_percent", "Share of carbon", "pct"),
    # the sums above skip requests without the figure: each row says what share they cover
    ("impact_covered_percent", "Impact reported for (% of requests)", "num"),
    ("cost_covered_percent", "Cost known for (% of requests)", "num"),
]
PER_TOKEN_COLUMNS = [
    ("model", "Model", "text"),
    ("provider_id", "Provider", "text"),
    ("location", "Location", "text"),
    ("requests", "Requests", "int"),
    ("wh_per_1k_tokens", "Wh / 1k tokens", "num"),
    ("g_co2e_per_1k_tokens", "g CO2e / 1k tokens", "num"),
    ("ml_water_per_1k_tokens", "mL water / 1k tokens", "num"),
    ("grid_g_per_kwh", "g CO2e / kWh", "num"),
]
BREAKDOWN_LABELS = [
    ("team", "team"),
    ("model", "model"),
    ("provider_id", "provider"),
    ("location", "location"),
]


def report(
    data: Any,
    out: str | Path = "report.html",
    *,
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    pdf: bool = False,
    budgets: Any = None,
    title: str = "AI inference sustainability report",
    render: str = "interactive",
    forecast_metric: str = "cost_eur",
    horizon_days: int = 28,
    scenarios: list[dict[str, Any]] | None = None,
    eur_per_energy_unit: Decimal | None = None,
    chromium: str | None = None,
    lines: tuple[str, ...] | list[str] = (),
    market_factors: Any = None,
) -> Path:
    """Write a sustainability report for ``[start, end)`` and return the HTML file's path.

    ``data`` is an ``ImpactStore`` or a frame with the requests columns. ``start``/``end``
    bound the period as :mod:`melious_impact.periods` says (``[start, end)`` in UTC; a date
    ``end`` counts its whole day, so ``end="2026-10-31"`` includes 31 October); by default
    the whole days the data spans. ``budgets`` is a dict ``{team: {metric: amount}}`` or a TOML/YAML
    file for :func:`melious_impact.budget_status`. ``render="static"`` draws charts as inline
    SVG instead of interactive Vega. ``pdf=True`` also writes ``out`` with a ``.pdf`` suffix
    (needs Chromium; ``chromium=`` is its path when not on ``PATH``).

    The page is one self-contained file: no request to any network when it is opened.
    Sections that need the model or forecast parts say so if those cannot run on the data.

    The methodology section states the boundary of the figures
    (:mod:`melious_impact.reporting.boundary`). Optional lines beyond it, shown apart and never
    added to the totals: ``lines=("offsite_water", "embodied_carbon")`` and, with
    ``market_factors=`` (``{provider_id: {"g_co2e_per_kwh", "source", "year"}}`` or a
    TOML/YAML file with a ``[market]`` table), a market-based carbon line
    (:mod:`melious_impact.model.boundary_lines`); without ``market_factors=``, a ``[market]``
    table in the ``budgets`` file (or a ``"market"`` entry of a budgets mapping) is used.
    """
    if render not in RENDER_MODES:
        raise ValueError(f"render must be one of {', '.join(RENDER_MODES)}; got {render!r}")
    out = Path(out)
    lines = check_lines(lines)
    # market-based factors: given here, else the [market] table of the budgets file
    market_factors = _model_sections.market_from_budgets(budgets, market_factors)
    if market_factors is not None:
        from melious_impact.model.boundary_lines import market_factors as load_market

        market_factors = load_market(market_factors)  # a bad file fails here, not in a section
    if render == "interactive":
        prefetch_bundle()
    rows = data if is_store(data) else as_arrow(data)  # a frame is converted once
    lo, hi = _figures.bounds(rows, start, end)
    # every figure, table and chart reads one cube of the rows, not the rows
    cube = Cube(rows, lo, hi, eur_per_energy_unit=eur_per_energy_unit)
    context, slots = build_context(
        data,
        cube,
        lo,
        hi,
        budgets=budgets,
        title=title,
        forecast_metric=forecast_metric,
        horizon_days=horizon_days,
        scenarios=scenarios,
        eur_per_energy_unit=eur_per_energy_unit,
        lines=lines,
        market_factors=market_factors,
    )
    page = render_page("report.html.j2", out, charts=_slots(slots, render), mode=render, **context)
    if pdf:
        from melious_impact.reporting.pdf import html_to_pdf

        static = out.with_name(f".{out.stem}.print.html")
        render_page("report.html.j2", static, charts=_slots(slots, "static"), mode="static", **context)
        try:
            html_to_pdf(static, out.with_suffix(".pdf"), chromium=chromium)
        finally:
            static.unlink(missing_ok=True)
    return page


def _slots(charts_by_name: dict[str, Any], mode: str) -> list[ChartSlot]:
    return [chart_slot(c, name, i, mode) for i, (name, c) in enumerate(charts_by_name.items())]


def _label(lo: datetime, hi: datetime) -> str:
    return Period(lo, hi).label()


def build_context(
    data: Any,
    cube: Cube,
    lo: datetime,
    hi: datetime,
    *,
    budgets: Any = None,
    title: str = "AI inference sustainability report",
    forecast_metric: str = "cost_eur",
    horizon_days: int = 28,
    scenarios: list[dict[str, Any]] | None = None,
    eur_per_energy_unit: Decimal | None = None,
    lines: tuple[str, ...] = (),
    market_factors: Any = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every number, table and chart of the report, before any HTML (tests use it too).

    Every query and chart reads ``cube`` (:class:`~melious_impact.charts.source.Cube`, cut at
    ``lo`` and ``hi`` for exact answers without reading the rows again); the model parts read
    the rows of ``data``.
    """
    source = cube
    con = connect(source, start=lo, end=hi)
    figures = _figures.summary(source, lo, hi)
    quality = _figures.quality(con)
    by_key = {f.key: f for f in figures}
    # One unit per quantity on the page, from the summary figures (tables and charts follow).
    page_units = _figures.page_units(figures)
    breakdowns = {
        key: table(
            f"by-{key}",
            _figures.breakdown(con, key),
            [("key", label.capitalize(), "text"), *BREAKDOWN_COLUMNS[1:]],
            key="key",
            page_units=page_units,
        )
        for key, label in BREAKDOWN_LABELS
    }
    per_token = table("per-token", _figures.per_token(con), PER_TOKEN_COLUMNS, key="model")

    slots: dict[str, Any] = {}
    if quality["requests"]:
        slots["impact_carbon"] = charts.impact_over_time(
            source, "carbon_g_co2", start=lo, end=hi, unit=page_units.get("carbon")
        )
        slots["impact_energy"] = charts.impact_over_time(
            source, "energy_kwh", start=lo, end=hi, unit=page_units.get("energy")
        )
        slots["impact_cost"] = charts.impact_over_time(source, "cost_eur", start=lo, end=hi)
        slots["providers"] = charts.provider_renewables_pue(source, start=lo, end=hi)
        slots["frontier"] = charts.efficiency_frontier(source, start=lo, end=hi)

    sections = _model_sections.run_all(
        data,
        cube,
        connect(source, end=hi),
        lo,
        hi,
        n_period=quality["requests"],
        budgets=budgets,
        forecast_metric=forecast_metric,
        horizon_days=horizon_days,
        scenarios=scenarios,
        page_units=page_units,
    )
    for sec in sections.values():
        for name, chart in sec.charts.items():
            slots[name] = chart
    model = sections["model"]

    carbon_kg = by_key["carbon_kg_co2e"].value
    page_coverage = coverage(con)
    water_l = by_key["water_m3"].value
    reported = {
        "energy_kwh": by_key["energy_kwh"].value,
        "carbon_kg_co2e": carbon_kg,
        "water_liters": float(water_l) * 1000 if water_l is not None else None,
    }
    context: dict[str, Any] = {
        "title": title,
        "version": _version(),
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "start_iso": lo.isoformat(),
        "end_iso": hi.isoformat(),
        "period_label": _label(lo, hi),
        "prev_label": _label(lo - (hi - lo), lo),
        "figures": figures,
        "quality": quality,
        "breakdowns": breakdowns,
        "breakdown_labels": BREAKDOWN_LABELS,
        "per_token": per_token,
        "page_units": page_units,
        "show": _figures.shown_in(page_units),
        **sections,
        # the line's emissions cover the requests with a carbon figure: it says that share
        "scope3": scope3_line(
            lo,
            hi,
            carbon_kg,
            by_key["cost_eur"].value,
            {**quality, "reported_share_percent": page_coverage["carbon_kg_co2e"]["share_percent"]},
            page_units.get("carbon", "kg CO2e"),
        ),
        "eur_per_energy_unit": eur_per_energy_unit or default_eur_per_energy_unit(),
        "factor_version": model.facts.get("factor_version") or _factor_version(),
        "sources": _sources(),
        "boundary": boundary.BOUNDARY,
        "renewable_label": boundary.RENEWABLE_LABEL,
        "coverage": page_coverage,
        "with_estimates": _model_sections.with_estimates(sections["estimates"], page_coverage, reported),
        "added_lines": lines_section(con, lines, market_factors),
    }
    return context, slots


def scope3_line(
    lo: datetime,
    hi: datetime,
    carbon_kg: Any,
    cost_eur: Any,
    quality: dict[str, Any],
    carbon_unit: str = "kg CO2e",
) -> dict[str, Any]:
    """A line for GHG Protocol Scope 3, category 1 (purchased goods and services).

    Emissions are shown in ``carbon_unit`` (the page's), spend exactly (:mod:`melious_impact.units`).
    """
    kg = float(carbon_kg or 0)
    share = quality.get("reported_share_percent")
    # rounded down: a share short of every request never reads 100.0%
    share_txt = f"{math.floor(10 * share) / 10:.1f}% of requests" if share is not None else "no requests"
    cost = units.money(cost_eur) if cost_eur is not None else "no billed spend"
    emissions = units.quantity(kg, "carbon_kg_co2e", units.unit_of("carbon_kg_co2e", carbon_unit))
    last = (hi - timedelta(microseconds=1)).date()
    line = (
        f"Scope 3 / Category 1 (purchased goods and services) | supplier: Melious (AI inference) | "
        f"period: {lo.date()} to {last} | emissions: {emissions} "
        f"({boundary.METHOD_SUMMARY}; covering {share_txt}) | "
        f"spend: {cost}"
    )
    return {"kg_co2e": kg, "line": line}


def _version() -> str:
    from melious_impact import __version__

    return __version__


def _factor_version() -> str:
    try:
        from melious_impact.model.factors import factor_version

        return factor_version()
    except Exception:  # the model part is optional: the report names what it could not read
        return "not available (the model part is not installed)"


def _sources() -> list[str]:
    """Source, year and licence of every shipped factor table (deduplicated)."""
    try:
        from melious_impact.model import factors
    except ImportError:
        return []
    found: list[str] = []

    def add(text: str) -> None:
        if text and text not in found:
            found.append(text)

    for getter in ("grid_intensity_table", "provider_table", "model_size_table"):
        try:
            df = getattr(factors, getter)()
        except Exception:
            continue
        cols = [c for c in ("source", "year", "licence") if c in df.columns]
        if "source" in cols:
            for rec in df[cols].drop_duplicates().head(20).to_dict("records"):
                add(", ".join(str(rec[c]) for c in cols if pd.notna(rec[c])))
    try:
        fit = factors.energy_fit()
        add(f"{fit.source}, {fit.year} ({fit.source_url})")
    except Exception:
        pass
    return found
