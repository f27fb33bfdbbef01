"""Render every location's OCPI JSON into the shared cache now (after a deployment, say)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cpms.caching import cache_is_shared
from roaming.choices import OcpiVersion
from roaming.modules.locations.warming import versions_in_use, warm_rendered_locations


class Command(BaseCommand):
    help = (
        "Render the JSON of every location whose cached text is missing or stale, for the OCPI "
        "versions of the registered connections (or --version), as the beat schedule does every "
        "day, so that partners' pulls find them rendered."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--ocpi-version",
            action="append",
            choices=[v.value for v in OcpiVersion],
            default=[],
            help="Render for this OCPI version (repeatable); default: the versions in use.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not cache_is_shared():
            self.stderr.write("The cache is per process (CACHE_URL unset): nothing would be kept.")
        versions = [OcpiVersion(v) for v in options["ocpi_version"]] or versions_in_use()
        if not versions:
            self.stdout.write("No registered connection: nothing to render.")
            return
        started = time.monotonic()
        runs = warm_rendered_locations(full=True, versions=versions)
        if not runs:
            raise CommandError("Another rendering run is under way; try again when it is done.")
        for run in runs:
            self.stdout.write(
                f"OCPI {run.version}: {run.checked} locations, {run.rendered} rendered"
            )
        self.stdout.write(f"Done in {time.monotonic() - started:.1f} s")
