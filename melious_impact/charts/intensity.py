"""Per-token intensities: energy per 1k tokens with intervals, and the cost/carbon frontier."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import altair as alt
import pandas as pd

from melious_impact.charts._common import (
    NUMBER,
    SCHEME,
    WIDTH,
    ChartLike,
    as_frame,
    empty_chart,
    floats,
    require_columns,
    tip,
)
from melious_impact.charts.source import COUNT, connect, query


def _long_intensity(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (cell, token kind) with estimate and interval, in Wh so axes read well."""
    parts = []
    for kind in ("input", "output"):
        col = f"kwh_per_1k_{kind}"
        part = table[["model", "provider_id", "location"]].copy()
        part["tokens"] = f"per 1k {kind} tokens"
        part["wh"] = table[col].astype("float64") * 1000
        part["wh_low"] = table[f"{col}_low"].astype("float64") * 1000
        part["wh_high"] = table[f"{col}_high"].astype("float64") * 1000
        part["basis"] = table["basis"] if "basis" in table.columns else "measured"
        part["n_requests"] = table["n_requests"] if "n_requests" in table.columns else 0
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out["cell"] = out["provider_id"].astype(str) + " · " + out["location"].astype(str)
    out["row"] = out["model"].astype(str) + "  " + out["cell"]
    # A log axis (models differ a hundredfold) has no place for zero or missing estimates,
    # e.g. output tokens of an embedding model.
    return out[out["wh"] > 0].reset_index(drop=True)


