"""The shipped prior tables: provenance on every row, version, and the priors built on them."""

from __future__ import annotations

import math

import pytest

from melious_impact.errors import ModelError
from melious_impact.model import factors
from melious_impact.model.priors import Priors, parse_size_billions


def test_every_row_has_source_year_unit():
    for table in (factors.grid_intensity_table(), factors.provider_table(), factors.model_size_table()):
        for col in ("year", "unit"):
            assert table[col].notna().all()
        src = "source" if "source" in table.columns else "source_url"
        assert table[src].str.len().gt(10).all()
    grid = factors.grid_intensity_table()
    assert set(grid["licence"]) == {"CC BY 4.0"}


def test_factor_version_is_recorded():
    assert factors.factor_version() == "2026.12.1"


def test_attribution_shipped_beside_data():
    from importlib import resources

    text = resources.files("melious_impact").joinpath("data/factors/ATTRIBUTION.md").read_text()
    for name in ("Ember", "Our World in Data", "ML.ENERGY", "Apache-2.0", "CC BY 4.0"):
        assert name in text


def test_grid_prior_france_2024():
    p = Priors()
    annual = p.grid("FR", 0)
    assert annual.value == pytest.approx(44.18, abs=0.5)  # Ember 2024, matches OWID
    assert annual.year == 2024
    july = p.grid("fr", 7)
    assert july.value < annual.value  # French summer grid is cleaner
    assert july.low < july.value < july.high
    with pytest.raises(ModelError, match="location_unknown"):
        p.grid("XX")
    with pytest.raises(ModelError, match="grid_unknown"):
        p.grid("New Zealand")


def test_pue_prior_known_and_default():
    p = Priors()
    assert p.pue("ovhcloud").value == pytest.approx(1.29)
    assert p.pue("aws").year == 2025
    default = p.pue("some-new-provider")
    assert default.value == pytest.approx(1.25)
    assert "industry default" in default.source
    assert default.unit.startswith("ratio")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("qwen3-235b-a22b-instruct", (235.0, 22.0)),
        ("llama-3.3-70b-instruct", (70.0, 70.0)),
        ("gpt-oss-20b", (20.0, 20.0)),
        ("qwen3.5-397b-a17b:eco", (397.0, 17.0)),
        ("glm-4.7", None),
    ],
)
def test_parse_size(name, expected):
    assert parse_size_billions(name) == expected


def test_energy_prior_grows_with_size_and_is_wide():
    p = Priors()
    small_in, small_out = p.energy("llama-3.1-8b-instruct")
    _big_in, big_out = p.energy("hermes-4-405b")
    assert big_out.value > 5 * small_out.value
    assert small_in.value < small_out.value
    # ML.ENERGY v3 H100 Llama 3.1 8B ~0.1 J/token GPU-only -> ~4.5e-5 kWh per 1k with overhead
    assert 1e-5 < small_out.value < 2e-4
    assert small_out.high / small_out.low > 5  # honest: a prior is not a measurement
    assert math.isfinite(p.energy("x", params_billions=30)[1].value)
    with pytest.raises(ModelError, match="no known size"):
        p.energy("mystery-model")
