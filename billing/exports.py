"""Finance exports of CDRs (CSV and XLSX), streamed so any number of rows takes flat memory.

Rows are read with ``values_list(...).iterator(chunk_size=...)``: plain tuples, never model
instances, fetched chunk by chunk (a server-side cursor on PostgreSQL). CSV is produced as a
generator of text chunks (``csv_chunks``) that an HTTP response or a file consumes as it goes.
XLSX is written by ``billing.xlsx``, which streams the sheet into the file as rows arrive.

To be fast, the database does the per-row work: it formats times (ISO text for CSV, Excel serial
numbers for XLSX), sums the JSON tax lines (``TaxAmount``) and adds them to the total, and joins
the partner code, so Python only writes what it receives.

Periods filter on the CDR's start, in UTC: ``date_from`` and ``date_to`` are both included.
Credit CDRs are exported like any CDR, with their negative amounts, so the sum of a column is the
net amount.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

from django.db import NotSupportedError, connections, transaction
from django.db.models import (
    Case,
    CharField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Concat, NullIf

from billing import xlsx
from billing.countries import country_alpha3
from billing.models import CDR, CDR_SUB_COSTS
from billing.reports import MONEY_FIELD, TaxAmount

CHUNK_SIZE = 10_000
# CSV rows per yielded chunk: few enough to stream smoothly, many enough to write fast.
CSV_ROWS_PER_CHUNK = 500

Progress = Callable[[int], None]

COLUMNS = (
    "CDR id",
    "credit",
    "credit reference",
    "session id",
    "partner",
    "token uid",
    "contract id",
    "location id",
    "country",
    "EVSE id",
    "start (UTC)",
    "end (UTC)",
    "energy kWh",
    "time h",
    "parking h",
    "currency",
    "total before tax",
    "tax",
    "total incl. tax",
    "fixed cost before tax",
    "energy cost before tax",
    "time cost before tax",
    "parking cost before tax",
    "reservation cost before tax",
)


class ExportFilterError(ValueError):
    """A filter value cannot be used; the message names it."""


@dataclass(frozen=True)
class CdrFilter:
    """Which CDRs an export or report covers; every field left empty means "all"."""

    date_from: datetime.date | None = None
    date_to: datetime.date | None = None  # included
    partner: str = ""  # eMSP as CC-PID, e.g. DE-EMS
    country: str = ""  # location country, two or three letters
    currency: str = ""

    def queryset(self) -> QuerySet[CDR]:
        """The CDRs matching the filter (raises ExportFilterError for an unusable value)."""
        cdrs = CDR.objects.all()
        if self.date_from is not None:
            cdrs = cdrs.filter(start_date_time__gte=_utc_midnight(self.date_from))
        if self.date_to is not None:
            end = _utc_midnight(self.date_to + datetime.timedelta(days=1))
            cdrs = cdrs.filter(start_date_time__lt=end)
        if self.partner:
            country_code, _, party_id = self.partner.strip().partition("-")
            if len(country_code) != 2 or len(party_id) != 3:
                raise ExportFilterError(
                    f"Partner {self.partner!r}: give the eMSP as country code and party id, "
                    "e.g. DE-EMS."
                )
            cdrs = cdrs.filter(
                emsp__country_code__iexact=country_code, emsp__party_id__iexact=party_id
            )
        if self.country:
            try:
                alpha3 = country_alpha3(self.country)
            except ValueError as exc:
                raise ExportFilterError(str(exc)) from exc
            cdrs = cdrs.filter(cdr_location__country=alpha3)
        if self.currency:
            cdrs = cdrs.filter(currency=self.currency.strip().upper())
        return cdrs

    def describe(self) -> str:
        """A short human description, e.g. for file names and page titles."""
        parts = [
            f"{self.date_from or 'start'} to {self.date_to or 'now'}",
            self.partner.upper(),
            self.country.upper(),
            self.currency.upper(),
        ]
        return " ".join(part for part in parts if part)


def _utc_midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(), tzinfo=datetime.UTC)


class _UtcText(Func):
    """A timestamp as OCPI-style UTC text, e.g. 2026-03-02T09:30:00Z."""

    output_field = CharField()

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **extra: Any) -> Any:
        raise NotSupportedError(f"Not available on {connection.vendor}.")

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = """to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""
        return super().as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # Django keeps SQLite datetimes as UTC text; no '%' here, as the query may have no params.
        template = "replace(datetime(%(expressions)s), ' ', 'T') || 'Z'"
        return super().as_sql(compiler, connection, template=template, **extra)


