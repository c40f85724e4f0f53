"""``melious-impact forecast`` and ``melious-impact budgets``: forecasts and budget status."""

from __future__ import annotations

import argparse
from typing import Any

from melious_impact.cli._options import add_rate_argument, add_store_argument
from melious_impact.cli._text import print_aligned
from melious_impact.forecasting.daily import METRICS


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
    add_store_argument(parser)
    parser.add_argument(
        "--tz", default="UTC", help="time zone of the calendar days, IANA name (default: %(default)s)"
    )
    add_rate_argument(parser)


def _load(store: str | None) -> Any:
    from melious_impact.cli._stores import open_existing

    # the store itself: forecasts and budgets sum its rows per day in DuckDB
    return open_existing(store)


def print_table(frame: Any, columns: list[tuple[str, str]], metric: str | None = None) -> None:
    """A plain aligned text table (no optional dependency for a terminal print).

    ``columns``: (frame column, kind of :func:`melious_impact.units.show`). Headers are
    labels, amounts carry one unit per metric (the frame's ``metric`` column, else ``metric``).
    """
    from melious_impact import units

    amounts = [c for c, kind in columns if kind == "amount"]
    metrics = frame["metric"].astype(str) if "metric" in frame.columns else None
    pairs: list[tuple[str, Any]] = []
    if metrics is not None:
        pairs = [(str(m), frame.loc[metrics == m, c]) for m in metrics.unique() for c in amounts]
    elif metric is not None:
        pairs = [(metric, frame[c]) for c in amounts]
    per_metric = units.units_by_metric(pairs)
    headers = [units.label(c) for c, _ in columns]
    cells = []
    for _, row in frame.iterrows():
        m = str(row["metric"]) if metrics is not None else metric
        cells.append([units.show(row[c], kind, per_metric.get(m or ""), m) for c, kind in columns])
    print_aligned(headers, cells)


def run_forecast(args: argparse.Namespace) -> int:
    from melious_impact.forecasting.forecast import forecast

    fc = forecast(
        _load(args.store),
        metric=args.metric,
        by=args.by,
        horizon_days=args.horizon,
        level=args.level,
        tz=args.tz,
        method=args.method,
        eur_per_energy_unit=args.eur_per_energy_unit,
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
        print_table(
            totals.reset_index(),
            [
                (args.by, "text"),
                ("first", "date"),
                ("last", "date"),
                ("mean", "amount"),
                ("method", "text"),
                ("note", "text"),
            ],
            metric=args.metric,
        )
    else:
        print_table(
            fc.drop(columns=["metric"], errors="ignore"),
            [
                ("date", "date"),
                (args.by, "text"),
                ("mean", "amount"),
                ("low", "amount"),
                ("high", "amount"),
                ("method", "text"),
                ("note", "text"),
            ],
            metric=args.metric,
        )
    return 0


def run_budgets(args: argparse.Namespace) -> int:
    from melious_impact.forecasting.budgets import budget_status, load_budgets

    budgets = load_budgets(args.budgets)
    st = budget_status(
        _load(args.store),
        budgets,
        period=args.period,
        as_of=args.as_of,
        tz=args.tz,
        level=args.level,
        eur_per_energy_unit=args.eur_per_energy_unit,
    )
    from melious_impact.units import when

    print(
        f"period {when(st['period_start'].iloc[0])} to {when(st['period_end'].iloc[0])}, "
        f"as of {when(st['as_of'].iloc[0])}"
    )
    st = st.assign(
        spent=[x if x is not None else s for x, s in zip(st["spent_exact"], st["spent"], strict=True)]
    )
    print_table(
        st,
        [
            ("team", "text"),
            ("metric", "metric"),
            ("budget", "amount"),
            ("spent", "amount"),
            ("spent_covered_percent", "num"),
            ("forecast", "amount"),
            ("forecast_low", "amount"),
            ("forecast_high", "amount"),
            ("p_exceed", "prob"),
            ("crossing_date", "date"),
            ("note", "text"),
        ],
    )
    return 0
