"""Charts over the model and forecast outputs: forecast with band and budget, scenarios, anomalies."""

from __future__ import annotations

from datetime import date
from typing import Any

import altair as alt
import pandas as pd

from melious_impact.charts._common import (
    HEIGHT,
    METRICS,
    SCHEME,
    WIDTH,
    ChartLike,
    empty_chart,
    floats,
    metric_title,
    require_columns,
)
from melious_impact.charts._source import connect, query


def daily_history(data: Any, metric: str, by: str | None = "team") -> pd.DataFrame:
    """Daily (UTC) totals of ``metric`` per ``by`` group: ``date``, ``by``, ``value``."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}")
    con = connect(data)
    value = "count(*)" if metric == "requests" else f"sum({metric})"
    group = f"{by}," if by else ""
    df = query(
        con,
        f"SELECT day AS date, {group} CAST({value} AS DOUBLE) AS value FROM facts GROUP BY ALL ORDER BY 1",
    )
    df["date"] = pd.to_datetime(df["date"])
    return df


def _cumulative(
    fc: pd.DataFrame, hist: pd.DataFrame, period_start: pd.Timestamp, period_end: pd.Timestamp | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    if period_end is None:
        period_end = period_start + pd.DateOffset(months=1)
    hist = hist[(hist["date"] >= period_start) & (hist["date"] < period_end)].sort_values("date").copy()
    hist["value"] = hist["value"].cumsum()
    base = float(hist["value"].iloc[-1]) if len(hist) else 0.0
    # The budget resets with the month: the running total stops at its end.
    fc = fc[fc["date"] < period_end].sort_values("date").copy()
    # Summing daily bounds assumes days move together (comonotone): a conservative band for
    # the running total, wider than an independence assumption would draw.
    fc["mean"] = base + fc["mean"].cumsum()
    fc["low"] = base + fc["low"].cumsum()
    fc["high"] = base + fc["high"].cumsum()
    return fc, hist


def forecast_chart(
    fc: pd.DataFrame,
    *,
    history: Any = None,
    metric: str = "cost_eur",
    by: str = "team",
    group: str | None = None,
    budget: float | None = None,
    period_start: date | str | None = None,
    period_end: date | str | None = None,
) -> ChartLike:
    """Forecast mean with its interval band, the history before it, and the budget line.

    ``fc`` is ``mi.forecast(...)``: ``date``, the ``by`` column, ``mean``, ``low``, ``high``.
    ``history`` (request rows or a store) adds the observed daily values. With ``budget``
    the chart shows the running total since ``period_start`` (default: the first day of
    the month the forecast starts in) until ``period_end`` (exclusive; default one month
    later) against the budget; pick one series with ``group``.
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
    hist = (
        daily_history(history, metric, series)
        if history is not None
        else pd.DataFrame(columns=["date", "value"])
    )
    if series is not None and group is not None and series in hist.columns:
        hist = hist[hist[series] == group]
    title = metric_title(metric)
    if budget is not None:
        start = (
            pd.Timestamp(period_start)
            if period_start is not None
            else fc["date"].min().to_period("M").to_timestamp()
        )
        end = pd.Timestamp(period_end) if period_end is not None else None
        fc, hist = _cumulative(fc, hist, start, end)
        title = f"{title}, running total since {start.date()}"
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
                alt.Tooltip("date:T"),
                alt.Tooltip("mean:Q", format=".4~g"),
                alt.Tooltip("low:Q", format=".4~g"),
                alt.Tooltip("high:Q", format=".4~g"),
            ],
        )
    )
    layers: list[alt.Chart] = [band, mean]
    if len(hist):
        layers.append(alt.Chart(hist).mark_line().encode(x=x, y="value:Q", color=color))
    if budget is not None:
        rule = pd.DataFrame({"budget": [float(budget)]})
        layers.append(
            alt.Chart(rule)
            .mark_rule(color="#c0392b", strokeWidth=2)
            .encode(y="budget:Q", tooltip=["budget:Q"])
        )
    return alt.layer(*layers).properties(width=WIDTH, height=HEIGHT, title=f"Forecast: {title}")


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
    df = pd.DataFrame({"scenario": rows[label].astype(str), "saving": -rows[col].astype("float64")})
    if f"{col}_low" in rows.columns and f"{col}_high" in rows.columns:
        # A delta's low end is the biggest saving: negating swaps the bounds.
        df["saving_low"] = -rows[f"{col}_high"].astype("float64")
        df["saving_high"] = -rows[f"{col}_low"].astype("float64")
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
    tooltip: list[Any] = ["scenario:N", alt.Tooltip("saving:Q", format=".4~g")]
    if has_interval:
        tooltip += [
            alt.Tooltip("saving_low:Q", format=".4~g", title="90% low"),
            alt.Tooltip("saving_high:Q", format=".4~g", title="90% high"),
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
            tooltip=[alt.Tooltip(c) for c in keep],
        )
        .properties(width=WIDTH, height=HEIGHT, title=f"Anomalies ({len(df)} flagged rows)")
    )
    return chart
