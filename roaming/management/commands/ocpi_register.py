"""Register with a partner that gave us its versions URL and a token A."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from roaming.client import OcpiClientError
from roaming.credentials.handshake import CredentialsError
from roaming.credentials.services import RegistrationStateError, partner_register


class Command(BaseCommand):
    help = "Register with a partner: exchange credentials tokens and read its endpoints."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--versions-url", required=True, help="The partner's versions URL.")
        parser.add_argument("--token", required=True, help="The token A the partner gave us.")
        parser.add_argument("--name", default="", help="Name for staff (default: theirs).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            partner = partner_register(
                versions_url=options["versions_url"], token=options["token"], name=options["name"]
            )
        except CredentialsError as error:
            raise CommandError(f"OCPI {error.status.value}: {error.message}") from error
        except OcpiClientError as error:
            raise CommandError(f"The partner refused or failed: {error}") from error
        except RegistrationStateError as error:
            raise CommandError(str(error)) from error
        parties = ", ".join(party.code for party in partner.parties.all())
        self.stdout.write(
            f"Registered with {partner.name} (connection #{partner.pk}) on OCPI "
            f"{partner.version}; it speaks for {parties}."
        )
