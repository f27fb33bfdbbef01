"""Paginated GET responses: offset/limit, date_from/date_to on last_updated, and the headers.

Order is (last_updated, id), which is stable while the data changes and matches the
(last_updated, id) indexes of the synced models. OCPI speaks in offsets, but OFFSET makes the
database walk and throw away every earlier row, which gets slow deep into 100k+ rows. So every
Link rel="next" we hand out carries, besides the usual offset, an opaque signed `cursor`: the
(last_updated, id) of the last object on the page and the offset it stands for. A client that
follows the Link gets a keyset seek (WHERE (last_updated, id) > cursor) that reads only one page
from the index, whatever the depth; a client that builds its own URL with a raw offset (or changes
the offset, as the spec advises after a shrinking X-Total-Count) gets a plain OFFSET. Following the
cursor also never skips an object that was updated meanwhile (it moves to the end instead).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import models
from django.http import QueryDict
from rest_framework.request import Request
from rest_framework.response import Response

from roaming.transport.datetimes import parse_datetime
from roaming.transport.envelope import ocpi_response
from roaming.transport.errors import InvalidParametersError
from roaming.transport.links import public_url

M = TypeVar("M", bound=models.Model)

_CURSOR_SALT = "roaming.pagination.cursor"


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after (last_updated, pk), which is at `offset`."""

    last_updated: datetime
    pk: Any
    offset: int

    def encode(self) -> str:
        return signing.dumps(
            [self.last_updated.isoformat(), self.pk, self.offset], salt=_CURSOR_SALT
        )

    @classmethod
    def decode(cls, value: str) -> Cursor:
        try:
            last_updated, pk, offset = signing.loads(value, salt=_CURSOR_SALT)
            return cls(datetime.fromisoformat(last_updated), pk, int(offset))
        except (signing.BadSignature, ValueError, TypeError):
            raise InvalidParametersError("Query parameter cursor is not one we issued") from None


@dataclass(frozen=True)
class PageRequest:
    offset: int
    limit: int
    date_from: datetime | None
    date_to: datetime | None
    cursor: Cursor | None

    @classmethod
    def from_query(cls, query: QueryDict) -> PageRequest:
        max_limit: int = settings.OCPI_MAX_PAGE_SIZE
        limit = _non_negative_int(query, "limit", default=max_limit)
        cursor = query.get("cursor")
        return cls(
            offset=_non_negative_int(query, "offset", default=0),
            limit=min(limit, max_limit),
            date_from=_datetime(query, "date_from"),
            date_to=_datetime(query, "date_to"),
            cursor=Cursor.decode(cursor) if cursor else None,
        )


@dataclass
class Page(Generic[M]):
    items: list[M]
    total: int
    limit: int
    next_url: str | None = None
    headers: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.headers = {"X-Total-Count": str(self.total), "X-Limit": str(self.limit)}
        if self.next_url:
            self.headers["Link"] = f'<{self.next_url}>; rel="next"'

    def response(self, data: Any) -> Response:
        """The envelope with the serialized items and the pagination headers."""
        return ocpi_response(data, headers=self.headers)


def paginate(
    request: Request,
    queryset: models.QuerySet[M],
    *,
    date_field: str = "last_updated",
    count_stamp: Callable[[list[M]], str] | None = None,
) -> Page[M]:
    """One page of `queryset` (already narrowed to what the caller may see) per the query.

    X-Total-Count costs a COUNT over every matching row. A caller may give `count_stamp`: a
    function of a non-empty page naming the state of the whole set (see ``_total``); the count
    is then reused while that name does not change.
    """
    params = PageRequest.from_query(request.query_params)
    if params.date_from is not None:
        queryset = queryset.filter(**{f"{date_field}__gte": params.date_from})
    if params.date_to is not None:
        queryset = queryset.filter(**{f"{date_field}__lt": params.date_to})
    window = _window(queryset.order_by(date_field, "pk"), params, date_field)
    rows = list(window[: params.limit + 1])
    stamp = count_stamp(rows) if count_stamp is not None and rows else None
    total = _total(queryset, params, stamp)
    items = rows[: params.limit]
    next_url = None
    if len(rows) > params.limit and items:
        last = items[-1]
        pk = last.pk if isinstance(last.pk, int) else str(last.pk)
        cursor = Cursor(getattr(last, date_field), pk, params.offset + len(items))
        next_url = _next_url(request, params, cursor)
    return Page(items=items, total=total, limit=params.limit, next_url=next_url)


# A reused count is at most this old; it bounds what a stamp cannot see (see ``_total``).
COUNT_REUSE_SECONDS = 10


def _total(queryset: models.QuerySet[Any], params: PageRequest, stamp: str | None) -> int:
    """The number of rows of `queryset`, reused from the cache while `stamp` is unchanged.

    The stamp is the caller's name for the state of the whole set (for locations: the
    visibility query with its parameters, the newest last_updated and the highest primary
    key, so that every insert and every change, a change of publication included, names a new
    state). What no such stamp sees, a row deleted below the highest key, shows in the count
    after at most COUNT_REUSE_SECONDS.
    """
    if stamp is None:
        return queryset.count()
    name = f"{stamp}|{params.date_from}|{params.date_to}"
    key = f"ocpi:count:{hashlib.sha1(name.encode()).hexdigest()}"
    total = cache.get(key)
    if total is None:
        total = queryset.count()
        cache.set(key, total, timeout=COUNT_REUSE_SECONDS)
    return int(total)


def _window(
    ordered: models.QuerySet[M], params: PageRequest, date_field: str
) -> models.QuerySet[M]:
    cursor = params.cursor
    if cursor is None or cursor.offset != params.offset:
        return ordered[params.offset :]
    # The >= bound lets the database start an index range scan at the cursor.
    return ordered.filter(**{f"{date_field}__gte": cursor.last_updated}).filter(
        models.Q(**{f"{date_field}__gt": cursor.last_updated}) | models.Q(pk__gt=cursor.pk)
    )


def _next_url(request: Request, params: PageRequest, cursor: Cursor) -> str:
    query = request.query_params.copy()  # keeps every filter the client gave, verbatim
    query["offset"] = str(cursor.offset)
    query["limit"] = str(params.limit)
    query["cursor"] = cursor.encode()
    return f"{public_url(request.path_info)}?{query.urlencode()}"


def _non_negative_int(query: QueryDict, name: str, *, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidParametersError(
            f"Query parameter {name} must be an integer, got {raw!r}"
        ) from None
    if value < 0:
        raise InvalidParametersError(f"Query parameter {name} must not be negative, got {value}")
    return value


def _datetime(query: QueryDict, name: str) -> datetime | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        # An unencoded '+' of a UTC offset arrives as a space.
        return parse_datetime(raw.replace(" ", "+"))
    except ValueError:
        raise InvalidParametersError(
            f"Query parameter {name} must be an RFC 3339 date-time, got {raw!r}"
        ) from None
