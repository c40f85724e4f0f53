"""The FOCUS columns this package writes, encoded once: name, data type, level, nullability.

FOCUS (FinOps Open Cost and Usage Specification) version 1.2, the ``v1.2`` release of the
FinOps Foundation's specification repository. Each column cites its section of the
specification (the chapter "Columns", one section per column, or "Attributes" for rules
shared by all columns). Levels follow the sections' content-constraint tables: Mandatory
columns are always present; Conditional and Recommended ones are written where Melious data
can fill them. Columns for features Melious has no equivalent of (commitment discounts,
capacity reservations, sub-accounts, availability zones, several billing-account types) are
left out, as the specification allows for conditional columns.

``nullable`` says whether *this export* may leave the column null (never more permissive
than the specification's "Allows nulls"); the Parquet schema uses it, so a column the
specification forbids to be null is a required field there.

Custom columns start with ``x_`` (Attributes > Column Handling). Data types are FOCUS's own
(Decimal, String, Date/Time as ``DateTime``, JSON for Key-Value Format) plus Integer, Float
and Boolean for our ``x_`` extensions.
"""

from __future__ import annotations

from dataclasses import dataclass

FOCUS_VERSION = "1.2"
#: The versions this package can write (one today; see docs/export.md to follow another).
SUPPORTED_FOCUS_VERSIONS: tuple[str, ...] = ("1.2",)


@dataclass(frozen=True)
class FocusColumn:
    name: str
    data_type: str  # Decimal, String, DateTime, JSON, Integer, Float, Boolean
    level: str  # Mandatory, Conditional, Recommended, Custom
    nullable: bool = False
    section: str = ""  # where the rule comes from in FOCUS 1.2


def _c(name: str, data_type: str, level: str, nullable: bool = False, section: str = "") -> FocusColumn:
    return FocusColumn(name, data_type, level, nullable, section or f"Columns > {name}")


_CUSTOM = "Attributes > Column Handling (custom columns)"

