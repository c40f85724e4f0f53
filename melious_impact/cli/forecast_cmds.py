"""``melious-impact forecast`` and ``melious-impact budgets``: forecasts and budget status."""

from __future__ import annotations

import argparse
from decimal import Decimal
from typing import Any

from melious_impact.forecast.daily import METRICS


def run(args: argparse.Namespace) -> int:
    """Run the subcommand chosen on the command line (``forecast`` or ``budgets``)."""
    return int(args.func(args))


def register(subparsers: Any) -> None:
    fc = subparsers.add_parser(
        "forecast",
        help="forecast a daily metric per team, with prediction intervals",
        description=(
            "Forecast a daily metric per group for the days after the last day with data: "
            "ETS with weekly seasonality when it beats seasonal naive in a backtest, else seasonal naive."
        ),
    )
    _common(fc)
    fc.add_argument(
        "--metric", default="cost_eur", choices=METRICS, help="metric to forecast (default: %(default)s)"
    )
    fc.add_argument("--by", default="team", help="column to group by (default: %(default)s)")
    fc.add_argument("--horizon", type=int, default=28, help="days to forecast (default: %(default)s)")
    fc.add_argument(
        "--level", type=float, default=0.8, help="coverage of the prediction interval (default: %(default)s)"
    )
    fc.add_argument(
        "--method",
        default="auto",
        choices=("auto", "ets", "snaive"),
        help="model: auto picks per group by backtest (default: %(default)s)",
    )
    fc.add_argument(
        "--total",
        action="store_true",
        help="print one line per group with the horizon total instead of one line per day",
    )
    fc.set_defaults(func=run_forecast)

    bu = subparsers.add_parser(
        "budgets",
        help="spent, forecast and overrun probability against budgets",
        description="Compare spend and impact per team with the budgets in a TOML or YAML file.",
    )
    _common(bu)
    bu.add_argument("--budgets", required=True, help="budget file (.toml, .yaml or .yml), one table per team")
    bu.add_argument(
        "--period",
        default="month",
        choices=("month", "quarter", "year"),
        help="budget period (default: %(default)s)",
    )
    bu.add_argument(
        "--as-of",
        default=None,
        help="last day counted as spent, YYYY-MM-DD (default: the last day with data)",
    )
    bu.add_argument(
        "--level", type=float, default=0.8, help="coverage of the forecast interval (default: %(default)s)"
    )
    bu.set_defaults(func=run_budgets)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store", default=None, help="store folder (default: $MELIOUS_IMPACT_HOME or the user data folder)"
    )
    parser.add_argument(
        "--tz", default="UTC", help="time zone of the calendar days, IANA name (default: %(default)s)"
    )
    parser.add_argument(
        "--eur-per-energy-unit",
        default=None,
        help="euros per Melious energy unit for energy-paid requests (default: 0.0001)",
    )


def _load(store: str | None) -> Any:
    from melious_impact.cli._stores import open_existing

    return open_existing(store).to_pandas()


def _rate(args: argparse.Namespace) -> Any:
    from melious_impact.forecast.costs import DEFAULT_EUR_PER_ENERGY_UNIT

    return DEFAULT_EUR_PER_ENERGY_UNIT if args.eur_per_energy_unit is None else args.eur_per_energy_unit


def _fmt(value: Any) -> str:
    import pandas as pd

    if value is None or (isinstance(value, float) and value != value) or value is pd.NaT:
        return "-"
    if isinstance(value, Decimal):
        # Money: rounded to the cent from the exact sum (never through a float).
        return f"{value.quantize(Decimal('0.01')):,}"
    if isinstance(value, pd.Timestamp):
        return str(value.strftime("%Y-%m-%d"))
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def print_table(frame: Any, columns: list[str]) -> None:
    """A plain aligned text table (no optional dependency for a terminal print)."""
    cells = [[_fmt(v) for v in row] for row in frame[columns].itertuples(index=False)]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def run_forecast(args: argparse.Namespace) -> int:
    from melious_impact.forecast.forecast import forecast

    fc = forecast(
        _load(args.store),
        metric=args.metric,
        by=args.by,
        horizon_days=args.horizon,
        level=args.level,
        tz=args.tz,
        method=args.method,
        eur_per_energy_unit=_rate(args),
    )
    if len(fc) == 0:
        print("no request rows in the store: nothing to forecast")
        return 0
    if args.total:
        # Interval bounds do not add across days; the total shows the sum of daily means.
        totals = fc.groupby(args.by, sort=True).agg(
            first=("date", "min"),
            last=("date", "max"),
            mean=("mean", "sum"),
            method=("method", "first"),
            note=("note", "first"),
        )
        print_table(totals.reset_index(), [args.by, "first", "last", "mean", "method", "note"])
    else:
        print_table(fc, ["date", args.by, "mean", "low", "high", "method", "note"])
    return 0


def run_budgets(args: argparse.Namespace) -> int:
    from melious_impact.forecast.budgets import budget_status, load_budgets

    budgets = load_budgets(args.budgets)
    st = budget_status(
        _load(args.store),
        budgets,
        period=args.period,
        as_of=args.as_of,
        tz=args.tz,
        level=args.level,
        eur_per_energy_unit=_rate(args),
    )
    print(
        f"period {_fmt(st['period_start'].iloc[0])} .. {_fmt(st['period_end'].iloc[0])}, as of {_fmt(st['as_of'].iloc[0])}"
    )
    st = st.assign(
        spent=[x if x is not None else s for x, s in zip(st["spent_exact"], st["spent"], strict=True)]
    )
    print_table(
        st,
        [
            "team",
            "metric",
            "budget",
            "spent",
            "forecast",
            "forecast_low",
            "forecast_high",
            "p_exceed",
            "crossing_date",
            "note",
        ],
    )
    return 0
