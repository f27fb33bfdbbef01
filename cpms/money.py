"""Money fields: an amount before taxes plus its tax lines, the one shape every OCPI version maps to.

2.2.1 sends {excl_vat, incl_vat}; 2.3.0 sends {before_taxes, taxes: [{name, amount, ...}]}; 2.1.1 a
plain number. We store the amount before taxes as a Decimal column (summed by finance) and the tax
lines as JSON (None when the sender gave no tax information at all).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models

from cpms.value_objects import ValueObjectValidator

MONEY_DIGITS = {"max_digits": 14, "decimal_places": 4}


def money_pair(
    verbose_name: str, *, required: bool = False
) -> tuple[models.DecimalField[Any, Any], models.JSONField[Any, Any]]:
    """The two columns of one OCPI Price: amount before taxes and the tax lines."""
    amount: models.DecimalField[Any, Any] = models.DecimalField(
        verbose_name,
        null=not required,
        blank=not required,
        **MONEY_DIGITS,  # type: ignore[arg-type]
    )
    taxes: models.JSONField[Any, Any] = models.JSONField(
        f"{verbose_name} taxes",
        null=True,
        blank=True,
        validators=[ValueObjectValidator("tax_amounts")],
    )
    return amount, taxes


def taxes_total(taxes: list[dict[str, Any]] | None) -> Decimal:
    return sum((Decimal(str(t["amount"])) for t in taxes or []), Decimal(0))


def amount_incl_taxes(amount: Decimal | None, taxes: list[dict[str, Any]] | None) -> Decimal | None:
    if amount is None:
        return None
    return amount + taxes_total(taxes)
