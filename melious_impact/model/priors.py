"""Public priors for what was never measured: model energy per token from its size,
provider PUE and water factor, grid intensity by country and month.

Every answer carries its source and year so an estimate can say where it came from.
Intervals are deliberately wide: a prior stands in for a measurement it is not.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pandas as pd

from melious_impact.errors import ModelError
from melious_impact.model import factors
from melious_impact.model.locations import resolve_location
from melious_impact.records import split_flavor

Z90 = 1.6448536269514722  # two-sided 90% normal quantile

# Hourly p5-p95 spread of national grids around their annual mean (Electricity Maps 2023
# hourly, FR 22-107, DE 189-662, GB 85-318 g/kWh): roughly x0.5 to x1.7 of the mean. Used
# as the interval of a monthly/annual prior applied to one hour.
GRID_PRIOR_LOW_FACTOR = 0.5
GRID_PRIOR_HIGH_FACTOR = 1.7

_SIZE_RE = re.compile(r"(?<![a-z0-9.])(\d+(?:\.\d+)?)([bm])(?![a-z])")
_ACTIVE_RE = re.compile(r"(?<![a-z0-9])a(\d+(?:\.\d+)?)b(?![a-z])")

KWH_PER_JOULE = 1.0 / 3.6e6

# Weight precision and reasoning read from an id that is not in the shipped table: a few
# explicit markers only ("...-fp8", "...-thinking"); anything else is 16-bit, not reasoning.
_BITS_MARKERS = (("mxfp4", 4.25), ("int4", 4.0), ("awq", 4.0), ("gptq", 4.0), ("fp8", 8.0))
_REASONING_RE = re.compile(r"(thinking|reason|(?<![a-z0-9])r1(?![0-9]))")


@dataclass(frozen=True)
class Prior:
    """A prior value with its 90% interval and provenance."""

    value: float
    low: float
    high: float
    source: str
    year: int
    unit: str = ""


def parse_size_billions(model: str) -> tuple[float, float] | None:
    """(total, active) parameters in billions read from a model id, e.g. ``qwen3-235b-a22b``.

    Returns None when the id names no size (``glm-4.7``): the caller then needs the
    shipped size table or an explicit ``params_billions``.
    """
    name = model.lower().split(":")[0]
    active_match = _ACTIVE_RE.search(name)
    skip = active_match.start() + 1 if active_match else -1  # the active count's own digits
    sizes = [
        float(hit.group(1)) / (1000.0 if hit.group(2) == "m" else 1.0)
        for hit in _SIZE_RE.finditer(name)
        if hit.start() != skip
    ]
    if not sizes:
        return None
    total = max(sizes)
    active = float(active_match.group(1)) if active_match else total
    return total, active


class Priors:
    """The shipped prior tables, loaded once per fitted model (never at import)."""

    def __init__(self) -> None:
        self.version = factors.factor_version()
        self._grid = factors.grid_intensity_table()
        self._providers = factors.provider_table().set_index("provider_id")
        self._sizes = factors.model_size_table().set_index("model")
        self._energy = factors.energy_fit()

    # -- model energy -------------------------------------------------------------------
    def model_size(self, model: str) -> tuple[float, float]:
        """(total, active) parameters in billions: shipped table first, then the id."""
        # only a documented flavor suffix is routing, not identity ("glm-4.7:eco" is
        # glm-4.7; "org/model:v2" stays itself): never cut an id down to a near match
        base = split_flavor(model)[0] or model
        if base in self._sizes.index:
            row = self._sizes.loc[base]
            return float(row["total_params_billions"]), float(row["active_params_billions"])
        parsed = parse_size_billions(base)
        if parsed is None:
            raise ModelError(
                f"no measurement and no known size for model {model!r}: record some requests "
                "for it, or pass params_billions in the workload for a prior estimate"
            )
        return parsed

    def model_traits(self, model: str) -> tuple[float, bool]:
        """(bits per weight, reasoning) of a model: shipped table first, then id markers."""
        base = split_flavor(model)[0] or model
        if base in self._sizes.index and "bits_per_weight" in self._sizes.columns:
            row = self._sizes.loc[base]
            return float(row["bits_per_weight"]), bool(row["reasoning"])
        name = base.lower()
        bits = next((b for marker, b in _BITS_MARKERS if marker in name), 16.0)
        return bits, _REASONING_RE.search(name) is not None

    def energy(self, model: str, params_billions: float | None = None) -> tuple[Prior, Prior]:
        """Prior kWh per 1k (input, output) tokens, before PUE, from the model's size, weight
        precision and whether it reasons (terms fitted on ML.ENERGY v3).

        The output prior holds the prefill of ML.ENERGY's prompts (its energy per output token
        is the whole run's), so the input prior is near zero: only input beyond that mix.
        """
        if params_billions is not None and not math.isnan(params_billions):
            total = active = float(params_billions)
        else:
            total, active = self.model_size(model)
        bits, reasoning = self.model_traits(model)
        e = self._energy
        ln_j = e.c0 + e.c_active * math.log(active) + e.c_total * math.log(total)
        var = e.log_sd**2
        terms = [f"{total:g}B total/{active:g}B active"]
        if bits <= e.four_bit_max_bits:
            ln_j += e.c_four_bit
            var += e.se_four_bit**2
            terms.append(f"{bits:g}-bit weights x{math.exp(e.c_four_bit):.2f}")
        if reasoning:
            ln_j += e.c_reasoning
            var += e.se_reasoning**2
            terms.append(f"reasoning x{math.exp(e.c_reasoning):.2f}")
        out = math.exp(ln_j) * e.server_overhead * 1000.0 * KWH_PER_JOULE
        f = math.exp(Z90 * math.sqrt(var))
        unit = "kWh per 1k tokens (before PUE)"
        source = f"{e.source}; {model}: {', '.join(terms)}"
        out_prior = Prior(out, out / f, out * f, source, e.year, unit)
        r = e.input_to_output_ratio
        in_prior = Prior(
            out * r,
            out * e.input_ratio_low / f,
            out * e.input_ratio_high * f,
            f"{e.source}; input/output energy ratio {r} (assumption: prefill of the benchmark "
            "prompts is inside the output figure)",
            e.year,
            unit,
        )
        return in_prior, out_prior

    # -- provider PUE and water ---------------------------------------------------------
    def _provider_row(self, provider_id: str | None) -> tuple[pd.Series, bool]:
        key = (provider_id or "").lower()
        if key in self._providers.index:
            return self._providers.loc[key], True
        return self._providers.loc["default"], False

    def pue(self, provider_id: str | None) -> Prior:
        """PUE of a provider's fleet (ratio), from its latest public report found."""
        row, known = self._provider_row(provider_id)
        return Prior(
            float(row["pue"]),
            float(row["pue_low"]),
            float(row["pue_high"]),
            self._provider_source(row, known, "pue_basis"),
            int(row["pue_year"]),
            "ratio (facility / IT energy)",
        )

    def wue(self, provider_id: str | None) -> Prior:
        """On-site water per kWh of IT energy (L/kWh), from the provider's latest report found."""
        row, known = self._provider_row(provider_id)
        return Prior(
            float(row["wue_l_per_kwh"]),
            float(row["wue_low"]),
            float(row["wue_high"]),
            self._provider_source(row, known, "wue_basis"),
            int(row["wue_year"]),
            "L per kWh of IT energy (on-site)",
        )

    @staticmethod
    def _provider_source(row: pd.Series, known: bool, basis: str) -> str:
        text = f"{row['report']} ({row[basis]}; {row['source_url']})"
        return text if known else f"industry default: {text}"

    # -- grid ---------------------------------------------------------------------------
    def grid(self, location: str | None, month: int = 0) -> Prior:
        """Grid intensity (g CO2e/kWh) of a country for a month (0: annual), Ember data.

        ``location`` is resolved exactly (:mod:`melious_impact.model.locations`): an unknown
        or misspelt location raises :class:`~melious_impact.errors.ModelError` (code
        ``location_unknown``), as does a country the shipped table does not cover
        (``grid_unknown``); neither ever gets another country's figure.
        """
        country = resolve_location(location)
        if country is None:
            raise ModelError(f"location_unknown: {location!r} names no one country (ISO-3166 code or name)")
        rows = self._grid[self._grid["location"] == country]
        if rows.empty:
            raise ModelError(
                f"grid_unknown: no grid intensity for {country} ({location!r}): the shipped prior covers "
                f"{', '.join(sorted(self._grid['location'].unique()))}"
            )
        hit = rows[rows["month"] == month]
        if hit.empty:
            hit = rows[rows["month"] == 0]
        row = hit.iloc[0]
        g = float(row["grid_g_per_kwh"])
        return Prior(
            g,
            g * GRID_PRIOR_LOW_FACTOR,
            g * GRID_PRIOR_HIGH_FACTOR,
            str(row["source"]),
            int(row["year"]),
            str(row["unit"]),
        )

    def grid_months(self, location: str | None) -> list[Prior]:
        """Twelve monthly priors (January first) for a country."""
        return [self.grid(location, month) for month in range(1, 13)]

    def renewable_percent(self, location: str | None) -> float:
        country = resolve_location(location)
        rows = self._grid[(self._grid["location"] == country) & (self._grid["month"] == 0)]
        return float(rows["renewable_percent"].iloc[0]) if len(rows) else math.nan
