"""On PostgreSQL the database writes the CSV export: it must be what the Python writer makes."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection

from billing.exports import CSV_ROWS_PER_CHUNK, csv_chunks
from billing.models import CDR
from tests.billing.factories import CDRFactory, PartnerEmspFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="COPY is PostgreSQL's; elsewhere Python writes"
    ),
]

UTC = datetime.UTC
AWKWARD_TEXTS = ("a,b", 'say "hi"', "line\nbreak", "carriage\rreturn", " spaced ", "Ünïcødé €", "")


def _csv(*, database_writes: bool) -> str:
    return "".join(csv_chunks(CDR.objects.all(), database_writes=database_writes))


def test_the_database_writes_the_same_csv_as_python_byte_for_byte() -> None:
    emsp = PartnerEmspFactory.create()
    start = datetime.datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)
    for number, text in enumerate(AWKWARD_TEXTS):
        location = {**CDRFactory.cdr_location.function(), "id": text, "evse_id": text}
        CDRFactory.create(
            ocpi_id=f"CDR-{number}",
            emsp=emsp,
            start_date_time=start + datetime.timedelta(minutes=number),
            end_date_time=start + datetime.timedelta(hours=2, seconds=number),
            ocpi_session_id=text,
            cdr_token={"uid": text, "type": "RFID", "contract_id": text},
            cdr_location=location,
            credit=number % 2 == 1,
            credit_reference_id=text if number % 2 else "",
            total_cost=Decimal("-12.34") if number % 2 else Decimal("1234567.89"),
            total_cost_taxes=[{"name": "VAT", "percentage": 21, "amount": "0.07"}],
            total_energy=Decimal("0.001"),
            total_parking_time=Decimal("1.5") if number % 3 == 0 else None,
        )
    CDRFactory.create(emsp=emsp, start_date_time=start, cdr_token={}, total_cost_taxes=[])

    python_csv = _csv(database_writes=False)

    assert _csv(database_writes=True) == python_csv
    assert python_csv.count("\r\n") >= len(AWKWARD_TEXTS) + 2


def test_the_database_written_csv_streams_in_chunks_with_progress() -> None:
    CDRFactory.create_batch(CSV_ROWS_PER_CHUNK + 1)
    counts: list[int] = []

    chunks = list(csv_chunks(CDR.objects.all(), progress=counts.append, database_writes=True))

    assert counts == [CSV_ROWS_PER_CHUNK, CSV_ROWS_PER_CHUNK + 1]
    assert len(chunks) == 3  # the header, a full chunk, the rest
    assert "".join(chunks).count("\r\n") == CSV_ROWS_PER_CHUNK + 2
