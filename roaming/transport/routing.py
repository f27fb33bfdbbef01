"""OCPI 2.2+ routing headers: which party a request is from and which of ours it is for.

A hub (or a platform hosting several parties) speaks for many parties over one connection, so the
party is decided per request by the OCPI-from-* headers, and must be one the connection speaks
for. Configuration modules (versions, credentials, hubclientinfo) are not routed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from roaming.models import Partner, Party
from roaming.transport.connections import remembered
from roaming.transport.errors import ForbiddenError, InvalidParametersError, NotFoundError

TO_COUNTRY_CODE = "OCPI-to-country-code"
TO_PARTY_ID = "OCPI-to-party-id"
FROM_COUNTRY_CODE = "OCPI-from-country-code"
FROM_PARTY_ID = "OCPI-from-party-id"


@dataclass(frozen=True)
class Routing:
    """The requesting party (theirs) and the addressed party (ours); None when undecided."""

    from_party: Party | None
    to_party: Party | None

    def response_headers(self) -> dict[str, str]:
        """On a direct response the roles swap: to the requester, from the addressed party."""
        headers = {}
        if self.from_party is not None:
            headers[TO_COUNTRY_CODE] = self.from_party.country_code
            headers[TO_PARTY_ID] = self.from_party.party_id
        if self.to_party is not None:
            headers[FROM_COUNTRY_CODE] = self.to_party.country_code
            headers[FROM_PARTY_ID] = self.to_party.party_id
        return headers


def routing_resolve(headers: Mapping[str, str], partner: Partner) -> Routing:
    """Read the routing headers; without them, fall back to the only party there is, if one."""
    from_code = _code(headers, FROM_COUNTRY_CODE, FROM_PARTY_ID)
    to_code = _code(headers, TO_COUNTRY_CODE, TO_PARTY_ID)
    return remembered(
        ("routing", partner.pk, from_code, to_code),
        lambda: Routing(from_party=_from_party(partner, from_code), to_party=_to_party(to_code)),
    )


def _from_party(partner: Partner, code: tuple[str, str] | None) -> Party | None:
    spoken_for = partner.parties.all()
    if code is None:
        only = list(spoken_for[:2])
        return only[0] if len(only) == 1 else None
    party = spoken_for.filter(country_code=code[0], party_id=code[1]).first()
    if party is None:
        raise ForbiddenError(f"This connection does not speak for {code[0]}-{code[1]}")
    return party


def _to_party(code: tuple[str, str] | None) -> Party | None:
    ours = Party.objects.ours()
    if code is None:
        only = list(ours[:2])
        return only[0] if len(only) == 1 else None
    party = ours.filter(country_code=code[0], party_id=code[1]).first()
    if party is None:
        raise NotFoundError(f"{code[0]}-{code[1]} is not a party on this platform")
    return party


def _code(
    headers: Mapping[str, str], country_header: str, party_header: str
) -> tuple[str, str] | None:
    country_code = headers.get(country_header, "").strip().upper()
    party_id = headers.get(party_header, "").strip().upper()
    if not country_code and not party_id:
        return None
    if len(country_code) != 2 or not country_code.isalpha():
        raise InvalidParametersError(f"Header {country_header} must be a two-letter country code")
    if len(party_id) != 3 or not party_id.isalnum() or not party_id.isascii():
        raise InvalidParametersError(f"Header {party_header} must be a three-character party id")
    return country_code, party_id
