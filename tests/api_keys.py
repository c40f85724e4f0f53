"""The keys of the objects the Melious API sends, as its documentation names them: the one
list the tests' own body and stream generators draw from (written from the API description,
not read from the package, so a renamed key in the parser shows up as a failing test).

Importable from any test: ``tests/`` is on ``sys.path`` through its ``conftest.py``.
"""

from __future__ import annotations

#: Keys of ``environment_impact``.
IMPACT_KEYS: tuple[str, ...] = (
    "energy_kwh",
    "carbon_g_co2",
    "water_liters",
    "renewable_percent",
    "pue",
    "provider_id",
    "location",
)
#: Keys of ``billing_cost``.
BILLING_KEYS: tuple[str, ...] = ("energy", "credits", "paid_with")
