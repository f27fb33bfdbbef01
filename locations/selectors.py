"""Read-side queries of locations: what a party may see, and EVSEs as OCPI lists them."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from locations.models import EVSE, Location, LocationQuerySet
from roaming.models import Party
from sessions_app.models import Token

# At least one of these must be set for a PublishTokenType entry to identify any token.
_IDENTIFYING_KEYS = ("uid", "visual_number", "group_id")


def publish_token_filter(entry: dict[str, Any]) -> Q | None:
    """The tokens matching every field set in one publish_allowed_to entry (None: matches none).

    uid and group_id are CiStrings and compare case-insensitively; the other fields compare as
    given.
    """
    if not isinstance(entry, dict) or not any(entry.get(key) for key in _IDENTIFYING_KEYS):
        return None
    condition = Q()
    if entry.get("uid"):
        condition &= Q(uid__iexact=entry["uid"])
    if entry.get("type"):
        condition &= Q(type=entry["type"])
    if entry.get("visual_number"):
        condition &= Q(visual_number=entry["visual_number"])
    if entry.get("issuer"):
        condition &= Q(issuer=entry["issuer"])
    if entry.get("group_id"):
        condition &= Q(group_id__iexact=entry["group_id"])
    return condition


def _entry_key(entry: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in entry.items() if v))


def locations_visible_to(party: Party) -> LocationQuerySet:
    """Locations this party may see: all published ones, and unpublished ones listing its tokens.

    An unpublished location is shown to a partner eMSP only when one of its tokens (Token rows
    owned by it) matches every set field of one publish_allowed_to entry. Unpublished locations
    are few, so their lists are matched in one query against the party's tokens.
    """
    restricted = Location.objects.filter(publish=False).values_list("pk", "publish_allowed_to")
    entries: dict[tuple[tuple[str, str], ...], Q] = {}
    locations_by_entry: dict[tuple[tuple[str, str], ...], list[int]] = {}
    for pk, allowed in restricted:
        for entry in allowed or []:
            condition = publish_token_filter(entry)
            if condition is None:
                continue
            key = _entry_key(entry)
            entries[key] = condition
            locations_by_entry.setdefault(key, []).append(pk)

    visible_pks: set[int] = set()
    if entries:
        keys = list(entries)
        party_tokens = Token.objects.filter(owner=OuterRef("pk"))
        matches = (
            Party.objects.filter(pk=party.pk)
            .annotate(
                **{
                    f"entry_{i}": Exists(party_tokens.filter(entries[key]))
                    for i, key in enumerate(keys)
                }
            )
            .values(*(f"entry_{i}" for i in range(len(keys))))
            .first()
        )
        for i, key in enumerate(keys):
            if matches and matches[f"entry_{i}"]:
                visible_pks.update(locations_by_entry[key])

    return Location.objects.filter(Q(publish=True) | Q(pk__in=visible_pks))


def evses_for_location(location: Location) -> QuerySet[EVSE]:
    """The EVSEs of a location as partners get them: REMOVED ones included, connectors loaded."""
    return location.evses.order_by("pk").prefetch_related("connectors")
