"""Rounding rule of the pricing engine, kept in this one module.

The engine computes with exact ``Decimal`` values (34 significant digits, so divisions such as
seconds / 3600 or a tax-inclusive price / 1.21 keep far more precision than any currency needs)
and never rounds an intermediate value. Rounding happens once, when a result is built:

* Money is rounded to the currency's minor unit (2 decimals unless ISO 4217 says otherwise),
  ROUND_HALF_UP. The amount before tax and the amount after tax are each rounded from their own
  exact value; the tax lines are then rounded so that they add up to exactly the difference of
  those two (largest-remainder allocation), so a rounded Money always balances.
* Energy (kWh) is rounded to 3 decimals (1 Wh), ROUND_HALF_UP.
* Durations (hours) are rounded to 4 decimals (0.36 s), ROUND_HALF_UP.

Per-component amounts in the breakdown and the volumes of split periods stay exact.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Context, Decimal

from billing.pricing.model import Money, TaxLine, slot_builder

ROUNDING = ROUND_HALF_UP
ENERGY_QUANTUM = Decimal("0.001")
HOURS_QUANTUM = Decimal("0.0001")
TAX_NAME = "VAT"

# Context the engine computes in; rounding mode only matters for inexact divisions.
# (The rounding mode is passed to `quantize` positionally throughout: as a keyword it makes
# the call about three times slower, and the engine rounds a dozen values per CDR.)
CALCULATION_CONTEXT = Context(prec=34, rounding=ROUND_HALF_UP)

# ISO 4217 currencies whose minor unit is not 2 decimals.
_MINOR_UNITS = {
    **dict.fromkeys(
        ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG"),
        0,
    ),
    **dict.fromkeys(("RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}


# Rounded amounts are built several times per CDR; these skip the frozen dataclass __init__.
_money = slot_builder(Money)
_tax_line = slot_builder(TaxLine)


@functools.cache
def money_quantum(currency: str) -> Decimal:
    """The smallest amount of `currency`, e.g. 0.01 for EUR and 1 for JPY."""
    return Decimal(1).scaleb(-_MINOR_UNITS.get(currency.upper(), 2))


@functools.cache
def zero_money(currency: str) -> Money:
    """Nothing, written with the currency's decimals."""
    zero = Decimal(0).quantize(money_quantum(currency))
    return Money(zero, zero)


def round_energy(kwh: Decimal) -> Decimal:
    return kwh.quantize(ENERGY_QUANTUM, ROUNDING)


def round_hours(hours: Decimal) -> Decimal:
    return hours.quantize(HOURS_QUANTUM, ROUNDING)


def round_money(
    excl_tax: Decimal,
    incl_tax: Decimal,
    taxes: Mapping[Decimal | None, Decimal],
    currency: str,
) -> Money:
    """Round exact amounts into a balanced Money; `taxes` maps VAT percentage to exact amount."""
    quantum = money_quantum(currency)
    excl = excl_tax.quantize(quantum, ROUNDING)
    incl = incl_tax.quantize(quantum, ROUNDING)
    if not taxes:
        return _money(excl, incl, ())
    if len(taxes) == 1:  # one rate takes the whole difference
        (rate,) = taxes
        return _money(excl, incl, (_tax_line(TAX_NAME, rate, incl - excl),))
    rates = list(taxes)
    amounts = _allocate([taxes[rate] for rate in rates], incl - excl, quantum)
    lines = tuple(
        _tax_line(TAX_NAME, rate, amount) for rate, amount in zip(rates, amounts, strict=True)
    )
    return _money(excl, incl, lines)


def _allocate(exact: list[Decimal], target: Decimal, quantum: Decimal) -> list[Decimal]:
    """Round each amount, then move whole quanta to the amounts that lost most in rounding."""
    rounded = [amount.quantize(quantum, ROUNDING) for amount in exact]
    steps = int((target - sum(rounded, Decimal(0))) / quantum)
    if steps == 0 or not rounded:
        return rounded
    # A positive shortfall goes first to amounts rounded down the most, and vice versa.
    order = sorted(range(len(exact)), key=lambda i: exact[i] - rounded[i], reverse=steps > 0)
    unit = quantum if steps > 0 else -quantum
    for k in range(abs(steps)):
        rounded[order[k % len(order)]] += unit
    return rounded
