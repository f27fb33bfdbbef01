"""`manage.py price_cdr`: price a CDR's charging periods under a tariff and print the totals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.pricing import (
    SessionInputError,
    TariffError,
    price_session,
    session_from_ocpi_cdr,
    tariff_from_ocpi,
    to_ocpi_totals,
)
from roaming.modules.common import jsonable

VERSIONS = ("2.1.1", "2.2.1", "2.3.0")


def _read_json(path: str, what: str) -> Any:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CommandError(f"Cannot read the {what} file {path}: {exc.strerror}.") from exc
    except json.JSONDecodeError as exc:
        raise CommandError(f"The {what} file {path} is not JSON: {exc}.") from exc
    # An OCPI response envelope holds the object in "data".
    if isinstance(data, dict) and "data" in data and "status_code" in data:
        data = data["data"]
    return data


class Command(BaseCommand):
    help = (
        "Price the charging periods of an OCPI CDR (or Session) under an OCPI tariff with the "
        "billing engine and print the CDR total fields as JSON."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # --version names the OCPI version here, replacing Django's own --version option.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--cdr", required=True, help="JSON file of a CDR or Session (its charging periods)."
        )
        parser.add_argument(
            "--tariff",
            help="JSON file of a Tariff (default: the first tariff inside the CDR).",
        )
        parser.add_argument(
            "--time-zone",
            default="UTC",
            help="IANA time zone of the location, for time restrictions (default: %(default)s).",
        )
        parser.add_argument(
            "--version",
            dest="ocpi_version",
            choices=VERSIONS,
            default="2.2.1",
            help="OCPI version of the files and of the output (default: %(default)s).",
        )

    def handle(
        self,
        *args: Any,
        cdr: str,
        tariff: str | None,
        time_zone: str,
        ocpi_version: str,
        **options: Any,
    ) -> None:
        cdr_data = _read_json(cdr, "CDR")
        if not isinstance(cdr_data, dict):
            raise CommandError("The CDR file must hold one JSON object.")
        if tariff is not None:
            tariff_data = _read_json(tariff, "tariff")
        else:
            embedded = cdr_data.get("tariffs") or []
            if not embedded:
                raise CommandError("The CDR holds no tariff: give one with --tariff.")
            tariff_data = embedded[0]
        try:
            engine_tariff = tariff_from_ocpi(tariff_data, ocpi_version)
            periods = session_from_ocpi_cdr(cdr_data).periods
            result = price_session(engine_tariff, periods, time_zone)
        except TariffError as exc:
            raise CommandError(f"Tariff: {exc}") from exc
        except SessionInputError as exc:
            raise CommandError(f"CDR: {exc}") from exc
        totals = {"currency": result.currency, **to_ocpi_totals(result, ocpi_version)}
        self.stdout.write(json.dumps(jsonable(totals), indent=2))
