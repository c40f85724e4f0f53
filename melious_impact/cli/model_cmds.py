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
