"""The cost rule, once: its Python form and its SQL form give the same euros on every row."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from melious_impact.billing import COST_BASES, EUR_PER_ENERGY_UNIT, check_rate, cost_eur, cost_eur_sql

_AMOUNT = st.one_of(
    st.none(),
    st.just(Decimal(0)),
    st.decimals(min_value=0, max_value=10**6, places=18, allow_nan=False, allow_infinity=False),
)
_PAID = st.sampled_from([None, "credits", "energy", " Energy ", "CREDITS", "other", ""])
_RATE = st.sampled_from(
    [EUR_PER_ENERGY_UNIT, Decimal("0.00012"), Decimal(0), Decimal(1), Decimal("0.000000000001")]
)


def _sql(
    rows: list[tuple[str | None, Decimal | None, Decimal | None]], rate: Decimal
) -> list[Decimal | None]:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t (i INTEGER, billing_paid_with VARCHAR, "
        "billing_credits DECIMAL(38, 18), billing_energy DECIMAL(38, 18))"
    )
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", [(i, *r) for i, r in enumerate(rows)])
    return [v for (v,) in con.execute(f"SELECT {cost_eur_sql(rate)} FROM t ORDER BY i").fetchall()]


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(_PAID, _AMOUNT, _AMOUNT), min_size=1, max_size=20), rate=_RATE)
def test_python_and_sql_forms_agree(
    rows: list[tuple[str | None, Decimal | None, Decimal | None]], rate: Decimal
) -> None:
    expected = [cost_eur(p, c, e, rate)[0] for p, c, e in rows]
    got = _sql(rows, rate)
    for want, have, row in zip(expected, got, rows, strict=True):
        if want is None:
            assert have is None, row
        else:
            # The SQL form keeps 38 digits: energy is rounded to 18 - (the rate's places)
            # places before the product, and the product to 18 places. Credits are exact.
            scale = min(max(-int(rate.as_tuple().exponent), 0), 12)
            bound = rate * Decimal(1).scaleb(scale - 18) + Decimal(1).scaleb(-18)
            assert abs(have - want) <= bound, row
            if row[0] is not None and row[0].strip().lower() == "credits":
                assert have == want, row


@pytest.mark.parametrize(
    ("paid", "credits", "energy", "expected"),
    [
        ("credits", Decimal("0.5"), Decimal(7), (Decimal("0.5"), "credits")),
        ("credits", None, Decimal(7), (None, "missing")),
        ("energy", Decimal("0.5"), Decimal(7), (Decimal("0.0007"), "energy")),
        (" ENERGY", None, None, (None, "missing")),
        (None, Decimal("0.5"), Decimal(7), (Decimal("0.5"), "inferred_credits")),
        (None, Decimal(0), Decimal(7), (Decimal("0.0007"), "inferred_energy")),
        ("other", Decimal(0), None, (Decimal(0), "inferred_credits")),
        (None, None, None, (None, "missing")),
    ],
)
def test_each_line_of_the_rule(
    paid: str | None, credits: Decimal | None, energy: Decimal | None, expected: tuple[Decimal | None, str]
) -> None:
    assert cost_eur(paid, credits, energy) == expected
    assert expected[1] in COST_BASES


@pytest.mark.parametrize("bad", [-1, "x", float("nan"), "Infinity", True, None])
def test_a_bad_rate_says_what_to_pass(bad: object) -> None:
    with pytest.raises(ValueError, match="non-negative number of euros"):
        check_rate(bad)
    with pytest.raises(ValueError, match="non-negative"):
        cost_eur_sql(bad)  # type: ignore[arg-type]
