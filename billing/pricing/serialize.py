"""Write a pricing result as the total fields of an OCPI CDR, per OCPI version."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from billing.pricing.model import CostCategory, Money, PricingResult
from billing.pricing.rounding import TAX_NAME

_COST_FIELDS = (
    ("total_fixed_cost", CostCategory.FIXED),
    ("total_energy_cost", CostCategory.ENERGY),
    ("total_time_cost", CostCategory.TIME),
    ("total_parking_cost", CostCategory.PARKING),
    ("total_reservation_cost", CostCategory.RESERVATION),
)


def to_ocpi_totals(result: PricingResult, version: str) -> dict[str, Any]:
    """CDR total fields with OCPI names; values are Decimals, to be written as JSON numbers.

    2.1.1 has plain numbers (cost before tax only). 2.2.1 and 2.3.0 get a Price object per cost;
    a sub-total is present only when a price component of its kind was used, and
    `total_parking_time` only when there was parking.
    """
    if version == "2.1.1":
        totals: dict[str, Any] = {
            "total_cost": result.total_cost.excl_tax,
            "total_energy": result.total_energy,
            "total_time": result.total_time,
        }
        if result.total_parking_time:
            totals["total_parking_time"] = result.total_parking_time
        return totals
    price = _PRICE_WRITERS.get(version)
    if price is None:
        raise ValueError(f"unsupported OCPI version {version!r}")
    totals = {"total_cost": price(result.total_cost)}
    used = result.categories
    costs = {
        name: price(getattr(result, name)) for name, category in _COST_FIELDS if category in used
    }
    totals.update(costs)
    totals["total_energy"] = result.total_energy
    totals["total_time"] = result.total_time
    if result.total_parking_time:
        totals["total_parking_time"] = result.total_parking_time
    return totals


def _price_221(money: Money) -> dict[str, Any]:
    return {"excl_vat": money.excl_tax, "incl_vat": money.incl_tax}


def _price_230(money: Money) -> dict[str, Any]:
    # One VAT line with the session's whole tax: receivers need the amount due, and the
    # spec's own CDR example has this shape. Per-rate lines stay available on `Money.taxes`.
    taxes = []
    if money.taxes:
        amount = sum((line.amount for line in money.taxes), Decimal(0))
        taxes.append({"name": TAX_NAME, "amount": amount})
    return {"before_taxes": money.excl_tax, "taxes": taxes}


_PRICE_WRITERS: dict[str, Callable[[Money], dict[str, Any]]] = {
    "2.2.1": _price_221,
    "2.3.0": _price_230,
}
