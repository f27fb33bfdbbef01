"""OCPI pricing engine: pure Python, no Django; prices charging periods under a tariff."""

from billing.pricing.engine import price_session
from billing.pricing.errors import SessionInputError, TariffError
from billing.pricing.model import (
    ChargingPeriodInput,
    ComponentCharge,
    CostCategory,
    DayOfWeek,
    DimensionType,
    Money,
    PeriodKind,
    PriceComponent,
    PricedPeriod,
    PriceLimit,
    PricingResult,
    ReservationRestriction,
    Restrictions,
    SessionInput,
    Tariff,
    TariffElement,
    TariffType,
    TaxIncluded,
    TaxLine,
)
from billing.pricing.parse import session_from_ocpi_cdr, tariff_from_ocpi
from billing.pricing.serialize import to_ocpi_totals

__all__ = [
    "ChargingPeriodInput",
    "ComponentCharge",
    "CostCategory",
    "DayOfWeek",
    "DimensionType",
    "Money",
    "PeriodKind",
    "PriceComponent",
    "PriceLimit",
    "PricedPeriod",
    "PricingResult",
    "ReservationRestriction",
    "Restrictions",
    "SessionInput",
    "SessionInputError",
    "Tariff",
    "TariffElement",
    "TariffError",
    "TariffType",
    "TaxIncluded",
    "TaxLine",
    "price_session",
    "session_from_ocpi_cdr",
    "tariff_from_ocpi",
    "to_ocpi_totals",
]
