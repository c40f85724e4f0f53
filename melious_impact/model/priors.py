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
from melious_impact.parse.fields import split_flavor

Z90 = 1.6448536269514722  # two-sided 90% normal quantile

# Hourly p5-p95 spread of national grids around their annual mean (Electricity Maps 2023
# hourly, FR 22-107, DE 189-662, GB 85-318 g/kWh): roughly x0.5 to x1.7 of the mean. Used
# as the interval of a monthly/annual prior applied to one hour.
GRID_PRIOR_LOW_FACTOR = 0.5
GRID_PRIOR_HIGH_FACTOR = 1.7

_SIZE_RE = re.compile(r"(?<![a-z0-9.])(\d+(?:\.\d+)?)([bm])(?![a-z])")
_ACTIVE_RE = re.compile(r"(?<![a-z0-9])a(\d+(?:\.\d+)?)b(?![a-z])")

KWH_PER_JOULE = 1.0 / 3.6e6


@dataclass(frozen=True)
class Prior:
    """A prior value with its 90% interval and provenance."""

    value: float
    low: float
    high: float
    source: str
    year: int


def parse_size_billions(model: str) -> tuple[float, float] | None:
    """(total, active) parameters in billions read from a model id, e.g. ``qwen3-235b-a22b``.

    Returns None when the id names no size (``glm-4.7``): the caller then needs the
    shipped size table or an explicit ``params_billions``.
    """
    name = model.lower().split(":")[0]
    active_match = _ACTIVE_RE.search(name)
    sizes = [
        float(v) / (1000.0 if unit == "m" else 1.0)
        for v, unit in _SIZE_RE.findall(name)
        if not (active_match and f"a{v}b" in name and name.index(f"a{v}b") == active_match.start())
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

    def energy(self, model: str, params_billions: float | None = None) -> tuple[Prior, Prior]:
        """Prior kWh per 1k (input, output) tokens, before PUE, from the model's size."""
        if params_billions is not None and not math.isnan(params_billions):
            total = active = float(params_billions)
        else:
            total, active = self.model_size(model)
        e = self._energy
        joules = math.exp(e.c0 + e.c_active * math.log(active) + e.c_total * math.log(total))
        out = joules * e.server_overhead * 1000.0 * KWH_PER_JOULE
        f = math.exp(Z90 * e.log_sd)
        source = f"{e.source}; size: {model}"
        out_prior = Prior(out, out / f, out * f, source, e.year)
        r = e.input_to_output_ratio
        in_prior = Prior(
            out * r,
            out * e.input_ratio_low / f,
            out * e.input_ratio_high * f,
            f"{e.source}; input/output energy ratio {r} (assumption)",
            e.year,
        )
        return in_prior, out_prior

    # -- provider PUE and water ---------------------------------------------------------
    def _provider_row(self, provider_id: str | None) -> tuple[pd.Series, bool]:
        key = (provider_id or "").lower()
        if key in self._providers.index:
            return self._providers.loc[key], True
        return self._providers.loc["default"], False

    def pue(self, provider_id: str | None) -> Prior:
        row, known = self._provider_row(provider_id)
        src = row["source_url"] if known else f"industry default ({row['source_url']})"
        return Prior(float(row["pue"]), float(row["pue_low"]), float(row["pue_high"]), src, int(row["year"]))

    def wue(self, provider_id: str | None) -> Prior:
        row, known = self._provider_row(provider_id)
        src = row["source_url"] if known else f"industry default ({row['source_url']})"
        return Prior(
            float(row["wue_l_per_kwh"]), float(row["wue_low"]), float(row["wue_high"]), src, int(row["year"])
        )

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
            g, g * GRID_PRIOR_LOW_FACTOR, g * GRID_PRIOR_HIGH_FACTOR, str(row["source"]), int(row["year"])
        )

    def grid_months(self, location: str | None) -> list[Prior]:
        """Twelve monthly priors (January first) for a country."""
        return [self.grid(location, month) for month in range(1, 13)]

    def renewable_percent(self, location: str | None) -> float:
        country = resolve_location(location)
        rows = self._grid[(self._grid["location"] == country) & (self._grid["month"] == 0)]
        return float(rows["renewable_percent"].iloc[0]) if len(rows) else math.nan
