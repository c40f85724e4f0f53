"""The FOCUS columns this package writes, encoded once: name, data type, requirement level.

FOCUS (FinOps Open Cost and Usage Specification) version 1.2. Levels follow the
specification's column definitions: Mandatory columns are always present (some may hold
nulls, e.g. ChargeClass outside corrections); Conditional and Recommended columns are
written where Melious data can fill them. Columns for features Melious has no equivalent of
(commitment discounts, capacity reservations, sub-accounts, availability zones) are left out,
as the specification allows for conditional columns.

Custom columns start with ``x_`` (the specification's prefix for extensions).
Data types are FOCUS's own: Decimal, String, DateTime, JSON (and Integer/Float for our
``x_`` extensions).
"""

from __future__ import annotations

from dataclasses import dataclass

FOCUS_VERSION = "1.2"


@dataclass(frozen=True)
class FocusColumn:
    name: str
    data_type: str  # Decimal, String, DateTime, JSON, Integer, Float
    level: str  # Mandatory, Conditional, Recommended, Custom
    nullable: bool = False


FOCUS_COLUMNS: tuple[FocusColumn, ...] = (
    FocusColumn("BilledCost", "Decimal", "Mandatory"),
    FocusColumn("BillingAccountId", "String", "Mandatory"),
    FocusColumn("BillingAccountName", "String", "Mandatory", nullable=True),
    FocusColumn("BillingCurrency", "String", "Mandatory"),
    FocusColumn("BillingPeriodEnd", "DateTime", "Mandatory"),
    FocusColumn("BillingPeriodStart", "DateTime", "Mandatory"),
    FocusColumn("ChargeCategory", "String", "Mandatory"),
    FocusColumn("ChargeClass", "String", "Mandatory", nullable=True),  # null: not a correction
    FocusColumn("ChargeDescription", "String", "Mandatory", nullable=True),
    FocusColumn("ChargeFrequency", "String", "Recommended"),
    FocusColumn("ChargePeriodEnd", "DateTime", "Mandatory"),
    FocusColumn("ChargePeriodStart", "DateTime", "Mandatory"),
    FocusColumn("ConsumedQuantity", "Decimal", "Conditional", nullable=True),
    FocusColumn("ConsumedUnit", "String", "Conditional", nullable=True),
    FocusColumn("ContractedCost", "Decimal", "Mandatory"),
    FocusColumn("EffectiveCost", "Decimal", "Mandatory"),
    FocusColumn("InvoiceIssuerName", "String", "Mandatory"),
    FocusColumn("ListCost", "Decimal", "Mandatory"),
    FocusColumn("PricingCategory", "String", "Conditional", nullable=True),
    FocusColumn("PricingCurrency", "String", "Conditional", nullable=True),
    FocusColumn("PricingQuantity", "Decimal", "Mandatory", nullable=True),
    FocusColumn("PricingUnit", "String", "Mandatory", nullable=True),
    FocusColumn("ProviderName", "String", "Mandatory"),
    FocusColumn("PublisherName", "String", "Mandatory"),
    FocusColumn("RegionId", "String", "Conditional", nullable=True),
    FocusColumn("RegionName", "String", "Conditional", nullable=True),
    FocusColumn("ResourceId", "String", "Conditional", nullable=True),
    FocusColumn("ResourceName", "String", "Conditional", nullable=True),
    FocusColumn("ResourceType", "String", "Conditional", nullable=True),
    FocusColumn("ServiceCategory", "String", "Mandatory"),
    FocusColumn("ServiceName", "String", "Mandatory"),
    FocusColumn("ServiceSubcategory", "String", "Recommended"),
    FocusColumn("SkuId", "String", "Conditional", nullable=True),
    FocusColumn("SkuMeter", "String", "Conditional", nullable=True),
    FocusColumn("SkuPriceId", "String", "Conditional", nullable=True),
    FocusColumn("Tags", "JSON", "Conditional", nullable=True),
    # Melious extensions: impact, billing as sent, request counts.
    FocusColumn("x_Requests", "Integer", "Custom"),
    FocusColumn("x_ErrorRequests", "Integer", "Custom"),
    FocusColumn("x_ImpactReportedRequests", "Integer", "Custom"),
    FocusColumn("x_InputTokens", "Integer", "Custom"),
    FocusColumn("x_OutputTokens", "Integer", "Custom"),
    FocusColumn("x_EnergyKwh", "Float", "Custom"),
    FocusColumn("x_CarbonGCo2", "Float", "Custom"),
    FocusColumn("x_WaterLiters", "Float", "Custom"),
    FocusColumn("x_BillingEnergyUnits", "Decimal", "Custom"),
    FocusColumn("x_BillingCredits", "Decimal", "Custom"),
    FocusColumn("x_BillingPaidWith", "String", "Custom", nullable=True),
    FocusColumn("x_ProviderId", "String", "Custom", nullable=True),
    FocusColumn("x_Team", "String", "Custom", nullable=True),
    FocusColumn("x_Project", "String", "Custom", nullable=True),
    FocusColumn("x_RequestId", "String", "Custom", nullable=True),  # per-request granularity only
)

FOCUS_COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in FOCUS_COLUMNS)
FOCUS_COLUMNS_BY_NAME: dict[str, FocusColumn] = {c.name: c for c in FOCUS_COLUMNS}
MANDATORY_COLUMNS: tuple[str, ...] = tuple(c.name for c in FOCUS_COLUMNS if c.level == "Mandatory")
