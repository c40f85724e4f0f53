"""What the reported figures cover: the method name and the boundary statement, written once.

The report's methodology section, every dashboard page, the CLI and the docs page
(``docs/report.md``, kept equal to :func:`boundary_markdown` by a test) all read this
module, so the statement cannot say one thing in one place and another elsewhere.

Facts behind it (the Melious API): ``energy_kwh`` is the electricity of the compute that
served the request with the provider's PUE included; ``carbon_g_co2`` is that energy times
the grid intensity of the provider's country at the hour of the request (an hourly
national average); ``water_liters`` is the provider's cooling-water factor prorated per
kWh; ``renewable_percent`` is the renewable share of that grid at that moment.

Run ``python -m melious_impact.reporting.boundary`` to print the Markdown form.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The GHG Protocol calculation method the reported carbon follows (Scope 3, Category 1).
METHOD_NAME = "hybrid method"

#: One line naming the method, for the Scope 3 line and the CLI.
METHOD_SUMMARY = (
    "hybrid method: the supplier's per-request activity data (operational electricity, PUE included) "
    "times a location-based grid emission factor; not the supplier-specific method, which needs the "
    "supplier's cradle-to-gate product data"
)

#: Label of the energy-weighted ``renewable_percent`` figure wherever it is shown.
RENEWABLE_LABEL = "Grid renewable share"


@dataclass(frozen=True)
class BoundaryItem:
    """One point of the boundary statement: a short title and its plain-words text."""

    key: str
    title: str
    text: str


#: What lies outside the reported figures (each may be added only as a separate line).
OUTSIDE_BOUNDARY: tuple[str, ...] = (
    "embodied emissions of the hardware (manufacture, transport and end of life of servers, "
    "GPUs, network gear and buildings)",
    "training and fine-tuning of the models",
    "networking and data transfer outside the data centre, and the user's own devices",
    "idle, reserved or redundant capacity not attributed to a request",
    "water consumed to generate the electricity (off-site water)",
    "market-based instruments: renewable energy certificates, guarantees of origin and power "
    "purchase agreements of the supplier",
)

BOUNDARY: tuple[BoundaryItem, ...] = (
    BoundaryItem(
        "method",
        "Method",
        "GHG Protocol Scope 3, Category 1 (purchased goods and services), "
        f"{METHOD_NAME}: for each request Melious reports the operational electricity of the "
        "compute that served it (kWh, data-centre PUE included) and multiplies it by a grid "
        "emission factor. This is not the supplier-specific method, which would use the "
        "supplier's cradle-to-gate product data.",
    ),
    BoundaryItem(
        "location_based",
        "Location-based accounting",
        "Carbon uses the national average grid intensity of the country where the request ran, "
        "at the hour it ran. No market-based figure is reported unless you supply "
        "supplier-specific emission factors; it is then shown as a separate line.",
    ),
    BoundaryItem(
        "renewable",
        RENEWABLE_LABEL,
        "The renewable share is that of the grid at the place and hour of each request, "
        "weighted by energy: not the share of renewable electricity the supplier buys through "
        "certificates or contracts.",
    ),
    BoundaryItem(
        "water",
        "Water",
        "Water is the data centre's on-site cooling water (the provider's factor per kWh), "
        "not the water consumed to generate the electricity.",
    ),
    BoundaryItem(
        "outside",
        "Outside the boundary",
        "Not counted in any figure: " + "; ".join(OUTSIDE_BOUNDARY) + ".",
    ),
    BoundaryItem(
        "coverage",
        "Coverage",
        "Each total covers only the requests that carried the figure; the share of requests it "
        "covers is stated beside it. Requests without figures are counted in the data quality "
        "section, never silently dropped, and never added to the totals as zeros.",
    ),
)

#: How optional lines (off by default) relate to the reported figures.
OPTIONAL_LINES_NOTE = (
    "Optional lines (off by default) are shown apart from the reported figures, each with its "
    "source, year and interval; they are never added to the totals."
)


def boundary_text() -> str:
    """The boundary statement as plain text, one point per line (CLI, PDF text, logs)."""
    lines = [f"- {item.title}: {item.text}" for item in BOUNDARY]
    return "\n".join(["What the numbers cover", *lines, OPTIONAL_LINES_NOTE])


def boundary_markdown() -> str:
    """The boundary statement as Markdown (the docs page holds exactly this text)."""
    lines = [f"- **{item.title}.** {item.text}" for item in BOUNDARY]
    return "\n".join([*lines, "", OPTIONAL_LINES_NOTE])


if __name__ == "__main__":  # pragma: no cover - a helper to refresh the docs page
    print(boundary_markdown())
