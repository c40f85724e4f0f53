"""``melious-impact report`` and ``melious-impact dashboard``: self-contained HTML pages."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from melious_impact.cli._options import add_period_arguments, add_store_argument


def _common(p: argparse.ArgumentParser) -> None:
    add_store_argument(p)
    add_period_arguments(p)
    p.add_argument(
        "--budgets",
        metavar="FILE",
        help="TOML or YAML budgets file (team -> metric -> amount); an optional [market] table in it "
        "gives market-based factors, as --market does",
    )
    p.add_argument(
        "--static", action="store_true", help="draw charts as inline SVG instead of interactive Vega"
    )


def _market(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--market",
        metavar="FILE",
        help="TOML/YAML file with a [market] table of supplier-specific g CO2e/kWh per provider "
        "(g_co2e_per_kwh, source, year): adds a market-based line beside the location-based figures "
        "(default: the [market] table of --budgets, if any)",
    )


def register(subparsers: Any) -> None:
    rp = subparsers.add_parser(
        "report",
        help="write a self-contained sustainability report (HTML, optionally PDF)",
        description="Write a sustainability report for a period: summary against the previous period, "
        "breakdowns, per-token intensity, forecast and budgets, scenarios, data quality, methodology.",
    )
    _common(rp)
    rp.add_argument(
        "--out", default="report.html", metavar="FILE", help="HTML file to write (default: report.html)"
    )
    rp.add_argument("--pdf", action="store_true", help="also write a PDF next to the HTML (needs Chromium)")
    rp.add_argument("--title", default="AI inference sustainability report", help="title of the report")
    rp.add_argument(
        "--line",
        dest="lines",
        action="append",
        default=[],
        choices=("offsite_water", "embodied_carbon"),
        help="add an optional line beyond the reported boundary, shown apart and never added to a "
        "total (repeatable): offsite_water (water of electricity generation), embodied_carbon "
        "(servers and GPUs, by energy share)",
    )
    _market(rp)
    rp.set_defaults(func=run)

    dp = subparsers.add_parser(
        "dashboard",
        help="write an index page and one page per team (self-contained HTML)",
        description="Write index.html and one team-<name>.html per team into a folder.",
    )
    _common(dp)
    dp.add_argument(
        "--out",
        default="dashboard",
        metavar="DIR",
        help="folder to write the pages into (default: dashboard)",
    )
    _market(dp)
    dp.set_defaults(func=run_dashboard)


def _open_store(path: str | None) -> Any:
    from melious_impact.cli._stores import open_existing

    return open_existing(path or None)


def _page_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options the report and the dashboard share (``_common`` and ``_market``)."""
    return {
        "start": args.start,
        "end": args.end,
        "budgets": args.budgets,
        "render": "static" if args.static else "interactive",
        "market_factors": args.market,
    }


def run(args: argparse.Namespace) -> int:
    from melious_impact.reporting.boundary import METHOD_NAME
    from melious_impact.reporting.report import report

    out = report(
        _open_store(args.store),
        Path(args.out),
        pdf=args.pdf,
        title=args.title,
        lines=args.lines,
        **_page_options(args),
    )
    print(out)
    print(
        f"carbon: GHG Protocol Scope 3 category 1, {METHOD_NAME}, location-based; see the methodology section"
    )
    if args.pdf:
        print(out.with_suffix(".pdf"))
    return 0


def run_dashboard(args: argparse.Namespace) -> int:
    from melious_impact.reporting.dashboard import dashboard

    index = dashboard(_open_store(args.store), Path(args.out), **_page_options(args))
    print(index)
    return 0