class _ExcelDate(Func):
    """A timestamp as an Excel serial date (days since 1899-12-30, UTC), to the millisecond."""

    output_field = FloatField()

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **extra: Any) -> Any:
        raise NotSupportedError(f"Not available on {connection.vendor}.")

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "round(EXTRACT(EPOCH FROM %(expressions)s) / 86400 + 25569, 10)"
        return super().as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "round(julianday(%(expressions)s) - 2415018.5, 10)"
        return super().as_sql(compiler, connection, template=template, **extra)


_DATES = {"text": _UtcText, "excel": _ExcelDate}
# Column kinds for the XLSX writer, in COLUMNS order.
_KINDS = (
    *(xlsx.STRING,) * 10,
    xlsx.DATE,
    xlsx.DATE,
    *(xlsx.NUMBER,) * 3,
    xlsx.STRING,
    *(xlsx.NUMBER,) * 8,
)


def export_rows(
    cdrs: QuerySet[CDR], *, dates: str = "text", chunk_size: int = CHUNK_SIZE
) -> Iterator[tuple[Any, ...]]:
    """The export rows of `cdrs` in COLUMNS order, oldest start first, streamed in chunks.

    Times are UTC text (``dates="text"``) or Excel serial numbers (``"excel"``); every value is
    text (numbers as the database writes them), the credit flag "yes"/"no", absent values None.
    """
    return _export_values(cdrs, dates=dates).iterator(chunk_size=chunk_size)


def _export_values(
    cdrs: QuerySet[CDR], *, dates: str, empty_as_null: bool = False
) -> QuerySet[CDR, tuple[Any, ...]]:
    """The query of the export rows; ``empty_as_null`` turns empty texts into NULL (for CSV,
    where both are an empty field)."""
    as_date = _DATES[dates]
    tax = TaxAmount(F("total_cost_taxes"))
    # Numbers come back as text: exact, and far cheaper to read than Decimals, since the
    # writers only print them.
    numbers = {
        f"x_{name}": Cast(name, TextField())
        for name in (
            "total_energy",
            "total_time",
            "total_parking_time",
            "total_cost",
            *CDR_SUB_COSTS,
        )
    }
    texts: dict[str, Any] = {
        "x_credit_reference_id": F("credit_reference_id"),
        "x_ocpi_session_id": F("ocpi_session_id"),
        "x_token_uid": KeyTextTransform("uid", "cdr_token"),
        "x_contract_id": KeyTextTransform("contract_id", "cdr_token"),
        "x_location_id": KeyTextTransform("id", "cdr_location"),
        "x_country": KeyTextTransform("country", "cdr_location"),
        "x_evse_id": KeyTextTransform("evse_id", "cdr_location"),
    }
    if empty_as_null:
        texts = {
            name: NullIf(text, Value(""), output_field=TextField()) for name, text in texts.items()
        }
    return (
        cdrs.annotate(
            x_credit=Case(When(credit=True, then=Value("yes")), default=Value("no")),
            x_partner=Concat(F("emsp__country_code"), Value("-"), F("emsp__party_id")),
            x_start=Cast(as_date(F("start_date_time")), TextField()),
            x_end=Cast(as_date(F("end_date_time")), TextField()),
            x_tax=Cast(tax, TextField()),
            x_total_incl=Cast(
                ExpressionWrapper(F("total_cost") + tax, output_field=MONEY_FIELD), TextField()
            ),
            **texts,
            **numbers,
        )
        .order_by(F("start_date_time"), F("id"))
        .values_list(
            "ocpi_id",
            "x_credit",
            "x_credit_reference_id",
            "x_ocpi_session_id",
            "x_partner",
            "x_token_uid",
            "x_contract_id",
            "x_location_id",
            "x_country",
            "x_evse_id",
            "x_start",
            "x_end",
            "x_total_energy",
            "x_total_time",
            "x_total_parking_time",
            "currency",
            "x_total_cost",
            "x_tax",
            "x_total_incl",
            *(f"x_{name}" for name in CDR_SUB_COSTS),
        )
    )


