"""The monthly settlement report per partner eMSP, and the price_cdr command."""

from __future__ import annotations

import datetime
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import CDR
from billing.reports import SettlementRow, bars, month_bounds, settlement_csv, settlement_report
from roaming.models import Party
from tests.billing.factories import CDRFactory, PartnerEmspFactory
from tests.billing.pricing.helpers import EXAMPLES

UTC = datetime.UTC
MARCH = datetime.date(2026, 3, 1)


def _cdr(
    emsp: Party,
    day: int,
    total: str,
    taxes: list[dict[str, Any]] | None,
    *,
    month: int = 3,
    currency: str = "EUR",
    energy: str = "10",
    credit_of: str = "",
) -> CDR:
    return CDRFactory.create(
        emsp=emsp,
        start_date_time=datetime.datetime(2026, month, day, 12, tzinfo=UTC),
        end_date_time=datetime.datetime(2026, month, day, 13, tzinfo=UTC),
        currency=currency,
        total_cost=Decimal(total),
        total_cost_taxes=taxes,
        total_time_cost=Decimal(total),
        total_energy=Decimal(energy),
        credit=bool(credit_of),
        credit_reference_id=credit_of,
    )


@pytest.fixture
def march(db: None) -> None:
    """Two partners in March (one also in USD), one CDR in April, one credit."""
    de = PartnerEmspFactory.create()
    nl = PartnerEmspFactory.create(country_code="NL", party_id="OTH", name="Other eMSP")
    _cdr(de, 2, "10.00", [{"name": "VAT", "percentage": 21, "amount": "2.10"}], energy="20")
    _cdr(de, 3, "5.00", [{"name": "VAT", "amount": 0.5}, {"name": "VAT", "amount": 0.25}])
    _cdr(de, 4, "2.50", None, energy="5.5")
    _cdr(de, 5, "-5.00", [{"name": "VAT", "amount": "-0.75"}], credit_of="CDR-X")
    _cdr(de, 6, "7.00", [{"name": "VAT", "amount": "0.70"}], currency="USD", energy="7")
    _cdr(nl, 31, "3.00", [{"name": "VAT", "amount": "0.63"}], energy="4")
    _cdr(nl, 1, "99.00", [{"name": "VAT", "amount": "9"}], month=4)


def _row(rows: list[SettlementRow], partner: str, currency: str = "EUR") -> SettlementRow:
    return next(r for r in rows if (r.partner, r.currency) == (partner, currency))


def test_report_has_one_row_per_partner_and_currency(march: None) -> None:
    rows = settlement_report(month=MARCH)

    assert [(r.partner, r.currency) for r in rows] == [
        ("DE-EMS", "EUR"),
        ("DE-EMS", "USD"),
        ("NL-OTH", "EUR"),
    ]


def test_report_counts_billed_sessions_and_kwh_without_credits(march: None) -> None:
    row = _row(settlement_report(month=MARCH), "DE-EMS")

    assert (row.sessions, row.kwh) == (3, Decimal("35.5"))


def test_report_revenue_is_net_of_credits_before_and_after_tax(march: None) -> None:
    row = _row(settlement_report(month=MARCH), "DE-EMS")

    # 10 + 5 + 2.50 - 5 = 12.50; taxes 2.10 + 0.75 + 0 - 0.75 = 2.10.
    assert (row.revenue_before_tax, row.revenue_after_tax) == (Decimal("12.50"), Decimal("14.60"))


def test_report_counts_credits_and_their_amounts(march: None) -> None:
    row = _row(settlement_report(month=MARCH), "DE-EMS")

    assert (row.credits, row.credited_before_tax, row.credited_after_tax) == (
        1,
        Decimal("-5.00"),
        Decimal("-5.75"),
    )


def test_report_keeps_to_the_month(march: None) -> None:
    row = _row(settlement_report(month=MARCH), "NL-OTH")

    assert (row.sessions, row.revenue_after_tax) == (1, Decimal("3.63"))


def test_report_is_one_database_query(march: None) -> None:
    with CaptureQueriesContext(connection) as queries:
        settlement_report(month=MARCH)

    assert len(queries) == 1


def test_month_bounds_cover_the_calendar_month_in_utc() -> None:
    assert month_bounds(datetime.date(2026, 12, 17)) == (
        datetime.datetime(2026, 12, 1, tzinfo=UTC),
        datetime.datetime(2027, 1, 1, tzinfo=UTC),
    )


def test_report_csv_has_a_line_per_row(march: None) -> None:
    lines = settlement_csv(settlement_report(month=MARCH)).splitlines()

    assert lines[0].startswith("partner,partner name,currency,sessions,kWh")
    assert lines[1] == "DE-EMS,Example eMSP,EUR,3,35.500,12.50,14.60,1,-5.00,-5.75"
    assert len(lines) == 4


def test_chart_bars_scale_to_the_largest_partner(march: None) -> None:
    chart = bars(settlement_report(month=MARCH), currency="EUR")

    assert [(bar.label, round(bar.width)) for bar in chart] == [("DE-EMS", 100), ("NL-OTH", 25)]


# --- price_cdr ------------------------------------------------------------------------------------


def _price_cdr(*args: str) -> dict[str, Any]:
    out = io.StringIO()
    call_command("price_cdr", *args, stdout=out)
    result: dict[str, Any] = json.loads(out.getvalue())
    return result


def test_price_cdr_reproduces_the_spec_cdr_example(tmp_path: Any) -> None:
    example = EXAMPLES / "2.2.1" / "cdr_example.json"
    tariff = tmp_path / "tariff.json"
    tariff.write_text(json.dumps(json.loads(example.read_text())["tariffs"][0]))

    totals = _price_cdr(
        f"--tariff={tariff}", f"--cdr={example}", "--time-zone=Europe/Brussels", "--version=2.2.1"
    )

    assert totals["total_cost"] == {"excl_vat": 4, "incl_vat": 4.4}
    assert totals["total_time_cost"] == {"excl_vat": 4, "incl_vat": 4.4}
    assert (totals["total_time"], totals["currency"]) == (1.973, "EUR")


def test_price_cdr_writes_2_3_0_taxes_and_uses_the_cdr_tariff_by_default() -> None:
    totals = _price_cdr(f"--cdr={EXAMPLES / '2.3.0' / 'cdr_example.json'}", "--version=2.3.0")

    assert totals["total_cost"] == {"before_taxes": 4, "taxes": [{"name": "VAT", "amount": 0.4}]}


def test_price_cdr_names_the_bad_field(tmp_path: Any) -> None:
    tariff = tmp_path / "tariff.json"
    tariff.write_text(json.dumps({"currency": "EUR", "elements": []}))

    with pytest.raises(CommandError, match="elements"):
        _price_cdr(f"--tariff={tariff}", f"--cdr={EXAMPLES / '2.2.1' / 'cdr_example.json'}")
