"""Export commands: ``export-focus`` (FinOps FOCUS 1.2 cost and usage table)."""

from __future__ import annotations

import argparse
from typing import Any

from melious_impact.cli._options import add_period_arguments, add_rate_argument, add_store_argument


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "export-focus",
        help="write billing as a FinOps FOCUS 1.2 cost and usage table (CSV or Parquet)",
        description=(
            "Aggregate captured rows into FOCUS rows (BilledCost, EffectiveCost, ChargePeriodStart, "
            "ResourceId, Tags, ...) per hour or day, or one per request, with exact euro costs."
        ),
    )
    add_store_argument(p)
    p.add_argument("output", metavar="FILE", help="file to write: .csv or .parquet")
    p.add_argument(
        "--granularity",
        choices=("hour", "day", "request"),
        default="day",
        help="charge period (default: day)",
    )
    add_rate_argument(p)
    add_period_arguments(p)
    p.add_argument(
        "--prices",
        metavar="FILE",
        default=None,
        help=(
            "published prices for ListUnitPrice/ContractedUnitPrice: a saved "
            "/v1/models?include_meta=true body, or JSON {model: {input, output}} in EUR per "
            "million tokens (without it the unit prices stay null)"
        ),
    )
    p.add_argument(
        "--unknown-cost",
        choices=("omit", "null"),
        default="omit",
        help=(
            "requests with no billing block: omit them (default; FOCUS allows neither a null "
            "nor a stand-in cost) or keep them with null costs and x_CostUnknown (outside FOCUS)"
        ),
    )
    p.add_argument("--team", action="append", dest="teams", help="only this team; repeatable")
    p.add_argument(
        "--billing-account-id", default="melious", help="FOCUS BillingAccountId (default: melious)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from melious_impact.cli._stores import open_existing
    from melious_impact.export.focus import export_focus
    from melious_impact.export.focus_prices import load_price_list

    prices = load_price_list(args.prices) if args.prices else None

    store = open_existing(args.store)
    try:
        # Aggregated in DuckDB month by month over the period's partitions (the rows never
        # load); a CSV file is written month by month.
        written = export_focus(
            store,
            args.output,
            start=args.start,
            end=args.end,
            teams=args.teams,
            granularity=args.granularity,
            eur_per_energy_unit=args.eur_per_energy_unit,
            billing_account_id=args.billing_account_id,
            prices=prices,
            unknown_cost=args.unknown_cost,
        )
    finally:
        store.close()
    left_out = written.unknown_cost_requests
    print(
        f"{written.rows} FOCUS rows from {written.requests + left_out} requests, "
        f"BilledCost {written.billed_cost} EUR -> {written.path}"
    )
    if left_out:
        print(f"{left_out} requests with no billing block (cost unknown) are not in the table")
    return 0
