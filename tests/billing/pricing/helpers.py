"""Builders for pricing tests: OCPI tariff JSON, charging periods, and the spec's example files."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from billing.pricing import (
    ChargingPeriodInput,
    Money,
    PeriodKind,
    PricingResult,
    Tariff,
    tariff_from_ocpi,
)

EXAMPLES = Path(__file__).parent / "ocpi_examples"


def example_json(version: str, name: str) -> Any:
    with (EXAMPLES / version / name).open() as f:
        return json.load(f)  # floats on purpose: the parser must cope with them exactly


def example_tariff(version: str, name: str) -> Tariff:
    return tariff_from_ocpi(example_json(version, name), version)


def at(local: str, zone: str = "Europe/Berlin") -> datetime:
    """An aware datetime from a local wall-clock time like '2024-01-08T09:30'."""
    return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone))


def session(
    start: datetime, *steps: tuple[str, float, float] | tuple[str, float]
) -> list[ChargingPeriodInput]:
    """Back-to-back periods from `start`; each step is (kind, minutes[, kWh]).

    kind is "charge", "park" or "reserve"; the energy of a charge step is in kWh.
    """
    kinds = {
        "charge": PeriodKind.CHARGING,
        "park": PeriodKind.PARKING,
        "reserve": PeriodKind.RESERVATION,
    }
    periods = []
    moment = start
    for step in steps:
        kind, minutes = step[0], step[1]
        energy = step[2] if len(step) == 3 else 0
        seconds = Decimal(str(minutes)) * 60
        periods.append(
            ChargingPeriodInput(
                start=moment, seconds=seconds, kind=kinds[kind], energy=Decimal(str(energy))
            )
        )
        moment += timedelta(seconds=float(seconds))
    return periods


def charging(
    start: datetime,
    minutes: float,
    kwh: float = 0,
    *,
    current: float | None = None,
    power: float | None = None,
) -> ChargingPeriodInput:
    return ChargingPeriodInput(
        start=start,
        seconds=Decimal(str(minutes)) * 60,
        energy=Decimal(str(kwh)),
        max_current=None if current is None else Decimal(str(current)),
        max_power=None if power is None else Decimal(str(power)),
    )


def pair(money: Money) -> tuple[Decimal, Decimal]:
    """(excl, incl) of a Money, for compact asserts."""
    return money.excl_tax, money.incl_tax


def cost(result: PricingResult) -> tuple[Decimal, Decimal]:
    return pair(result.total_cost)


def dec(value: str) -> Decimal:
    return Decimal(value)


# --- OCPI 2.2.1 tariff JSON ----------------------------------------------------------------------


def component(kind: str, price: str, *, vat: str | None = None, step: int = 1) -> dict[str, Any]:
    data: dict[str, Any] = {"type": kind, "price": Decimal(price), "step_size": step}
    if vat is not None:
        data["vat"] = Decimal(vat)
    return data


def element(*components: dict[str, Any], **restrictions: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"price_components": list(components)}
    if restrictions:
        data["restrictions"] = restrictions
    return data


def tariff_json(*elements: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"id": "T1", "currency": "EUR", "elements": list(elements), **fields}


def tariff(*elements: dict[str, Any], version: str = "2.2.1", **fields: Any) -> Tariff:
    return tariff_from_ocpi(tariff_json(*elements, **fields), version)
