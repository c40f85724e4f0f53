"""Units and number formats: one face for each number in the report, dashboards, charts and CLI.

Rules, stated once:

- **A readable unit per magnitude.** Energy in Wh / kWh / MWh, carbon in g / kg / t CO2e,
  water in mL / L / m³: the largest unit in which the value is at least 1. A page or a
  table picks one unit per quantity (:func:`choose`, from the largest value shown) so one
  quantity never appears in two units side by side.
- **One number format** (:func:`number`): thousands separators and three significant
  digits, trailing zeros dropped (``12.3``, ``1,230``, ``0.00123``); the D3 format of the
  same rule for charts is :data:`D3_NUMBER`. Counts are whole numbers (:func:`count`).
- **Money is exact** (:func:`money`): a ``Decimal`` rounded half-even to the cent, never
  through a float; amounts under a cent keep three significant digits (``0.00342 EUR``).
- **Shares are percentages** (:func:`percent`, :func:`probability`): ``87%``, not ``0.873``.
- **Dates without a midnight time** (:func:`when`): ``2026-10-31``, or
  ``2026-10-31 14:05 UTC`` for an instant.
- **People read labels, not column names** (:func:`label`, :func:`header`): ``Cost (EUR)``,
  never ``cost_eur``.

The exact value of every figure stays in the data (a page's ``data-value`` attributes, the
frames the functions return); these functions only say how it is shown.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

__all__ = [
    "D3_NUMBER",
    "KINDS",
    "MISSING",
    "Unit",
    "as_float",
    "choose",
    "count",
    "header",
    "label",
    "metric_quantity",
    "money",
    "number",
    "percent",
    "pick",
    "probability",
    "quantity",
    "show",
    "unit_of",
    "units_by_metric",
    "when",
]

#: What a missing value shows as.
MISSING = "–"
#: The chart (D3) format of :func:`number`: separators, 3 significant digits, zeros trimmed.
D3_NUMBER = ",.3~r"
_DIGITS = 3
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Unit:
    """A display unit: ``value_in_base * factor`` is the value in this unit."""

    quantity: str
    symbol: str
    factor: float

    def convert(self, value: Any) -> float | None:
        f = _float(value)
        return None if f is None else f * self.factor


# Each quantity's units from small to large; the base unit (the columns' unit) first with factor 1
# relative to the column unit named in METRIC_BASE.
_LADDERS: dict[str, tuple[Unit, ...]] = {
    # base: kWh
    "energy": (Unit("energy", "Wh", 1e3), Unit("energy", "kWh", 1.0), Unit("energy", "MWh", 1e-3)),
    # base: g CO2e
    "carbon": (
        Unit("carbon", "g CO2e", 1.0),
        Unit("carbon", "kg CO2e", 1e-3),
        Unit("carbon", "t CO2e", 1e-6),
    ),
    # base: L
    "water": (Unit("water", "mL", 1e3), Unit("water", "L", 1.0), Unit("water", "m³", 1e-3)),
}
_BASE = {"energy": "kWh", "carbon": "g CO2e", "water": "L"}

#: Column -> (quantity, factor from the column's unit to the quantity's base unit).
METRIC_BASE: dict[str, tuple[str, float]] = {
    "energy_kwh": ("energy", 1.0),
    "carbon_g_co2": ("carbon", 1.0),
    "carbon_kg_co2e": ("carbon", 1e3),
    "water_liters": ("water", 1.0),
    "water_m3": ("water", 1e3),
    "cost_eur": ("money", 1.0),
    "requests": ("count", 1.0),
    "input_tokens": ("count", 1.0),
    "output_tokens": ("count", 1.0),
}

#: Human labels of the columns people see in tables and on charts.
LABELS: dict[str, str] = {
    "energy_kwh": "Energy",
    "carbon_g_co2": "Carbon",
    "carbon_kg_co2e": "Carbon",
    "water_liters": "Water",
    "water_m3": "Water",
    "cost_eur": "Cost",
    "requests": "Requests",
    "errors": "Errors",
    "input_tokens": "Input tokens",
    "output_tokens": "Output tokens",
    "renewable_percent": "Grid renewable share",
    "carbon_share_percent": "Share of carbon",
    "pue": "PUE",
    "team": "Team",
    "model": "Model",
    "provider_id": "Provider",
    "location": "Location",
    "metric": "Metric",
    "period_start": "Period start",
    "period_end": "Period end",
    "as_of": "As of",
    "budget": "Budget",
    "spent": "Spent",
    "forecast": "Forecast",
    "forecast_low": "Low",
    "forecast_high": "High",
    "p_exceed": "Chance of overrun",
    "crossing_date": "Crossing date",
    "method": "Method",
    "note": "Note",
    "date": "Date",
    "first": "First day",
    "last": "Last day",
    "mean": "Expected",
    "low": "Low",
    "high": "High",
    "grid_g_per_kwh": "Grid intensity",
    "water_l_per_kwh": "Water per kWh",
    "n_requests": "Requests",
    "basis": "Basis",
    "captured_at": "Captured (UTC)",
    "reason": "Likely reason",
    "ratio": "Observed / expected",
    "scenario": "Scenario",
    "saving": "Saving",
    "wh": "Wh / 1k tokens",
    "hour_utc": "Hour (UTC)",
    "provider": "Provider",
}

_HEADER_UNITS: dict[str, str] = {
    "cost_eur": "EUR",
    "renewable_percent": "%",
    "carbon_share_percent": "%",
    "grid_g_per_kwh": "g CO2e/kWh",
    "water_l_per_kwh": "L/kWh",
}


def as_float(value: Any) -> float | None:
    """``value`` as a float, or None where ``float()`` cannot read it (``None`` included) or it is NaN."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _float(value: Any) -> float | None:
    """A figure to show: :func:`as_float`, except that booleans and text are not figures."""
    return None if isinstance(value, bool | str) else as_float(value)


