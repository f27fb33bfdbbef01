"""Monthly settlement report: per partner eMSP and currency, what was billed and credited.

All figures come from one aggregate query (COUNT and SUM with filters, grouped by eMSP and
currency); no CDR is loaded into Python. Taxes are stored as JSON tax lines, so the database sums
each CDR's tax amounts in a scalar subquery (``TaxAmount``) before summing those per group.

The month is a calendar month of CDR start times in UTC. Sessions and kWh count the billed CDRs
(credits excluded, corrected CDRs included); revenue is net: billed CDRs plus the negative
amounts of the credits issued for CDRs of that month or any other.
"""

from __future__ import annotations

import csv
import datetime
import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import NotSupportedError
from django.db.models import Count, DecimalField, F, Func, Q, Sum, Value
from django.db.models.functions import Coalesce

from billing.models import CDR
from cpms.money import MONEY_DIGITS

_ZERO = Decimal(0)
MONEY_FIELD: DecimalField[Decimal, Decimal] = DecimalField(**MONEY_DIGITS)  # type: ignore[arg-type]


class TaxAmount(Func):
    """The sum of the tax line amounts in a money_pair's JSON column (0 when it has none)."""

    output_field = MONEY_FIELD

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **extra: Any) -> Any:
        # Standard SQL cannot walk a JSON array; each supported backend has its own way below.
        raise NotSupportedError(f"TaxAmount is not available on {connection.vendor}.")

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return super().as_sql(
            compiler,
            connection,
            # One tax line is the usual case: read it directly instead of walking the array. The
            # argument is a column (no query parameters), so it may appear more than once.
            template="(CASE WHEN %(expressions)s IS NULL THEN 0 "
            "WHEN jsonb_array_length(%(expressions)s) = 1 "
            "THEN (%(expressions)s -> 0 ->> 'amount')::numeric "
            "ELSE (SELECT COALESCE(SUM((t.value ->> 'amount')::numeric), 0) "
            "FROM jsonb_array_elements(%(expressions)s) AS t) END)",
            **extra,
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return super().as_sql(
            compiler,
            connection,
            template="(SELECT COALESCE(SUM(CAST(json_extract(t.value, '$.amount') AS NUMERIC)), 0) "
            "FROM json_each(COALESCE(%(expressions)s, '[]')) AS t)",
            **extra,
        )


@dataclass(frozen=True)
class SettlementRow:
    """One partner eMSP in one currency for the month."""

    partner: str  # CC-PID
    partner_name: str
    currency: str
    sessions: int
    kwh: Decimal
    revenue_before_tax: Decimal
    revenue_after_tax: Decimal
    credits: int
    credited_before_tax: Decimal  # zero or negative
    credited_after_tax: Decimal


def month_bounds(month: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """Start (included) and end (excluded) of the month holding `month`, in UTC."""
    start = datetime.datetime(month.year, month.month, 1, tzinfo=datetime.UTC)
    following = (start + datetime.timedelta(days=32)).replace(day=1)
    return start, following


def settlement_report(*, month: datetime.date) -> list[SettlementRow]:
    """Per partner eMSP and currency: CDRs of the month, kWh, net revenue and credits."""
    start, end = month_bounds(month)
    billed = Q(credit=False)
    credited = Q(credit=True)
    zero = Value(_ZERO, output_field=MONEY_FIELD)
    rows = (
        CDR.objects.filter(start_date_time__gte=start, start_date_time__lt=end)
        .values("emsp__country_code", "emsp__party_id", "emsp__name", "currency")
        .annotate(
            sessions=Count("id", filter=billed),
            kwh=Coalesce(Sum("total_energy", filter=billed), Value(_ZERO)),
            revenue_before_tax=Coalesce(Sum("total_cost"), zero),
            tax=Coalesce(Sum(TaxAmount(F("total_cost_taxes"))), zero),
            credits=Count("id", filter=credited),
            credited_before_tax=Coalesce(Sum("total_cost", filter=credited), zero),
            credited_tax=Coalesce(Sum(TaxAmount(F("total_cost_taxes")), filter=credited), zero),
        )
        .order_by("emsp__country_code", "emsp__party_id", "currency")
    )
    return [
        SettlementRow(
            partner=f"{row['emsp__country_code']}-{row['emsp__party_id']}",
            partner_name=row["emsp__name"],
            currency=row["currency"],
            sessions=row["sessions"],
            kwh=Decimal(str(row["kwh"])).quantize(Decimal("0.001")),
            revenue_before_tax=_money(row["revenue_before_tax"]),
            revenue_after_tax=_money(row["revenue_before_tax"] + row["tax"]),
            credits=row["credits"],
            credited_before_tax=_money(row["credited_before_tax"]),
            credited_after_tax=_money(row["credited_before_tax"] + row["credited_tax"]),
        )
        for row in rows
    ]


def _money(value: Any) -> Decimal:
    # SQLite sums in floating point: give every backend's figure the same exact cents.
    return Decimal(str(value)).quantize(Decimal("0.01"))


REPORT_COLUMNS = (
    "partner",
    "partner name",
    "currency",
    "sessions",
    "kWh",
    "revenue before tax",
    "revenue after tax",
    "credits",
    "credited before tax",
    "credited after tax",
)


def settlement_csv(rows: list[SettlementRow]) -> str:
    """The report as CSV text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(REPORT_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                row.partner,
                row.partner_name,
                row.currency,
                row.sessions,
                row.kwh,
                row.revenue_before_tax,
                row.revenue_after_tax,
                row.credits,
                row.credited_before_tax,
                row.credited_after_tax,
            ]
        )
    return buffer.getvalue()


@dataclass(frozen=True)
class Bar:
    """One bar of an inline SVG chart."""

    label: str
    value: Decimal
    width: float  # percent of the chart width
    y: int


def bars(rows: list[SettlementRow], *, currency: str, row_height: int = 22) -> list[Bar]:
    """Horizontal bars of net revenue after tax per partner, for one currency."""
    chosen = [row for row in rows if row.currency == currency]
    top = max((abs(row.revenue_after_tax) for row in chosen), default=_ZERO)
    return [
        Bar(
            label=row.partner,
            value=row.revenue_after_tax,
            width=float(abs(row.revenue_after_tax) / top * 100) if top else 0.0,
            y=index * row_height,
        )
        for index, row in enumerate(chosen)
    ]
