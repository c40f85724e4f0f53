"""``forecast``: daily forecasts per team (or any group column) with prediction intervals.

Empty input is not an error: it returns an empty frame with the usual columns, so a
pipeline over many stores or filters does not need a special case. Bad arguments
(unknown metric, method, time zone, level outside (0, 1)) raise ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from melious_impact.forecasting.backtest import MAX_FIT_DAYS, Choice, choose
from melious_impact.forecasting.costs import DEFAULT_EUR_PER_ENERGY_UNIT
from melious_impact.forecasting.daily import check_metric, daily_totals, series_matrix
from melious_impact.periods import DateLike


def check_level(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(
            f"level is the interval's coverage, strictly between 0 and 1 (e.g. 0.8), got {level!r}"
        )
    return float(level)


def forecast_columns(group_col: str) -> list[str]:
    return ["date", group_col, "metric", "mean", "low", "high", "method", "note"]


def fit_series(
    series: dict[str, pd.Series],
    horizon: int,
    method: str,
    *,
    n_jobs: int = 1,
    max_fit_days: int = MAX_FIT_DAYS,
) -> dict[str, Choice]:
    """One :class:`Choice` per group (fitting in ``n_jobs`` processes when asked)."""
    names = list(series)
    arrays = [series[name].to_numpy(dtype=float) for name in names]
    fit_one = partial(choose, horizon=horizon, method=method, max_fit_days=max_fit_days)
    if n_jobs == 1 or len(names) < 2:
        choices: Iterable[Choice] = map(fit_one, arrays)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # Not "fork": forking a process that runs BLAS or store threads can deadlock.
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        workers = None if n_jobs < 1 else n_jobs
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            choices = list(pool.map(fit_one, arrays, chunksize=max(1, len(arrays) // (4 * (workers or 2)))))
    return dict(zip(names, choices, strict=True))


def forecast(
    df: Any,
    metric: str = "carbon_g_co2",
    by: str | None = "team",
    horizon_days: int = 28,
    level: float = 0.8,
    tz: str = "UTC",
    method: str = "auto",
    *,
    eur_per_energy_unit: Decimal | str | int | float = DEFAULT_EUR_PER_ENERGY_UNIT,
    n_jobs: int = 1,
    end: DateLike | None = None,
) -> pd.DataFrame:
    """Forecast a daily metric per group for the ``horizon_days`` after the last day with data.

    ``df``: a store (anything with ``connect()``) or request rows (a DataFrame); the daily
    series is one DuckDB ``GROUP BY`` day x group over either (:func:`~.daily.daily_totals`).
    ``metric``: ``energy_kwh``, ``carbon_g_co2``, ``water_liters``, ``input_tokens``,
    ``output_tokens``, ``requests`` or ``cost_eur`` (see :mod:`melious_impact.forecasting.costs`;
    ``eur_per_energy_unit`` values energy-paid requests). ``by``: the group column
    (``None``: one series for everything, group ``"all"``). Days are calendar days in ``tz``.
    ``method``: ``"auto"`` (the best ETS form, raw, log or Box-Cox scale, damped or not,
    when it beats seasonal naive in a rolling-origin backtest, else seasonal naive; intervals
    calibrated on the backtest), ``"ets"`` (the best ETS form, whatever the baseline does)
    or ``"snaive"`` (plain seasonal naive, uncalibrated). ``n_jobs`` > 1 fits groups in that many
    processes (``-1``: one per CPU). ``end``: only the rows captured before it are read (the
    history as it stood then; :mod:`melious_impact.periods`, a date counts its whole day).

    Returns one row per (date, group): ``date`` (naive local date), the group column,
    ``metric``, ``mean``, ``low`` and ``high`` (the central ``level`` prediction interval,
    clipped at zero), ``method`` used and ``note`` (short or degenerate histories, fallbacks;
    empty when there is nothing to say). ``attrs["backtest"]`` maps each group to the method
    used, the backtest mean absolute errors of the best ETS form and of seasonal naive (NaN
    when not run), the ``model`` form (e.g. ``"ETS(A,A,A) on the log scale"``) and
    ``interval_scale``: the served 80% interval's width over the model's own (1: unchanged;
    NaN when not calibrated).
    Every group is forecast from the same last day (the last day of any group), so a group
    that went quiet has its recent zero days in its history.
    """
    check_metric(metric)
    check_level(level)
    if not isinstance(horizon_days, (int, np.integer)) or horizon_days < 1:
        raise ValueError(f"horizon_days must be a positive whole number of days, got {horizon_days!r}")
    group_col = by or "group"
    totals = daily_totals(df, [metric], by=by, tz=tz, eur_per_energy_unit=eur_per_energy_unit, end=end)
    series = series_matrix(totals, metric, group_col)
    if not series:
        out = pd.DataFrame({c: pd.Series(dtype=object) for c in forecast_columns(group_col)})
        out["date"] = pd.Series(dtype="datetime64[ns]")
        for c in ("mean", "low", "high"):
            out[c] = pd.Series(dtype=float)
        out.attrs["backtest"] = {}
        return out

    choices = fit_series(series, int(horizon_days), method, n_jobs=n_jobs)
    last = max(s.index[-1] for s in series.values())
    dates = pd.date_range(last + pd.Timedelta(days=1), periods=int(horizon_days), freq="D")
    frames = []
    for name, choice in choices.items():
        mean, low, high = choice.model.forecast(int(horizon_days), level)
        frames.append(
            pd.DataFrame(
                {
                    "date": dates,
                    group_col: name,
                    "metric": metric,
                    "mean": mean,
                    "low": low,
                    "high": high,
                    "method": choice.method,
                    "note": choice.note,
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)[forecast_columns(group_col)]
    out.attrs["backtest"] = _backtest_summary(choices)
    return out


def _backtest_summary(choices: dict[str, Choice]) -> dict[str, dict[str, Any]]:
    # Plain dicts, not a DataFrame: pandas compares attrs when it combines frames, and a
    # frame in attrs makes that comparison raise.
    return {
        k: {
            "method": c.method,
            "mae_ets": c.mae_ets,
            "mae_snaive": c.mae_snaive,
            "model": c.form,
            "interval_scale": c.interval_scale,
        }
        for k, c in choices.items()
    }
