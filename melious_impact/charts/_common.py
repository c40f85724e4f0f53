"""Labels, units and small helpers shared by the chart modules."""

from __future__ import annotations

from typing import Any, Final, TypeAlias

import altair as alt
import pandas as pd

from melious_impact import units

#: metric column -> (title, unit). Units live in the names; the axis says them in full.
METRICS: dict[str, tuple[str, str]] = {
    "energy_kwh": ("Energy", "kWh"),
    "carbon_g_co2": ("Carbon", "g CO2e"),
    "water_liters": ("Water", "L"),
    "cost_eur": ("Cost", "EUR"),
    "input_tokens": ("Input tokens", "tokens"),
    "output_tokens": ("Output tokens", "tokens"),
    "requests": ("Requests", "requests"),
}

#: Tooltip number format: the D3 spelling of :func:`melious_impact.units.number`.
NUMBER: Final = units.D3_NUMBER

#: Colour scheme used for categorical series (colour-blind safe, 10 hues).
SCHEME: Final = "tableau10"

#: What the chart functions return: any top-level Altair chart.
ChartLike: TypeAlias = alt.Chart | alt.LayerChart | alt.HConcatChart | alt.VConcatChart | alt.FacetChart
WIDTH = 560
HEIGHT = 260


def tip(field: str, title: str | None = None, format: str | None = None) -> alt.Tooltip:
    """A tooltip with a person's label (``Provider``, not ``provider_id``); numbers in :data:`NUMBER`.

    ``field`` is ``name:type`` as in Altair (``"requests:Q"``, ``"model:N"``).
    """
    name, _, kind = field.partition(":")
    fmt = format if format is not None else (NUMBER if kind == "Q" else None)
    label = title if title is not None else units.label(name)
    return alt.Tooltip(field, title=label, format=fmt) if fmt else alt.Tooltip(field, title=label)


def check_metric(metric: str, allowed: tuple[str, ...]) -> None:
    if metric not in allowed:
        raise ValueError(f"metric must be one of {', '.join(allowed)}; got {metric!r}")


def metric_title(metric: str) -> str:
    """``Carbon (g CO2e)``: the label and unit of a metric column (:func:`melious_impact.units.header`)."""
    if metric in ("input_tokens", "output_tokens", "requests"):
        return units.label(metric)
    return units.header(metric)


def require_columns(df: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"{what} needs the columns {', '.join(missing)}; got {', '.join(map(str, df.columns))}"
        )


def as_frame(value: Any, method: str) -> pd.DataFrame:
    """Accept a frame, or an object with a ``method()`` returning one (e.g. a fitted model)."""
    if isinstance(value, pd.DataFrame):
        return value
    fn = getattr(value, method, None)
    if callable(fn):
        out = fn()
        if isinstance(out, pd.DataFrame):
            return out
    raise TypeError(
        f"expected a pandas DataFrame (or an object with .{method}()), got {type(value).__name__}"
    )


def floats(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Decimals and nullable numbers as plain floats: chart data is JSON, not accounting."""
    out = df.copy()
    for c in columns:
        if c in out.columns:
            out[c] = pd.to_numeric(out[c].astype("float64"), errors="coerce")
    return out


def empty_chart(message: str) -> alt.Chart:
    """A chart that says there is nothing to show, instead of an empty axis box."""
    chart: alt.Chart = (
        alt.Chart(pd.DataFrame({"message": [message]}))
        .mark_text(size=14, color="#666")
        .encode(text="message:N")
        .properties(width=WIDTH, height=60)
    )
    return chart
