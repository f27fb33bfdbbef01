"""Finance exports of CDRs: columns, filters, CSV and XLSX files, and the export command."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from openpyxl import load_workbook

from billing.exports import COLUMNS, CdrFilter, ExportFilterError, export_csv, export_xlsx
from billing.models import CDR
from roaming.models import Party
from tests.billing.factories import CDRFactory, PartnerEmspFactory

pytestmark = pytest.mark.django_db

UTC = datetime.UTC


def _cdr(
    ocpi_id: str,
    start: datetime.datetime,
    *,
    emsp: Party | None = None,
    country: str = "BEL",
    currency: str = "EUR",
    total: str = "4.00",
    tax: str = "0.40",
    **fields: Any,
) -> CDR:
    emsp = emsp or PartnerEmspFactory.create()
    location = {**CDRFactory.cdr_location.function(), "country": country}
    return CDRFactory.create(
        ocpi_id=ocpi_id,
        emsp=emsp,
        start_date_time=start,
        end_date_time=start + datetime.timedelta(hours=2),
        cdr_location=location,
        currency=currency,
        total_cost=Decimal(total),
        total_cost_taxes=[{"name": "VAT", "percentage": 10, "amount": tax}],
        total_time_cost=Decimal(total),
        **fields,
    )


@pytest.fixture
def cdrs(db: None) -> dict[str, CDR]:
    other = PartnerEmspFactory.create(country_code="NL", party_id="OTH", name="Other eMSP")
    return {
        "march": _cdr("MAR-1", datetime.datetime(2026, 3, 2, 9, 30, tzinfo=UTC)),
        "march_end": _cdr("MAR-31", datetime.datetime(2026, 3, 31, 23, 59, tzinfo=UTC)),
        "april": _cdr("APR-1", datetime.datetime(2026, 4, 1, 0, 0, tzinfo=UTC)),
        "other_partner": _cdr(
            "MAR-NL", datetime.datetime(2026, 3, 5, tzinfo=UTC), emsp=other, country="NLD"
        ),
        "dollars": _cdr("MAR-USD", datetime.datetime(2026, 3, 6, tzinfo=UTC), currency="USD"),
    }


def _csv_rows(selection: CdrFilter) -> list[dict[str, str]]:
    out = io.StringIO()
    export_csv(selection.queryset(), out)
    return list(csv.DictReader(io.StringIO(out.getvalue())))


MARCH = CdrFilter(date_from=datetime.date(2026, 3, 1), date_to=datetime.date(2026, 3, 31))


def test_csv_has_the_finance_columns_in_order(cdrs: dict[str, CDR]) -> None:
    out = io.StringIO()
    export_csv(MARCH.queryset(), out)

    assert next(csv.reader(io.StringIO(out.getvalue()))) == list(COLUMNS)


def test_csv_row_holds_the_cdr_figures(cdrs: dict[str, CDR]) -> None:
    row = _csv_rows(MARCH)[0]

    assert row["CDR id"] == "MAR-1"
    assert (row["credit"], row["credit reference"]) == ("no", "")
    assert row["partner"] == "DE-EMS"
    assert (row["token uid"], row["contract id"]) == ("012345678", "DE8ACC12E46L89")
    assert (row["location id"], row["country"], row["EVSE id"]) == (
        "LOC1",
        "BEL",
        "BE*BEC*E041503003",
    )
    assert (row["start (UTC)"], row["end (UTC)"]) == (
        "2026-03-02T09:30:00Z",
        "2026-03-02T11:30:00Z",
    )
    assert row["currency"] == "EUR"
    numbers = ("energy kWh", "total before tax", "tax", "total incl. tax", "time cost before tax")
    assert [Decimal(row[name]) for name in numbers] == [
        Decimal("15.342"),
        Decimal("4"),
        Decimal("0.4"),
        Decimal("4.4"),
        Decimal("4"),
    ]
    assert row["energy cost before tax"] == ""
    assert row["parking h"] == ""


def test_period_includes_both_days_in_utc(cdrs: dict[str, CDR]) -> None:
    ids = [row["CDR id"] for row in _csv_rows(MARCH)]

    assert ids == ["MAR-1", "MAR-NL", "MAR-USD", "MAR-31"]


def test_partner_filter_takes_the_emsp_code(cdrs: dict[str, CDR]) -> None:
    selection = CdrFilter(date_from=MARCH.date_from, date_to=MARCH.date_to, partner="nl-oth")

    assert [row["CDR id"] for row in _csv_rows(selection)] == ["MAR-NL"]


@pytest.mark.parametrize("country", ["NL", "NLD", "nld"])
def test_country_filter_accepts_two_or_three_letters(cdrs: dict[str, CDR], country: str) -> None:
    selection = CdrFilter(date_from=MARCH.date_from, date_to=MARCH.date_to, country=country)

    assert [row["CDR id"] for row in _csv_rows(selection)] == ["MAR-NL"]


def test_currency_filter(cdrs: dict[str, CDR]) -> None:
    selection = CdrFilter(date_from=MARCH.date_from, date_to=MARCH.date_to, currency="usd")

    assert [row["CDR id"] for row in _csv_rows(selection)] == ["MAR-USD"]


def test_a_malformed_partner_is_refused(cdrs: dict[str, CDR]) -> None:
    with pytest.raises(ExportFilterError, match="DE-EMS"):
        CdrFilter(partner="DEEMS").queryset()


def test_credit_cdrs_are_exported_with_negative_amounts(cdrs: dict[str, CDR]) -> None:
    _cdr(
        "MAR-1-C1",
        datetime.datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        total="-4.00",
        tax="-0.40",
        credit=True,
        credit_reference_id="MAR-1",
    )

    row = next(r for r in _csv_rows(MARCH) if r["CDR id"] == "MAR-1-C1")

    assert (row["credit"], row["credit reference"]) == ("yes", "MAR-1")
    assert Decimal(row["total before tax"]) == Decimal("-4")
    assert Decimal(row["total incl. tax"]) == Decimal("-4.4")


def test_xlsx_holds_the_same_rows_as_typed_cells(cdrs: dict[str, CDR], tmp_path: Path) -> None:
    path = tmp_path / "march.xlsx"

    count = export_xlsx(MARCH.queryset(), path)

    sheet = load_workbook(path, read_only=True)["CDRs"]
    rows = list(sheet.iter_rows(values_only=True))
    assert count == 4
    assert rows[0] == COLUMNS
    # Read-only sheets end a row at its last filled cell.
    first = dict(zip(COLUMNS, rows[1] + (None,) * (len(COLUMNS) - len(rows[1])), strict=True))
    assert first["CDR id"] == "MAR-1"
    start = first["start (UTC)"]
    assert isinstance(start, datetime.datetime)
    assert abs(start - datetime.datetime(2026, 3, 2, 9, 30)) < datetime.timedelta(milliseconds=1)
    assert first["total incl. tax"] == pytest.approx(4.4)
    assert first["partner"] == "DE-EMS"
    assert [row[0] for row in rows[1:]] == ["MAR-1", "MAR-NL", "MAR-USD", "MAR-31"]


def test_export_command_writes_csv_and_reports_progress(
    cdrs: dict[str, CDR], tmp_path: Path
) -> None:
    output = tmp_path / "march.csv"
    err, out = io.StringIO(), io.StringIO()

    call_command(
        "export_cdrs",
        "--from=2026-03-01",
        "--to=2026-03-31",
        "--partner=DE-EMS",
        "--currency=EUR",
        "--format=csv",
        f"--output={output}",
        "--progress-every=1",
        stdout=out,
        stderr=err,
    )

    rows = list(csv.DictReader(output.open(encoding="utf-8")))
    assert [row["CDR id"] for row in rows] == ["MAR-1", "MAR-31"]
    assert "2/2 rows" in err.getvalue()
    assert "Exported 2 CDRs" in out.getvalue()


def test_export_command_writes_xlsx(cdrs: dict[str, CDR], tmp_path: Path) -> None:
    output = tmp_path / "march.xlsx"

    call_command(
        "export_cdrs",
        "--from=2026-03-01",
        "--to=2026-03-31",
        "--country=NLD",
        "--format=xlsx",
        f"--output={output}",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )

    rows = list(load_workbook(output, read_only=True)["CDRs"].iter_rows(values_only=True))
    assert [row[0] for row in rows[1:]] == ["MAR-NL"]


def test_export_command_refuses_a_period_ending_before_it_starts(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="before"):
        call_command(
            "export_cdrs",
            "--from=2026-03-31",
            "--to=2026-03-01",
            "--format=csv",
            f"--output={tmp_path / 'x.csv'}",
        )
