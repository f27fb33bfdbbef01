"""Services of roaming that change parties."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from roaming.choices import Role
from roaming.models import Party


@dataclass(frozen=True)
class OurIdentity:
    country_code: str
    party_id: str
    name: str


def our_identities_from_setting(raw: str) -> list[OurIdentity]:
    """Parse OCPI_OUR_PARTIES ("CC-PID:Name;CC-PID:Name")."""
    identities = []
    for item in filter(None, (part.strip() for part in raw.split(";"))):
        code, _, name = item.partition(":")
        country_code, _, party_id = code.strip().partition("-")
        if len(country_code) != 2 or len(party_id) != 3:
            raise ImproperlyConfigured(f"OCPI_OUR_PARTIES: {item!r} is not 'CC-PID:Name'.")
        identities.append(
            OurIdentity(country_code.upper(), party_id.upper(), name.strip() or code.strip())
        )
    if not identities:
        raise ImproperlyConfigured("OCPI_OUR_PARTIES must name at least one CPO identity.")
    return identities


@transaction.atomic
def parties_sync_ours() -> list[Party]:
    """Make the Party rows of our own CPO identities match the OCPI_OUR_PARTIES setting."""
    parties = []
    for identity in our_identities_from_setting(settings.OCPI_OUR_PARTIES):
        party, _ = Party.objects.update_or_create(
            country_code=identity.country_code,
            party_id=identity.party_id,
            defaults={"name": identity.name, "is_ours": True, "roles": [Role.CPO.value]},
        )
        parties.append(party)
    return parties


def parties_sync_ours_on_migrate(**kwargs: Any) -> None:
    parties_sync_ours()
