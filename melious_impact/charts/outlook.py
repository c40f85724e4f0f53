"""Charts over the model and forecast outputs: forecast with band and budget, scenarios, anomalies."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import altair as alt
import pandas as pd

from melious_impact.charts._common import (
    HEIGHT,
    METRICS,
    NUMBER,
    SCHEME,
    WIDTH,
    ChartLike,
    empty_chart,
    floats,
    metric_title,
    require_columns,
    tip,
)
from melious_impact.charts.source import COUNT, connect, query

if TYPE_CHECKING:  # the forecast part is optional: imported only when a budget is charted
    from melious_impact.forecasting.budgets import BudgetOutlook


def daily_history(data: Any, metric: str, by: str | None = "team") -> pd.DataFrame:
    """Daily (UTC) totals of ``metric`` per ``by`` group: ``date``, ``by``, ``value``."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}")
    con = connect(data)
    value = COUNT if metric == "requests" else f"sum({metric})"
    group = f"{by}," if by else ""
    df = query(
        con,
        f"SELECT day AS date, {group} CAST({value} AS DOUBLE) AS value FROM facts GROUP BY ALL ORDER BY 1",
    )
    df["date"] = pd.to_datetime(df["date"])
    return df


def forecast_chart(
    fc: pd.DataFrame,
    *,
    history: Any = None,
    metric: str = "cost_eur",
    by: str = "team",
    group: str | None = None,
    budget: float | Decimal | BudgetOutlook | None = None,
    period: str = "month",
) -> ChartLike:
    """Forecast mean with its interval band and the history before it.

    ``fc`` is ``mi.forecast(...)``: ``date``, the ``by`` column, ``mean``, ``low``, ``high``.
    ``history`` (request rows or a store) adds the observed daily values.

    With ``budget`` (pick one series with ``group``) the chart is :func:`budget_chart`: the
    running total of the budget ``period`` against the budget, as
    :func:`melious_impact.forecasting.budgets.budget_outlook` computes it for the table, so
    the chart and the status table show the same month-end forecast and crossing date.
    ``budget`` is that outlook, or an amount (then the outlook is computed from ``history``).
    """
    require_columns(fc, ("date", "mean", "low", "high"), "forecast_chart")
    fc = floats(fc, ["mean", "low", "high"])
    fc["date"] = pd.to_datetime(fc["date"])
    if by in fc.columns and group is not None:
        fc = fc[fc[by] == group]
    if fc.empty:
        return empty_chart("No forecast")
    series = by if by in fc.columns else None
    if series is not None and fc[series].nunique() > 1 and budget is not None:
        raise ValueError("a budget line needs one series: pass group=... to pick it")
    if budget is not None:
        team = group if group is not None else str(fc[series].iloc[0]) if series else None
        if team is None:
            raise ValueError("a budget chart needs the team: pass group=... (and by=...)")
        if not isinstance(budget, int | float | Decimal):  # a BudgetOutlook
            return budget_chart(budget, team, metric)
        if history is None:
            raise ValueError("a budget amount needs history= (the rows the budget is spent on)")
        from melious_impact.forecasting.budgets import budget_outlook

        return budget_chart(
            budget_outlook(history, {team: {metric: budget}}, period=period, by=by), team, metric
        )
    hist = (
        daily_history(history, metric, series)
        if history is not None
        else pd.DataFrame(columns=["date", "value"])
    )
    if series is not None and group is not None and series in hist.columns:
        hist = hist[hist[series] == group]
    title = metric_title(metric)
    color = (
        alt.Color(f"{series}:N", scale=alt.Scale(scheme=SCHEME), title=series)
        if series
        else alt.value("#1f77b4")
    )
    x = alt.X("date:T", title="Date")
    band = (
        alt.Chart(fc)
        .mark_area(opacity=0.25)
        .encode(x=x, y=alt.Y("low:Q", title=title), y2="high:Q", color=color)
    )
    mean = (
        alt.Chart(fc)
        .mark_line(strokeDash=[5, 3])
        .encode(
            x=x,
            y="mean:Q",
            color=color,
            tooltip=[
                tip("date:T"),
                tip("mean:Q"),
                tip("low:Q"),
                tip("high:Q"),
            ],
        )
    )
    layers: list[alt.Chart] = [band, mean]
    if len(hist):
        layers.append(alt.Chart(hist).mark_line().encode(x=x, y="value:Q", color=color))
    return alt.layer(*layers).properties(width=WIDTH, height=HEIGHT, title=f"Forecast: {title}")