def energy_per_1k_tokens(table: Any) -> ChartLike:
    """Energy (Wh) per 1k input and per 1k output tokens by model x provider x location.

    ``table`` is ``fit_intensity(df).table()`` (or the fitted model itself). Points are
    the estimates, bars their 90% intervals; the shape says whether a cell was measured,
    pooled from related cells, or taken from public priors.
    """
    df = as_frame(table, "table")
    if df.empty:
        return empty_chart("No intensity estimates")
    from melious_impact.model.fit import TABLE_COLUMNS  # the model's table: charted only when fitted

    # the keys and per-token energies with their intervals (the other columns are optional)
    needed = tuple(
        c for c in TABLE_COLUMNS if c in ("model", "provider_id", "location") or c.startswith("kwh_per_1k")
    )
    require_columns(df, needed, "energy_per_1k_tokens")
    long = _long_intensity(df)
    # One row per (model, provider, location) that exists, rather than a band per model
    # with a slot for every provider: the chart stays as tall as the table it shows.
    base = alt.Chart().encode(
        y=alt.Y("row:N", title=None, sort="ascending"),
        color=alt.Color("cell:N", title="provider · location", scale=alt.Scale(scheme=SCHEME)),
    )
    # An interval reaching zero (or missing) has no place on a log axis: draw only the point.
    rule = (
        base.transform_filter(
            "isValid(datum.wh_low) && isValid(datum.wh_high) && datum.wh_low > 0 && datum.wh_high > 0"
        )
        .mark_rule(strokeWidth=2)
        .encode(
            x=alt.X(
                "wh_low:Q", title="Wh / 1k tokens (PUE included), log scale", scale=alt.Scale(type="log")
            ),
            x2="wh_high:Q",
        )
    )
    point = base.mark_point(filled=True, size=50).encode(
        x="wh:Q",
        shape=alt.Shape("basis:N", title="basis"),
        tooltip=[
            tip("model:N"),
            tip("provider_id:N"),
            tip("location:N"),
            tip("basis:N"),
            tip("n_requests:Q", format=","),
            tip("wh:Q", "Wh / 1k tokens"),
            alt.Tooltip("wh_low:Q", format=NUMBER, title="90% low"),
            alt.Tooltip("wh_high:Q", format=NUMBER, title="90% high"),
        ],
    )
    chart: ChartLike = (
        alt.layer(rule, point, data=long)
        .properties(width=WIDTH // 2 - 40, height=alt.Step(14))
        .facet(
            column=alt.Column("tokens:N", title=None, sort=["per 1k input tokens", "per 1k output tokens"])
        )
        .resolve_scale(x="independent")
        .properties(title="Energy per 1k tokens, with 90% intervals")
    )
    return chart


def model_efficiency(
    data: Any,
    *,
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
) -> pd.DataFrame:
    """Per model: cost and carbon per 1k tokens, requests, and whether it is on the frontier.

    Carbon per 1k tokens uses rows with reported impact only; cost per 1k tokens every
    billed row. A model is on the efficiency frontier when no other model is both cheaper
    and lower-carbon per token.
    """
    con = connect(data, start=start, end=end)
    df = query(
        con,
        f"""
        SELECT model,
               {COUNT} AS requests,
               1000 * sum(carbon_g_co2) / nullif(sum(CASE WHEN impact_reported AND carbon_g_co2 IS NOT NULL
                    THEN input_tokens + output_tokens END), 0) AS carbon_g_per_1k_tokens,
               1000 * CAST(sum(cost_eur) AS DOUBLE) / nullif(sum(CASE WHEN cost_eur IS NOT NULL
                    THEN input_tokens + output_tokens END), 0) AS eur_per_1k_tokens
        FROM facts GROUP BY model ORDER BY model
        """,
    )
    df = floats(df, ["carbon_g_per_1k_tokens", "eur_per_1k_tokens"]).dropna(
        subset=["carbon_g_per_1k_tokens", "eur_per_1k_tokens"]
    )
    df = df.sort_values(["eur_per_1k_tokens", "carbon_g_per_1k_tokens"]).reset_index(drop=True)
    cost = df["eur_per_1k_tokens"].to_numpy()
    carbon = df["carbon_g_per_1k_tokens"].to_numpy()
    # Pareto: dominated when another model is no worse on both and better on one (few models: O(n^2)).
    df["frontier"] = [
        not any(
            cost[j] <= cost[i] and carbon[j] <= carbon[i] and (cost[j] < cost[i] or carbon[j] < carbon[i])
            for j in range(len(df))
        )
        for i in range(len(df))
    ]
    return df


def efficiency_frontier(
    data: Any,
    *,
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
) -> ChartLike:
    """Cost (EUR) against carbon (g CO2e) per 1k tokens by model, with the frontier drawn."""
    df = model_efficiency(data, start=start, end=end)
    if df.empty:
        return empty_chart("No model with both cost and reported carbon")
    base = alt.Chart(df).encode(
        x=alt.X("eur_per_1k_tokens:Q", title="Cost per 1k tokens (EUR)", scale=alt.Scale(zero=False)),
        y=alt.Y(
            "carbon_g_per_1k_tokens:Q", title="Carbon per 1k tokens (g CO2e)", scale=alt.Scale(zero=False)
        ),
    )
    line = base.transform_filter("datum.frontier").mark_line(color="#2a9d8f", strokeDash=[4, 3])
    points = base.mark_circle(opacity=0.85).encode(
        size=alt.Size("requests:Q", title="requests"),
        color=alt.Color(
            "frontier:N",
            title="on frontier",
            scale=alt.Scale(domain=[True, False], range=["#2a9d8f", "#9aa0a6"]),
        ),
        tooltip=[
            tip("model:N"),
            tip("requests:Q", format=","),
            alt.Tooltip("eur_per_1k_tokens:Q", format=NUMBER, title="EUR / 1k tokens"),
            alt.Tooltip("carbon_g_per_1k_tokens:Q", format=NUMBER, title="g CO2e / 1k tokens"),
            tip("frontier:N", "On the frontier"),
        ],
    )
    labels = base.mark_text(align="left", dx=7, dy=-6, fontSize=10).encode(text="model:N")
    return alt.layer(line, points, labels).properties(
        width=WIDTH, height=300, title="Efficiency frontier: cost against carbon per 1k tokens"
    )
