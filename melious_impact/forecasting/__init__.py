"""Forecasts of cost and impact per team, budgets, and pricing of planned work.

Modules: ``daily`` (daily totals in a time zone), ``models`` (ETS, seasonal naive, short
histories), ``backtest`` (model choice per series), ``forecast`` (``mi.forecast``),
``budgets`` (``mi.budget_status``, ``mi.load_budgets``), ``costs`` (the one definition of
``cost_eur``, ``mi.cost_of``), ``catalogue`` (the priced model list).

The package is named ``forecasting`` so that ``melious_impact.forecast`` stays the public
function, whatever was imported first.
"""
