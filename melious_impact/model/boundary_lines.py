"""Optional lines beyond the reported boundary: off-site water, embodied carbon, market-based carbon.

The figures Melious reports stop at a stated boundary (see
:mod:`melious_impact.reporting.boundary`). A report may add, on request and apart from those
figures, lines for what lies outside it. Each line here is a pure function of an energy
aggregate and an explicit factor table, and returns an :class:`AddedLine` that carries its
value, interval, sources (with year and licence), the share of requests it covers and the
gaps it could not cover. A line never changes the reported totals, and a part it cannot
estimate is a listed gap, never a zero.

The input of every line is the same aggregate of rows with reported energy, one row per
``(provider_id, location)``::

    provider_id, location, requests, energy_kwh, it_energy_kwh, requests_without_pue,
    energy_without_pue_kwh

``energy_kwh`` is the reported energy (PUE included), ``it_energy_kwh`` the part with a
usable PUE divided by it, ``requests_without_pue`` and ``energy_without_pue_kwh`` the
requests whose PUE is missing and their energy. Optional ``carbon_g_co2`` and
``requests_with_carbon`` (the reported carbon) let the market-based line show the
location-based figure of the same requests beside it.

Lines:

- :func:`offsite_water_line`: ``energy_kwh`` x litres per kWh consumed to generate the
  country's electricity (locations resolved as in the rest of the model) (``offsite_water_electricity.csv``, EcoLogits after the WRI
  method, MPL-2.0). Interval: x0.5 to x2 of the factor, our assumption.
- :func:`embodied_carbon_line`: server and GPU manufacture, allocated by energy share: a
  request gets the share of the server's embodied emissions that its IT energy
  (``energy_kwh / pue``) is of the server's lifetime IT energy
  (``embodied_hardware.csv``). Interval: the extremes of each assumption.
- :func:`market_based_line`: ``energy_kwh`` x the supplier-specific factor (g CO2e/kWh) the
  user gives per provider, exactly; a provider without a factor is a gap.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from melious_impact.model.locations import resolve_location

#: Columns of the energy aggregate every line reads.
ENERGY_COLUMNS = (
    "provider_id",
    "location",
    "requests",
    "energy_kwh",
    "it_energy_kwh",
    "requests_without_pue",
    "energy_without_pue_kwh",
)

#: The lines a report can add by name (the market line is added when factors are given).
LINE_NAMES = ("offsite_water", "embodied_carbon")

HOURS_PER_YEAR = 8760.0


@dataclass(frozen=True)
class LineSource:
    """Where a factor of a line came from."""

    source: str
    year: int | None
    licence: str
    url: str = ""


@dataclass(frozen=True)
class Gap:
    """A part of the reported energy a line could not estimate, and why."""

    what: str
    requests: int
    energy_kwh: float
    reason: str


@dataclass(frozen=True)
class AddedLine:
    """One optional line: never part of the reported totals.

    ``value``/``low``/``high`` are in ``unit`` and are ``None`` when nothing could be
    estimated (never zero for lack of data). ``covered_requests`` of ``total_requests``
    (the rows with reported energy) enter the value; the rest are in ``gaps``.
    """

    key: str
    title: str
    unit: str
    value: float | None
    low: float | None
    high: float | None
    method: str
    interval: str
    sources: tuple[LineSource, ...]
    covered_requests: int
    total_requests: int
    gaps: tuple[Gap, ...] = ()
    details: tuple[dict[str, Any], ...] = field(default=())
    #: The reported location-based figure of the same covered requests (same unit), for
    #: reading the two side by side; ``None`` when not every covered request carries it.
    location_based: float | None = None

    @property
    def covered_share_percent(self) -> float | None:
        """Share of the requests with reported energy that this line covers."""
        return 100.0 * self.covered_requests / self.total_requests if self.total_requests else None

    @property
    def years(self) -> str:
        found = sorted({s.year for s in self.sources if s.year is not None})
        return ", ".join(str(y) for y in found) or "not given"


@dataclass
class _Tally:
    """A line summed group by group: estimate and interval over the covered requests, the gaps
    and one detail per covered group."""

    value: float = 0.0
    low: float = 0.0
    high: float = 0.0
    covered: int = 0
    gaps: list[Gap] = field(default_factory=list)
    details: list[dict[str, Any]] = field(default_factory=list)

    def add(self, n: int, value: float, low: float, high: float, detail: dict[str, Any]) -> None:
        self.value += value
        self.low += low
        self.high += high
        self.covered += n
        self.details.append(detail)

    def line(
        self,
        rows: pd.DataFrame,
        *,
        key: str,
        title: str,
        unit: str,
        method: str,
        interval: str,
        sources: tuple[LineSource, ...],
        location_based: float | None = None,
    ) -> AddedLine:
        """The line; value, interval and ``location_based`` are missing (not zero) when no
        request is covered."""
        has = self.covered > 0
        return AddedLine(
            key=key,
            title=title,
            unit=unit,
            value=self.value if has else None,
            low=self.low if has else None,
            high=self.high if has else None,
            method=method,
            interval=interval,
            sources=sources,
            covered_requests=self.covered,
            total_requests=int(rows["requests"].sum()),
            gaps=tuple(self.gaps),
            details=tuple(self.details),
            location_based=location_based if has else None,
        )


# ---------------------------------------------------------------------------------------
# Factor tables (read on demand; nothing global)


def _factor_file(name: str) -> Any:
    return resources.files("melious_impact").joinpath(f"data/factors/{name}")


def offsite_water_table() -> pd.DataFrame:
    """Litres of water consumed per kWh of grid electricity, by ISO-3166 alpha-2 country.

    Columns: location, iso3, water_l_per_kwh, water_low, water_high, unit, year, source,
    source_url, licence (MPL-2.0: derived from EcoLogits' ``electricity_mixes.csv``).
    """
    with _factor_file("offsite_water_electricity.csv").open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, comment="#", keep_default_na=False, na_values=[""])


def embodied_table() -> pd.DataFrame:
    """Embodied emissions of an 8-GPU inference server and the assumptions that spread them.

    One row per parameter (value, low, high, unit, year, source, source_url, licence, note).
    """
    with _factor_file("embodied_hardware.csv").open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh)


@dataclass(frozen=True)
class EmbodiedFactor:
    """Embodied g CO2e per kWh of server IT energy, with the extremes of the assumptions."""

    g_per_it_kwh: float
    low: float
    high: float
    sources: tuple[LineSource, ...]


def embodied_factor(table: pd.DataFrame | None = None) -> EmbodiedFactor:
    """Server plus GPU embodied emissions over the server's lifetime IT energy.

    ``(server + gpus x gpu) / (average IT power x lifetime)``; the low end takes the lowest
    emissions with the longest life and the highest power, the high end the opposite.
    """
    tab = embodied_table() if table is None else table
    p = {str(r["parameter"]): r for r in tab.to_dict("records")}
    missing = {
        "server_without_gpus",
        "gpu",
        "gpus_per_server",
        "lifetime_years",
        "average_it_power_kw",
    } - set(p)
    if missing:
        raise ValueError(f"embodied table lacks {', '.join(sorted(missing))}")

    def per_kwh(server: float, gpu: float, years: float, kw: float) -> float:
        kg = server + float(p["gpus_per_server"]["value"]) * gpu
        return 1000.0 * kg / (kw * years * HOURS_PER_YEAR)

    central = per_kwh(
        p["server_without_gpus"]["value"],
        p["gpu"]["value"],
        p["lifetime_years"]["value"],
        p["average_it_power_kw"]["value"],
    )
    low = per_kwh(
        p["server_without_gpus"]["low"],
        p["gpu"]["low"],
        p["lifetime_years"]["high"],
        p["average_it_power_kw"]["high"],
    )
    high = per_kwh(
        p["server_without_gpus"]["high"],
        p["gpu"]["high"],
        p["lifetime_years"]["low"],
        p["average_it_power_kw"]["low"],
    )
    sources = tuple(_sources(tab, "source", "year", "licence", "source_url"))
    return EmbodiedFactor(central, min(low, central), max(high, central), sources)


def _sources(tab: pd.DataFrame, src: str, year: str, licence: str, url: str) -> list[LineSource]:
    out: list[LineSource] = []
    for rec in tab[[src, year, licence, url]].drop_duplicates().to_dict("records"):
        y = rec[year]
        item = LineSource(
            str(rec[src]),
            int(y) if y is not None and not pd.isna(y) else None,
            str(rec[licence]),
            "" if pd.isna(rec[url]) else str(rec[url]),
        )
        if item not in out:
            out.append(item)
    return out


# ---------------------------------------------------------------------------------------
# Lines


def _check_energy(energy: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ENERGY_COLUMNS if c not in energy.columns]
    if missing:
        raise ValueError(f"the energy aggregate needs the columns {', '.join(missing)}")
    out = energy.copy()
    for col in ("requests", "requests_without_pue"):
        out[col] = pd.to_numeric(out[col]).fillna(0).astype("int64")
    for col in ("energy_kwh", "it_energy_kwh", "energy_without_pue_kwh"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
    return out[out["requests"] > 0]


def _norm(code: Any) -> str:
    return "" if code is None or (isinstance(code, float) and math.isnan(code)) else str(code).strip()


def offsite_water_line(energy: pd.DataFrame, table: pd.DataFrame | None = None) -> AddedLine:
    """Water consumed to generate the electricity the requests drew (litres).

    Locations are resolved as everywhere in the model
    (:func:`melious_impact.model.locations.resolve_location`): ``"AT"``, ``"AUT"``,
    ``"Austria"`` and ``"AT-9"`` are Austria and share its factor. A location that names no
    country (``"Austrai"``, ``"eu-west-1"``, none) and a country without a factor are gaps
    with their requests and kWh, never another country's factor.
    """
    rows = _check_energy(energy)
    tab = offsite_water_table() if table is None else table
    factors = {str(r["location"]).strip().upper(): r for r in tab.to_dict("records")}
    tally = _Tally()
    raw = rows["location"].map(_norm)
    resolved = raw.map(lambda loc: resolve_location(loc) or "")
    # a known country is one key whatever its spelling; an unknown string stays its own gap
    key = resolved.where(resolved != "", "?" + raw)
    for k, grp in rows.groupby(key, sort=True):
        n, kwh = int(grp["requests"].sum()), float(grp["energy_kwh"].sum())
        code = str(k)
        if code.startswith("?"):
            tally.gaps.append(Gap(code[1:] or "(no location)", n, kwh, "the location names no one country"))
            continue
        f = factors.get(code)
        if f is None:
            tally.gaps.append(Gap(code, n, kwh, "no off-site water factor for this country"))
            continue
        per_kwh = float(f["water_l_per_kwh"])
        tally.add(
            n,
            kwh * per_kwh,
            kwh * float(f["water_low"]),
            kwh * float(f["water_high"]),
            {"location": code, "requests": n, "energy_kwh": kwh, "l_per_kwh": per_kwh},
        )
    return tally.line(
        rows,
        key="offsite_water",
        title="Off-site water of electricity generation",
        unit="L",
        method="reported energy (PUE included) x litres consumed per kWh to generate the country's electricity",
        interval="x0.5 to x2 of each country's factor (our assumption; the source gives no interval)",
        sources=tuple(_sources(tab, "source", "year", "licence", "source_url")),
    )


def embodied_carbon_line(energy: pd.DataFrame, table: pd.DataFrame | None = None) -> AddedLine:
    """Embodied carbon of servers and GPUs allocated to the requests by energy share (g CO2e).

    Requests whose PUE is missing cannot be turned into IT energy: they are a gap.
    """
    rows = _check_energy(energy)
    f = embodied_factor(table)
    it_kwh = float(rows["it_energy_kwh"].fillna(0.0).sum())
    without = int(rows["requests_without_pue"].sum())
    total = int(rows["requests"].sum())
    covered = total - without
    gaps: tuple[Gap, ...] = ()
    if without:
        kwh = float(rows["energy_without_pue_kwh"].fillna(0.0).sum())
        gaps = (
            Gap("requests without a reported PUE", without, kwh, "their IT energy (kWh / PUE) is unknown"),
        )
    has = covered > 0
    return AddedLine(
        key="embodied_carbon",
        title="Embodied carbon of servers and GPUs",
        unit="g CO2e",
        value=it_kwh * f.g_per_it_kwh if has else None,
        low=it_kwh * f.low if has else None,
        high=it_kwh * f.high if has else None,
        method=(
            "allocated by energy share: IT energy of the requests (reported kWh / PUE) x "
            f"embodied g CO2e per kWh of server IT energy over its life ({f.g_per_it_kwh:.1f} g/kWh: "
            "server and 8 GPUs / (average IT power x lifetime))"
        ),
        interval=f"{f.low:.1f} to {f.high:.1f} g per IT kWh: the extremes of hardware figures, lifetime and utilisation",
        sources=f.sources,
        covered_requests=covered if has else 0,
        total_requests=total,
        gaps=gaps,
    )


# ---------------------------------------------------------------------------------------
# Market-based line


@dataclass(frozen=True)
class MarketFactor:
    """A supplier-specific emission factor the user gives for one provider."""

    g_co2e_per_kwh: float
    source: str
    year: int
    low: float | None = None
    high: float | None = None


def market_factors(spec: Mapping[str, Any] | str | Path) -> dict[str, MarketFactor]:
    """Validate market factors given as a mapping or a TOML/YAML file.

    Format: one entry per ``provider_id`` with ``g_co2e_per_kwh``, ``source``, ``year``
    and optionally ``low``/``high``; in a file, under a ``market`` table::

        [market.ovhcloud]
        g_co2e_per_kwh = 12.5
        source = "OVHcloud supplier-specific factor, contractual instruments"
        year = 2025
    """
    data: Any = spec
    where = "market_factors"
    if isinstance(spec, str | Path):
        p = Path(spec)
        where = str(p)
        text = p.read_text(encoding="utf-8")
        if p.suffix.lower() == ".toml":
            try:
                data = tomllib.loads(text)
            except tomllib.TOMLDecodeError as exc:
                raise ValueError(f"{p}: not valid TOML: {exc}") from exc
        elif p.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            raise ValueError(f"{p}: market factor files must end in .toml, .yaml or .yml")
        if not isinstance(data, Mapping) or "market" not in data:
            raise ValueError(f"{p}: expected a [market] table with one entry per provider")
        data = data["market"]
    if isinstance(data, Mapping) and set(data) == {"market"}:
        data = data["market"]
    if not isinstance(data, Mapping) or not data:
        raise ValueError(f"{where}: expected a mapping of provider_id -> {{g_co2e_per_kwh, source, year}}")
    out: dict[str, MarketFactor] = {}
    for provider, entry in data.items():
        if not isinstance(provider, str) or not provider.strip():
            raise ValueError(f"{where}: provider ids must be non-empty strings, got {provider!r}")
        if not isinstance(entry, Mapping):
            raise ValueError(
                f"{where}: {provider}: give a table with g_co2e_per_kwh, source and year (a bare number has no source)"
            )
        value = _number(entry.get("g_co2e_per_kwh"), f"{where}: {provider}: g_co2e_per_kwh")
        source = entry.get("source")
        if not isinstance(source, str) or not source.strip():
            raise ValueError(f"{where}: {provider}: source must say where the factor comes from")
        year = entry.get("year")
        if isinstance(year, bool) or not isinstance(year, int) or not 1990 <= year <= 2100:
            raise ValueError(f"{where}: {provider}: year must be a year such as 2025, got {year!r}")
        lo = _number(entry["low"], f"{where}: {provider}: low") if "low" in entry else None
        hi = _number(entry["high"], f"{where}: {provider}: high") if "high" in entry else None
        if (lo is not None and lo > value) or (hi is not None and hi < value):
            raise ValueError(f"{where}: {provider}: low <= g_co2e_per_kwh <= high must hold")
        out[provider.strip()] = MarketFactor(value, source.strip(), year, lo, hi)
    return out


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x) or x < 0:
        raise ValueError(f"{what} must be a finite non-negative number, got {value!r}")
    return x


def market_based_line(energy: pd.DataFrame, factors: Mapping[str, Any] | str | Path) -> AddedLine:
    """Carbon of the reported energy at the supplier-specific factors the user gives (g CO2e).

    Each provider's energy (PUE included) times its factor, exactly; a provider without a
    factor is a flagged gap with its requests and kWh, never a zero.
    """
    rows = _check_energy(energy)
    given: Mapping[str, MarketFactor] = (
        factors if isinstance(factors, Mapping) and _is_validated(factors) else market_factors(factors)
    )
    tally = _Tally()
    ranged = True
    reported_g: float | None = 0.0 if {"carbon_g_co2", "requests_with_carbon"} <= set(rows.columns) else None
    for provider, grp in rows.groupby(rows["provider_id"].map(_norm), sort=True):
        n, kwh = int(grp["requests"].sum()), float(grp["energy_kwh"].sum())
        f = given.get(str(provider))
        if f is None:
            tally.gaps.append(
                Gap(
                    str(provider) or "(no provider)", n, kwh, "no market-based factor given for this provider"
                )
            )
            continue
        if reported_g is not None:  # only when every covered request carries its carbon
            complete = int(grp["requests_with_carbon"].sum()) == n
            reported_g = reported_g + float(grp["carbon_g_co2"].sum()) if complete else None
        tally.add(
            n,
            kwh * f.g_co2e_per_kwh,
            kwh * (f.low if f.low is not None else f.g_co2e_per_kwh),
            kwh * (f.high if f.high is not None else f.g_co2e_per_kwh),
            {"provider_id": provider, "requests": n, "energy_kwh": kwh, "g_co2e_per_kwh": f.g_co2e_per_kwh},
        )
        ranged = ranged and f.low is not None and f.high is not None
    used = [LineSource(f"{p}: {f.source}", f.year, "given by the user") for p, f in sorted(given.items())]
    return tally.line(
        rows,
        key="market_carbon",
        title="Market-based carbon (supplier-specific factors you gave)",
        unit="g CO2e",
        method="reported energy (PUE included) x the supplier-specific factor given per provider",
        interval="the low/high you gave"
        if ranged
        else "the low/high you gave where given; elsewhere the factor itself, with no interval",
        sources=tuple(used),
        location_based=reported_g,
    )


def _is_validated(factors: Any) -> bool:
    return (
        isinstance(factors, Mapping)
        and bool(factors)
        and all(isinstance(v, MarketFactor) for v in factors.values())
    )
