"""Model commands: ``intensity`` (the fitted per-token intensity table of a store)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

_STORE_HELP = "store folder or URI (default: $MELIOUS_IMPACT_HOME or the per-user data folder)"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "intensity",
        help="fit and print energy/carbon/water intensity per model, provider and location",
        description=(
            "Fit per-token energy (with 90% intervals), grid intensity and water factors on the "
            "store's reported requests and print one row per (model, provider_id, location)."
        ),
    )
    p.add_argument("--store", metavar="DIR", default=None, help=_STORE_HELP)
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


def run(args: argparse.Namespace) -> int:
    import pandas as pd

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
        shown = table.copy()
        for col in [c for c in shown.columns if c.startswith("kwh_per_1k")]:
            shown[col] = shown[col].map(lambda v: "" if pd.isna(v) else f"{v:.3e}")
        for col, digits in (("grid_g_per_kwh", 1), ("water_l_per_kwh", 3), ("pue", 2)):
            shown[col] = shown[col].round(digits)
        print(shown.to_string(index=False))
    if args.cleanest_hours:
        hours = model.cleanest_hours(args.cleanest_hours)
        print()
        if args.csv:
            hours.to_csv(sys.stdout, index=False)
        else:
            print(hours.round(1).to_string(index=False))
    return 0
