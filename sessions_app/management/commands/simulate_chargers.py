"""`manage.py simulate_chargers`: run simulated chargers for our EVSEs, faster than real time."""

from __future__ import annotations

import random
import time
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models.functions import Lower
from django.utils import timezone

from locations.choices import Status
from locations.models import EVSE
from sessions_app.gateway.simulator import Clock, Simulator


class Command(BaseCommand):
    help = (
        "Simulate the chargers of our EVSEs: they carry out commands (start, stop, reserve, "
        "unlock, charging profiles), charge vehicles along AC/DC curves, report meter values "
        "and status, and, when asked, see drivers arrive with RFID cards, faults and outages. "
        "Runs until interrupted, or for --duration simulated seconds."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--location",
            action="append",
            default=[],
            help="OCPI id of a location to simulate (repeatable; default: every location).",
        )
        parser.add_argument(
            "--speed",
            type=float,
            default=1.0,
            help="Simulated seconds per real second (default: %(default)s).",
        )
        parser.add_argument(
            "--step",
            type=float,
            default=10.0,
            help="Simulated seconds between meter readings (default: %(default)s).",
        )
        parser.add_argument(
            "--arrivals",
            type=float,
            default=0.0,
            help="Chance per step that a driver arrives at a free charger (default: none).",
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
        if options["speed"] <= 0 or options["step"] <= 0:
            raise CommandError("--speed and --step must be positive.")
        for name in ("arrivals", "faults", "offline"):
            if not 0 <= options[name] <= 1:
                raise CommandError(f"--{name} is a chance between 0 and 1.")
        evses = EVSE.objects.exclude(status=Status.REMOVED).select_related("location")
        if options["location"]:
            wanted = [ocpi_id.lower() for ocpi_id in options["location"]]
            evses = evses.alias(location_id_lower=Lower("location__ocpi_id")).filter(
                location_id_lower__in=wanted
            )
        evses = evses.prefetch_related("connectors").order_by("pk")
        speed, step = float(options["speed"]), float(options["step"])
        clock = Clock(timezone.now(), speed=speed, real=time.monotonic)
        simulator = Simulator(
            list(evses),
            clock=clock,
            rng=random.Random(options["seed"]),
            arrival_chance=options["arrivals"],
            fault_chance=options["faults"],
            offline_chance=options["offline"],
        )
        if not simulator.chargers:
            raise CommandError("No EVSE with connectors to simulate.")
        self.stdout.write(
            f"Simulating {len(simulator.chargers)} chargers at {speed:g}x "
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
                time.sleep(step / speed)
                now = clock.now()
                simulator.run_once(now - last)
                last = now
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
        self.stdout.write(f"Simulated {last - started} on {len(simulator.chargers)} chargers.")
