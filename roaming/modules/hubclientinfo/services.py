"""Services of the hubclientinfo receiver: what a hub tells us about the parties behind it.

A ClientInfo registers its party (created when new, with the role given) and, unless the party is
one of ours, makes the hub's connection speak for it, so that the hub may then relay that party's
requests with routing headers. OCPI 2.2.1 hubs list only themselves in their credentials, so this
is how we learn whom they relay for. A party the hub reports SUSPENDED (it will never connect
again) is no longer spoken for by that hub; OFFLINE and PLANNED parties stay spoken for, as they
may come (back) online at any time.

A party that has a connection of its own with us (not a hub's) speaks for itself: a hub's
ClientInfo of it is recorded, but neither makes the hub speak for it nor changes its roles, so
that no hub can take over the tokens, sessions and CDRs of a party merely by naming it. (Staff
may still add such a party to a hub connection in the admin.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from roaming.choices import ConnectionStatus, Role
from roaming.models import HubClientInfo, Partner, PartnerState, Party


class NotAHubError(Exception):
    """Only a hub connection may tell us about the parties it connects us with."""


@dataclass(frozen=True)
class ClientInfoStored:
    info: HubClientInfo
    created: bool


def partner_is_hub(partner: Partner) -> bool:
    """A connection is a hub's when it speaks for a party in the HUB role."""
    return any(party.has_role(Role.HUB) for party in partner.parties.all())


@transaction.atomic
def client_info_store(
    *,
    hub: Partner,
    country_code: str,
    party_id: str,
    role: Role,
    status: ConnectionStatus,
    last_updated: datetime,
) -> ClientInfoStored:
    """Record the hub's ClientInfo of a party and who the hub may now speak for."""
    if not partner_is_hub(hub):
        raise NotAHubError(f"{hub} is not a hub connection")
    party, independent = _party(country_code.upper(), party_id.upper(), role, hub)
    info, created = HubClientInfo.objects.update_or_create(
        hub=hub,
        party=party,
        defaults={"role": role.value, "status": status.value, "last_updated": last_updated},
    )
    # Our own identities are never spoken for by a partner, and the hub's own identity stays.
    if not party.is_ours and not party.has_role(Role.HUB) and not independent:
        if status == ConnectionStatus.SUSPENDED:
            hub.parties.remove(party)
        else:
            hub.parties.add(party)
    return ClientInfoStored(info, created)


def client_info_find(*, hub: Partner, country_code: str, party_id: str) -> HubClientInfo | None:
    return (
        HubClientInfo.objects.select_related("party")
        .filter(hub=hub, party__country_code=country_code.upper(), party__party_id=party_id.upper())
        .first()
    )


def _party(country_code: str, party_id: str, role: Role, hub: Partner) -> tuple[Party, bool]:
    """The party the ClientInfo names, and whether it has a connection of its own with us."""
    party, created = Party.objects.get_or_create(
        country_code=country_code,
        party_id=party_id,
        defaults={"name": f"{country_code}-{party_id} (via {hub.name})"[:100], "roles": [role]},
    )
    independent = not created and party_connected_directly(party, besides=hub)
    if not created and not party.is_ours and not independent and role.value not in party.roles:
        # A party may play other roles over other connections: keep those too.
        party.roles = sorted({*party.roles, role.value})
        party.save(update_fields=["roles"])
    return party, independent


def party_connected_directly(party: Party, *, besides: Partner) -> bool:
    """Whether a registered connection other than `besides`, and not a hub's, speaks for the
    party: then that connection is the party's own, and no other may speak for it."""
    others = (
        party.connections.exclude(pk=besides.pk)
        .filter(state__in=(PartnerState.REGISTERED, PartnerState.SUSPENDED))
        .prefetch_related("parties")
    )
    return any(not partner_is_hub(partner) for partner in others)


def client_info_parties(hub: Partner) -> list[Party]:
    """Parties the hub introduced with ClientInfo and still relays for (none of ours, none it
    reported SUSPENDED, none connected directly): kept when the hub renews its credentials, which
    list only itself."""
    infos = (
        HubClientInfo.objects.filter(hub=hub, party__is_ours=False)
        .exclude(status=ConnectionStatus.SUSPENDED)
        .select_related("party")
    )
    return [info.party for info in infos if not party_connected_directly(info.party, besides=hub)]