def metric_quantity(column: str) -> str | None:
    """``energy``, ``carbon``, ``water``, ``money`` or ``count`` for a metric column (else None)."""
    found = METRIC_BASE.get(column)
    return found[0] if found else None


def pick(quantity: str, magnitude: Any) -> Unit:
    """The largest unit of ``quantity`` in which ``magnitude`` (in the base unit) is at least 1."""
    ladder = _LADDERS.get(quantity)
    if ladder is None:
        raise ValueError(f"quantity must be one of {', '.join(_LADDERS)}; got {quantity!r}")
    f = abs(_float(magnitude) or 0.0)
    if f == 0:
        return next(u for u in ladder if u.factor == 1.0)
    best = ladder[0]
    for unit in ladder:
        if f * unit.factor >= 1 - 1e-12:
            best = unit
    return best


def choose(column: str, values: Iterable[Any]) -> Unit | None:
    """One unit for every value of a column (from the largest), or ``None`` if the column
    has no unit ladder (money, counts, shares)."""
    found = METRIC_BASE.get(column)
    if found is None or found[0] not in _LADDERS:
        return None
    q, to_base = found
    biggest = max((abs(f) for v in values if (f := _float(v)) is not None), default=0.0)
    return _in_column_unit(pick(q, biggest * to_base), to_base)


def _in_column_unit(unit: Unit, to_base: float) -> Unit:
    """The same unit, with its factor applied to values in the column's own unit."""
    return Unit(unit.quantity, unit.symbol, unit.factor * to_base)


def unit_of(column: str, symbol: str) -> Unit:
    """The named unit (e.g. ``"kg CO2e"``) for values of ``column``."""
    q, to_base = METRIC_BASE[column]
    for unit in _LADDERS[q]:
        if unit.symbol == symbol:
            return _in_column_unit(unit, to_base)
    raise ValueError(f"{symbol!r} is not a unit of {q}")


def number(value: Any, digits: int = _DIGITS) -> str:
    """Thousands separators and ``digits`` significant digits, trailing zeros dropped."""
    if value is None:
        return MISSING
    try:
        d = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    except (TypeError, ValueError, InvalidOperation):
        return MISSING
    if not d.is_finite():
        return MISSING
    if d == 0:
        return "0"
    exp = d.adjusted() - digits + 1
    rounded = d.quantize(Decimal(1).scaleb(exp), rounding=ROUND_HALF_EVEN)
    text = f"{rounded:,f}" if exp < 0 else f"{rounded:,.0f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def count(value: Any) -> str:
    """A whole number with thousands separators."""
    f = _float(value)
    return MISSING if f is None else f"{round(f):,}"


def money(value: Any, currency: str = "EUR") -> str:
    """An exact amount: half-even to the cent; under a cent, three significant digits."""
    if value is None:
        return MISSING
    if not isinstance(value, Decimal):
        f = _float(value)
        if f is None:
            return MISSING
        value = Decimal(repr(f))
    if not value.is_finite():
        return MISSING
    if value != 0 and abs(value) < _CENT:
        return f"{number(value)} {currency}".strip()
    return f"{value.quantize(_CENT, rounding=ROUND_HALF_EVEN):,f} {currency}".strip()


def percent(value_percent: Any) -> str:
    """A share already in percent (0-100): ``87%``; one decimal near 0 and 100 (``0.4%``)."""
    f = _float(value_percent)
    if f is None:
        return MISSING
    if 0 < abs(f) < 0.1:
        # Never print a share that is not zero as 0%.
        return "<0.1%" if f > 0 else "-<0.1%"
    if 99 < abs(f) < 100:
        # Truncated toward zero, so a share short of all its requests never reads 100%.
        return f"{math.trunc(f * 10) / 10:.1f}%"
    if 0 < abs(f) < 1:
        return f"{f:.1f}%"
    return f"{f:.0f}%"


