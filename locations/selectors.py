"""Read-side queries of locations: what a party may see, and EVSEs as OCPI lists them."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from django.core.cache import cache
from django.db import connection
from django.db.models import BooleanField, F, Func, Q, QuerySet, TextField
from django.db.models.functions import Cast, Upper

from cpms.database import prepared_cursor
from cpms.nearby import NearbyCopies
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


def _entry_matches(key: tuple[tuple[str, str], ...], token: Mapping[str, Any]) -> bool:
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


EntryKey = tuple[tuple[str, str], ...]


def _entry_keys(text: str | None) -> list[EntryKey]:
    """The keys of the entries of one publish_allowed_to list that identify tokens."""
    allowed = json.loads(text) if text else None
    return [
        _entry_key(entry)
        for entry in (allowed if isinstance(allowed, list) else [])
        if publish_token_filter(entry) is not None
    ]


# Bounds what the state cannot see (a last_updated set back by an import, see below).
_LISTS_TIMEOUT_SECONDS = 10


def _publish_lists(locations_state: str | None = None) -> dict[EntryKey, list[int]]:
    """The token entries of unpublished locations, each with the locations listing it.

    Every list request asks, so the lists are kept in the cache under the state of the
    locations: any change of a location (publication and its lists included) moves its
    last_updated, any insert the highest primary key, and both are read from the ends of their
    indexes. A location deleted meanwhile stays in the lists, which only ever name locations to
    show among those that exist; a change that moves neither (a location saved with an older
    last_updated than the newest) shows after at most _LISTS_TIMEOUT_SECONDS.
    """
    state = locations_state if locations_state is not None else visibility_state().locations
    key = f"locations:publish-lists:{state}"
    lists: dict[EntryKey, list[int]] | None = cache.get(key)
    if lists is None:
        lists = _read_publish_lists()
        cache.set(key, lists, timeout=_LISTS_TIMEOUT_SECONDS)
    return lists


def _read_publish_lists() -> dict[EntryKey, list[int]]:
    # As text: most lists repeat (a fleet's group on many sites), so each distinct list is
    # decoded once.
    restricted = Location.objects.filter(publish=False).values_list(
        "pk", Cast("publish_allowed_to", output_field=TextField())
    )
    locations_by_entry: dict[EntryKey, list[int]] = {}
    keys_of_text: dict[str | None, list[EntryKey]] = {}
    for pk, text in restricted:
        keys = keys_of_text.get(text)
        if keys is None:
            keys = keys_of_text[text] = _entry_keys(text)
        for key in keys:
            locations_by_entry.setdefault(key, []).append(pk)
    return locations_by_entry


def locations_listing(tokens: Iterable[Mapping[str, Any]]) -> set[int]:
    """Unpublished locations whose publish_allowed_to has an entry matching one of these tokens.

    ``tokens`` map the token fields entries name (uid, type, visual_number, issuer, group_id);
    they match as in ``locations_visible_to``, so these are the locations the tokens' owner may
    see because of them. Each token is compared only with the entries naming its uid, visual
    number or group id, so a page of tokens costs one query.
    """
    tokens = list(tokens)
    if not tokens:
        return set()
    return _listing(_publish_lists(), tokens)


def _listing(
    locations_by_entry: dict[EntryKey, list[int]], tokens: Iterable[Mapping[str, Any]]
) -> set[int]:
    """The locations of the entries that one of `tokens` matches (see ``locations_listing``)."""
    if not locations_by_entry:
        return set()
    by_identifier: dict[tuple[str, str], list[EntryKey]] = {}
    for key in locations_by_entry:
        name, value = next((n, v) for n, v in key if n in _IDENTIFYING_KEYS)
        by_identifier.setdefault((name, _folded(name, value)), []).append(key)
    listing: set[int] = set()
    for token in tokens:
        for field in _IDENTIFYING_KEYS:
            given = token.get(field)
            for key in by_identifier.get((field, _folded(field, given)), ()) if given else ():
                if _entry_matches(key, token):
                    listing.update(locations_by_entry[key])
    return listing


def _folded(name: str, value: str) -> str:
    return value.upper() if name in _CASE_INSENSITIVE else value


def locations_visible_to(
    party: Party, *others: Party, state: VisibilityState | None = None
) -> LocationQuerySet:
    """Locations these parties may see: all published ones, and unpublished ones listing a token.

    An unpublished location is shown to a partner eMSP only when one of its tokens (Token rows
    owned by it) matches every set field of one publish_allowed_to entry; several parties (a hub
    speaking for all of them) see what any of them may see. Unpublished locations are few, so
    their lists are read once (a partial index, then kept while the locations are unchanged) and
    matched against the few of the parties' tokens that share a value with some entry.
    `state` is the ``visibility_state()`` of the request, read here when not given.
    """
    return locations_shown_besides_published(party, *others, state=state).queryset


class VisibleLocations(NamedTuple):
    """What ``locations_visible_to`` answers, and the unpublished locations it shows."""

    queryset: LocationQuerySet
    unpublished: tuple[int, ...]
    # Names the unpublished locations shown ("" for none), for cache keys of the set.
    digest: str


# Each process keeps the answer for the parties and the state it was read for (cpms.nearby).
_SHOWN_NEARBY: NearbyCopies[VisibleLocations] = NearbyCopies(size=1024)


def locations_shown_besides_published(
    party: Party, *others: Party, state: VisibilityState | None = None
) -> VisibleLocations:
    """``locations_visible_to`` with the unpublished locations it shows, which name the set."""
    owners = sorted({party.pk, *(other.pk for other in others)})
    state = state or visibility_state()
    key = _unpublished_key(owners, state)
    shown = _SHOWN_NEARBY.get(key)
    if shown is None:
        visible_pks, computed_at = _unpublished_visible_to(owners, state, key)
        shown = _shown(tuple(visible_pks))
        _SHOWN_NEARBY.put(key, shown, until=computed_at + _LISTS_TIMEOUT_SECONDS)
    # A clone: the kept queryset must never hold results of its own.
    return shown._replace(queryset=shown.queryset.all())


def _shown(unpublished: tuple[int, ...]) -> VisibleLocations:
    if not unpublished:
        return VisibleLocations(Location.objects.filter(publish=True), (), "")
    digest = hashlib.sha1(",".join(map(str, unpublished)).encode()).hexdigest()
    shown = Location.objects.filter(Q(publish=True) | Among(F("pk"), unpublished, "bigint"))
    return VisibleLocations(shown, unpublished, digest)


def _unpublished_key(owners: list[int], state: VisibilityState) -> str:
    owner_list = ",".join(map(str, owners))
    return f"locations:visible-unpublished:2:{state.locations}:{state.tokens}:{owner_list}"


def _unpublished_visible_to(
    owners: list[int], state: VisibilityState, key: str
) -> tuple[list[int], float]:
    """The unpublished locations the tokens of these parties are allowed to see, and when that
    was computed.

    Every list request of a partner asks, so the answer is kept in the cache under the state of
    the locations and of the tokens (the newest last_updated and highest primary key of each,
    read from the ends of their indexes, named in `key`): a change of either shows at once, one that
    moves neither (a token saved with an older last_updated than the newest) within
    _LISTS_TIMEOUT_SECONDS.
    """
    kept: tuple[float, list[int]] | None = cache.get(key)
    if kept is not None:
        return kept[1], kept[0]
    locations_by_entry = _publish_lists(state.locations)
    visible: list[int] = []
    if locations_by_entry:
        tokens = _candidate_tokens(locations_by_entry, owners)
        visible = sorted(_listing(locations_by_entry, tokens))
    computed_at = time.time()
    cache.set(key, (computed_at, visible), timeout=_LISTS_TIMEOUT_SECONDS)
    return visible, computed_at


class VisibilityState(NamedTuple):
    """Names of the current state of all locations and of all tokens, for cache keys.

    Each is the newest last_updated and the highest primary key of the table: every change of a
    location (or of its EVSEs and connectors, which bump it) or of a token moves the first, every
    insert the second.
    """

    locations: str
    tokens: str


def visibility_state() -> VisibilityState:
    """The state of locations and tokens, in one statement reading the ends of four indexes.

    It runs on every locations request; a request reads it once and hands it on.
    """
    quote = connection.ops.quote_name
    location, token = (quote(model._meta.db_table) for model in (Location, Token))
    ends = f"MAX({quote('last_updated')}), MAX({quote('id')})"
    with prepared_cursor() as cursor:
        cursor.execute(
            f"SELECT * FROM (SELECT {ends} FROM {location}) l, (SELECT {ends} FROM {token}) t"
        )
        newest_location, highest_location, newest_token, highest_token = cursor.fetchone()
    return VisibilityState(
        _state_name(newest_location, highest_location), _state_name(newest_token, highest_token)
    )


def _state_name(newest: Any, highest_pk: Any) -> str:
    return f"{newest}:{highest_pk}".replace(" ", "T")  # no spaces in cache keys


class Among(Func):
    """`expression` is one of `values` (non-empty): ``= ANY(array)`` on Postgres.

    One parameter instead of one per value: a fleet's unpublished locations and the token values
    their lists name can be hundreds, and every list request of its eMSP filters on them; the
    array goes as its text, which costs nothing to adapt. Other databases get an IN list.
    """

    output_field = BooleanField()
    conditional = True

    def __init__(self, expression: Any, values: Sequence[int | str], array_type: str) -> None:
        super().__init__(expression)
        self.values = values
        self.array_type = array_type
        # Written once: a request compiles its queryset several times (page, count, state).
        items = map(str, values) if array_type == "bigint" else map(_array_item, values)
        self.array = "{" + ",".join(items) + "}"

    def as_sql(
        self, compiler: Any, connection: Any, *args: Any, **kwargs: Any
    ) -> tuple[str, tuple[Any, ...]]:
        column, params = compiler.compile(self.get_source_expressions()[0])
        if connection.vendor == "postgresql":
            return f"{column} = ANY(%s::{self.array_type}[])", (*params, self.array)
        placeholders = ", ".join(["%s"] * len(self.values))
        return f"{column} IN ({placeholders})", (*params, *self.values)


def _array_item(value: int | str) -> str:
    if isinstance(value, int):
        return str(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _candidate_tokens(entries: Iterable[EntryKey], owners: list[int]) -> list[dict[str, Any]]:
    """The owners' tokens sharing an identifying value with some entry: all that can match one.

    Every entry sets a uid, visual number or group id, and a token matching it has that value,
    so three IN lists find every token that matches some entry (``_entry_matches`` then decides)
    in a query as cheap to build for a thousand entries as for one.
    """
    wanted: dict[str, set[str]] = {name: set() for name in _IDENTIFYING_KEYS}
    for key in entries:
        for name, value in key:
            if name in wanted:
                wanted[name].add(_folded(name, value))
    columns = {
        "uid": Upper("uid"),
        "visual_number": F("visual_number"),
        "group_id": Upper("group_id"),
    }
    conditions = [
        Among(columns[name], sorted(values), "text") for name, values in wanted.items() if values
    ]
    condition = Q(*conditions, _connector=Q.OR)
    candidates = Token.objects.filter(condition, owner__in=owners).values(*_TOKEN_FIELDS)
    return [dict(token) for token in candidates]


def evses_for_location(location: Location) -> QuerySet[EVSE]:
    """The EVSEs of a location as partners get them: REMOVED ones included, connectors loaded."""
    return location.evses.order_by("pk").prefetch_related("connectors")