def budget_chart(outlook: BudgetOutlook, team: str, metric: str = "cost_eur") -> ChartLike:
    """One budget's running total over its period: spent so far, the expected total with its
    interval, the budget line and the crossing date.

    Everything is read from ``outlook`` (:func:`melious_impact.forecasting.budgets.budget_outlook`):
    the line ends at the status table's ``forecast`` and crosses the budget on its
    ``crossing_date``; nothing is recomputed here.
    """
    row = outlook.row(team, metric)
    path = floats(outlook.path(team, metric), ["cumulative", "low", "high"])
    if path.empty:
        return empty_chart(f"No {METRICS.get(metric, (metric,))[0].lower()} data for {team} in this period")
    path["date"] = pd.to_datetime(path["date"])
    pct = f"{round(100 * outlook.level)}%"
    title = (
        f"{metric_title(metric)}: {team}, running total from {pd.Timestamp(row['period_start']).date()} "
        f"to {pd.Timestamp(row['period_end']).date()}"
    )
    x = alt.X("date:T", title="Date")
    y_title = f"Running total: {metric_title(metric)}"
    actual = path[path["kind"] == "actual"]
    future = path[path["kind"] == "forecast"]
    if len(actual) and len(future):  # the expected line starts where the spent line ends
        future = pd.concat([actual.tail(1).assign(kind="forecast"), future], ignore_index=True)
    tooltip = [
        alt.Tooltip("date:T", title="Date"),
        alt.Tooltip("kind:N", title="Kind"),
        alt.Tooltip("cumulative:Q", title="Running total", format=NUMBER),
    ]
    layers: list[alt.Chart] = []
    if len(future):
        layers.append(
            alt.Chart(future)
            .mark_area(opacity=0.25, color="#1f77b4")
            .encode(x=x, y=alt.Y("low:Q", title=y_title), y2="high:Q")
        )
        band_tip = [
            *tooltip,
            alt.Tooltip("low:Q", title=f"low ({pct})", format=NUMBER),
            alt.Tooltip("high:Q", title=f"high ({pct})", format=NUMBER),
        ]
        layers.append(
            alt.Chart(future)
            .mark_line(strokeDash=[5, 3], color="#1f77b4")
            .encode(x=x, y=alt.Y("cumulative:Q", title=y_title), tooltip=band_tip)
        )
    if len(actual):
        layers.append(
            alt.Chart(actual)
            .mark_line(color="#333")
            .encode(x=x, y=alt.Y("cumulative:Q", title=y_title), tooltip=tooltip)
        )
    marks = pd.DataFrame({"budget": [float(row["budget"])]})
    layers.append(
        alt.Chart(marks)
        .mark_rule(color="#c0392b", strokeWidth=2)
        .encode(y="budget:Q", tooltip=[alt.Tooltip("budget:Q", title="Budget", format=NUMBER)])
    )
    if pd.notna(row["crossing_date"]):
        cross = pd.DataFrame({"date": [pd.Timestamp(row["crossing_date"])], "label": ["crossing date"]})
        layers.append(
            alt.Chart(cross)
            .mark_rule(color="#c0392b", strokeDash=[2, 2])
            .encode(x="date:T", tooltip=[alt.Tooltip("date:T", title="Crossing date")])
        )
    return alt.layer(*layers).properties(width=WIDTH, height=HEIGHT, title=title)


