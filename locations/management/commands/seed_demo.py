"""`manage.py seed_demo`: load a realistic demo network into an empty database."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from locations.demo_network import DEFAULT_SEED, DemoSeedError, demo_network_seed


class Command(BaseCommand):
    help = (
        "Load a demo network (locations in several countries, tariffs, two partner eMSPs with "
        "tokens, sessions and priced CDRs) into an empty database. Does nothing if data exists."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--seed",
            type=int,
            default=DEFAULT_SEED,
            help="Random seed; the same seed gives the same network (default: %(default)s).",
        )

    def handle(self, *args: Any, seed: int, **options: Any) -> None:
        try:
            summary = demo_network_seed(seed=seed)
        except DemoSeedError as exc:
            # Not a failure: running it on a database in use must simply keep what is there.
            self.stdout.write(self.style.WARNING(f"Demo data not loaded: {exc} Nothing changed."))
            return
        self.stdout.write(self.style.SUCCESS("Demo network loaded:"))
        for line in summary.lines():
            self.stdout.write(f"  {line}")
