"""Forecasts of cost and impact per team, budgets, and pricing of planned work.

Modules: ``daily`` (daily totals in a time zone), ``models`` (ETS, seasonal naive, short
histories), ``backtest`` (model choice per series), ``forecast`` (``mi.forecast``),
``budgets`` (``mi.budget_status``, ``mi.load_budgets``), ``costs`` (the one definition of
``cost_eur``, ``mi.cost_of``), ``catalogue`` (the priced model list).

The public function ``melious_impact.forecast`` shares its name with this package. Python
sets the package as the attribute ``melious_impact.forecast`` whenever any module in it
is imported, which would shadow the lazily exported function; so the package module
itself is made callable and forwards to :func:`melious_impact.forecast.forecast.forecast`.
``mi.forecast(df, ...)`` therefore works whatever was imported first.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from melious_impact.forecast.forecast import forecast

        return forecast(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
