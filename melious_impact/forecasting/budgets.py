"""Budgets per team and metric: spent so far, the period forecast, and the risk of overrun.

Budget file format (TOML or YAML, chosen by the extension ``.toml`` / ``.yaml`` / ``.yml``):
one table per team, one amount per metric, amounts in the metric's unit (``cost_eur`` in
euros, ``carbon_g_co2`` in grams, ...)::

    # budgets.toml
    [search]
    cost_eur = 500
    carbon_g_co2 = 20_000

    ["data platform"]
    energy_kwh = 120.5

    # budgets.yaml
    search:
      cost_eur: 500
      carbon_g_co2: 20000

The same file may carry market-based emission factors for the report's optional
market-based carbon line, in one ``[market]`` table per provider (not a team; read by
:func:`load_market`, never by the budgets)::

    [market.ovhcloud]
    g_co2e_per_kwh = 12.5
    source = "OVHcloud supplier-specific factor, contractual instruments"
    year = 2025

Amounts are kept as exact decimals. A budget applies to each period (month, quarter or
year) in full; the period is chosen when the status is computed.

Every view of a budget (the status table, the budget chart, the ``budgets`` command, the
dashboards) comes from one computation, :func:`budget_outlook`: its ``status`` frame is
what :func:`budget_status` returns, and its ``paths`` frame holds the running total day by
day (actual, then expected with its interval) whose last day is the ``forecast`` column and
whose first day above the budget is the ``crossing_date`` column.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from melious_impact.errors import ForecastError
from melious_impact.forecasting.backtest import choose
from melious_impact.forecasting.costs import DEFAULT_EUR_PER_ENERGY_UNIT, sum_decimal, to_decimal
from melious_impact.forecasting.daily import (
    COUNTED_METRICS,
    METRICS,
    daily_totals,
    local_dates,
    series_matrix,
)
from melious_impact.forecasting.forecast import check_level
from melious_impact.periods import DateLike
from melious_impact.periods import period as period_of

#: Periods accepted by :func:`budget_status` and their pandas period codes.
PERIODS = {"month": "M", "quarter": "Q", "year": "Y"}

BUDGET_COLUMNS = [
    "team",
    "metric",
    "period_start",
    "period_end",
    "as_of",
    "budget",
    "spent",
    "forecast",
    "forecast_low",
    "forecast_high",
    "p_exceed",
    "crossing_date",
    "method",
    "note",
    "spent_exact",
    "spent_covered_percent",
]

#: Columns of :attr:`BudgetOutlook.paths`: one row per (team, metric, day of the period up
#: to its end); ``kind`` is ``actual`` (spent, running total) or ``forecast`` (expected
#: running total, with the central ``level`` interval of the simulated running totals).
PATH_COLUMNS = ["team", "metric", "date", "kind", "cumulative", "low", "high"]


@dataclass(frozen=True)
class BudgetOutlook:
    """The one budget computation: the status table and the running totals behind it."""

    status: pd.DataFrame
    paths: pd.DataFrame
    level: float

    def path(self, team: str, metric: str) -> pd.DataFrame:
        """The running total of one budget (empty for a team without data)."""
        p = self.paths
        return p[(p["team"] == team) & (p["metric"] == metric)].reset_index(drop=True)

    def row(self, team: str, metric: str) -> pd.Series:
        """The status row of one budget (``KeyError`` if it is not budgeted)."""
        st = self.status
        match = st[(st["team"] == team) & (st["metric"] == metric)]
        if match.empty:
            raise KeyError(f"no {metric} budget for team {team!r}")
        return match.iloc[0]


def validate_budgets(budgets: Any, *, source: str = "budgets") -> dict[str, dict[str, Decimal]]:
    """``{team: {metric: Decimal}}`` from a mapping, or ``ValueError`` saying what is wrong."""
    if not isinstance(budgets, Mapping):
        raise ValueError(
            f"{source}: expected a mapping of team -> {{metric: amount}}, got {type(budgets).__name__}"
        )
    out: dict[str, dict[str, Decimal]] = {}
    for team, metrics in budgets.items():
        if not isinstance(team, str) or not team:
            raise ValueError(f"{source}: team names must be non-empty strings, got {team!r}")
        if not isinstance(metrics, Mapping) or not metrics:
            raise ValueError(
                f"{source}: team {team!r} needs a table of metric = amount (e.g. cost_eur = 500), got {metrics!r}"
            )
        out[team] = {}
        for metric, amount in metrics.items():
            if metric not in METRICS:
                raise ValueError(
                    f"{source}: team {team!r}: unknown metric {metric!r}; choose from {', '.join(METRICS)}"
                )
            value = None if isinstance(amount, bool) else to_decimal(amount)
            if value is None or value < 0:
                raise ValueError(
                    f"{source}: team {team!r}, {metric}: the budget must be a non-negative number, got {amount!r}"
                )
            out[team][metric] = value
    return out


def _read_file(path: str | Path) -> Any:
    """The parsed TOML or YAML file (``ValueError`` for a bad file, ``OSError`` passes through)."""
    p = Path(path)
    suffix = p.suffix.lower()
    text = p.read_text(encoding="utf-8")  # OSError (missing file) passes through as is
    if suffix == ".toml":
        try:
            return tomllib.loads(text, parse_float=Decimal)  # exact amounts, not binary floats
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{p}: not valid TOML: {exc}") from exc
    if suffix in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"{p}: not valid YAML: {exc}") from exc
        return {} if data is None else data
    raise ValueError(f"{p}: budget files must end in .toml, .yaml or .yml")


def split_market(data: Any, *, source: str = "budgets") -> tuple[Any, dict[str, Any] | None]:
    """The team tables of a budgets/config mapping and its optional ``market`` table.

    ``market`` is the table of market-based factors (one table per provider) unless every
    key in it is a metric name, in which case it is the budgets of a team called "market".
    """
    if not isinstance(data, Mapping) or "market" not in data:
        return data, None
    market = data["market"]
    if isinstance(market, Mapping) and market and set(market) <= set(METRICS):
        return data, None  # a team named "market"
    if (
        not isinstance(market, Mapping)
        or not market
        or not all(isinstance(v, Mapping) for v in market.values())
    ):
        raise ValueError(
            f"{source}: [market] needs one table per provider_id with g_co2e_per_kwh, source and year "
            "(e.g. [market.ovhcloud])"
        )
    teams = {k: v for k, v in data.items() if k != "market"}
    return teams, {str(k): dict(v) for k, v in market.items()}


def load_budgets(path: str | Path) -> dict[str, dict[str, Decimal]]:
    """Read a TOML or YAML budget file (format in the module doc) into ``{team: {metric: Decimal}}``.

    An optional ``[market]`` table (market-based factors, see :func:`load_market`) is not a
    team and is left out."""
    p = Path(path)
    teams, _ = split_market(_read_file(p), source=str(p))
    budgets = validate_budgets(teams, source=str(p))
    if not budgets:
        raise ValueError(f"{p}: no budgets in the file (expected one table per team)")
    return budgets


def load_market(path: str | Path) -> dict[str, dict[str, Any]] | None:
    """The ``[market]`` table of a budgets/config file, or ``None`` when it has none.

    One table per ``provider_id`` with ``g_co2e_per_kwh``, ``source``, ``year`` and optional
    ``low``/``high`` (numbers as floats). The report, the dashboards and their commands read
    it from the budgets file they are given and validate it
    (:func:`melious_impact.model.boundary_lines.market_factors`).
    """
    p = Path(path)
    _, market = split_market(_read_file(p), source=str(p))
    if market is None:
        return None
    return {
        provider: {k: float(v) if isinstance(v, Decimal) else v for k, v in entry.items()}
        for provider, entry in market.items()
    }


def period_bounds(as_of: pd.Timestamp, period: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last calendar day of the ``period`` that contains ``as_of``."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")
    p = as_of.to_period(PERIODS[period])
    return p.start_time.normalize(), p.end_time.normalize()


def _as_of_date(as_of: Any, tz: str) -> pd.Timestamp:
    ts = pd.Timestamp(as_of)
    if ts.tzinfo is not None:  # an instant: the calendar day it falls on in tz
        return pd.Timestamp(local_dates(pd.Series([ts]), tz).iloc[0])
    return ts.normalize()


def budget_status(
    df: Any,
    budgets: Mapping[str, Mapping[str, Any]] | str | Path,
    period: str = "month",
    as_of: Any = None,
    tz: str = "UTC",
    *,
    by: str = "team",
    level: float = 0.8,
    method: str = "auto",
    n_paths: int = 2000,
    seed: int = 0,
    eur_per_energy_unit: Decimal | str | int | float = DEFAULT_EUR_PER_ENERGY_UNIT,
    end: DateLike | None = None,
) -> pd.DataFrame:
    """Spent, forecast period total and overrun risk, one row per budgeted (team, metric).

    The ``status`` of :func:`budget_outlook` (same arguments); see there for the columns.
    """
    return budget_outlook(
        df,
        budgets,
        period,
        as_of,
        tz,
        by=by,
        level=level,
        method=method,
        n_paths=n_paths,
        seed=seed,
        eur_per_energy_unit=eur_per_energy_unit,
        end=end,
    ).status


def budget_outlook(
    df: Any,
    budgets: Mapping[str, Mapping[str, Any]] | str | Path,
    period: str = "month",
    as_of: Any = None,
    tz: str = "UTC",
    *,
    by: str = "team",
    level: float = 0.8,
    method: str = "auto",
    n_paths: int = 2000,
    seed: int = 0,
    eur_per_energy_unit: Decimal | str | int | float = DEFAULT_EUR_PER_ENERGY_UNIT,
    end: DateLike | None = None,
) -> BudgetOutlook:
    """Spent, forecast period total and overrun risk per budgeted (team, metric), with the
    running total day by day behind them (:class:`BudgetOutlook`).

    ``budgets``: ``{team: {metric: amount}}`` or a path to a budget file (:func:`load_budgets`).
    ``as_of``: the last day counted as spent (a date, or an instant read in ``tz``); default
    the last day with data. Data after it is ignored; days between the last data and a later
    ``as_of`` count as zero (no requests). The period containing ``as_of`` runs to its end.
    ``end``: only the rows captured before it are read, as if the data stopped there (the
    default ``as_of`` is then the last day with data before ``end``).

    Columns: ``team, metric, period_start, period_end, as_of, budget, spent`` (float; for
    ``cost_eur`` the exact ``Decimal`` is in ``spent_exact``), ``forecast`` (expected period
    total: spent + the mean of ``n_paths`` simulated futures of the remaining days),
    ``forecast_low/high`` (central ``level`` interval of the period total), ``p_exceed``
    (share of the simulated futures whose period total exceeds the budget), ``crossing_date`` (first day the actual, then expected,
    cumulative total exceeds the budget; NaT if it does not within the period), ``method``,
    ``note``, ``spent_covered_percent`` (the share of the team's requests in the period
    whose figure is in ``spent``, rounded down to one decimal: rows without reported impact
    or without a billed cost add nothing to it; NaN when it cannot be told). A budgeted
    team with no data gets spent 0, NaN forecasts and a note.
    Raises :class:`~melious_impact.errors.ForecastError` when there is no data at all and no
    ``as_of`` to place the period.
    """
    plan = load_budgets(budgets) if isinstance(budgets, (str, Path)) else validate_budgets(budgets)
    check_level(level)
    metrics = sorted({m for team in plan.values() for m in team}, key=METRICS.index)
    # One GROUP BY day x team in DuckDB gives the sums and the coverage counts; rows after
    # as_of are not read (a UTC bound safely past the local day's end, then the exact cut).
    day = None if as_of is None else _as_of_date(as_of, tz)
    bound = None if day is None else (day + pd.Timedelta(days=2)).tz_localize("UTC")
    if end is not None:
        stop = period_of(None, end).end
        bound = stop if bound is None or stop is None else min(stop, bound.to_pydatetime())
    totals = daily_totals(
        df, metrics, by=by, tz=tz, eur_per_energy_unit=eur_per_energy_unit, end=bound, counts=True
    )
    if day is None:
        if len(totals) == 0:
            raise ForecastError("no request rows: pass as_of= to place the budget period, or add data")
        day = pd.Timestamp(totals["date"].max())
    start, end = period_bounds(day, period)
    totals = totals[totals["date"] <= day]
    counts = totals if len(totals) else None
    rng = np.random.default_rng(seed)

    rows = []
    paths = []
    for team, team_budgets in plan.items():
        team_totals = totals[totals[by] == team]
        for metric, amount in team_budgets.items():
            base = {"team": team, "metric": metric, "period_start": start, "period_end": end, "as_of": day}
            series = series_matrix(team_totals, metric, by, end=day).get(team)
            in_period = team_totals[team_totals["date"] >= start]
            spent_exact = sum_decimal(in_period[metric]) if metric == "cost_eur" else None
            row, path = _status(series, amount, start, end, day, level, method, n_paths, rng)
            row.update(base)
            row["spent_exact"] = spent_exact
            row["spent_covered_percent"] = _covered_percent(counts, by, team, metric, start, day)
            rows.append(row)
            if len(path):
                paths.append(path.assign(team=team, metric=metric)[PATH_COLUMNS])
    status = pd.DataFrame(rows, columns=BUDGET_COLUMNS)
    path_frame = pd.concat(paths, ignore_index=True) if paths else pd.DataFrame(columns=PATH_COLUMNS)
    return BudgetOutlook(status, path_frame, level)


def _covered_percent(
    counts: pd.DataFrame | None, by: str, team: str, metric: str, start: pd.Timestamp, day: pd.Timestamp
) -> float:
    """Share (percent, rounded down to one decimal) of the team's requests in ``[start, day]``
    that carry ``metric``; 100 for a metric every request has; NaN when not known."""
    if metric not in COUNTED_METRICS:  # a figure a request may lack (no impact, no billing)
        return 100.0
    if counts is None or f"n_{metric}" not in counts.columns:
        return float("nan")
    sel = counts[(counts[by] == team) & (counts["date"] >= start) & (counts["date"] <= day)]
    total = float(sel["n_requests"].sum())
    if total <= 0:
        return float("nan")
    covered = sel[f"n_{metric}"]
    if covered.isna().any():
        return float("nan")
    return math.floor(1000.0 * float(covered.sum()) / total) / 10


def _path(dates: pd.DatetimeIndex, kind: str, cumulative: Any, low: Any, high: Any) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": dates,
            "kind": kind,
            "cumulative": np.asarray(cumulative, dtype="float64"),
            "low": np.asarray(low, dtype="float64"),
            "high": np.asarray(high, dtype="float64"),
        }
    )


def _status(
    series: pd.Series | None,
    budget: Decimal,
    start: pd.Timestamp,
    end: pd.Timestamp,
    day: pd.Timestamp,
    level: float,
    method: str,
    n_paths: int,
    rng: np.random.Generator,
) -> tuple[dict[str, Any], pd.DataFrame]:
    limit = float(budget)
    nan = float("nan")
    if series is None:
        return {
            "budget": limit, "spent": 0.0, "forecast": nan, "forecast_low": nan, "forecast_high": nan,
            "p_exceed": nan, "crossing_date": pd.NaT, "method": "", "note": "no data for this team",
        }, pd.DataFrame(columns=["date", "kind", "cumulative", "low", "high"])  # fmt: skip
    done = series[series.index >= start]
    idle = int((series.to_numpy()[::-1] != 0).argmax()) if series.any() else len(series)
    quiet = f"no requests in the last {idle} days before as_of (counted as zero)" if idle >= 7 else ""
    spent = float(done.sum())
    remaining = int((end - day).days)
    cumulative = done.cumsum()
    actual = _path(pd.DatetimeIndex(done.index), "actual", cumulative, cumulative, cumulative)
    crossing = cumulative.index[cumulative.to_numpy() > limit]
    if remaining == 0:
        return {
            "budget": limit, "spent": spent, "forecast": spent, "forecast_low": spent, "forecast_high": spent,
            "p_exceed": float(spent > limit), "crossing_date": crossing[0] if len(crossing) else pd.NaT,
            "method": "actual", "note": "period complete",
        }, actual  # fmt: skip
    choice = choose(series.to_numpy(), remaining, method)
    days = choice.model.simulate(remaining, n_paths, rng)
    # Expected days from the same (zero-clipped) paths as the quantiles and p_exceed, so
    # forecast, interval, probability and the running total describe one distribution.
    running = spent + np.cumsum(days, axis=1)  # n_paths x remaining: simulated running totals
    ahead = running.mean(axis=0)
    lo_q, hi_q = 0.5 - level / 2, 0.5 + level / 2
    future = _path(
        pd.date_range(day + pd.Timedelta(days=1), periods=remaining, freq="D"),
        "forecast",
        ahead,
        np.quantile(running, lo_q, axis=0),
        np.quantile(running, hi_q, axis=0),
    )
    # The table's numbers are read off the path: its last day, its first day above the budget.
    totals = running[:, -1]
    if len(crossing):
        when = crossing[0]
    else:
        over = np.flatnonzero(future["cumulative"].to_numpy() > limit)
        when = future["date"].iloc[int(over[0])] if len(over) else pd.NaT
    return {
        "budget": limit,
        "spent": spent,
        "forecast": float(future["cumulative"].iloc[-1]),
        "forecast_low": float(future["low"].iloc[-1]),
        "forecast_high": float(future["high"].iloc[-1]),
        "p_exceed": float(np.mean(totals > limit)),
        "crossing_date": when,
        "method": choice.method,
        "note": "; ".join(n for n in (choice.note, quiet) if n),
    }, pd.concat([actual, future], ignore_index=True)
