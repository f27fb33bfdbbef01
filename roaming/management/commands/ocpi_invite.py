"""Invite a partner: a new connection and the token A it registers with (give both out of band)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from roaming.choices import Role
from roaming.credentials.handshake import CredentialsError
from roaming.credentials.serializers import our_versions_url
from roaming.credentials.services import partner_invite


class Command(BaseCommand):
    help = "Create a partner connection and print our versions URL and its token A."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="The partner's name, for staff.")
        parser.add_argument("--country-code", required=True, help="Its country code, e.g. DE.")
        parser.add_argument("--party-id", required=True, help="Its party id, e.g. ABC.")
        parser.add_argument(
            "--role", default=Role.EMSP.value, choices=Role.values, help="Its role (EMSP)."
        )
        parser.add_argument("--json", action="store_true", help="Print a JSON object.")

    def handle(self, *args: Any, **options: Any) -> None:
        country_code, party_id = options["country_code"].upper(), options["party_id"].upper()
        if len(country_code) != 2 or not country_code.isalpha():
            raise CommandError("--country-code must be two letters.")
        if len(party_id) != 3 or not party_id.isalnum():
            raise CommandError("--party-id must be three letters or digits.")
        try:
            partner, token = partner_invite(
                name=options["name"],
                country_code=country_code,
                party_id=party_id,
                role=Role(options["role"]),
            )
        except CredentialsError as error:
            raise CommandError(error.message) from error
        if options["json"]:
            self.stdout.write(json.dumps({"versions_url": our_versions_url(), "token": token}))
            return
        self.stdout.write(f"Invited {partner.name} (connection #{partner.pk}).")
        self.stdout.write(f"Versions URL: {our_versions_url()}")
        self.stdout.write(f"Token A:      {token}")
        self.stdout.write(
            "Give both to the partner over a secure channel; the token is not shown again."
        )
