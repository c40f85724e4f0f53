"""A budgets/config file may carry a ``[market]`` table of market-based factors beside the teams."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import melious_impact as mi
from melious_impact.forecasting.budgets import load_market
from melious_impact.model.boundary_lines import market_factors

TOML = """
[search]
cost_eur = 40.10

[market.ovhcloud]
g_co2e_per_kwh = 12.5
source = "OVHcloud contractual factor"
year = 2025

[market.nebius]
g_co2e_per_kwh = 30
source = "Nebius contractual factor"
year = 2024
low = 20.0
high = 40.0
"""

YAML = """
search:
  cost_eur: 40.1
market:
  ovhcloud: {g_co2e_per_kwh: 12.5, source: OVHcloud contractual factor, year: 2025}
"""


def test_a_market_table_is_not_a_team(tmp_path: Path) -> None:
    path = tmp_path / "budgets.toml"
    path.write_text(TOML, encoding="utf-8")
    assert mi.load_budgets(path) == {"search": {"cost_eur": Decimal("40.10")}}
    market = load_market(path)
    assert market is not None and set(market) == {"ovhcloud", "nebius"}
    valid = market_factors(market)
    assert valid["ovhcloud"].g_co2e_per_kwh == 12.5 and valid["ovhcloud"].year == 2025
    assert (valid["nebius"].low, valid["nebius"].high) == (20.0, 40.0)
    # the file itself, as market_factors= takes it, gives the same factors
    assert market_factors(path) == valid


def test_yaml_market_table(tmp_path: Path) -> None:
    path = tmp_path / "budgets.yaml"
    path.write_text(YAML, encoding="utf-8")
    assert mi.load_budgets(path) == {"search": {"cost_eur": Decimal("40.1")}}
    assert market_factors(load_market(path) or {})["ovhcloud"].source == "OVHcloud contractual factor"


def test_no_market_table_is_none_and_a_team_called_market_stays_a_team(tmp_path: Path) -> None:
    plain = tmp_path / "plain.toml"
    plain.write_text("[search]\ncost_eur = 5\n", encoding="utf-8")
    assert load_market(plain) is None
    team = tmp_path / "team.toml"
    team.write_text("[market]\ncost_eur = 7\n", encoding="utf-8")
    assert mi.load_budgets(team) == {"market": {"cost_eur": Decimal(7)}}
    assert load_market(team) is None


def test_a_malformed_market_table_says_what_it_needs(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[search]\ncost_eur = 5\n\n[market]\novhcloud = 12.5\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"\[market\] needs one table per provider_id"):
        load_market(bad)
    unsourced = tmp_path / "unsourced.toml"
    unsourced.write_text("[market.ovhcloud]\ng_co2e_per_kwh = 12.5\nyear = 2025\n", encoding="utf-8")
    with pytest.raises(ValueError, match="source"):
        market_factors(load_market(unsourced) or {})
