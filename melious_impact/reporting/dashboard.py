"""``mi.dashboard``: an index page and one self-contained page per team."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from melious_impact import charts
from melious_impact.charts.source import Cube, as_arrow, connect
from melious_impact.frames import is_store
from melious_impact.periods import Period
from melious_impact.reporting import _figures, _model_sections, boundary
from melious_impact.reporting._aggregate import daily_rows
from melious_impact.reporting._boundary_sections import coverage, lines_section
from melious_impact.reporting._html import RENDER_MODES, chart_slot, prefetch_bundle, render_page, slug
from melious_impact.reporting._sections import Section, guarded
from melious_impact.reporting._tables import table
from melious_impact.reporting.report import BREAKDOWN_COLUMNS

#: The report's breakdown columns, keyed by team, without the token counts.
TEAM_COLUMNS = [
    ("key", "Team", "text"),
    *(c for c in BREAKDOWN_COLUMNS[1:] if c[0] not in ("input_tokens", "output_tokens")),
]
BUDGET_COLUMNS = _model_sections.BUDGET_COLUMNS


@dataclass(frozen=True)
class TeamPage:
    team: str
    file: str


def team_files(teams: list[str]) -> dict[str, str]:
    """A unique, traversal-free file name per team (``team-<slug>.html``)."""
    used: set[str] = set()
    out: dict[str, str] = {}
    for team in teams:
        base = f"team-{slug(team)}"
        name, n = base, 2
        while name.lower() in used:
            name, n = f"{base}-{n}", n + 1
        used.add(name.lower())
        out[team] = f"{name}.html"
    return out


def dashboard(
    data: Any,
    out_dir: str | Path = "dashboard",
    *,
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    budgets: Any = None,
    render: str = "interactive",
    title: str = "AI inference impact by team",
    market_factors: Any = None,
) -> Path:
    """Write ``index.html`` and one ``team-<name>.html`` per team into ``out_dir``; return the index.

    Each team page has that team's impact and cost over time, its top models, the
    efficiency frontier of its models, its forecast, and its budget status when
    ``budgets`` (dict or TOML/YAML file, as for :func:`melious_impact.budget_status`) is given.
    Every page states the boundary of the figures (:mod:`melious_impact.reporting.boundary`)
    and the share of requests each summary figure covers. With market-based factors
    (``market_factors=`` as for :func:`melious_impact.report`, or a ``[market]`` table in
    the ``budgets`` file), the index adds the market-based carbon line beside them.
    """
    if render not in RENDER_MODES:
        raise ValueError(f"render must be one of {', '.join(RENDER_MODES)}; got {render!r}")
    market = _model_sections.market_from_budgets(budgets, market_factors)
    if market is not None:
        from melious_impact.model.boundary_lines import market_factors as load_market

        market = load_market(market)  # a bad table fails here, not on a page
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if render == "interactive":
        prefetch_bundle()
    rows = data if is_store(data) else as_arrow(data)  # a frame is converted once
    lo, hi = _figures.bounds(rows, start, end)
    # every page reads one cube of the rows (each team's page, its slice), not the rows
    facts = Cube(rows, lo, hi)
    con = connect(facts, start=lo, end=hi)
    teams = [str(r[0]) for r in con.sql("SELECT DISTINCT team FROM facts ORDER BY 1").fetchall()]
    files = team_files(teams)
    try:
        spec = _model_sections.budget_spec(budgets)
    except Exception as exc:  # a bad budget file fails the budget parts only
        spec = exc
    # Forecasts and budgets sum rows per day: pre-summed daily rows give the same answer
    # (request counts too: each daily row carries how many requests it stands for).
    daily = daily_rows(connect(facts, end=hi))
    status = _budget_status(daily, spec)
    fc = _forecast(daily)
    common = {
        "version": _version(),
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "period_label": Period(lo, hi).label(),
        "start_iso": lo.isoformat(),
        "end_iso": hi.isoformat(),
        "boundary": boundary.BOUNDARY,
    }
    figures = _figures.summary(facts, lo, hi)
    page_units = _figures.page_units(figures)  # one unit per quantity on the page
    index_charts: dict[str, Any] = {}
    if teams:
        index_charts["carbon_by_team"] = charts.impact_over_time(
            facts, "carbon_g_co2", start=lo, end=hi, unit=page_units.get("carbon")
        )
        index_charts["cost_by_team"] = charts.impact_over_time(facts, "cost_eur", start=lo, end=hi)
    render_page(
        "dashboard_index.html.j2",
        out / "index.html",
        charts=[chart_slot(c, n, i, render) for i, (n, c) in enumerate(index_charts.items())],
        mode=render,
        title=title,
        figures=figures,
        coverage=coverage(con),
        teams=table("teams", _figures.breakdown(con, "team"), TEAM_COLUMNS, key="key", page_units=page_units),
        links=[TeamPage(t, files[t]) for t in teams],
        budgets=status,
        budget_table=_budget_table(status, None, page_units),
        added_lines=lines_section(con, (), market),
        **common,
    )
    for team in teams:
        _team_page(out / files[team], team, facts.for_team(team), daily, lo, hi, status, fc, render, common)
    return out / "index.html"


def _team_page(
    path: Path,
    team: str,
    facts: Cube,
    daily: pd.DataFrame,
    lo: datetime,
    hi: datetime,
    status: Section,
    fc: Section,
    render: str,
    common: dict[str, Any],
) -> None:
    con = connect(facts, start=lo, end=hi)
    figures = _figures.summary(facts, lo, hi)
    page_units = _figures.page_units(figures)  # one unit per quantity on the page
    chart_map: dict[str, Any] = {
        "carbon_by_model": charts.impact_over_time(
            facts, "carbon_g_co2", by="model", start=lo, end=hi, unit=page_units.get("carbon")
        ),
        "cost_by_model": charts.impact_over_time(facts, "cost_eur", by="model", start=lo, end=hi),
        "frontier": charts.efficiency_frontier(facts, start=lo, end=hi),
        "providers": charts.provider_renewables_pue(facts, start=lo, end=hi),
    }
    team_daily = daily[daily["team"].astype(str) == team] if "team" in daily.columns else daily
    team_fc = _team_forecast(fc, team, team_daily, status)
    if team_fc is not None:
        chart_map["forecast"] = team_fc
    models = _figures.breakdown(con, "model")
    render_page(
        "dashboard_team.html.j2",
        path,
        charts=[chart_slot(c, n, i, render) for i, (n, c) in enumerate(chart_map.items())],
        mode=render,
        title=f"Team {team}",
        team=team,
        figures=figures,
        coverage=coverage(con),
        models=table(
            "top-models",
            models,
            [("key", "Model", "text"), *BREAKDOWN_COLUMNS[1:]],
            key="key",
            limit=10,
            page_units=page_units,
        ),
        budgets=status,
        budget_table=_budget_table(status, team, page_units),
        forecast=fc,
        **common,
    )


def _budget_status(history: pd.DataFrame, budgets: Any) -> Section:
    def build(sec: Section) -> None:
        if isinstance(budgets, Exception):
            raise budgets
        if budgets is None:
            sec.ok = False
            sec.note = "No budgets were given (pass budgets= or --budgets FILE)."
            return
        if history.empty:
            raise ValueError("no history")
        from melious_impact.forecasting.budgets import budget_outlook

        # One computation for every view: the table reads its status, the charts its paths.
        outlook = budget_outlook(history, budgets, period="month")
        sec.facts["outlook"] = outlook
        sec.facts["frame"] = outlook.status

    return guarded("budgets", "Budgets", build)


def _budget_table(status: Section, team: str | None, page_units: dict[str, str]) -> Any:
    frame = status.facts.get("frame")
    if frame is None:
        return None
    if team is not None:
        frame = frame[frame["team"] == team]
    return _model_sections.budget_table(frame, page_units)


def _forecast(history: pd.DataFrame) -> Section:
    def build(sec: Section) -> None:
        if history.empty:
            raise ValueError("no history")
        from melious_impact.forecasting.forecast import (
            forecast,  # here: a missing part fails this section only
        )

        sec.facts["frame"] = forecast(history, metric="cost_eur", by="team", horizon_days=28, level=0.8)

    return guarded("forecast", "Forecast", build)


def _team_forecast(fc: Section, team: str, rows: pd.DataFrame, status: Section) -> Any:
    outlook = status.facts.get("outlook")
    if outlook is not None:
        st = outlook.status
        if ((st["team"] == team) & (st["metric"] == "cost_eur")).any():
            # The budget chart reads the same computation as the status table beside it.
            return charts.budget_chart(outlook, team, "cost_eur")
    frame = fc.facts.get("frame")
    if frame is None or "team" not in frame.columns:
        return None
    frame = frame[frame["team"] == team]
    if frame.empty:
        return None
    return charts.forecast_chart(frame, history=rows, metric="cost_eur", by="team", group=team)


def _version() -> str:
    from melious_impact import __version__

    return __version__