FOCUS_COLUMNS: tuple[FocusColumn, ...] = (
    _c("BilledCost", "Decimal", "Mandatory", section="Columns > Billed Cost"),
    _c("BillingAccountId", "String", "Mandatory", section="Columns > Billing Account ID"),
    _c("BillingAccountName", "String", "Mandatory", True, "Columns > Billing Account Name"),
    _c("BillingCurrency", "String", "Mandatory", section="Columns > Billing Currency"),
    _c("BillingPeriodEnd", "DateTime", "Mandatory", section="Columns > Billing Period End"),
    _c("BillingPeriodStart", "DateTime", "Mandatory", section="Columns > Billing Period Start"),
    _c("ChargeCategory", "String", "Mandatory", section="Columns > Charge Category"),
    # null: the row is not a correction of an earlier billing period
    _c("ChargeClass", "String", "Mandatory", True, "Columns > Charge Class"),
    _c("ChargeDescription", "String", "Mandatory", True, "Columns > Charge Description"),
    _c("ChargeFrequency", "String", "Recommended", section="Columns > Charge Frequency"),
    _c("ChargePeriodEnd", "DateTime", "Mandatory", section="Columns > Charge Period End"),
    _c("ChargePeriodStart", "DateTime", "Mandatory", section="Columns > Charge Period Start"),
    _c("ConsumedQuantity", "Decimal", "Conditional", True, "Columns > Consumed Quantity"),
    _c("ConsumedUnit", "String", "Conditional", True, "Columns > Consumed Unit"),
    _c("ContractedCost", "Decimal", "Mandatory", section="Columns > Contracted Cost"),
    # null only where the model has no published price (see to_focus)
    _c("ContractedUnitPrice", "Decimal", "Conditional", True, "Columns > Contracted Unit Price"),
    _c("EffectiveCost", "Decimal", "Mandatory", section="Columns > Effective Cost"),
    # null: usage drawn from prepaid balances is on no invoice unless invoice ids are given
    _c("InvoiceId", "String", "Recommended", True, "Columns > Invoice ID"),
    _c("InvoiceIssuerName", "String", "Mandatory", section="Columns > Invoice Issuer"),
    _c("ListCost", "Decimal", "Mandatory", section="Columns > List Cost"),
    _c("ListUnitPrice", "Decimal", "Conditional", True, "Columns > List Unit Price"),
    _c("PricingCategory", "String", "Conditional", section="Columns > Pricing Category"),
    _c("PricingCurrency", "String", "Conditional", section="Columns > Pricing Currency"),
    _c("PricingQuantity", "Decimal", "Mandatory", True, "Columns > Pricing Quantity"),
    _c("PricingUnit", "String", "Mandatory", True, "Columns > Pricing Unit"),
    _c("ProviderName", "String", "Mandatory", section="Columns > Provider"),
    _c("PublisherName", "String", "Mandatory", section="Columns > Publisher"),
    _c("RegionId", "String", "Conditional", True, "Columns > Region ID"),
    _c("RegionName", "String", "Conditional", True, "Columns > Region Name"),
    _c("ResourceId", "String", "Conditional", True, "Columns > Resource ID"),
    _c("ResourceName", "String", "Conditional", True, "Columns > Resource Name"),
    _c("ResourceType", "String", "Conditional", True, "Columns > Resource Type"),
    _c("ServiceCategory", "String", "Mandatory", section="Columns > Service Category"),
    _c("ServiceName", "String", "Mandatory", section="Columns > Service Name"),
    _c("ServiceSubcategory", "String", "Recommended", section="Columns > Service Subcategory"),
    _c("SkuId", "String", "Conditional", True, "Columns > SKU ID"),
    _c("SkuMeter", "String", "Conditional", True, "Columns > SKU Meter"),
    _c("SkuPriceId", "String", "Conditional", True, "Columns > SKU Price ID"),
    _c("Tags", "JSON", "Conditional", True, "Columns > Tags"),
    # Melious extensions: impact, billing as sent, request counts. Request-level values sit on
    # the first row of a charge (its Input row) and are null on its Output row, so column
    # sums count each request once.
    _c("x_TokenType", "String", "Custom", True, _CUSTOM),
    _c("x_CostUnknown", "Boolean", "Custom", section=_CUSTOM),
    _c("x_CostAllocation", "String", "Custom", True, _CUSTOM),
    _c("x_Requests", "Integer", "Custom", True, _CUSTOM),
    _c("x_ErrorRequests", "Integer", "Custom", True, _CUSTOM),
    _c("x_ImpactReportedRequests", "Integer", "Custom", True, _CUSTOM),
    _c("x_InputTokens", "Integer", "Custom", True, _CUSTOM),
    _c("x_OutputTokens", "Integer", "Custom", True, _CUSTOM),
    _c("x_EnergyKwh", "Float", "Custom", True, _CUSTOM),
    _c("x_CarbonGCo2", "Float", "Custom", True, _CUSTOM),
    _c("x_WaterLiters", "Float", "Custom", True, _CUSTOM),
    _c("x_BillingEnergyUnits", "Decimal", "Custom", True, _CUSTOM),
    _c("x_BillingCredits", "Decimal", "Custom", True, _CUSTOM),
    _c("x_BillingPaidWith", "String", "Custom", True, _CUSTOM),
    _c("x_ProviderId", "String", "Custom", True, _CUSTOM),
    _c("x_Team", "String", "Custom", True, _CUSTOM),
    _c("x_Project", "String", "Custom", True, _CUSTOM),
    _c("x_RequestId", "String", "Custom", True, _CUSTOM),  # per-request granularity only
)

FOCUS_COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in FOCUS_COLUMNS)
FOCUS_COLUMNS_BY_NAME: dict[str, FocusColumn] = {c.name: c for c in FOCUS_COLUMNS}
MANDATORY_COLUMNS: tuple[str, ...] = tuple(c.name for c in FOCUS_COLUMNS if c.level == "Mandatory")
#: The four cost metrics: null only with ``to_focus(unknown_cost="null")``, outside FOCUS.
COST_COLUMNS: tuple[str, ...] = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
#: Request-level extensions: on a charge's first row only.
REQUEST_LEVEL_COLUMNS: tuple[str, ...] = (
    "x_Requests",
    "x_ErrorRequests",
    "x_ImpactReportedRequests",
    "x_InputTokens",
    "x_OutputTokens",
    "x_EnergyKwh",
    "x_CarbonGCo2",
    "x_WaterLiters",
    "x_BillingEnergyUnits",
    "x_BillingCredits",
)
