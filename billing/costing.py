"""Bridge between stored tariffs and CDRs and the pricing engine: engine input in, CDR columns out.

A CDR keeps its tariffs as 2.3.0 Tariff objects (``tariff_snapshot``); pricing always reads such a
copy, never the live rows, so a CDR's totals and its stored tariff agree forever.

Money goes into CDR columns in the ``cpms.money`` shape: the amount before taxes as a Decimal and
the tax lines as JSON, each line's amount written as a decimal string so nothing is lost to
binary floats. Dimension volumes of charging periods are JSON numbers, rounded as the engine
rounds totals (kWh to 1 Wh, hours to 0.36 s).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from billing.pricing import (
    CostCategory,
    Money,
    PricingResult,
    tariff_from_ocpi,
)
from billing.pricing import Tariff as EngineTariff
from billing.pricing.rounding import round_energy, round_hours
from roaming.modules.common import datetime_out, json_number

SNAPSHOT_VERSION = "2.3.0"

# CDR sub-cost column and the engine category summed into it.
SUB_COSTS: tuple[tuple[str, CostCategory], ...] = (
    ("total_fixed_cost", CostCategory.FIXED),
    ("total_energy_cost", CostCategory.ENERGY),
    ("total_time_cost", CostCategory.TIME),
    ("total_parking_cost", CostCategory.PARKING),
    ("total_reservation_cost", CostCategory.RESERVATION),
)

_ROUNDING = {
    "ENERGY": round_energy,
    "TIME": round_hours,
    "PARKING_TIME": round_hours,
    "RESERVATION_TIME": round_hours,
}


def engine_tariff(snapshot: Mapping[str, Any]) -> EngineTariff:
    """A tariff copy (2.3.0 Tariff JSON) as the engine's tariff, for pricing charging sessions.

    Elements that price a booking (2.3.0) never apply to a charging session; the engine does not
    know booking restrictions, so they are left out here rather than read as unrestricted.
    """
    elements = [snapshot["elements"][i] for i in _session_elements(snapshot)]
    return tariff_from_ocpi({**snapshot, "elements": elements}, SNAPSHOT_VERSION)


def _session_elements(snapshot: Mapping[str, Any]) -> list[int]:
    """Indexes of the elements of a tariff copy that may price a charging session."""
    return [
        index
        for index, element in enumerate(snapshot.get("elements") or [])
        if not (element.get("restrictions") or {}).get("booking")
    ]


def tax_lines(money: Money) -> list[dict[str, Any]]:
    """The tax lines of an engine Money in the cpms.money shape."""
    return [
        {
            "name": line.name,
            **({"percentage": json_number(line.percentage)} if line.percentage is not None else {}),
            "amount": str(line.amount),
        }
        for line in money.taxes
    ]


def negated_tax_lines(taxes: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Tax lines with every amount reversed (for a credit CDR)."""
    if taxes is None:
        return None
    return [{**line, "amount": str(-Decimal(str(line["amount"])))} for line in taxes]


def cost_columns(result: PricingResult) -> dict[str, Any]:
    """CDR money and quantity columns of a pricing result.

    A sub-total is set only when a price component of its kind was used (as OCPI expects);
    parking time only when there was parking.
    """
    columns: dict[str, Any] = {
        "currency": result.currency,
        "total_cost": result.total_cost.excl_tax,
        "total_cost_taxes": tax_lines(result.total_cost),
        "total_energy": result.total_energy,
        "total_time": result.total_time,
        "total_parking_time": result.total_parking_time or None,
    }
    used = result.categories
    for name, category in SUB_COSTS:
        money: Money = getattr(result, name)
        if category in used:
            columns[name] = money.excl_tax
            columns[f"{name}_taxes"] = tax_lines(money)
        else:
            columns[name] = None
            columns[f"{name}_taxes"] = None
    return columns


def ocpi_charging_periods(result: PricingResult, tariff_id: str) -> list[dict[str, Any]]:
    """The engine's split periods as OCPI ChargingPeriods (each names the tariff that priced it)."""
    periods = []
    for period in result.periods:
        dimensions = []
        for kind, volume in period.dimensions:
            rounding = _ROUNDING.get(kind)
            dimensions.append(
                {"type": kind, "volume": json_number(rounding(volume) if rounding else volume)}
            )
        entry: dict[str, Any] = {
            "start_date_time": datetime_out(period.start),
            "dimensions": dimensions,
        }
        if tariff_id:
            entry["tariff_id"] = tariff_id
        periods.append(entry)
    return periods


@dataclass(frozen=True)
class BreakdownRow:
    """What one price component of one element charged, for staff (the price preview)."""

    element: int  # 1-based, as staff count the elements on the tariff page
    component: int  # 1-based within the element
    type: str
    category: str
    volume: Decimal
    billed_volume: Decimal
    price: Decimal
    vat: Decimal | None
    amount_excl_tax: Decimal
    amount_incl_tax: Decimal


def breakdown(result: PricingResult, snapshot: Mapping[str, Any]) -> list[BreakdownRow]:
    """Per price component: the volume it priced and what it charged (exact, unrounded).

    Elements are numbered as on the tariff (booking elements, left out of pricing, still count).
    """
    positions = _session_elements(snapshot)
    return [
        BreakdownRow(
            element=positions[charge.element_index] + 1,
            component=charge.component_index + 1,
            type=charge.type.value,
            category=charge.category.value,
            volume=charge.volume,
            billed_volume=charge.billed_volume,
            price=charge.price,
            vat=charge.vat,
            amount_excl_tax=charge.amount_excl_tax,
            amount_incl_tax=charge.amount_incl_tax,
        )
        for charge in result.components
    ]
