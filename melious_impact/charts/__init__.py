"""Altair charts of captured impact and billing: ``frame or store -> alt.Chart``.

Every function here aggregates first (in DuckDB) and hands Altair only the aggregate,
so a million request rows chart as fast as a thousand. Nothing is saved or shown: put
the chart in a notebook, call ``.save()``, or let :func:`melious_impact.report` embed it.

Functions over request rows (a ``DataFrame`` with the requests columns or an
``ImpactStore``) take optional ``start``/``end`` bounds, read as :mod:`melious_impact.periods`
says (``[start, end)`` in UTC; a date ``end`` counts its whole day):

- :func:`impact_over_time`: energy, carbon, water or cost per period, stacked by team.
- :func:`grid_intensity_by_hour`: grid g CO2e/kWh by location and UTC hour, cleanest hours marked
  (also takes ``IntensityModel.grid_profile()``).
- :func:`provider_renewables_pue`: energy-weighted renewable share and PUE per provider.
- :func:`efficiency_frontier`: cost against carbon per 1k tokens by model.

Functions over the model and forecast outputs:

- :func:`energy_per_1k_tokens`: from ``fit_intensity(df).table()``.
- :func:`forecast_chart`: from ``forecast(...)``, with history (and, with a budget, the budget chart).
- :func:`budget_chart`: from ``budget_outlook(...)``: one budget's running total, expected
  month end, interval and crossing date, the same numbers as the status table.
- :func:`scenario_savings`: from ``scenario(...)``.
- :func:`anomalies_chart`: from ``IntensityModel.anomalies(df)``.
"""

from __future__ import annotations

from melious_impact.charts.grid import grid_intensity_by_hour, provider_renewables_pue
from melious_impact.charts.impact import impact_over_time
from melious_impact.charts.intensity import efficiency_frontier, energy_per_1k_tokens
from melious_impact.charts.outlook import anomalies_chart, budget_chart, forecast_chart, scenario_savings

__all__ = [
    "anomalies_chart",
    "budget_chart",
    "efficiency_frontier",
    "energy_per_1k_tokens",
    "forecast_chart",
    "grid_intensity_by_hour",
    "impact_over_time",
    "provider_renewables_pue",
    "scenario_savings",
]
