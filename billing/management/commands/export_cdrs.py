"""`manage.py export_cdrs`: the finance export of CDRs to a CSV or XLSX file, with progress."""

from __future__ import annotations

import datetime
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.exports import CdrFilter, ExportFilterError, export_csv, export_xlsx

PROGRESS_EVERY = 10_000
BAR_WIDTH = 30


def _date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"{value!r} is not a date like 2026-03-31.") from exc


class Command(BaseCommand):
    help = (
        "Export the CDRs started in a period (UTC, both days included) to CSV or XLSX, "
        "optionally for one partner eMSP, location country or currency. Memory stays flat "
        "whatever the number of rows; progress goes to stderr."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from", dest="date_from", required=True, help="First day, e.g. 2026-03-01."
        )
        parser.add_argument("--to", dest="date_to", required=True, help="Last day (included).")
        parser.add_argument("--partner", default="", help="eMSP as CC-PID, e.g. DE-EMS.")
        parser.add_argument("--country", default="", help="Location country, e.g. DE or DEU.")
        parser.add_argument("--currency", default="", help="e.g. EUR.")
        parser.add_argument("--format", dest="file_format", choices=("csv", "xlsx"), required=True)
        parser.add_argument("--output", required=True, help="File to write.")
        parser.add_argument(
            "--progress-every",
            type=int,
            default=PROGRESS_EVERY,
            help="Update the progress line every N rows (default: %(default)s).",
        )

    def handle(
        self,
        *args: Any,
        date_from: str,
        date_to: str,
        partner: str,
        country: str,
        currency: str,
        file_format: str,
        output: str,
        progress_every: int,
        **options: Any,
    ) -> None:
        first, last = _date(date_from), _date(date_to)
        if last < first:
            raise CommandError("--to is before --from.")
        selection = CdrFilter(
            date_from=first,
            date_to=last,
            partner=partner,
            country=country,
            currency=currency,
        )
        try:
            cdrs = selection.queryset()
            total = cdrs.count()
        except ExportFilterError as exc:
            raise CommandError(str(exc)) from exc
        started = time.monotonic()
        shown = [0]

        def progress(count: int) -> None:
            if count - shown[0] < progress_every and count < total:
                return
            shown[0] = count
            done = count / total if total else 1.0
            filled = int(done * BAR_WIDTH)
            elapsed = time.monotonic() - started
            rate = count / elapsed if elapsed else 0.0
            self.stderr.write(
                f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {count:,}/{total:,} rows "
                f"({rate:,.0f} rows/s)",
                ending="",
            )
            self.stderr.flush()

        try:
            if file_format == "csv":
                with open(output, "w", encoding="utf-8", newline="") as out:
                    count = export_csv(cdrs, out, progress=progress)
            else:
                count = export_xlsx(cdrs, output, progress=progress, every=progress_every)
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror}.") from exc
        self.stderr.write("")
        elapsed = time.monotonic() - started
        self.stdout.write(f"Exported {count:,} CDRs to {output} in {elapsed:.1f} s.")
