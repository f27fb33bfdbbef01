"""Read-side queries of locations: what a party may see, and EVSEs as OCPI lists them."""

from __future__ import annotations

import json
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast

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


# How each field of an entry compares with a token's: CiStrings ignore case (as ``iexact``).
_CASE_INSENSITIVE = frozenset({"uid", "group_id"})
_TOKEN_FIELDS = ("uid", "type", "visual_number", "issuer", "group_id")


def _entry_matches(key: tuple[tuple[str, str], ...], token: dict[str, str]) -> bool:
    for name, wanted in key:
        have = token.get(name)
        if have is None:
            continue  # a field tokens do not have constrains nothing, as publish_token_filter
        if name in _CASE_INSENSITIVE:
            if have.upper() != wanted.upper():
                return False
        elif have != wanted:
            return False
    return True


def _entry_keys(
    text: str | None, entries: dict[tuple[tuple[str, str], ...], Q]
) -> list[tuple[tuple[str, str], ...]]:
    """The keys of the entries of one publish_allowed_to list that identify tokens.

    Adds the token filter of each new one to `entries`.
    """
    allowed = json.loads(text) if text else None
    keys = []
    for entry in allowed if isinstance(allowed, list) else []:
        condition = publish_token_filter(entry)
        if condition is None:
            continue
        key = _entry_key(entry)
        entries.setdefault(key, condition)
        keys.append(key)
    return keys


def locations_visible_to(party: Party, *others: Party) -> LocationQuerySet:
    """Locations these parties may see: all published ones, and unpublished ones listing a token.

    An unpublished location is shown to a partner eMSP only when one of its tokens (Token rows
    owned by it) matches every set field of one publish_allowed_to entry; several parties (a hub
    speaking for all of them) see what any of them may see. Unpublished locations are few, so
    their lists are read once (a partial index) and matched in one query against the parties'
    tokens, which returns only the few tokens that match some entry.
    """
    # As text: most lists repeat (a fleet's group on many sites), so each distinct list is
    # decoded, and each distinct entry turned into a filter, once.
    restricted = Location.objects.filter(publish=False).values_list(
        "pk", Cast("publish_allowed_to", output_field=TextField())
    )
    entries: dict[tuple[tuple[str, str], ...], Q] = {}
    locations_by_entry: dict[tuple[tuple[str, str], ...], list[int]] = {}
    keys_of_text: dict[str | None, list[tuple[tuple[str, str], ...]]] = {}
    for pk, text in restricted:
        keys = keys_of_text.get(text)
        if keys is None:
            keys = keys_of_text[text] = _entry_keys(text, entries)
        for key in keys:
            locations_by_entry.setdefault(key, []).append(pk)

    visible_pks: set[int] = set()
    if entries:
        owners = [party.pk, *(other.pk for other in others)]
        matching_tokens = Token.objects.filter(
            reduce(or_, entries.values()), owner__in=owners
        ).values(*_TOKEN_FIELDS)
        tokens = [dict(token) for token in matching_tokens]
        for key, pks in locations_by_entry.items():
            if any(_entry_matches(key, token) for token in tokens):
                visible_pks.update(pks)

    if not visible_pks:
        return Location.objects.filter(publish=True)
    return Location.objects.filter(Q(publish=True) | Q(pk__in=sorted(visible_pks)))


def evses_for_location(location: Location) -> QuerySet[EVSE]:
    """The EVSEs of a location as partners get them: REMOVED ones included, connectors loaded."""
    return location.evses.order_by("pk").prefetch_related("connectors")