def _savings_frame(scenarios: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``scenario``, ``saving``, optional ``saving_low``/``saving_high`` for one metric.

    Accepts the long shape of ``mi.scenario`` (one row per metric: ``metric``, ``delta``,
    ``delta_low``, ``delta_high``) with a ``scenario`` label column added per call, or a
    wide frame with ``<metric>_delta`` columns.
    """
    label = next(
        (c for c in ("scenario_name", "scenario", "name", "label", "description") if c in scenarios.columns),
        None,
    )
    if "metric" in scenarios.columns and "delta" in scenarios.columns:
        rows = scenarios[scenarios["metric"] == metric]
        col = "delta"
        if label is None or label == "scenario":  # mi.scenario's own 'scenario' column is a value
            label = "scenario_name" if "scenario_name" in rows.columns else None
    else:
        rows = scenarios
        col = next((c for c in (f"{metric}_delta", f"delta_{metric}") if c in scenarios.columns), "")
    if label is None or not col:
        raise ValueError(
            "scenario_savings needs a scenario_name column and the metric/delta columns of mi.scenario "
            f"(or a {metric}_delta column); got {list(scenarios.columns)}"
        )
    names = rows[label].astype(str)
    delta = rows[col].astype("float64")
    low_col, high_col = f"{col}_low", f"{col}_high"
    has_interval = low_col in rows.columns and high_col in rows.columns
    lows = rows[low_col].astype("float64") if has_interval else None
    highs = rows[high_col].astype("float64") if has_interval else None
    if col == "delta" and {"delta_covered", "covered_share"} <= set(rows.columns):
        # A delta missing because some requests cannot be estimated: the delta over the
        # covered requests, its bar labelled with the share it covers (never a bare gap
        # nor a smaller number that looks complete).
        partial = delta.isna() & rows["delta_covered"].notna()
        share = rows["covered_share"].astype("float64")
        names = names.where(
            ~partial,
            names + " (over " + share.map(lambda x: f"{math.floor(1000 * x) / 10:.1f}%") + " of requests)",
        )
        delta = delta.where(~partial, rows["delta_covered"].astype("float64"))
        if (
            lows is not None
            and highs is not None
            and {"delta_covered_low", "delta_covered_high"} <= set(rows.columns)
        ):
            lows = lows.where(~partial, rows["delta_covered_low"].astype("float64"))
            highs = highs.where(~partial, rows["delta_covered_high"].astype("float64"))
    df = pd.DataFrame({"scenario": names, "saving": -delta})
    if lows is not None and highs is not None:
        # A delta's low end is the biggest saving: negating swaps the bounds.
        df["saving_low"] = -highs
        df["saving_high"] = -lows
    return df.reset_index(drop=True)


def scenario_savings(scenarios: pd.DataFrame, metric: str = "carbon_g_co2") -> ChartLike:
    """Savings (the negated delta) of ``metric`` per scenario, with its 90% interval.

    ``scenarios`` is one or more ``mi.scenario(...)`` results concatenated, each with a
    ``scenario_name`` column saying what it tried (e.g. its ``attrs["description"]``).
    """
    if scenarios.empty:
        return empty_chart("No scenarios")
    df = _savings_frame(scenarios, metric)
    has_interval = "saving_low" in df.columns
    base = alt.Chart(df).encode(y=alt.Y("scenario:N", title=None, sort="-x"))
    tooltip: list[Any] = [tip("scenario:N"), tip("saving:Q")]
    if has_interval:
        tooltip += [
            alt.Tooltip("saving_low:Q", format=NUMBER, title="90% low"),
            alt.Tooltip("saving_high:Q", format=NUMBER, title="90% high"),
        ]
    bars = base.mark_bar().encode(
        x=alt.X("saving:Q", title=f"Saving: {metric_title(metric)}"),
        color=alt.condition("datum.saving >= 0", alt.value("#2a9d8f"), alt.value("#e76f51")),
        tooltip=tooltip,
    )
    layers: list[alt.Chart] = [bars]
    if has_interval:
        layers.append(base.mark_rule(color="#333").encode(x="saving_low:Q", x2="saving_high:Q"))
    return alt.layer(*layers).properties(
        width=WIDTH, height=max(60, 28 * len(df)), title=f"Scenario savings: {metric_title(metric)}"
    )


def _field_type(values: pd.Series) -> str:
    if pd.api.types.is_datetime64_any_dtype(values):
        return "T"
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return "Q"
    return "N"


def anomalies_chart(anomalies: pd.DataFrame) -> ChartLike:
    """Flagged rows over time: reported against expected, coloured by the likely reason."""
    if anomalies.empty:
        return empty_chart("No anomalies flagged")
    require_columns(anomalies, ("captured_at",), "anomalies_chart")
    df = anomalies.copy()
    df["captured_at"] = pd.to_datetime(df["captured_at"], utc=True).dt.tz_localize(None)
    if "ratio" not in df.columns and {"observed", "expected"} <= set(df.columns):
        df["ratio"] = df["observed"].astype("float64") / df["expected"].astype("float64")
    y = next((c for c in ("ratio", "score", "energy_kwh") if c in df.columns), None)
    if y is None:
        raise ValueError(f"anomalies_chart needs a ratio, score or energy_kwh column; got {list(df.columns)}")
    reason = next((c for c in ("reason", "likely_reason", "kind") if c in df.columns), None)
    keep = [
        c
        for c in ("captured_at", y, reason, "score", "model", "provider_id", "location", "team")
        if c and c in df.columns
    ]
    keep = list(dict.fromkeys(keep))
    df = floats(df[keep], [y])
    chart: ChartLike = (
        alt.Chart(df)
        .mark_point(filled=True, size=45)
        .encode(
            x=alt.X("captured_at:T", title="Captured (UTC)"),
            y=alt.Y(
                f"{y}:Q",
                title="observed / expected" if y == "ratio" else y.replace("_", " "),
                scale=alt.Scale(type="log") if y == "ratio" else alt.Undefined,
            ),
            color=alt.Color(f"{reason}:N", title="likely reason", scale=alt.Scale(scheme=SCHEME))
            if reason
            else alt.value("#e76f51"),
            tooltip=[tip(f"{c}:{_field_type(df[c])}") for c in keep],
        )
        .properties(width=WIDTH, height=HEIGHT, title=f"Anomalies ({len(df)} flagged rows)")
    )
    return chart
