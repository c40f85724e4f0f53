"""Where and when electricity is clean: grid intensity by hour, renewables and PUE by provider."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import altair as alt
import pandas as pd

from melious_impact.charts._common import SCHEME, WIDTH, ChartLike, empty_chart, floats, tip
from melious_impact.charts.source import COUNT, Cube, connect, query

# Names a grid profile frame may use for its intensity column (the model's grid_profile).
_PROFILE_VALUE_COLUMNS = ("grid_g_per_kwh", "g_co2_per_kwh", "grid_g_co2_per_kwh", "intensity_g_per_kwh")


def grid_by_hour(
    data: Any, *, start: date | datetime | str | None = None, end: date | datetime | str | None = None
) -> pd.DataFrame:
    """``location``, ``hour`` (UTC), ``grid_g_per_kwh``, ``cleanest`` (the 3 lowest hours).

    ``data`` is either a fitted model or its ``grid_profile()`` (location, hour_utc,
    grid_g_per_kwh, optionally month, which is averaged over) or request rows, from
    which the implied intensity is carbon over energy per location and hour.
    """
    profile = data.grid_profile() if hasattr(data, "grid_profile") else data
    if isinstance(profile, pd.DataFrame) and "hour_utc" in profile.columns and "hour" not in profile.columns:
        profile = profile.rename(columns={"hour_utc": "hour"})
    if isinstance(profile, pd.DataFrame) and {"location", "hour"} <= set(profile.columns):
        if "observed" in profile.columns and profile["observed"].any():
            # Filled slots are the model's guesses: rank hours on what was measured.
            profile = profile[profile["observed"].astype(bool)]
        value = next((c for c in _PROFILE_VALUE_COLUMNS if c in profile.columns), None)
        if value is not None and "carbon_g_co2" not in profile.columns:
            df = (
                profile.assign(grid_g_per_kwh=profile[value].astype("float64"))
                .groupby(["location", "hour"], as_index=False)["grid_g_per_kwh"]
                .mean()
            )
            return _mark_cleanest(df)
    # by the hour of day: a cube sums days, so its rows are read again
    con = connect(data.rows if isinstance(data, Cube) else data, start=start, end=end)
    df = query(
        con,
        """
        SELECT location, hour, sum(carbon_g_co2) / nullif(sum(energy_kwh), 0) AS grid_g_per_kwh
        FROM facts WHERE impact_reported AND energy_positive AND carbon_g_co2 IS NOT NULL
        GROUP BY 1, 2 ORDER BY 1, 2
        """,
    )
    return _mark_cleanest(floats(df, ["grid_g_per_kwh"]).dropna(subset=["grid_g_per_kwh"]))


def _mark_cleanest(df: pd.DataFrame, n: int = 3) -> pd.DataFrame:
    df = df.copy()
    df["hour"] = df["hour"].astype(int)
    rank = df.groupby("location")["grid_g_per_kwh"].rank(method="first")
    df["cleanest"] = rank <= n
    return df.sort_values(["location", "hour"]).reset_index(drop=True)


def grid_intensity_by_hour(
    data: Any, *, start: date | datetime | str | None = None, end: date | datetime | str | None = None
) -> ChartLike:
    """Heat map of grid intensity (g CO2e/kWh) by location and UTC hour; dots mark the 3 cleanest hours."""
    df = grid_by_hour(data, start=start, end=end)
    if df.empty:
        return empty_chart("No reported energy to derive grid intensity from")
    base = alt.Chart(df).encode(
        x=alt.X("hour:O", title="Hour of day (UTC)"),
        y=alt.Y("location:N", title=None),
    )
    heat = base.mark_rect().encode(
        color=alt.Color("grid_g_per_kwh:Q", title="g CO2e/kWh", scale=alt.Scale(scheme="yelloworangered")),
        tooltip=[
            tip("location:N"),
            tip("hour:O", "Hour (UTC)"),
            tip("grid_g_per_kwh:Q", "Grid intensity (g CO2e/kWh)"),
            tip("cleanest:N", "Among the cleanest hours"),
        ],
    )
    dots = base.transform_filter("datum.cleanest").mark_point(
        shape="circle", filled=True, color="#1b4332", size=40
    )
    n_loc = df["location"].nunique()
    return alt.layer(heat, dots).properties(
        width=WIDTH, height=max(60, 22 * n_loc), title="Grid intensity by hour (dots: the 3 cleanest hours)"
    )


def provider_factors(
    data: Any, *, start: date | datetime | str | None = None, end: date | datetime | str | None = None
) -> pd.DataFrame:
    """Per provider: energy-weighted renewable share (%) and PUE, energy, requests."""
    con = connect(data, start=start, end=end)
    df = query(
        con,
        f"""
        SELECT provider_id,
               {COUNT} AS requests,
               sum(energy_kwh) AS energy_kwh,
               sum(renewable_energy) / nullif(sum(CASE WHEN has_renewable THEN energy_kwh END), 0)
                   AS renewable_percent,
               sum(pue_energy) / nullif(sum(CASE WHEN has_pue THEN energy_kwh END), 0) AS pue
        FROM facts WHERE impact_reported GROUP BY 1 ORDER BY 1
        """,
    )
    return floats(df, ["energy_kwh", "renewable_percent", "pue"])


def provider_renewables_pue(
    data: Any, *, start: date | datetime | str | None = None, end: date | datetime | str | None = None
) -> ChartLike:
    """Grid renewable share (%) and PUE by provider, both weighted by the energy each provider used.

    The share is that of the grid where the requests ran, not the supplier's certificates.
    """
    df = provider_factors(data, start=start, end=end)
    if df.empty:
        return empty_chart("No reported impact to compare providers on")
    base = alt.Chart(df).encode(
        y=alt.Y("provider_id:N", title=None),
        color=alt.Color("provider_id:N", legend=None, scale=alt.Scale(scheme=SCHEME)),
        tooltip=[
            tip("provider_id:N"),
            tip("requests:Q", format=","),
            tip("energy_kwh:Q", "Energy (kWh)"),
            tip("renewable_percent:Q", "Grid renewable share (%)"),
            tip("pue:Q", "PUE"),
        ],
    )
    renew = base.mark_bar().encode(
        x=alt.X("renewable_percent:Q", title="Grid renewable share (%)", scale=alt.Scale(domain=[0, 100]))
    )
    pue = base.mark_bar().encode(x=alt.X("pue:Q", title="PUE", scale=alt.Scale(zero=False)))
    rule = (
        alt.Chart(pd.DataFrame({"pue": [1.0]})).mark_rule(strokeDash=[3, 3], color="#555").encode(x="pue:Q")
    )
    height = max(60, 24 * len(df))
    return alt.hconcat(
        renew.properties(width=WIDTH // 2 - 30, height=height),
        alt.layer(pue, rule).properties(width=WIDTH // 2 - 30, height=height),
    ).properties(title="Grid renewable share and PUE by provider (energy-weighted)")
