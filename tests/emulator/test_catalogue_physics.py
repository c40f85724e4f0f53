"""Golden values for the truth tables and the physics."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pytest

from melious_impact.emulator import catalogue, physics
from melious_impact.emulator.grid import GRID_PROFILES, hour_factors
from melious_impact.records import split_flavor

WHEN = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_every_figure_has_provenance() -> None:
    for m in catalogue.MODELS.values():
        assert m.energy_source and m.energy_year >= 2024 and m.unit
        assert m.kwh_per_1k_input >= 0 and m.kwh_per_1k_output >= 0
        Decimal(m.eur_per_million_input), Decimal(m.eur_per_million_output)  # exact decimal text
    for p in catalogue.PROVIDERS.values():
        assert p.source and p.year >= 2020 and p.pue >= 1.0 and p.wue_l_per_kwh >= 0
        assert p.country in GRID_PROFILES
    assert set(catalogue.SERVING) == set(catalogue.MODELS)
    assert len(catalogue.PROVIDERS) == 9
    assert sum(len(v) >= 2 for v in catalogue.SERVING.values()) >= 8  # overlap across providers
    assert catalogue.CATALOGUE_VERSION


def test_mlenergy_conversion_golden() -> None:
    # DeepSeek V3.1 1.31 J/token x 1000 tokens / 3.6e6 J/kWh x 1.5 overhead
    m = catalogue.model("deepseek-v3.2")
    assert m.kwh_per_1k_output == pytest.approx(1.31 * 1000 / 3.6e6 * 1.5, rel=1e-6)
    assert m.kwh_per_1k_input == pytest.approx(m.kwh_per_1k_output * 0.12, rel=1e-6)


def test_grid_shapes_average_to_annual() -> None:
    for c, p in GRID_PROFILES.items():
        assert np.mean(p.monthly_factors) == pytest.approx(1.0, abs=1e-3)
        assert hour_factors(c).mean() == pytest.approx(1.0, abs=1e-12)
    # Germany: midday solar dip below the evening peak (13h and 19h local = 12h and 18h UTC)
    de = hour_factors("DE")
    assert de[12] < 1.0 < de[18]
    # Finland is dirtier in January than in July (Ember monthly shape)
    jan = catalogue.grid_intensity_g_per_kwh("FI", datetime(2026, 1, 15, 3, tzinfo=UTC))
    jul = catalogue.grid_intensity_g_per_kwh("FI", datetime(2026, 7, 15, 3, tzinfo=UTC))
    assert jan > 2 * jul


def test_grid_golden_value() -> None:
    # France 2024 (OWID/Ember) 44.179085 g/kWh x March factor x 12h UTC factor
    p = GRID_PROFILES["FR"]
    expected = 44.179085 * p.monthly_factors[2] * hour_factors("FR")[12]
    assert catalogue.grid_intensity_g_per_kwh("FR", WHEN) == pytest.approx(expected, rel=1e-12)
    assert 0 <= catalogue.renewable_percent("FR", WHEN) <= 100
    with pytest.raises(ValueError, match="timezone-aware"):
        catalogue.grid_intensity_g_per_kwh("FR", datetime(2026, 3, 1))
    with pytest.raises(ValueError, match="no grid profile"):
        catalogue.grid_intensity_g_per_kwh("US", WHEN)


def test_energy_carbon_water_golden() -> None:
    m, p = catalogue.model("glm-4.7"), catalogue.provider("ovhcloud")
    # (1000/1000 * 7.5e-5 + 500/1000 * 6.25e-4) * 1.28
    e = physics.energy_kwh(1000, 500, m, p)
    assert e == pytest.approx((7.5e-5 + 0.5 * 6.25e-4) * 1.28, rel=1e-9)
    assert e == pytest.approx(0.000496, rel=1e-9)
    imp = physics.impact(1000, 500, m, p, WHEN)
    assert imp.carbon_g_co2 == pytest.approx(0.000496 * catalogue.grid_intensity_g_per_kwh("FR", WHEN))
    assert imp.water_liters == pytest.approx(0.000496 * 0.185)
    assert imp.to_json()["provider_id"] == "ovhcloud" and imp.to_json()["location"] == "FR"


def test_billing_exact_and_units_round_trip() -> None:
    m, p = catalogue.model("glm-4.7"), catalogue.provider("ovhcloud")
    b = physics.billing(1000, 500, m, p)
    assert b.credits == Decimal("0.00155")  # 1000*0.55/1e6 + 500*2.00/1e6
    assert b.energy == Decimal("15.5")  # one energy unit = 0.0001 EUR
    assert b.energy * physics.EUR_PER_ENERGY_UNIT == b.credits
    assert b.to_json() == {"energy": "0", "credits": "0.00155", "paid_with": "credits"}
    paid_energy = physics.billing(1000, 500, m, p, "energy")
    assert paid_energy.to_json() == {"energy": "15.5", "credits": "0", "paid_with": "energy"}
    assert paid_energy.to_json(both_nonzero=True) == {
        "energy": "15.5",
        "credits": "0.00155",
        "paid_with": "energy",
    }
    # a provider price factor scales the list price exactly
    reg = physics.billing(1000, 500, m, catalogue.provider("regolo"))
    assert reg.credits == Decimal("0.001395")


def test_noise_is_mean_one_and_seeded() -> None:
    rng = np.random.default_rng(3)
    draws = np.array([physics.noise_factor(rng) for _ in range(20000)])
    assert draws.mean() == pytest.approx(1.0, abs=0.001)
    assert np.log(draws).std() == pytest.approx(0.02, rel=0.05)
    assert physics.noise_factor(np.random.default_rng(1), 0) == 1.0


def test_routing_flavors() -> None:
    rng = np.random.default_rng(0)
    # eco: lowest carbon (grid x PUE) at that hour among glm-4.7's providers (FR, FI, IT)
    eco = physics.route("glm-4.7", "eco", WHEN, rng)
    carbon = {
        p.id: catalogue.grid_intensity_g_per_kwh(p.country, WHEN) * p.pue
        for p in catalogue.providers_for("glm-4.7")
    }
    assert eco.id == min(carbon, key=carbon.__getitem__)
    assert physics.route("glm-4.7", "price", WHEN, rng).id == "regolo"
    assert physics.route("glm-4.7", "speed", WHEN, rng).id == "nebius"
    picks = {physics.route("glm-4.7", "balanced", WHEN, rng).id for _ in range(200)}
    assert len(picks) >= 2  # weighted, not a fixed choice
    assert split_flavor("glm-4.7:eco") == ("glm-4.7", "eco")
    assert split_flavor("a:b:c") == ("a:b:c", None)


def test_claude_mapping() -> None:
    assert catalogue.resolve_claude("claude-opus-4-7") == "glm-4.7"
    assert catalogue.resolve_claude("claude-sonnet-4-6") == "deepseek-v3.2"
    assert catalogue.resolve_claude("glm-4.7") is None


def test_truth_table_rows() -> None:
    rows = catalogue.truth_table()
    assert len(rows) == sum(len(v) for v in catalogue.SERVING.values())
    assert {"model", "provider_id", "kwh_per_1k_input", "pue", "water_l_per_kwh"} <= set(rows[0])