def csv_chunks(
    cdrs: QuerySet[CDR],
    *,
    progress: Progress | None = None,
    chunk_size: int = CHUNK_SIZE,
    database_writes: bool | None = None,
) -> Iterator[str]:
    """The CSV export of `cdrs` as text chunks (header first); `progress` gets the row count.

    On PostgreSQL the database writes the rows itself (``COPY (...) TO STDOUT WITH CSV``),
    byte for byte as Python's csv writer would (``database_writes`` False forces the latter).
    """
    header = io.StringIO()
    csv.writer(header).writerow(COLUMNS)
    yield header.getvalue()
    rows = _export_values(cdrs, dates="text", empty_as_null=True)
    if database_writes is None:
        database_writes = connections[rows.db].vendor == "postgresql"
    lines = _copied_lines(rows) if database_writes else _written_lines(rows, chunk_size)
    count = 0
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        count += 1
        if count % CSV_ROWS_PER_CHUNK == 0:
            yield "".join(chunk)
            chunk = []
            if progress is not None:
                progress(count)
    yield "".join(chunk)
    if progress is not None:
        progress(count)


def _written_lines(rows: QuerySet[CDR, tuple[Any, ...]], chunk_size: int) -> Iterator[str]:
    """CSV lines made by Python's csv writer (which writes None as an empty field)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows.iterator(chunk_size=chunk_size):
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _copied_lines(rows: QuerySet[CDR, tuple[Any, ...]]) -> Iterator[str]:
    """CSV lines written by PostgreSQL, ended as the csv writer ends them (CR LF).

    Empty texts are NULL in ``rows``: COPY quotes an empty text ("") but not a NULL, where the
    csv writer leaves both empty. COPY hands over one row at a time, so its line end is the last
    byte and a line break inside a quoted value is left as it is, as the csv writer does.
    """
    sql, params = rows.query.get_compiler(using=rows.db).as_sql()
    with transaction.atomic(using=rows.db), connections[rows.db].cursor() as cursor:
        # Compiling this query to machine code (JIT) costs more than the rows' own work.
        cursor.execute("SET LOCAL jit = off")
        copy_sql = f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)"
        with cursor.cursor.copy(copy_sql, params) as copy:
            for line in copy:
                yield bytes(line[:-1]).decode() + "\r\n"


def export_csv(cdrs: QuerySet[CDR], out: IO[str], *, progress: Progress | None = None) -> int:
    """Write the CSV export of `cdrs` to a text stream; returns the number of CDRs."""
    counted = [0]

    def seen(count: int) -> None:
        counted[0] = count
        if progress is not None:
            progress(count)

    for chunk in csv_chunks(cdrs, progress=seen):
        out.write(chunk)
    return counted[0]


def export_xlsx(
    cdrs: QuerySet[CDR],
    path: Path | str | BinaryIO,
    *,
    progress: Progress | None = None,
    every: int = 10_000,
) -> int:
    """Write the XLSX export of `cdrs` (one sheet "CDRs"); returns the number of CDRs."""
    return xlsx.write_xlsx(
        path,
        header=COLUMNS,
        kinds=_KINDS,
        rows=export_rows(cdrs, dates="excel"),
        sheet_name="CDRs",
        progress=progress,
        every=every,
    )
