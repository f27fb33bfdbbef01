"""Errors raised for input the pricing engine cannot price, each naming the offending field."""

from __future__ import annotations


class TariffError(ValueError):
    """A tariff cannot be priced; `field` is the JSON path of the offending value."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


class SessionInputError(ValueError):
    """Charging periods (or the CDR/session holding them) cannot be priced; names the field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
