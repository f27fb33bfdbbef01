"""Services of the partner connection life cycle, in both directions of the credentials exchange.

Inbound (they call our credentials endpoint): partner_accept_registration / _update /
_unregistration. Outbound (we call theirs): partner_register / partner_rotate /
partner_unregister. Calls to the partner always happen outside a database transaction: they may be
slow, and during an outbound exchange the partner calls us back with the token we just offered,
which must already be committed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from roaming.choices import ModuleID, OcpiVersion, Role
from roaming.client import OcpiClientError, call
from roaming.credentials.handshake import CredentialsError, Discovery, Endpoint, discover
from roaming.credentials.serializers import (
    OfferedCredentials,
    OfferedRole,
    our_credentials,
    parse_credentials,
)
from roaming.crypto import token_generate, token_hash
from roaming.models import Partner, PartnerEndpoint, PartnerState, Party
from roaming.modules.hubclientinfo.services import client_info_parties, party_connected_directly
from roaming.transport.errors import validation_message
from roaming.transport.status import OcpiStatus

logger = logging.getLogger(__name__)


class RegistrationStateError(Exception):
    """The connection is not in a state that allows this step (OCPI answers 405)."""


# --- invitation ---------------------------------------------------------------------------------


@transaction.atomic
def partner_invite(
    *, name: str, country_code: str, party_id: str, role: Role
) -> tuple[Partner, str]:
    """A new connection awaiting the partner's registration; returns it and its token A."""
    offered = OfferedRole(role, country_code.upper(), party_id.upper(), name, "")
    ensure_not_ours([offered])
    token = token_generate()
    partner = Partner(name=name, state=PartnerState.INVITED)
    partner.set_token(token)
    partner.save()
    partner.parties.set(_parties_for([offered]))
    return partner, token


# --- inbound: the partner calls our credentials endpoint ----------------------------------------


def partner_accept_registration(
    *, partner: Partner, offered: OfferedCredentials, version: OcpiVersion
) -> str:
    """POST: read their API with their token, store the connection; returns our new token C."""
    _require(partner, registered=False)
    ensure_not_ours(offered.roles)
    ensure_not_taken(partner, offered.roles)
    discovery = discover(
        versions_url=offered.url, token=offered.token, partner=partner, version=version
    )
    token = token_generate()
    _store(partner, offered, discovery, our_token=token, registered=False)
    return token


def partner_accept_update(
    *, partner: Partner, offered: OfferedCredentials, version: OcpiVersion
) -> str:
    """PUT: like registration on an existing connection (new tokens, endpoints, maybe version)."""
    _require(partner, registered=True)
    ensure_not_ours(offered.roles)
    ensure_not_taken(partner, offered.roles)
    discovery = discover(
        versions_url=offered.url, token=offered.token, partner=partner, version=version
    )
    token = token_generate()
    _store(partner, offered, discovery, our_token=token, registered=True)
    return token


def partner_accept_unregistration(*, partner: Partner) -> None:
    """DELETE: the partner ends the connection; both tokens die."""
    _require(partner, registered=True)
    _disconnect(partner)


# --- outbound: we call the partner's credentials endpoint --------------------------------------


def partner_register(*, versions_url: str, token: str, name: str = "") -> Partner:
    """Register with a partner that gave us its versions URL and a token A.

    Picks the highest version in common, POSTs our credentials with a fresh token for them, and
    stores the token (C) and parties they answer with.
    """
    partner = _connection_for(versions_url, name)
    discovery = discover(versions_url=versions_url, token=token, partner=partner)
    return _exchange(partner, "POST", discovery, their_current_token=token, registered=False)


def partner_rotate(*, partner: Partner) -> Partner:
    """Renew both tokens with a PUT (also moves to the highest common version, refreshing the
    endpoints on both sides)."""
    _require(partner, registered=True)
    token = partner.their_token
    discovery = discover(versions_url=partner.versions_url, token=token, partner=partner)
    return _exchange(partner, "PUT", discovery, their_current_token=token, registered=True)


def partner_unregister(*, partner: Partner) -> bool:
    """End the connection: DELETE at the partner, then forget it here whatever they answer.

    Returns whether the partner acknowledged; we stop talking to it either way.
    """
    _require(partner, registered=True)
    url = partner.endpoint_url(ModuleID.CREDENTIALS)
    acknowledged = False
    if url:
        try:
            call("DELETE", url, partner=partner)
            acknowledged = True
        except OcpiClientError as error:
            logger.warning("Partner %s did not acknowledge unregistration: %s", partner, error)
    _disconnect(partner)
    return acknowledged


def partner_suspend(*, partner: Partner) -> None:
    """Stop serving the partner's functional requests (versions and credentials still work)."""
    if partner.state != PartnerState.REGISTERED:
        raise RegistrationStateError(f"{partner} is not registered")
    partner.state = PartnerState.SUSPENDED
    partner.save(update_fields=["state", "updated_at"])


def partner_reactivate(*, partner: Partner) -> None:
    if partner.state != PartnerState.SUSPENDED:
        raise RegistrationStateError(f"{partner} is not suspended")
    partner.state = PartnerState.REGISTERED
    partner.save(update_fields=["state", "updated_at"])


def _connection_for(versions_url: str, name: str) -> Partner:
    """The connection to (re)register: an unregistered one at this URL, or a new one."""
    existing = Partner.objects.filter(versions_url=versions_url).order_by("-id").first()
    if existing is not None:
        _require(existing, registered=False)
        return existing
    return Partner.objects.create(
        name=name or urlsplit(versions_url).netloc,
        versions_url=versions_url,
        state=PartnerState.UNREGISTERED,
    )


