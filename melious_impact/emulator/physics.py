"""Pure functions: the documented Melious physics applied to the catalogue's truth.

- energy_kwh = (input_tokens/1000 * kwh_in + output_tokens/1000 * kwh_out) * pue * noise
- carbon_g_co2 = energy_kwh * grid_intensity(country, captured_at)
- water_liters = energy_kwh * wue
- billing: credits (EUR) = tokens x list price x provider price factor, as an exact Decimal;
  energy units = credits / 0.0001 (one energy unit = 0.0001 EUR: the 1:10,000 ratio seen in
  public fixtures).

``noise`` is a mean-one lognormal factor (default sigma 2%): measured energy per request
varies with batch size and load, so the emulator does not report a perfect straight line.
Pass ``noise_sigma=0`` for exact physics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np

from melious_impact.billing import EUR_PER_ENERGY_UNIT as EUR_PER_ENERGY_UNIT  # the one definition
from melious_impact.emulator.catalogue import (
    ModelSpec,
    ProviderSpec,
    grid_intensity_g_per_kwh,
    providers_for,
    renewable_percent,
)

DEFAULT_NOISE_SIGMA = 0.02
#: 32 kbit/s mono speech: a transcription's duration is estimated from the upload's size.
AUDIO_BYTES_PER_SECOND = 4_000
#: (price, speed, environment) weights per flavor (the Melious API documentation).
FLAVOR_WEIGHTS: dict[str, tuple[float, float, float]] = {
    "balanced": (0.4, 0.4, 0.2),
    "speed": (0.2, 0.7, 0.1),
    "price": (0.7, 0.2, 0.1),
    "eco": (0.2, 0.2, 0.6),
    "batch": (0.8, 0.05, 0.15),
}


def noise_factor(rng: np.random.Generator, sigma: float = DEFAULT_NOISE_SIGMA) -> float:
    """A mean-one lognormal multiplier: exp(sigma*z - sigma^2/2)."""
    if sigma <= 0:
        return 1.0
    return float(math.exp(sigma * rng.standard_normal() - 0.5 * sigma * sigma))


def energy_kwh(
    input_tokens: int, output_tokens: int, model: ModelSpec, provider: ProviderSpec, noise: float = 1.0
) -> float:
    """Facility energy (kWh, PUE included) of one request."""
    it_kwh = input_tokens / 1000 * model.kwh_per_1k_input + output_tokens / 1000 * model.kwh_per_1k_output
    return it_kwh * provider.pue * noise


def carbon_g_co2(energy: float, country: str, when: datetime) -> float:
    """Grams CO2e: energy (kWh) times the country's grid intensity at ``when``."""
    return energy * grid_intensity_g_per_kwh(country, when)


def water_liters(energy: float, provider: ProviderSpec) -> float:
    """Litres of on-site cooling water: energy (kWh) times the provider's WUE (L/kWh)."""
    return energy * provider.wue_l_per_kwh


def credits_eur(input_tokens: int, output_tokens: int, model: ModelSpec, provider: ProviderSpec) -> Decimal:
    """Exact EUR charge: tokens x price per million x the provider's price factor."""
    raw = (
        Decimal(input_tokens) * Decimal(model.eur_per_million_input)
        + Decimal(output_tokens) * Decimal(model.eur_per_million_output)
    ) / Decimal(1_000_000)
    return (raw * Decimal(repr(provider.price_factor))).normalize()


def energy_units(credits: Decimal) -> Decimal:
    """Energy units for a EUR amount (1 unit = 0.0001 EUR)."""
    return (credits / EUR_PER_ENERGY_UNIT).normalize()


def _dec_text(d: Decimal) -> str:
    text = format(d, "f")
    return text if text not in ("0", "-0") else "0"


@dataclass(frozen=True)
class Billing:
    credits: Decimal  # EUR
    energy: Decimal  # energy units
    paid_with: str  # energy or credits

    def to_json(self, *, both_nonzero: bool = False) -> dict[str, str]:
        """The ``billing_cost`` object: decimal strings; the unpaid field "0" unless both_nonzero."""
        paid_energy = self.paid_with == "energy"
        energy = self.energy if (paid_energy or both_nonzero) else Decimal(0)
        credits = self.credits if (not paid_energy or both_nonzero) else Decimal(0)
        return {"energy": _dec_text(energy), "credits": _dec_text(credits), "paid_with": self.paid_with}


def billing(
    input_tokens: int,
    output_tokens: int,
    model: ModelSpec,
    provider: ProviderSpec,
    paid_with: str = "credits",
) -> Billing:
    if paid_with not in ("energy", "credits"):
        raise ValueError("paid_with must be 'energy' or 'credits'")
    c = credits_eur(input_tokens, output_tokens, model, provider)
    return Billing(credits=c, energy=energy_units(c), paid_with=paid_with)


@dataclass(frozen=True)
class Impact:
    energy_kwh: float
    carbon_g_co2: float
    water_liters: float
    renewable_percent: float
    pue: float
    provider_id: str
    location: str
    grid_g_per_kwh: float  # truth, not sent: kept for tests and simulate

    def to_json(self) -> dict[str, object]:
        """The ``environment_impact`` object as Melious documents it."""
        return {
            "energy_kwh": self.energy_kwh,
            "carbon_g_co2": self.carbon_g_co2,
            "water_liters": self.water_liters,
            "renewable_percent": round(self.renewable_percent, 1),
            "pue": self.pue,
            "provider_id": self.provider_id,
            "location": self.location,
        }


def impact(
    input_tokens: int,
    output_tokens: int,
    model: ModelSpec,
    provider: ProviderSpec,
    when: datetime,
    noise: float = 1.0,
) -> Impact:
    e = energy_kwh(input_tokens, output_tokens, model, provider, noise)
    g = grid_intensity_g_per_kwh(provider.country, when)
    return Impact(
        energy_kwh=e,
        carbon_g_co2=e * g,
        water_liters=water_liters(e, provider),
        renewable_percent=renewable_percent(provider.country, when),
        pue=provider.pue,
        provider_id=provider.id,
        location=provider.country,
        grid_g_per_kwh=g,
    )


def route(model_id: str, flavor: str, when: datetime, rng: np.random.Generator) -> ProviderSpec:
    """Pick the provider: eco = lowest grid intensity at that hour, price = cheapest,
    speed = fastest; balanced and batch = a weighted random choice (softmax of the score)."""
    cands = providers_for(model_id)
    if len(cands) == 1:
        return cands[0]
    if flavor == "eco":
        return min(cands, key=lambda p: grid_intensity_g_per_kwh(p.country, when) * p.pue)
    if flavor == "price":
        return min(cands, key=lambda p: p.price_factor)
    if flavor == "speed":
        return max(cands, key=lambda p: p.speed_index)
    w_price, w_speed, w_env = FLAVOR_WEIGHTS.get(flavor, FLAVOR_WEIGHTS["balanced"])
    price = np.array([p.price_factor for p in cands])
    speed = np.array([p.speed_index for p in cands])
    carbon = np.array([grid_intensity_g_per_kwh(p.country, when) * p.pue for p in cands])

    def rel(x: np.ndarray) -> np.ndarray:  # 0 = best, 1 = worst among candidates
        span = x.max() - x.min()
        return (x - x.min()) / span if span > 0 else np.zeros_like(x)

    score = w_price * rel(price) + w_speed * rel(-speed) + w_env * rel(carbon)
    weights = np.exp(-3.0 * score)
    return cands[int(rng.choice(len(cands), p=weights / weights.sum()))]
