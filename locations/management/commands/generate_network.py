"""`manage.py generate_network`: a synthetic network of any size, for load tests and benchmarks."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from locations.network_generator import (
    DEFAULT_EVSES_PER_LOCATION,
    DEFAULT_SEED,
    NetworkGeneratorError,
    network_generate,
)


class Command(BaseCommand):
    help = (
        "Generate a synthetic charging network (locations with EVSEs and connectors in a dozen "
        "countries, tariffs, tokens of partner eMSPs, finished sessions with priced CDRs) with "
        "bulk inserts. Networks of different seeds can share a database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--locations", type=int, required=True, help="Number of locations.")
        parser.add_argument(
            "--evses-per-location",
            type=int,
            default=DEFAULT_EVSES_PER_LOCATION,
            help="EVSEs per location, two connectors each (default: %(default)s).",
        )
        parser.add_argument(
            "--tokens", type=int, default=0, help="Tokens of partner eMSPs (default: none)."
        )
        parser.add_argument(
            "--cdrs",
            type=int,
            default=0,
            help="Finished sessions, each with its priced CDR (default: none); needs tokens.",
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=DEFAULT_SEED,
            help="Random seed; the same seed gives the same network (default: %(default)s).",
        )

    def handle(
        self,
        *args: Any,
        locations: int,
        evses_per_location: int,
        tokens: int,
        cdrs: int,
        seed: int,
        **options: Any,
    ) -> None:
        try:
            summary = network_generate(
                locations=locations,
                evses_per_location=evses_per_location,
                tokens=tokens,
                cdrs=cdrs,
                seed=seed,
                progress=lambda line: self.stdout.write(f"  {line}"),
            )
        except NetworkGeneratorError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS("Network generated:"))
        for line in summary.lines():
            self.stdout.write(f"  {line}")
