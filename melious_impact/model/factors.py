"""The shipped prior tables (``melious_impact/data/factors/``), read on demand.

Every table row carries its source, year and unit; ``factor_version()`` is the version
string of the whole set and is recorded on every estimate. Nothing is read at import time
and nothing global is kept: each call reads the small CSV/JSON files again (a few ms), and
:class:`~melious_impact.model.fit.IntensityModel` keeps the one copy it needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import pandas as pd

_PACKAGE = "melious_impact"
_FOLDER = "data/factors"


def _path(name: str) -> Any:
    return resources.files(_PACKAGE).joinpath(f"{_FOLDER}/{name}")


def factor_version() -> str:
    """Version string of the shipped factor tables, e.g. ``'2026.11.1'``."""
    return str(_path("VERSION").read_text(encoding="utf-8")).strip()


def grid_intensity_table() -> pd.DataFrame:
    """Grid carbon intensity by country (ISO-3166 alpha-2) and month (0 = annual figure).

    Columns: location, year, month, grid_g_per_kwh, renewable_percent, unit, source,
    source_url, licence. Ember data, CC BY 4.0.
    """
    with _path("grid_intensity.csv").open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, keep_default_na=False, na_values=[""])


def provider_table() -> pd.DataFrame:
    """PUE and on-site WUE per provider (public figures, with a ``default`` row).

    Columns: provider_id, pue, pue_low, pue_high, pue_year, pue_basis, wue_l_per_kwh (litres
    per kWh of IT energy), wue_low, wue_high, wue_year, wue_basis, report, report_year,
    source_url, confidence, note, unit, source, year (newest data year of the row).
    """
    with _path("provider_pue_wue.csv").open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh)


def model_size_table() -> pd.DataFrame:
    """Parameter counts (billions), released weight precision (``bits_per_weight``) and
    ``reasoning`` (emits reasoning tokens by default) of models seen on Melious."""
    with _path("model_sizes.csv").open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh)


@dataclass(frozen=True)
class EnergyFit:
    """ln(GPU J per output token) against ln(active), ln(total) params (B), a 4-bit weights
    term and a reasoning term, fitted on ML.ENERGY v3 (see ``energy_per_token_fit.json``)."""

    c0: float
    c_active: float
    c_total: float
    c_four_bit: float  # applied when bits per weight <= four_bit_max_bits
    c_reasoning: float  # applied to reasoning models
    se_four_bit: float  # standard errors of the two terms (log scale), added to the interval
    se_reasoning: float
    four_bit_max_bits: float
    log_sd: float  # between models and batch sizes combined
    server_overhead: float
    input_to_output_ratio: float
    input_ratio_low: float
    input_ratio_high: float
    source: str
    source_url: str
    year: int
    unit: str


def energy_fit() -> EnergyFit:
    """The energy-per-token prior fitted on ML.ENERGY v3 (Apache-2.0)."""
    raw = json.loads(_path("energy_per_token_fit.json").read_text(encoding="utf-8"))
    log_sd = float((raw["log_sd_between_models"] ** 2 + raw["log_sd_batch_size"] ** 2) ** 0.5)
    low, high = raw["input_ratio_range"]
    return EnergyFit(
        c0=float(raw["c0"]),
        c_active=float(raw["c_active"]),
        c_total=float(raw["c_total"]),
        c_four_bit=float(raw["c_four_bit"]),
        c_reasoning=float(raw["c_reasoning"]),
        se_four_bit=float(raw["se_four_bit"]),
        se_reasoning=float(raw["se_reasoning"]),
        four_bit_max_bits=float(raw["four_bit_max_bits"]),
        log_sd=log_sd,
        server_overhead=float(raw["server_overhead"]),
        input_to_output_ratio=float(raw["input_to_output_ratio"]),
        input_ratio_low=float(low),
        input_ratio_high=float(high),
        source=str(raw["source"]),
        source_url=str(raw["source_url"]),
        year=int(raw["year"]),
        unit=str(raw["unit"]),
    )
