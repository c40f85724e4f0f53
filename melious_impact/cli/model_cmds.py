"""Model commands: ``intensity`` (the fitted per-token intensity table of a store) and
``scenario`` (the same workload changed: moved, routed by flavor or shifted in time)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from melious_impact.cli._options import add_period_arguments, add_store_argument


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "intensity",
        help="fit and print energy/carbon/water intensity per model, provider and location",
        description=(
            "Fit per-token energy (with 90% intervals), grid intensity and water factors on the "
            "store's reported requests and print one row per (model, provider_id, location)."
        ),
    )
    add_store_argument(p)
    p.add_argument("--csv", action="store_true", help="print CSV instead of an aligned text table")
    p.add_argument(
        "--min-requests",
        type=int,
        default=30,
        metavar="N",
        help="rows a cell needs for its own fit; sparser cells are pooled (default 30)",
    )
    p.add_argument(
        "--cleanest-hours",
        type=int,
        default=0,
        metavar="N",
        help="also print the N cleanest UTC hours per location (default: off)",
    )
    p.set_defaults(func=run)
    _register_scenario(subparsers)


def _register_scenario(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "scenario",
        help="compare the workload as it ran with a changed one: energy, carbon, water and cost",
        description=(
            "Fit the intensity model on the store and re-estimate the period's requests as they ran "
            "and changed (moved to a provider/location, routed by flavor, shifted to clean hours), "
            "with 90%% intervals. Where some requests cannot be estimated, a total over every "
            "request is missing and the totals over the covered requests are printed with their share."
        ),
    )
    add_store_argument(p)
    add_period_arguments(p)
    p.add_argument("--provider", metavar="ID", help="move the work to this provider_id")
    p.add_argument("--location", metavar="WHERE", help="move the work to this location (FR, FRA, France)")
    p.add_argument(
        "--flavor",
        choices=("eco", "price", "speed"),
        help="route each request to the best observed cell of its model for this flavor",
    )
    p.add_argument(
        "--clean-hours", action="store_true", help="run each request at the cleanest UTC hour of its day"
    )
    p.add_argument(
        "--model",
        dest="models",
        action="append",
        metavar="NAME",
        help="only change requests of this model (repeatable; default: all)",
    )
    p.add_argument("--csv", action="store_true", help="print every column as CSV instead of a text table")
    p.set_defaults(func=run_scenario)


def run_scenario(args: argparse.Namespace) -> int:
    from melious_impact.cli._stores import open_existing
    from melious_impact.model.fit import fit_intensity
    from melious_impact.model.scenario import scenario

    store = open_existing(args.store)
    try:
        model = fit_intensity(store)
        rows = store.to_pandas(args.start, args.end)
    finally:
        store.close()
    if rows.empty:
        raise ValueError("no requests in this period")
    out = scenario(
        rows,
        model,
        provider_id=args.provider,
        location=args.location,
        flavor=args.flavor,
        shift_to_clean_hours=args.clean_hours,
        models=args.models,
    )
    if args.csv:
        out.to_csv(sys.stdout, index=False)
        return 0
    print(f"Scenario: {out.attrs.get('description', 'no change')}")
    print(scenario_text(out))
    return 0


def _known(value: Any) -> bool:
    return value is not None and value == value  # NaN != NaN


def _share(covered: int, total: int) -> str:
    from melious_impact import units

    return units.covered_share(covered / total) if total else "no requests"


def _cell(row: Any, side: str, metric: str, over: str) -> str:
    """A side's total; where it is missing for lack of estimates, the covered one and its share."""
    from melious_impact import units

    if _known(row[side]) or not over:
        return units.quantity(row[side], metric)
    return f"{units.quantity(row[f'{side}_covered'], metric)}{over}"


def scenario_text(out: Any) -> str:
    """The scenario table as people read it: each total with its unit, a missing full total
    replaced by the covered one with its share ("1.23 kg CO2e over 98.6%", of requests), and
    how many requests have no estimate."""
    import pandas as pd

    from melious_impact import units

    lines = []
    for _, r in out.iterrows():
        metric = str(r["metric"])
        over = ""
        missing = 0
        if _known(r.get("covered_share")) and float(r["covered_share"]) < 1.0:
            missing = int(r["requests"]) - int(r["covered_requests"])
            over = f" over {_share(int(r['covered_requests']), int(r['requests']))}"

        lo, hi = (
            ("delta_low", "delta_high") if _known(r["delta"]) else ("delta_covered_low", "delta_covered_high")
        )
        lines.append(
            {
                "Metric": units.label(metric),
                "Observed": units.quantity(r["observed"], metric),
                "Modelled as run": _cell(r, "baseline", metric, over),
                "Scenario": _cell(r, "scenario", metric, over),
                "Change (90% interval)": f"{_cell(r, 'delta', metric, over)} [{units.quantity(r[lo], metric)}, "
                f"{units.quantity(r[hi], metric)}]",
                "Without an estimate": f"{missing:,} requests" if missing else "none",
            }
        )
    table = str(pd.DataFrame(lines).to_string(index=False))
    if any(_known(s) and float(s) < 1.0 for s in out["covered_share"]):
        table += (
            "\nA total over every request is missing (-) where some requests cannot be estimated "
            "(a model of unknown size, a place without grid data, a model without a price): the "
            "figure over the requests estimated on both sides is shown instead, 'over' the share "
            "of requests it covers."
        )
    return table


def run(args: argparse.Namespace) -> int:

    from melious_impact.cli._stores import open_existing
    from melious_impact.model.fit import fit_intensity

    store = open_existing(args.store)
    try:
        model = fit_intensity(store, min_requests=args.min_requests)
    finally:
        store.close()
    table = model.table()
    if args.csv:
        table.to_csv(sys.stdout, index=False)
    else:
        print(_readable(table).to_string(index=False))
    if args.cleanest_hours:
        hours = model.cleanest_hours(args.cleanest_hours)
        print()
        if args.csv:
            hours.to_csv(sys.stdout, index=False)
        else:
            print(_readable(hours).to_string(index=False))
    return 0


def _readable(table: Any) -> Any:
    """The table as people read it: labels for headers, per-token energy in Wh, one number format
    (:mod:`melious_impact.units`); ``--csv`` keeps the exact columns."""
    from melious_impact import units

    shown = table.copy()
    names: dict[str, str] = {}
    for col in list(shown.columns):
        values = shown[col]
        if col.startswith("kwh_per_1k"):
            rest = col.removeprefix("kwh_per_1k_")
            side, _, bound = rest.partition("_")
            names[col] = f"Wh / 1k {side}" + (f" ({bound})" if bound else "")
            shown[col] = [units.number(None if v != v else v * 1000) for v in values]
            continue
        names[col] = units.header(col) if col in units.LABELS else units.label(col)
        if values.dtype.kind == "f":
            shown[col] = [units.number(v) for v in values]
    return shown.rename(columns=names)
