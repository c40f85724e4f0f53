"""Money rules, each written once: the euro value of an energy unit and ``cost_eur``.

``cost_eur`` of a request is what it cost in euros, as an exact decimal:

- ``billing_paid_with == "credits"``: ``billing_credits`` (credits are euros, per the
  Melious API documentation);
- ``billing_paid_with == "energy"``: ``billing_energy`` x the euro value of an energy unit;
- anything else (missing, unknown word): ``billing_credits`` when present and non-zero,
  else ``billing_energy`` x the rate, else ``billing_credits`` (a real zero charge); such
  rows are flagged ``inferred_*`` in ``cost_basis`` so they are never mixed in silently.

The field *not* named by ``paid_with`` is ignored: public fixtures of real responses
carry both fields non-zero, so it is not a safe zero.

The rule is one table, :data:`COST_RULES`, read in order (the first rule whose condition
holds gives the amount). :func:`cost_eur` evaluates it in Python and :func:`cost_eur_sql`
writes it as a SQL ``CASE`` (DuckDB), so the two forms cannot drift apart.

The euro value of one energy unit is not documented by Melious.
:data:`EUR_PER_ENERGY_UNIT` (0.0001 EUR) is the constant 1:10,000 credits:energy ratio
seen in public fixtures of real responses (``credits "0.0000144"`` next to
``energy "0.144"``); every function that uses it takes your own rate when you know it.

This module sits at the bottom of the import graph: it imports nothing of the package.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

#: Euros per Melious energy unit (1 credit = 1 EUR = 10,000 energy units; see the module doc).
EUR_PER_ENERGY_UNIT = Decimal("0.0001")

#: Values of ``cost_basis``.
COST_BASES = ("credits", "energy", "inferred_credits", "inferred_energy", "missing")

#: Money arithmetic runs in a wide context: the default 28 significant digits could round
#: a product of two 18-decimal amounts, and "exact" has to mean exact.
MONEY_CONTEXT = decimal.Context(prec=80, rounding=decimal.ROUND_HALF_EVEN, traps=[decimal.InvalidOperation])


@dataclass(frozen=True)
class CostRule:
    """One line of the cost rule: when ``condition`` holds, the cost is ``amount``.

    ``condition``: ``("paid_with", word)`` (the normalised word equals ``word``),
    ``("nonzero", field)``, ``("present", field)`` or ``("always", "")``; ``field`` is
    ``"credits"`` or ``"energy"``. ``amount``: ``"credits"`` (the credits, euros) or
    ``"energy"`` (the energy units times the rate). ``basis``: the ``cost_basis`` of a
    row this rule prices (``"missing"`` instead when its amount is absent).
    """

    condition: tuple[str, str]
    amount: str
    basis: str


#: The cost rule, in order (see the module doc).
COST_RULES: tuple[CostRule, ...] = (
    CostRule(("paid_with", "credits"), "credits", "credits"),
    CostRule(("paid_with", "energy"), "energy", "energy"),
    CostRule(("nonzero", "credits"), "credits", "inferred_credits"),
    CostRule(("present", "energy"), "energy", "inferred_energy"),
    CostRule(("always", ""), "credits", "inferred_credits"),
)


def check_rate(eur_per_energy_unit: Any) -> Decimal:
    """The rate as an exact non-negative ``Decimal``; ``ValueError`` saying what to pass."""
    rate: Decimal | None
    if isinstance(eur_per_energy_unit, bool):
        rate = None
    elif isinstance(eur_per_energy_unit, float):
        rate = Decimal(repr(eur_per_energy_unit))  # the lexeme the caller wrote
    else:
        try:
            rate = Decimal(str(eur_per_energy_unit).strip())
        except decimal.InvalidOperation:
            rate = None
    if rate is None or not rate.is_finite() or rate < 0:
        raise ValueError(
            f"eur_per_energy_unit must be a non-negative number of euros, got {eur_per_energy_unit!r}; "
            f"the default is {EUR_PER_ENERGY_UNIT}"
        )
    return rate


def paid_with_word(paid_with: Any) -> str | None:
    """``billing_paid_with`` normalised as the rule reads it (trimmed, lower case)."""
    if paid_with in ("credits", "energy"):
        return str(paid_with)
    return paid_with.strip().lower() if isinstance(paid_with, str) else None


def cost_eur(
    paid_with: Any, credits: Decimal | None, energy: Decimal | None, rate: Decimal = EUR_PER_ENERGY_UNIT
) -> tuple[Decimal | None, str]:
    """``(cost_eur, cost_basis)`` of one request, by :data:`COST_RULES`.

    ``credits`` and ``energy``: exact decimals or None (convert stored values first).
    """
    word = paid_with_word(paid_with)
    values = {"credits": credits, "energy": energy}
    for rule in COST_RULES:
        kind, arg = rule.condition
        if kind == "paid_with":
            holds = word == arg
        elif kind == "nonzero":
            holds = values[arg] is not None and values[arg] != 0
        elif kind == "present":
            holds = values[arg] is not None
        else:
            holds = True
        if not holds:
            continue
        value = values[rule.amount]
        if value is None:
            return None, "missing"
        if rule.amount == "energy":
            value = MONEY_CONTEXT.multiply(value, rate)
        return value, rule.basis
    return None, "missing"  # pragma: no cover - the last rule always holds


def cost_eur_sql(
    rate: Decimal = EUR_PER_ENERGY_UNIT,
    *,
    paid_with: str = "billing_paid_with",
    credits: str = "billing_credits",
    energy: str = "billing_energy",
) -> str:
    """:data:`COST_RULES` as a DuckDB expression of type ``DECIMAL(38, 18)``.

    Within 38 digits: credits are exact; an energy amount is rounded to ``18 - s`` places
    (``s``: the rate's decimal places, at most 12) before it is multiplied, so the SQL
    cost of an energy row may differ from :func:`cost_eur`'s exact one by at most
    ``rate x 10^(s-18)`` plus the last place (1e-18 EUR).

    ``paid_with``, ``credits``, ``energy``: the SQL expressions of the three columns. The
    rate is written in as a literal (views take no parameters), checked first.
    """
    rate = check_rate(rate)
    # DuckDB adds the scales of a product: keep the product at 18 places so it cannot overflow.
    scale = min(max(-int(rate.as_tuple().exponent), 0), 12)
    amounts = {
        "credits": credits,
        "energy": f"CAST({energy} AS DECIMAL(38, {18 - scale})) * CAST('{rate}' AS DECIMAL(38, {scale}))",
    }
    fields = {"credits": credits, "energy": energy}
    whens = []
    for rule in COST_RULES:
        kind, arg = rule.condition
        if kind == "paid_with":
            cond = f"lower(trim({paid_with})) = '{arg}'"
        elif kind == "nonzero":
            cond = f"{fields[arg]} IS NOT NULL AND {fields[arg]} <> 0"
        elif kind == "present":
            cond = f"{fields[arg]} IS NOT NULL"
        else:
            whens.append(f"ELSE {amounts[rule.amount]}")
            continue
        whens.append(f"WHEN {cond} THEN {amounts[rule.amount]}")
    return "CAST(CASE " + " ".join(whens) + " END AS DECIMAL(38, 18))"
