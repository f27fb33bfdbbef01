"""What a partner connection may see of our OCPI objects: the one place every sender view asks.

A request speaks for one party (the OCPI-from-* headers, or the only party its connection speaks
for) or, from a hub that sent no from-headers, for every party the hub relays for. It may address
one of our CPO identities (OCPI-to-*); then only that identity's objects are shown.

* Locations: published ones, and unpublished ones whose publish_allowed_to lists a token of a
  requesting party (the rule of ``locations.selectors.locations_visible_to``).
* Tariffs: all of ours that are not deleted.
* Sessions and CDRs: only those of the requesting parties' drivers (``emsp``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import QuerySet

from billing.models import CDR, Tariff, TariffQuerySet
from locations.models import Location, LocationQuerySet
from locations.selectors import (
    VisibilityState,
    VisibleLocations,
    locations_shown_besides_published,
)
from roaming.models import Partner, Party
from roaming.transport.routing import Routing
from sessions_app.models import Session

QS = TypeVar("QS", bound=QuerySet[Any])


@dataclass(frozen=True)
class Audience:
    """The parties a request is from, and the identity of ours it addresses (None: all of ours)."""

    parties: tuple[Party, ...]
    addressed: Party | None = None

    @classmethod
    def of(cls, partner: Partner, routing: Routing | None) -> Audience:
        """The audience of a request made over `partner` with the routing it resolved."""
        addressed = routing.to_party if routing is not None else None
        if routing is not None and routing.from_party is not None:
            return cls(parties=(routing.from_party,), addressed=addressed)
        # A hub without from-headers: everything of every party it relays for.
        return cls(parties=tuple(partner.parties.all()), addressed=addressed)

    @property
    def party_pks(self) -> list[int]:
        return [party.pk for party in self.parties]

    @property
    def name(self) -> str:
        """The same for audiences of the same parties addressing the same identity: they see the
        same sessions, CDRs and tariffs (for cache keys)."""
        addressed = self.addressed.pk if self.addressed is not None else "all"
        return f"{','.join(map(str, sorted(self.party_pks)))}|{addressed}"


def _addressed(queryset: QS, audience: Audience) -> QS:
    if audience.addressed is None:
        return queryset
    return queryset.filter(owner=audience.addressed)


def locations_visible(audience: Audience, state: VisibilityState | None = None) -> LocationQuerySet:
    """Locations the audience may see: published, or unpublished but allowed to its tokens.

    `state`: the request's ``visibility_state()``, if it has read it already.
    """
    return locations_visible_named(audience, state)[0]


def locations_visible_named(
    audience: Audience, state: VisibilityState | None = None
) -> tuple[LocationQuerySet, str]:
    """``locations_visible``, and a name of the rule choosing them (for cache keys).

    The name says which unpublished locations are shown and which identity of ours is
    addressed: two requests whose sets hold the same locations get the same name, whoever sends
    them and however their tokens change meanwhile.
    """
    if not audience.parties:
        visible = VisibleLocations(Location.objects.published(), (), "")
    else:
        visible = locations_shown_besides_published(*audience.parties, state=state)
    addressed = audience.addressed.pk if audience.addressed is not None else "all"
    name = hashlib.sha1(f"{addressed}|{visible.digest}".encode()).hexdigest()
    return _addressed(visible.queryset, audience), name


def tariffs_visible(audience: Audience) -> TariffQuerySet:
    """Our tariffs in force (deleted ones are kept for the record, never shown)."""
    return _addressed(Tariff.objects.active(), audience)


def sessions_visible(audience: Audience) -> QuerySet[Session]:
    """Sessions of the audience's drivers only."""
    return _addressed(Session.objects.filter(emsp__in=audience.party_pks), audience)


def cdrs_visible(audience: Audience) -> QuerySet[CDR]:
    """CDRs of the audience's drivers only."""
    return _addressed(CDR.objects.filter(emsp__in=audience.party_pks), audience)
