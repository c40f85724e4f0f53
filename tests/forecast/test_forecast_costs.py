"""cost_eur: one definition, exact decimals, no silent mixing of energy and credits."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import melious_impact as mi
from melious_impact.errors import ForecastError
from melious_impact.forecasting.costs import (
    DEFAULT_EUR_PER_ENERGY_UNIT,
    fit_prices_from_history,
    row_cost_eur,
)


def _billing(rows: list[tuple[object, object, object]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["billing_paid_with", "billing_credits", "billing_energy"])


def test_default_rate_is_the_fixture_ratio() -> None:
    assert Decimal("0.0001") == DEFAULT_EUR_PER_ENERGY_UNIT
    # agentix fixture modelled on a real response: both fields non-zero, paid with credits.
    out = mi.add_cost_eur(_billing([("credits", Decimal("0.0000144"), Decimal("0.144"))]))
    assert out["cost_eur"].iloc[0] == Decimal("0.0000144")
    assert out["cost_basis"].iloc[0] == "credits"
    # The same request valued through energy at the default rate agrees exactly.
    assert Decimal("0.144") * DEFAULT_EUR_PER_ENERGY_UNIT == Decimal("0.0000144")


def test_paid_with_picks_the_charged_field_and_ignores_the_other() -> None:
    df = _billing(
        [
            ("credits", Decimal("0.25"), Decimal("999")),  # energy present but not charged
            ("energy", Decimal("7"), Decimal("0.0008")),  # credits present but not charged
            ("ENERGY ", None, "12.5"),  # case and whitespace, string amount
        ]
    )
    out = mi.add_cost_eur(df)
    assert list(out["cost_eur"]) == [Decimal("0.25"), Decimal("0.00000008"), Decimal("0.00125")]
    assert list(out["cost_basis"]) == ["credits", "energy", "energy"]
    assert all(isinstance(v, Decimal) for v in out["cost_eur"])
    assert "cost_eur" not in df.columns  # a copy, the input is untouched


def test_unknown_paid_with_is_inferred_and_flagged() -> None:
    df = _billing(
        [
            (None, Decimal("0.5"), Decimal("3")),  # credits non-zero -> credits
            ("", Decimal("0"), Decimal("3")),  # credits zero -> energy x rate
            ("bitcoin", None, Decimal("10")),  # unknown word, only energy
            (None, None, None),  # nothing at all
            ("credits", None, Decimal("1")),  # named field missing: not silently energy
        ]
    )
    out = mi.add_cost_eur(df)
    assert list(out["cost_basis"]) == [
        "inferred_credits",
        "inferred_energy",
        "inferred_energy",
        "missing",
        "missing",
    ]
    assert list(out["cost_eur"])[:3] == [Decimal("0.5"), Decimal("0.0003"), Decimal("0.0010")]
    assert out["cost_eur"].iloc[3] is None and out["cost_eur"].iloc[4] is None


def test_rate_is_configurable_and_exact() -> None:
    df = _billing([("energy", None, Decimal("0.123456789012345678"))] * 3)
    out = mi.add_cost_eur(df, eur_per_energy_unit="0.00012345")
    # 18 decimals x 8 decimals: 26 decimal places, more than float or a default context keeps.
    assert out["cost_eur"].iloc[0] == Decimal("0.00001524074060357407394910")
    assert sum(out["cost_eur"], Decimal(0)) == Decimal("0.00004572222181072222184730")
    with pytest.raises(ValueError, match="eur_per_energy_unit"):
        mi.add_cost_eur(df, eur_per_energy_unit=-1)


def test_missing_billing_columns_count_as_missing() -> None:
    out = mi.add_cost_eur(pd.DataFrame({"model": ["a"]}))
    assert out["cost_basis"].iloc[0] == "missing"


# ----------------------------------------------------------------------------- cost_of

PRICES = {"glm-4.7": (Decimal("0.45"), Decimal("1.9")), "bge-m3": (Decimal("0.01"), Decimal("0"))}


def _history(n: int = 40) -> pd.DataFrame:
    rows = []
    for i in range(n):
        model = "glm-4.7" if i % 2 else "bge-m3"
        p_in, p_out = PRICES[model]
        n_in, n_out = 100 + 37 * i, (0 if model == "bge-m3" else 20 + 11 * i)
        cost = (n_in * p_in + n_out * p_out) / Decimal(1_000_000)
        if i % 3 == 0:  # some paid in energy: valued back through the rate
            rows.append((model, n_in, n_out, "energy", None, cost / DEFAULT_EUR_PER_ENERGY_UNIT))
        else:
            rows.append((model, n_in, n_out, "credits", cost, None))
    return pd.DataFrame(
        rows,
        columns=[
            "model",
            "input_tokens",
            "output_tokens",
            "billing_paid_with",
            "billing_credits",
            "billing_energy",
        ],
    )


WORKLOAD = pd.DataFrame(
    {
        "model": ["glm-4.7", "bge-m3"],
        "input_tokens": [2_000_000, 500_000],
        "output_tokens": [300_000, 0],
        "count": [3, 10],
    }
)


def test_cost_of_from_prices_is_exact() -> None:
    out = mi.cost_of(WORKLOAD, PRICES)
    assert list(out["cost_eur"]) == [Decimal("4.41"), Decimal("0.05")]  # 3*(0.9+0.57), 10*0.005
    assert out.attrs["total_cost_eur"] == Decimal("4.46")
    assert set(out["price_basis"]) == {"prices"}


def test_cost_of_from_history_recovers_the_prices() -> None:
    fitted = fit_prices_from_history(_history()).set_index("model")
    assert fitted.loc["glm-4.7", "input_cost_per_million_eur"] == Decimal("0.45")
    assert fitted.loc["glm-4.7", "output_cost_per_million_eur"] == Decimal("1.9")
    assert fitted.loc["glm-4.7", "rel_rmse"] < 1e-9
    out = mi.cost_of(WORKLOAD, history=_history())
    assert list(out["cost_eur"]) == [Decimal("4.41"), Decimal("0.05")]
    assert set(out["price_basis"]) == {"history"}


def test_cost_of_prefers_explicit_prices_and_names_unpriced_models() -> None:
    out = mi.cost_of(
        WORKLOAD,
        {"glm-4.7": {"input_cost_per_million_eur": 1, "output_cost_per_million_eur": 2}},
        history=_history(),
    )
    assert list(out["price_basis"]) == ["prices", "history"]
    assert out["cost_eur"].iloc[0] == Decimal("7.8")
    with pytest.raises(ForecastError, match="unknown-model"):
        mi.cost_of(
            pd.DataFrame({"model": ["unknown-model"], "input_tokens": [1], "output_tokens": [1]}), PRICES
        )
    with pytest.raises(ValueError, match="whole number"):
        mi.cost_of(pd.DataFrame({"model": ["glm-4.7"], "input_tokens": [1.5], "output_tokens": [1]}), PRICES)
    with pytest.raises(ValueError, match="missing"):
        mi.cost_of(pd.DataFrame({"model": ["glm-4.7"]}), PRICES)


@settings(max_examples=200, deadline=None)
@given(
    amount=st.decimals(min_value=0, max_value=10**9, places=18, allow_nan=False, allow_infinity=False),
    other=st.decimals(min_value=0, max_value=10**9, places=18, allow_nan=False, allow_infinity=False),
    rate=st.decimals(min_value=0, max_value=1, places=8, allow_nan=False, allow_infinity=False),
    paid_with=st.sampled_from(["credits", "energy"]),
)
def test_cost_is_exactly_the_charged_field(
    amount: Decimal, other: Decimal, rate: Decimal, paid_with: str
) -> None:
    credits, energy = (amount, other) if paid_with == "credits" else (other, amount)
    cost, basis = row_cost_eur(paid_with, credits, energy, rate)
    assert basis == paid_with
    with localcontext() as ctx:
        ctx.prec = 80
        expected = amount if paid_with == "credits" else amount * rate
    assert cost == expected
