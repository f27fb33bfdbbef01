"""The Credentials object on the wire, per version: read what a partner offers, write ours.

2.2.1 and 2.3.0 list roles (one per party and role); 2.1.1 has a single party with its business
details and no role at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from rest_framework import serializers

from roaming.choices import OcpiVersion, Role
from roaming.models import Party
from roaming.services import parties_sync_ours

logger = logging.getLogger(__name__)

_PRINTABLE_ASCII = r"^[\x21-\x7e]+$"


@dataclass(frozen=True)
class OfferedRole:
    role: Role
    country_code: str
    party_id: str
    name: str
    website: str


@dataclass(frozen=True)
class OfferedCredentials:
    """What a partner's Credentials object tells us: its token for us, versions URL and parties."""

    token: str
    url: str
    roles: tuple[OfferedRole, ...]


class HttpUrlField(serializers.CharField):
    """An http(s) URL; looser than Django's URLValidator, which refuses hosts such as 'peer:8080'."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=255, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        value: str = super().to_internal_value(data)
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise serializers.ValidationError("Enter an http or https URL.")
        return value


class BusinessDetailsSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)
    website = HttpUrlField(required=False, allow_blank=True)
    logo = serializers.DictField(required=False)


class _PartyFields(serializers.Serializer[Any]):
    country_code = serializers.RegexField(r"^[A-Za-z]{2}$", max_length=2)
    party_id = serializers.RegexField(r"^[A-Za-z0-9]{3}$", max_length=3)
    business_details = BusinessDetailsSerializer()


class CredentialsRoleSerializer(_PartyFields):
    # Any text: 2.3.0 peers may send roles newer than ours, which we skip instead of refusing.
    role = serializers.CharField(max_length=16)


class _TokenAndUrl(serializers.Serializer[Any]):
    token = serializers.RegexField(_PRINTABLE_ASCII, max_length=64)
    url = HttpUrlField()


class Credentials22Serializer(_TokenAndUrl):
    """2.2.1 and 2.3.0 (2.3.0 adds an optional hub_party_id we do not need)."""

    roles = CredentialsRoleSerializer(many=True, allow_empty=False)


class Credentials211Serializer(_TokenAndUrl, _PartyFields):
    """2.1.1: one party, no roles."""


def parse_credentials(version: OcpiVersion, data: Any) -> OfferedCredentials:
    """Validate a partner's Credentials object; raises DRF ValidationError naming the fields."""
    if version == OcpiVersion.V2_1_1:
        serializer: serializers.Serializer[Any] = Credentials211Serializer(data=data)
        serializer.is_valid(raise_exception=True)
        # 2.1.1 has no roles; it connects a CPO and an eMSP, and we are the CPO.
        raw_roles = [{**serializer.validated_data, "role": Role.EMSP.value}]
    else:
        serializer = Credentials22Serializer(data=data)
        serializer.is_valid(raise_exception=True)
        raw_roles = serializer.validated_data["roles"]
    roles = tuple(_offered_role(raw) for raw in raw_roles if _known_role(raw["role"]))
    if not roles:
        raise serializers.ValidationError({"roles": ["None of the roles is one we know."]})
    return OfferedCredentials(
        token=serializer.validated_data["token"], url=serializer.validated_data["url"], roles=roles
    )


def _known_role(role: str) -> bool:
    if role in Role.values:
        return True
    logger.info("Skipping credentials role %r that we do not know", role)
    return False


def _offered_role(raw: dict[str, Any]) -> OfferedRole:
    details = raw["business_details"]
    return OfferedRole(
        role=Role(raw["role"]),
        country_code=raw["country_code"].upper(),
        party_id=raw["party_id"].upper(),
        name=details["name"],
        website=details.get("website", ""),
    )


def our_versions_url() -> str:
    return f"{settings.OCPI_BASE_URL}/versions"


def our_credentials(version: OcpiVersion, token: str) -> dict[str, Any]:
    """Our Credentials object: the token the partner is to use, our versions URL, our parties."""
    parties = parties_sync_ours()
    if version == OcpiVersion.V2_1_1:
        # 2.1.1 knows one party per connection: our first identity.
        first = parties[0]
        return {
            "token": token,
            "url": our_versions_url(),
            "party_id": first.party_id,
            "country_code": first.country_code,
            "business_details": _business_details(first),
        }
    return {
        "token": token,
        "url": our_versions_url(),
        "roles": [
            {
                "role": Role.CPO.value,
                "party_id": party.party_id,
                "country_code": party.country_code,
                "business_details": _business_details(party),
            }
            for party in parties
        ],
    }


def _business_details(party: Party) -> dict[str, str]:
    details = {"name": party.name}
    if party.website:
        details["website"] = party.website
    return details