def covered_share(share: Any) -> str:
    """The share (0-1) of the whole a figure covers, as ``98.6%``: one decimal, rounded down,
    so a share short of the whole never reads 100%."""
    f = _float(share)
    if f is None:
        return MISSING
    return f"{math.floor(1000.0 * f) / 10:.1f}%"


def probability(p: Any) -> str:
    """A probability (0-1) as a percentage: ``0.873`` -> ``87%``."""
    f = _float(p)
    return MISSING if f is None else percent(100 * f)


def when(value: Any) -> str:
    """A date as ``YYYY-MM-DD``; an instant that is not a UTC midnight as ``YYYY-MM-DD HH:MM UTC``."""
    if value is None:
        return MISSING
    if isinstance(value, datetime):
        if value != value:  # NaT
            return MISSING
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        if (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
            return str(value.strftime("%Y-%m-%d"))
        return str(value.strftime("%Y-%m-%d %H:%M UTC"))
    if isinstance(value, date):
        return value.isoformat()
    try:
        import pandas as pd

        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        return str(value)
    if ts is pd.NaT or ts != ts:
        return MISSING
    return when(ts.to_pydatetime())


def quantity(value: Any, column: str, unit: Unit | None = None) -> str:
    """A value of a metric column with its unit: ``12.3 kg CO2e``, ``0.19 EUR``, ``1,204 requests``.

    ``unit`` (from :func:`choose`) keeps one unit across a table; by default the value's own.
    """
    q = metric_quantity(column)
    if q == "money":
        return money(value)
    if q == "count":
        return f"{count(value)} {LABELS.get(column, column).lower()}"
    if q is None:
        return number(value)
    u = unit or choose(column, [value])
    assert u is not None
    return f"{number(u.convert(value))} {u.symbol}"


def label(column: str) -> str:
    """A person's name for a column: ``cost_eur`` -> ``Cost``, ``p_exceed`` -> ``Chance of overrun``."""
    if column in LABELS:
        return LABELS[column]
    words = column.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def header(column: str, unit: Unit | str | None = None) -> str:
    """A column header with its unit: ``Cost (EUR)``, ``Carbon (kg CO2e)``, ``Requests``."""
    symbol = unit.symbol if isinstance(unit, Unit) else unit
    if symbol is None:
        found = METRIC_BASE.get(column)
        if found is not None and found[0] in _LADDERS:
            symbol = _BASE[found[0]] if found[1] == 1.0 else unit_of(column, _column_symbol(column)).symbol
        else:
            symbol = _HEADER_UNITS.get(column)
    return f"{label(column)} ({symbol})" if symbol else label(column)


def _column_symbol(column: str) -> str:
    return {"carbon_kg_co2e": "kg CO2e", "water_m3": "m³"}.get(column, "")


#: How a table column is shown (:func:`show`): ``qty`` is a metric column in a given unit,
#: ``amount`` a value in the unit of the row's metric, ``metric`` a metric's name (its label),
#: ``pct`` a share in percent (0-100), ``prob`` a probability (0-1), ``date`` a date or instant.
KINDS = ("text", "int", "num", "money", "pct", "prob", "date", "metric", "qty", "amount")


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return False
    try:
        return bool(value != value)  # NaN, NaT
    except (TypeError, ValueError):
        return False


def show(value: Any, kind: str, unit: Unit | None = None, metric: str | None = None) -> str:
    """One table cell as people read it (the same rules on pages and in the terminal)."""
    if _is_missing(value):
        return MISSING
    if kind == "text":
        return str(value)
    if kind == "int":
        return count(value)
    if kind == "money":
        return money(value)
    if kind == "pct":
        return percent(value)
    if kind == "prob":
        return probability(value)
    if kind == "date":
        return when(value)
    if kind == "metric":
        return label(str(value))
    if kind == "qty" and unit is not None:
        return number(unit.convert(value))
    if kind == "amount" and metric is not None:
        return quantity(value, metric, unit)
    return number(value)


def units_by_metric(
    rows: Iterable[tuple[str, Iterable[Any]]], page: dict[str, str] | None = None
) -> dict[str, Unit | None]:
    """One unit per metric for ``(metric, values)`` pairs: the page's unit of its quantity if
    given, else one chosen from the largest of its values (so a table never mixes units)."""
    values: dict[str, list[Any]] = {}
    for metric, vs in rows:
        values.setdefault(metric, []).extend(vs)
    out: dict[str, Unit | None] = {}
    for metric, vs in values.items():
        q = metric_quantity(metric)
        if q is None:
            continue
        out[metric] = unit_of(metric, page[q]) if page and q in page else choose(metric, vs)
    return out
