"""Coded warnings attached to estimates (EcoLogits-style): problems are reported on the
result, not raised, so a batch of a million predictions is never lost to one odd row.

Each predicted row carries the comma-joined codes in its ``warnings`` column; the frame's
``attrs["impact_warnings"]`` holds one :class:`ImpactWarning` per code with the row count.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

MESSAGES: dict[str, str] = {
    "pooled_energy": "energy per token borrowed from the model's fit at other providers",
    "prior_energy": "energy per token from the public size-based prior (ML.ENERGY fit), not measured",
    "prior_pue": "PUE from public provider figures, not reported for this provider",
    "prior_water": "water factor from public provider figures, not reported for this site",
    "prior_grid": "grid intensity from the public monthly/annual country figure (Ember), not observed",
    "grid_slot_filled": "this month/hour was not observed: observed daily shape scaled by the monthly prior",
    "no_timestamp": "no captured_at: the location's year average (months by their days) is used",
    "location_unknown": "location names no one country (ISO-3166 code or name): carbon left missing",
    "grid_unknown": "no grid intensity observed or shipped for this country: carbon left missing",
    "scenario_incomplete": "some requests have no estimate on one side: that total and its delta are missing",
    "routing_mix": "provider or location not given: the model's observed traffic mix is used",
    "coefficient_unknown": "input or output tokens given where that side was never observed for this model",
    "unknown": "no estimate could be made (unknown model size or location)",
}


@dataclass(frozen=True)
class ImpactWarning:
    """One warning code on an estimate, with how many rows it concerns."""

    code: str
    message: str
    rows: int


def summarise(codes: pd.Series) -> tuple[ImpactWarning, ...]:
    """Count each code in a column of comma-joined codes."""
    counts: dict[str, int] = {}
    for text, count in codes.value_counts(dropna=True).items():
        if not count:  # an unused category of a categorical column
            continue
        for code in filter(None, text.split(",")):
            counts[code] = counts.get(code, 0) + int(count)
    return tuple(ImpactWarning(c, MESSAGES.get(c, c), counts[c]) for c in sorted(counts))