def _exchange(
    partner: Partner,
    method: str,
    discovery: Discovery,
    *,
    their_current_token: str,
    registered: bool,
) -> Partner:
    """Offer a fresh token in a POST/PUT of our credentials and store what the partner answers."""
    token = token_generate()
    # Committed before the call: the partner reads our versions with it while answering.
    _set_pending(partner, token)
    try:
        response = call(
            method,
            discovery.url_of(ModuleID.CREDENTIALS),
            partner=partner,
            token=their_current_token,
            version=discovery.version,
            json=our_credentials(discovery.version, token),
        )
        offered = _their_credentials(discovery.version, response.data)
        ensure_not_ours(offered.roles)
        ensure_not_taken(partner, offered.roles)
    except (OcpiClientError, CredentialsError):
        _set_pending(partner, None)
        raise
    _store(partner, offered, discovery, our_token=token, registered=registered)
    partner.refresh_from_db()
    return partner


def _their_credentials(version: OcpiVersion, data: object) -> OfferedCredentials:
    try:
        return parse_credentials(version, data)
    except ValidationError as error:
        raise CredentialsError(
            OcpiStatus.CLIENT_API_UNUSABLE,
            f"The partner answered with invalid credentials: {validation_message(error.detail)}",
        ) from error


def _set_pending(partner: Partner, token: str | None) -> None:
    partner.pending_token_hash = token_hash(token) if token else None
    partner.save(update_fields=["pending_token_hash", "updated_at"])


# --- storing --------------------------------------------------------------------------------


def _require(partner: Partner, *, registered: bool) -> None:
    if registered and not partner.has_registration:
        raise RegistrationStateError(f"{partner} is not registered")
    if not registered and partner.has_registration:
        raise RegistrationStateError(f"{partner} is already registered")


def ensure_not_ours(roles: tuple[OfferedRole, ...] | list[OfferedRole]) -> None:
    """A partner may not claim one of our own identities."""
    ours = {(party.country_code, party.party_id) for party in Party.objects.ours()}
    for role in roles:
        if (role.country_code, role.party_id) in ours:
            raise CredentialsError(
                OcpiStatus.INVALID_PARAMETERS,
                f"roles: {role.country_code}-{role.party_id} is one of our own parties",
            )


def ensure_not_taken(partner: Partner, roles: tuple[OfferedRole, ...] | list[OfferedRole]) -> None:
    """A partner may not claim a party that has another connection of its own with us: it would
    then read and change that party's tokens, sessions and CDRs."""
    for role in roles:
        party = Party.objects.filter(
            country_code=role.country_code.upper(), party_id=role.party_id.upper()
        ).first()
        if party is not None and party_connected_directly(party, besides=partner):
            raise CredentialsError(
                OcpiStatus.INVALID_PARAMETERS,
                f"roles: {role.country_code}-{role.party_id} is connected to us over another "
                "connection",
            )


@transaction.atomic
def _store(
    partner: Partner,
    offered: OfferedCredentials,
    discovery: Discovery,
    *,
    our_token: str,
    registered: bool,
) -> None:
    # Locked and re-checked: two concurrent POSTs with the same token A must not both register.
    locked = Partner.objects.select_for_update().get(pk=partner.pk)
    _require(locked, registered=registered)
    # A connection we opened was named after its URL's host until the partner names itself.
    if not locked.name or locked.name == urlsplit(locked.versions_url).netloc:
        locked.name = offered.roles[0].name[:100]
    locked.set_token(our_token)
    locked.pending_token_hash = None
    locked.set_their_token(offered.token)
    locked.versions_url = offered.url
    locked.version = discovery.version
    if not registered:
        locked.state = PartnerState.REGISTERED
        locked.registered_at = timezone.now()
    locked.save()
    _replace_endpoints(locked, discovery.endpoints)
    # A hub's credentials list only itself: the parties it introduced through HubClientInfo stay
    # spoken for when it updates them (a new registration starts afresh).
    introduced = client_info_parties(locked) if registered else []
    locked.parties.set([*_parties_for(offered.roles), *introduced])


def _replace_endpoints(partner: Partner, endpoints: tuple[Endpoint, ...]) -> None:
    partner.endpoints.all().delete()
    unique = {(endpoint.module, endpoint.role): endpoint for endpoint in endpoints}
    PartnerEndpoint.objects.bulk_create(
        PartnerEndpoint(partner=partner, module=module, role=role, url=endpoint.url)
        for (module, role), endpoint in unique.items()
    )


def _parties_for(roles: tuple[OfferedRole, ...] | list[OfferedRole]) -> list[Party]:
    """The Party rows of the offered roles (one per country code and party id), kept current."""
    by_code: dict[tuple[str, str], list[OfferedRole]] = defaultdict(list)
    for role in roles:
        by_code[(role.country_code, role.party_id)].append(role)
    parties = []
    for (country_code, party_id), party_roles in by_code.items():
        party, _ = Party.objects.get_or_create(
            country_code=country_code,
            party_id=party_id,
            defaults={"name": party_roles[0].name[:100]},
        )
        party.name = party_roles[0].name[:100]
        website = party_roles[0].website
        if website and len(website) <= Party._meta.get_field("website").max_length:  # type: ignore[operator]
            party.website = website
        # A party may play other roles over other connections: keep those too.
        party.roles = sorted(set(party.roles) | {role.role.value for role in party_roles})
        party.save()
        parties.append(party)
    return parties


@transaction.atomic
def _disconnect(partner: Partner) -> None:
    partner.state = PartnerState.UNREGISTERED
    partner.set_token(None)
    partner.pending_token_hash = None
    partner.set_their_token("")
    partner.save()
    partner.endpoints.all().delete()
