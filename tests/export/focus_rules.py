"""FOCUS 1.2 rules as data, each cited to its section, and a checker that applies them.

Written from the specification text (release ``v1.2`` of the FinOps Foundation's FOCUS
repository: ``specification/columns/*.md`` and ``specification/attributes/*.md``), not from
the package's own column table, so that a mistake in the package cannot hide here. Sections
are named as in the specification: "Columns > <column>" or "Attributes > <attribute>".

``check(rows, columns)`` takes the rows of an export read back from its file (Python values:
``Decimal``, aware ``datetime``, ``str``, ``None``) and returns the violated rules as
``(rule_id, row_index or None, detail)``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

# --------------------------------------------------------------------------- columns
# nulls: "never" (MUST NOT be null), "usage" (MUST NOT be null when ChargeCategory is Usage or
# Purchase and ChargeClass is not Correction; MUST be null for Tax), "any" (MAY be null).


@dataclass(frozen=True)
class ColumnRule:
    name: str
    section: str
    level: str  # Mandatory, Conditional, Recommended (presence)
    data_type: str  # Decimal, String, DateTime, JSON
    nulls: str  # never, usage, any
    allowed: frozenset[str] | None = None
    non_negative: bool = False


def _col(
    name: str,
    section: str,
    level: str,
    data_type: str,
    nulls: str,
    allowed: Sequence[str] | None = None,
    non_negative: bool = False,
) -> ColumnRule:
    return ColumnRule(
        name,
        f"Columns > {section}",
        level,
        data_type,
        nulls,
        frozenset(allowed) if allowed else None,
        non_negative,
    )


CHARGE_CATEGORIES = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")  # Columns > Charge Category
CHARGE_FREQUENCIES = ("One-Time", "Recurring", "Usage-Based")  # Columns > Charge Frequency
PRICING_CATEGORIES = ("Standard", "Dynamic", "Committed", "Other")  # Columns > Pricing Category
SERVICE_CATEGORIES = (  # Columns > Service Category
    "AI and Machine Learning",
    "Analytics",
    "Business Applications",
    "Compute",
    "Databases",
    "Developer Tools",
    "Multicloud",
    "Identity",
    "Integration",
    "Internet of Things",
    "Management and Governance",
    "Media",
    "Migration",
    "Mobile",
    "Networking",
    "Security",
    "Storage",
    "Web",
    "Other",
)
# Columns > Service Subcategory: the AI and Machine Learning rows of its allowed-values table
# (the only parent this export uses; a subcategory of another parent fails the parent rule).
AI_SUBCATEGORIES = (
    "AI Platforms",
    "Bots",
    "Generative AI",
    "Machine Learning",
    "Natural Language Processing",
    "Other (AI and Machine Learning)",
)

COLUMN_RULES: tuple[ColumnRule, ...] = (
    _col("BilledCost", "Billed Cost", "Mandatory", "Decimal", "never"),
    _col("BillingAccountId", "Billing Account ID", "Mandatory", "String", "never"),
    _col("BillingAccountName", "Billing Account Name", "Mandatory", "String", "any"),
    _col("BillingCurrency", "Billing Currency", "Mandatory", "String", "never"),
    _col("BillingPeriodEnd", "Billing Period End", "Mandatory", "DateTime", "never"),
    _col("BillingPeriodStart", "Billing Period Start", "Mandatory", "DateTime", "never"),
    _col("ChargeCategory", "Charge Category", "Mandatory", "String", "never", CHARGE_CATEGORIES),
    _col("ChargeClass", "Charge Class", "Mandatory", "String", "any", ("Correction",)),
    _col("ChargeDescription", "Charge Description", "Mandatory", "String", "any"),
    _col("ChargeFrequency", "Charge Frequency", "Recommended", "String", "never", CHARGE_FREQUENCIES),
    _col("ChargePeriodEnd", "Charge Period End", "Mandatory", "DateTime", "never"),
    _col("ChargePeriodStart", "Charge Period Start", "Mandatory", "DateTime", "never"),
    _col("ConsumedQuantity", "Consumed Quantity", "Conditional", "Decimal", "any"),
    _col("ConsumedUnit", "Consumed Unit", "Conditional", "String", "any"),
    _col("ContractedCost", "Contracted Cost", "Mandatory", "Decimal", "never"),
    _col(
        "ContractedUnitPrice", "Contracted Unit Price", "Conditional", "Decimal", "usage", non_negative=True
    ),
    _col("EffectiveCost", "Effective Cost", "Mandatory", "Decimal", "never"),
    _col("InvoiceId", "Invoice ID", "Recommended", "String", "any"),
    _col("InvoiceIssuerName", "Invoice Issuer", "Mandatory", "String", "never"),
    _col("ListCost", "List Cost", "Mandatory", "Decimal", "never"),
    _col("ListUnitPrice", "List Unit Price", "Conditional", "Decimal", "usage", non_negative=True),
    _col("PricingCategory", "Pricing Category", "Conditional", "String", "usage", PRICING_CATEGORIES),
    _col("PricingCurrency", "Pricing Currency", "Conditional", "String", "never"),
    _col("PricingQuantity", "Pricing Quantity", "Mandatory", "Decimal", "usage"),
    _col("PricingUnit", "Pricing Unit", "Mandatory", "String", "any"),
    _col("ProviderName", "Provider", "Mandatory", "String", "never"),
    _col("PublisherName", "Publisher", "Mandatory", "String", "never"),
    _col("RegionId", "Region ID", "Conditional", "String", "any"),
    _col("RegionName", "Region Name", "Conditional", "String", "any"),
    _col("ResourceId", "Resource ID", "Conditional", "String", "any"),
    _col("ResourceName", "Resource Name", "Conditional", "String", "any"),
    _col("ResourceType", "Resource Type", "Conditional", "String", "any"),
    _col("ServiceCategory", "Service Category", "Mandatory", "String", "never", SERVICE_CATEGORIES),
    _col("ServiceName", "Service Name", "Mandatory", "String", "never"),
    _col("ServiceSubcategory", "Service Subcategory", "Recommended", "String", "never"),
    _col("SkuId", "SKU ID", "Conditional", "String", "usage"),
    _col("SkuMeter", "SKU Meter", "Conditional", "String", "any"),
    _col("SkuPriceId", "SKU Price ID", "Conditional", "String", "usage"),
    _col("Tags", "Tags", "Conditional", "JSON", "any"),
)
COLUMN_RULES_BY_NAME = {c.name: c for c in COLUMN_RULES}
MANDATORY = tuple(c.name for c in COLUMN_RULES if c.level == "Mandatory")

# Conditional columns this export must carry because Melious does what their presence rule names
# (measures usage, deploys in regions, publishes unit prices and price lists, supports tags).
REQUIRED_CONDITIONAL = (
    "ConsumedQuantity",  # provider measures usage
    "ConsumedUnit",
    "ListUnitPrice",  # provider publishes unit prices exclusive of discounts
    "SkuId",  # unit pricing concepts and published price lists
    "SkuPriceId",
    "RegionId",  # resources run in a region
    "RegionName",
    "Tags",  # user-defined tags (team, project, tags)
)

# --------------------------------------------------------------------------- formats

DATETIME_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")  # Attributes > Date/Time Format
# Attributes > Numeric Format: integer, decimal or E notation; no sign for positives, no
# thousands separators, no units or symbols.
NUMERIC_TEXT = re.compile(r"^-?\d+(\.\d+)?(E-?\d+)?$")
CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")  # Attributes > Currency Format (ISO 4217 code)
# Attributes > Unit Format: "<plural-units>", "<quantity> <plural-units>", composites with "/"
# and "-"; each word capitalised; a quantity a whole number.
UNIT_TEXT = re.compile(r"^(\d+ )?[A-Z][A-Za-z]*([-/](\d+ )?[A-Z][A-Za-z]*)*$")
COLUMN_ID = re.compile(r"^[A-Z][A-Za-z0-9]*$")  # Attributes > Column Handling: Pascal case, alphanumeric


@dataclass(frozen=True)
class RowRule:
    id: str
    section: str
    check: Callable[[Mapping[str, Any]], bool]  # True when the row passes


def _usage(row: Mapping[str, Any]) -> bool:
    return row.get("ChargeCategory") in ("Usage", "Purchase") and row.get("ChargeClass") != "Correction"


def _product_matches(price: str, cost: str) -> Callable[[Mapping[str, Any]], bool]:
    def check(row: Mapping[str, Any]) -> bool:
        p, q, c = row.get(price), row.get("PricingQuantity"), row.get(cost)
        if p is None or q is None or row.get("ChargeClass") == "Correction":
            return True
        return c is not None and p * q == c

    return check


def _falls_back_to_billed(price: str, cost: str) -> Callable[[Mapping[str, Any]], bool]:
    # a Usage charge is not calculated from other charges: with no unit price, the cost is BilledCost
    def check(row: Mapping[str, Any]) -> bool:
        return row.get(price) is not None or row.get(cost) == row.get("BilledCost")

    return check


def _both_or_neither(a: str, b: str) -> Callable[[Mapping[str, Any]], bool]:
    return lambda row: (row.get(a) is None) == (row.get(b) is None)


def _key_value(row: Mapping[str, Any]) -> bool:
    text = row.get("Tags")
    if text is None:
        return True
    try:
        obj = json.loads(text)
    except ValueError:
        return False
    return isinstance(obj, dict) and all(not isinstance(v, dict | list) for v in obj.values())


def _unit(column: str) -> Callable[[Mapping[str, Any]], bool]:
    return lambda row: row.get(column) is None or bool(UNIT_TEXT.match(row[column]))


def _period(start: str, end: str) -> Callable[[Mapping[str, Any]], bool]:
    def check(row: Mapping[str, Any]) -> bool:
        try:
            return row[start] is not None and row[end] is not None and row[end] > row[start]
        except TypeError:  # a naive and an aware time (the UTC rule reports it)
            return False

    return check


def _utc(row: Mapping[str, Any]) -> bool:
    for name in ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd"):
        value = row.get(name)
        if not isinstance(value, datetime) or value.utcoffset() is None or value.utcoffset().total_seconds():
            return False
    return True


ROW_RULES: tuple[RowRule, ...] = (
    RowRule(
        "charge-period-end-exclusive",
        "Columns > Charge Period End",
        _period("ChargePeriodStart", "ChargePeriodEnd"),
    ),
    RowRule(
        "billing-period-end-exclusive",
        "Columns > Billing Period End",
        _period("BillingPeriodStart", "BillingPeriodEnd"),
    ),
    RowRule("datetime-utc", "Attributes > Date/Time Format", _utc),
    RowRule(
        "list-unit-price-times-quantity",
        "Columns > List Unit Price",
        _product_matches("ListUnitPrice", "ListCost"),
    ),
    RowRule(
        "contracted-unit-price-times-quantity",
        "Columns > Contracted Unit Price",
        _product_matches("ContractedUnitPrice", "ContractedCost"),
    ),
    RowRule(
        "list-cost-without-unit-price",
        "Columns > List Cost",
        _falls_back_to_billed("ListUnitPrice", "ListCost"),
    ),
    RowRule(
        "contracted-cost-without-unit-price",
        "Columns > Contracted Cost",
        _falls_back_to_billed("ContractedUnitPrice", "ContractedCost"),
    ),
    RowRule(
        "pricing-unit-with-quantity",
        "Columns > Pricing Unit",
        _both_or_neither("PricingUnit", "PricingQuantity"),
    ),
    RowRule(
        "consumed-unit-with-quantity",
        "Columns > Consumed Unit",
        _both_or_neither("ConsumedUnit", "ConsumedQuantity"),
    ),
    RowRule(
        "consumed-quantity-on-usage",
        "Columns > Consumed Quantity",
        lambda r: (
            r.get("ChargeCategory") != "Usage"
            or r.get("ChargeClass") == "Correction"
            or r.get("ConsumedQuantity") is not None
        ),
    ),
    RowRule("region-name-with-id", "Columns > Region Name", _both_or_neither("RegionName", "RegionId")),
    RowRule(
        "resource-type-with-id", "Columns > Resource Type", _both_or_neither("ResourceType", "ResourceId")
    ),
    RowRule(
        "resource-name-needs-id",
        "Columns > Resource Name",
        lambda r: r.get("ResourceId") is not None or r.get("ResourceName") is None,
    ),
    RowRule(
        "usage-frequency",
        "Columns > Charge Frequency",
        lambda r: not (r.get("ChargeCategory") == "Purchase" and r.get("ChargeFrequency") == "Usage-Based"),
    ),
    RowRule(
        "subcategory-parent",
        "Columns > Service Subcategory",
        lambda r: (
            r.get("ServiceCategory") != "AI and Machine Learning"
            or r.get("ServiceSubcategory") in AI_SUBCATEGORIES
        ),
    ),
    RowRule(
        "billing-currency-code",
        "Attributes > Currency Format",
        lambda r: bool(CURRENCY_CODE.match(r.get("BillingCurrency") or "")),
    ),
    RowRule(
        "pricing-currency-code",
        "Attributes > Currency Format",
        lambda r: r.get("PricingCurrency") is None or bool(CURRENCY_CODE.match(r["PricingCurrency"])),
    ),
    RowRule("tags-key-value", "Attributes > Key-Value Format", _key_value),
    RowRule("pricing-unit-format", "Attributes > Unit Format", _unit("PricingUnit")),
    RowRule("consumed-unit-format", "Attributes > Unit Format", _unit("ConsumedUnit")),
    RowRule(
        "no-empty-strings",
        "Attributes > Null Handling",
        lambda r: all(not (isinstance(v, str) and not v.strip()) for v in r.values()),
    ),
)

# Dataset-level rules (across rows).
DATASET_RULES = {
    "sku-price-one-parent": "Columns > SKU Price ID",  # a SkuPriceId has one and only one SkuId
    "mandatory-present": "Columns (Mandatory feature level)",
    "conditional-present": "Columns (Conditional: present when the provider supports the feature)",
    "custom-prefix": "Attributes > Column Handling",  # custom columns start with x_
    "custom-after-focus": "Attributes > Column Handling",  # custom columns after FOCUS ones
    "column-id-format": "Attributes > Column Handling",
}


def rule_count() -> int:
    """Rules encoded: per-column rules (presence, type, nulls, values) plus row and dataset rules."""
    per_column = sum(1 + 1 + 1 + (c.allowed is not None) + c.non_negative for c in COLUMN_RULES)
    return per_column + len(ROW_RULES) + len(DATASET_RULES)


def _type_ok(rule: ColumnRule, value: Any) -> bool:
    if rule.data_type == "Decimal":
        return isinstance(value, Decimal) and value.is_finite()
    if rule.data_type == "DateTime":
        return isinstance(value, datetime)
    return isinstance(value, str)


def check(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> list[tuple[str, int | None, str]]:
    """Every violated rule as (rule id, row index or None, detail)."""
    out: list[tuple[str, int | None, str]] = []
    present = set(columns)
    for name in MANDATORY:
        if name not in present:
            out.append(("mandatory-present", None, name))
    for name in REQUIRED_CONDITIONAL:
        if name not in present:
            out.append(("conditional-present", None, name))
    seen_custom = False
    for name in columns:
        if name.startswith("x_"):
            seen_custom = True
        elif seen_custom:
            out.append(("custom-after-focus", None, name))
        if name not in COLUMN_RULES_BY_NAME and not name.startswith("x_"):
            out.append(("custom-prefix", None, name))
        if not name.startswith("x_") and not COLUMN_ID.match(name):
            out.append(("column-id-format", None, name))
    parents: dict[str, set[Any]] = {}
    for i, row in enumerate(rows):
        usage = _usage(row)
        for rule in COLUMN_RULES:
            if rule.name not in present:
                continue
            value = row.get(rule.name)
            if value is None:
                if rule.nulls == "never" or (rule.nulls == "usage" and usage):
                    out.append((f"{rule.name}-not-null", i, rule.section))
                continue
            if rule.nulls == "usage" and row.get("ChargeCategory") == "Tax":
                out.append((f"{rule.name}-null-for-tax", i, rule.section))
            if not _type_ok(rule, value):
                out.append((f"{rule.name}-type", i, f"{rule.section}: {value!r}"))
                continue
            if rule.allowed is not None and value not in rule.allowed:
                out.append((f"{rule.name}-allowed", i, f"{rule.section}: {value!r}"))
            if rule.non_negative and value < 0:
                out.append((f"{rule.name}-non-negative", i, rule.section))
        for row_rule in ROW_RULES:
            if not row_rule.check(row):
                out.append((row_rule.id, i, row_rule.section))
        if row.get("SkuPriceId") is not None:
            parents.setdefault(row["SkuPriceId"], set()).add(row.get("SkuId"))
    for price_id, skus in parents.items():
        if len(skus) != 1:
            out.append(("sku-price-one-parent", None, f"{price_id}: {sorted(map(str, skus))}"))
    return out


def check_csv_text(texts: Sequence[Mapping[str, str]]) -> list[tuple[str, int | None, str]]:
    """Format rules on the raw CSV cells (empty cell = null)."""
    out: list[tuple[str, int | None, str]] = []
    for i, row in enumerate(texts):
        for rule in COLUMN_RULES:
            text = row.get(rule.name, "")
            if text == "":
                continue
            if rule.data_type == "DateTime" and not DATETIME_TEXT.match(text):
                out.append((f"{rule.name}-datetime-format", i, f"Attributes > Date/Time Format: {text}"))
            if rule.data_type == "Decimal" and not NUMERIC_TEXT.match(text):
                out.append((f"{rule.name}-numeric-format", i, f"Attributes > Numeric Format: {text}"))
    return out
