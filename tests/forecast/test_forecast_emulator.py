"""Against the emulator (its prices are the known truth): catalogue over HTTP, history fits."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

import melious_impact as mi
from melious_impact.forecasting.catalogue import catalogue_prices, fetch_catalogue

simulate = pytest.importorskip("melious_impact.emulator.simulate")
server = pytest.importorskip("melious_impact.emulator.server")
emulator_catalogue = pytest.importorskip("melious_impact.emulator.catalogue")


def test_catalogue_served_by_the_emulator_has_its_list_prices() -> None:
    with server.serve(seed=0) as url, httpx.Client(base_url=url, headers={"Authorization": "Bearer t"}) as c:
        prices = catalogue_prices(fetch_catalogue(c))
    for model_id, spec in emulator_catalogue.MODELS.items():
        assert prices[model_id] == (
            Decimal(str(spec.eur_per_million_input)),
            Decimal(str(spec.eur_per_million_output)),
        )


def test_cost_of_from_history_reproduces_observed_costs_exactly() -> None:
    # Energy-paid rows with both fields non-zero: cost_eur must come from energy x rate.
    history = simulate.simulate_requests(days=5, seed=0, noise_sigma=0, paid_with="energy", both_nonzero=True)
    priced = mi.add_cost_eur(history)
    assert set(priced["cost_basis"].dropna()) <= {"energy", "missing"}
    sample = priced[(priced["cost_basis"] == "energy") & (priced["input_tokens"] > 0)].sample(
        200, random_state=1
    )
    plan = mi.cost_of(sample[["model", "provider_id", "input_tokens", "output_tokens"]], history=history)
    assert set(plan["price_basis"]) == {"history_provider"}
    assert list(plan["cost_eur"]) == list(sample["cost_eur"])  # exact, to the last digit
    # Without provider_id, one price per model mixes providers; the fit says so.
    from melious_impact.forecasting.costs import fit_prices_from_history

    by_model = fit_prices_from_history(history).set_index("model")
    assert by_model["rel_rmse"].max() > 0.01
    by_provider = fit_prices_from_history(history, by=("model", "provider_id"))
    assert by_provider["rel_rmse"].max() < 1e-9
