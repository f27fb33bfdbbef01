"""`manage.py simulate_chargers`: run simulated chargers for our EVSEs, faster than real time."""

from __future__ import annotations

import random
import time
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from locations.choices import Status
from locations.models import EVSE, Location
from sessions_app.gateway.simulator import Clock, Simulator


class Command(BaseCommand):
    help = (
        "Simulate the chargers of our locations: they carry out partners' commands (start, stop, "
        "reserve, unlock, charging profiles), charge vehicles along AC/DC curves, report meter "
        "values and status, see drivers arrive with RFID cards and, when asked, faults and "
        "outages. Runs until interrupted, or for --duration simulated seconds."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--locations",
            nargs="+",
            default=[],
            metavar="ID",
            help="OCPI ids of the locations to simulate (any case; default: every published "
            "location of ours).",
        )
        parser.add_argument(
            "--rate",
            type=float,
            default=30.0,
            help="New drivers arriving per simulated hour, over all simulated chargers, each at a "
            "free one (default: %(default)s; 0: only partners' remote starts).",
        )
        parser.add_argument(
            "--speedup",
            type=float,
            default=60.0,
            help="Time compression: simulated seconds per real second (default: %(default)s, "
            "one simulated minute a second).",
        )
        parser.add_argument(
            "--step",
            type=float,
            default=10.0,
            help="Simulated seconds between meter readings (default: %(default)s).",
        )
        parser.add_argument(
            "--faults", type=float, default=0.0, help="Chance per step of a fault (default: none)."
        )
        parser.add_argument(
            "--offline",
            type=float,
            default=0.0,
            help="Chance per step that a charger loses its connection (default: none).",
        )
        parser.add_argument("--seed", type=int, default=None, help="Random seed.")
        parser.add_argument(
            "--duration",
            type=float,
            default=None,
            help="Stop after this many simulated seconds (default: run until interrupted).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["speedup"] <= 0 or options["step"] <= 0:
            raise CommandError("--speedup and --step must be positive.")
        if options["rate"] < 0:
            raise CommandError("--rate cannot be negative.")
        for name in ("faults", "offline"):
            if not 0 <= options[name] <= 1:
                raise CommandError(f"--{name} is a chance between 0 and 1.")
        evses = simulated_evses(options["locations"])
        speedup, step = float(options["speedup"]), float(options["step"])
        clock = Clock(timezone.now(), speed=speedup, real=time.monotonic)
        simulator = Simulator(
            evses,
            clock=clock,
            rng=random.Random(options["seed"]),
            arrivals_per_hour=options["rate"],
            fault_chance=options["faults"],
            offline_chance=options["offline"],
        )
        if not simulator.chargers:
            raise CommandError("No EVSE with connectors to simulate.")
        self.stdout.write(
            f"Simulating {len(simulator.chargers)} chargers at {speedup:g}x, "
            f"{options['rate']:g} arrivals per simulated hour "
            f"(a reading every {step:g} simulated seconds). Ctrl-C stops."
        )
        started = last = clock.now()
        end = (
            None
            if options["duration"] is None
            else started + timedelta(seconds=options["duration"])
        )
        try:
            while end is None or last < end:
                time.sleep(step / speedup)
                now = clock.now()
                simulator.run_once(now - last)
                last = now
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
        self.stdout.write(f"Simulated {last - started} on {len(simulator.chargers)} chargers.")


def simulated_evses(location_ids: list[str]) -> list[EVSE]:
    """The EVSEs of the named locations (ids any case), else of every published one of ours."""
    locations: QuerySet[Location] = Location.objects.filter(owner__is_ours=True)
    if location_ids:
        wanted = {ocpi_id.lower(): ocpi_id for ocpi_id in location_ids}
        locations = locations.alias(lower_id=Lower("ocpi_id")).filter(lower_id__in=list(wanted))
        found = {ocpi_id.lower() for ocpi_id in locations.values_list("ocpi_id", flat=True)}
        if missing := [given for lower, given in wanted.items() if lower not in found]:
            raise CommandError(f"No location of ours with id {', '.join(missing)}.")
    else:
        locations = locations.filter(publish=True)
    evses = (
        EVSE.objects.filter(location__in=locations)
        .exclude(status=Status.REMOVED)
        .select_related("location")
        .prefetch_related("connectors")
        .order_by("pk")
    )
    return list(evses)
