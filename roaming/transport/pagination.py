"""Paginated GET responses: offset/limit, date_from/date_to on last_updated, and the headers.

Order is (last_updated, id), which is stable while the data changes and matches the
(last_updated, id) indexes of the synced models. OCPI speaks in offsets, but OFFSET makes the
database walk and throw away every earlier row, which gets slow deep into 100k+ rows. So every
Link rel="next" we hand out carries, besides the usual offset, an opaque signed `cursor`: the
(last_updated, id) of the last object on the page and the offset it stands for. A client that
follows the Link gets a keyset seek (WHERE (last_updated, id) > cursor) that reads only one page
from the index, whatever the depth; a client that builds its own URL with a raw offset (or changes
the offset, as the spec advises after a shrinking X-Total-Count) gets the same rows through marks:
for a caller that can name the state of its whole set (``set_stamp``), the sort key of every
MARK_SPACING-th row is kept in the cache under that name, and a deep offset seeks to the mark before
it and skips fewer than MARK_SPACING rows. Following the cursor also never skips an object that was
updated meanwhile (it moves to the end instead).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, cast

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db import connections, models
from django.db.models.functions import RowNumber
from django.db.models.query import NamedValuesListIterable
from django.db.models.utils import create_namedtuple_class
from django.http import QueryDict
from rest_framework.request import Request
from rest_framework.response import Response

from cpms.database import prepared_cursor
from cpms.nearby import NearbyCopies
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


@dataclass(frozen=True)
class SetState:
    """A caller's names for a paginated set: `name` is the same for the same rows whoever asks
    (for locations: which unpublished ones the audience sees and the identity it addresses), and
    `state` moves with every insert and every change of the set (publication included). A set
    named without a state has its page statements compiled once, and its count and marks
    computed by every request."""

    name: str
    state: str | None


def paginate(
    request: Request,
    queryset: models.QuerySet[M],
    *,
    date_field: str = "last_updated",
    reuse_for: SetState | None = None,
) -> Page[M]:
    """One page of `queryset` (already narrowed to what the caller may see) per the query.

    X-Total-Count costs a COUNT over every matching row, and a deep OFFSET a walk over every
    earlier one. A caller may name the set and its state (`reuse_for`); the count and the marks
    are then reused while that state holds (see ``_Reuse``).
    """
    params = PageRequest.from_query(request.query_params)
    if params.date_from is not None:
        queryset = queryset.filter(**{f"{date_field}__gte": params.date_from})
    if params.date_to is not None:
        queryset = queryset.filter(**{f"{date_field}__lt": params.date_to})
    named: str | None = None
    reuse: _Reuse | None = None
    if reuse_for is not None:
        named = _set_key(reuse_for, params)
        if reuse_for.state is not None:
            reuse = _Reuse(named, reuse_for.state)
    ordered = queryset.order_by(date_field, "pk")
    start, skip = _window(ordered, params, date_field, reuse)
    rows = _rows(ordered, date_field, start, skip, params.limit + 1, named)
    total = reuse.total(queryset.count) if reuse is not None else queryset.count()
    items = rows[: params.limit]
    next_url = None
    if len(rows) > params.limit and items:
        last = items[-1]
        pk = last.pk if isinstance(last.pk, int) else str(last.pk)
        cursor = Cursor(getattr(last, date_field), pk, params.offset + len(items))
        next_url = _next_url(request, params, cursor)
    return Page(items=items, total=total, limit=params.limit, next_url=next_url)


# A reused count or mark is at most this old; it bounds what a state cannot see (see ``_Reuse``).
COUNT_REUSE_SECONDS = 10
# While one request recomputes them, the others answer from values at most this old.
STALE_REUSE_SECONDS = 60
# A recompute that has not finished by then (its process died) is left to another request.
RECOMPUTE_LOCK_SECONDS = 5
# A deep offset seeks to the last mark before it and skips at most this many rows.
MARK_SPACING = 1000
# Each process keeps the current entries it read or wrote (cpms.nearby).
_SETS_NEARBY: NearbyCopies[dict[str, Any]] = NearbyCopies(size=1024)


def _set_key(named: SetState, params: PageRequest) -> str:
    """The key of a named set with its date filters, whatever its state."""
    name = f"{named.name}|{params.date_from}|{params.date_to}"
    return f"ocpi:set:{hashlib.sha1(name.encode()).hexdigest()}"


class _Reuse:
    """The count and the marks of a set, kept in the cache under the set's name (and the date
    filters) with the state they were computed in. Count and marks share one entry: one cache
    read per request, none while the process keeps the current entry nearby.

    They are current while the set is in that state, for at most COUNT_REUSE_SECONDS (which
    bounds what no state sees: a row deleted below the highest key). When they are not, the
    request that takes a short lock recomputes them, and the others, meanwhile, answer from the
    values they found: without the lock every request arriving during a recompute (some 60 ms of
    Postgres at 100,000 locations) recomputed too, and the CPUs stalled. So under concurrency an
    answer may lag a change by one recompute; a partner walking raw offsets across changes sees
    rows move anyway, and following the cursor uses no marks.
    """

    def __init__(self, key: str, state: str) -> None:
        self.key = key
        self._state = state
        self._entry: dict[str, Any] | None = None
        self._recomputing = False

    def total(self, count: Callable[[], int]) -> int:
        return int(self._value("total", lambda: {"total": count()}))

    def marks(self, ordered: models.QuerySet[Any], date_field: str) -> list[tuple[datetime, Any]]:
        """The sort key of the last row of every full block of MARK_SPACING rows, in order.

        On PostgreSQL the count comes with them, for little more (see ``_marks_by_seeks``).
        """

        def compute() -> dict[str, Any]:
            if connections[ordered.db].vendor == "postgresql":
                return _marks_by_seeks(ordered, date_field)
            numbered = ordered.annotate(
                _position=models.Window(RowNumber(), order_by=[date_field, "pk"])
            ).annotate(_in_block=models.F("_position") % MARK_SPACING)
            return {"marks": list(numbered.filter(_in_block=0).values_list(date_field, "pk"))}

        marks: list[tuple[datetime, Any]] = self._value("marks", compute)
        return marks

    def _value(self, name: str, compute: Callable[[], dict[str, Any]]) -> Any:
        """The value `name` of the entry; `compute` gives it (and maybe others) afresh."""
        entry = self._entry_with(name)
        current = self._is_current(entry)
        if name in entry:
            if current:
                return entry[name]
            age = time.time() - entry["computed_at"]
            if age < STALE_REUSE_SECONDS and not self._take_recompute():
                return entry[name]  # another request is recomputing it
        values = compute()
        base = entry if current else {"state": self._state, "computed_at": time.time()}
        self._entry = {**base, **values}
        cache.set(self.key, self._entry, timeout=STALE_REUSE_SECONDS)
        self._keep_nearby(self._entry)
        if self._recomputing:
            cache.delete(self._lock_key)
            self._recomputing = False
        return values[name]

    def _entry_with(self, name: str) -> dict[str, Any]:
        """The entry as this request last saw it, as this process keeps it while it is current
        (cpms.nearby), or as the cache holds it."""
        for entry in (self._entry, _SETS_NEARBY.get(self.key)):
            if entry is not None and name in entry and self._is_current(entry):
                return entry
        self._entry = cache.get(self.key) or {}
        self._keep_nearby(self._entry)
        return self._entry

    def _keep_nearby(self, entry: dict[str, Any]) -> None:
        if self._is_current(entry):
            _SETS_NEARBY.put(self.key, entry, until=entry["computed_at"] + COUNT_REUSE_SECONDS)

    def _is_current(self, entry: dict[str, Any]) -> bool:
        return (
            entry.get("state") == self._state
            and time.time() - entry["computed_at"] < COUNT_REUSE_SECONDS
        )

    @property
    def _lock_key(self) -> str:
        return f"{self.key}:recompute"

    def _take_recompute(self) -> bool:
        """Take the recompute of this entry, unless another request holds it."""
        self._recomputing = self._recomputing or bool(
            cache.add(self._lock_key, 1, timeout=RECOMPUTE_LOCK_SECONDS)
        )
        return self._recomputing


# Each step seeks past the last mark through the sort index and steps MARK_SPACING - 1 rows on.
_MARKS_BY_SEEKS = """
WITH RECURSIVE marks(k, pk) AS (
    (SELECT b.k, b.pk FROM ({rows}) b(k, pk) ORDER BY b.k, b.pk OFFSET %s LIMIT 1)
    UNION ALL
    (SELECT n.k, n.pk FROM marks m, LATERAL (
        SELECT b.k, b.pk FROM ({rows}) b(k, pk)
        WHERE b.k >= m.k AND (b.k > m.k OR b.pk > m.pk)
        ORDER BY b.k, b.pk OFFSET %s LIMIT 1
    ) n)
)
SELECT k, pk FROM marks
"""


def _marks_by_seeks(ordered: models.QuerySet[Any], date_field: str) -> dict[str, Any]:
    """The marks and the count of `ordered`, on PostgreSQL: one index seek per mark and a count
    of the rows after the last one. At 100,000 locations a third of what numbering every row
    (a window function) and counting them all cost, which every change of the set repeats."""
    rows = ordered.order_by().values_list(date_field, "pk")
    try:
        sql, params = rows.query.get_compiler(rows.db).as_sql()
    except EmptyResultSet:
        return {"marks": [], "total": 0}
    step = MARK_SPACING - 1
    with connections[rows.db].cursor() as cursor:
        cursor.execute(_MARKS_BY_SEEKS.replace("{rows}", sql), (*params, step, *params, step))
        marks: list[tuple[datetime, Any]] = [tuple(row) for row in cursor.fetchall()]
    if not marks:
        return {"marks": [], "total": ordered.count()}
    after = _after(ordered, date_field, *marks[-1]).count()
    return {"marks": marks, "total": len(marks) * MARK_SPACING + after}


SortKey = tuple[datetime, Any]


def _window(
    ordered: models.QuerySet[M], params: PageRequest, date_field: str, reuse: _Reuse | None
) -> tuple[SortKey | None, int]:
    """Where the page starts: after a sort key (or at the first row), and how many rows to
    skip from there."""
    cursor = params.cursor
    if cursor is not None and cursor.offset == params.offset:
        return (cursor.last_updated, cursor.pk), 0
    if reuse is None or params.offset < MARK_SPACING:
        return None, params.offset
    marks = reuse.marks(ordered, date_field)
    blocks = min(params.offset // MARK_SPACING, len(marks))
    if not blocks:
        return None, params.offset
    return marks[blocks - 1], params.offset - blocks * MARK_SPACING


def _rows(
    ordered: models.QuerySet[M],
    date_field: str,
    start: SortKey | None,
    skip: int,
    count: int,
    named: str | None,
) -> list[M]:
    """`count` rows of `ordered` from `start` on, after the first `skip`.

    On PostgreSQL the named key rows every sender walks run as a statement planned once per
    connection (``cpms.database.prepared_cursor``), with the start, `skip` and `count` as its
    parameters; anything else, or a column that needs converting, through the ORM.
    """
    if connections[ordered.db].vendor == "postgresql" and issubclass(
        ordered._iterable_class, NamedValuesListIterable
    ):
        statement = _statement(ordered, date_field, seeks=start is not None, named=named)
        if statement is _NOTHING:
            return []
        if statement is not None:
            with prepared_cursor(ordered.db) as cursor:
                cursor.execute(statement.sql, statement.bind(start, count, skip))
                return cast(list[M], [statement.row(*values) for values in cursor.fetchall()])
    window = ordered if start is None else _after(ordered, date_field, *start)
    return list(window[skip : skip + count])


@dataclass(frozen=True)
class _Statement:
    """The SQL of one shape of page-keys query, and where its parameters go.

    Compiled with stand-ins for the start's sort key, which are then found among the
    parameters: Django builds and compiles a query in more time than PostgreSQL takes to run it
    (a fifth of a random page), so a named set's statements are compiled once per process
    (``_STATEMENTS``).
    """

    sql: str
    params: tuple[Any, ...]
    time_at: tuple[int, ...]
    pk_at: tuple[int, ...]
    row: type

    def bind(self, start: SortKey | None, count: int, skip: int) -> list[Any]:
        params = list(self.params)
        if start is not None:
            for position in self.time_at:
                params[position] = start[0]
            for position in self.pk_at:
                params[position] = start[1]
        return [*params, count, skip]


# Stand-ins for a start's sort key: objects the compiled parameters hold unchanged.
_TIME_STAND_IN = datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
_PK_STAND_IN = 2**62 + 1999
# The statement of a set that is empty whatever its data (Django's EmptyResultSet).
_NOTHING = _Statement("", (), (), (), tuple)
# A set's name (with its date filters) gives the same rows whoever asks (SetState), and so the
# same statement; the process keeps this many, by name and shape.
_STATEMENTS_KEPT = 256
_STATEMENTS: dict[tuple[Any, ...], _Statement | None] = {}
_NOT_KEPT = _Statement("", (), (), (), tuple)


def _statement(
    ordered: models.QuerySet[Any], date_field: str, *, seeks: bool, named: str | None
) -> _Statement | None:
    """The statement of `ordered`'s rows (after a start when `seeks`), or None where it has a
    column that needs converting or the start's key cannot be bound (the ORM reads those).

    `named`: the key of the set with its date filters, under which the statement is kept."""
    fields: tuple[str, ...] = ordered._fields  # type: ignore[attr-defined]  # values_list sets it
    key = None
    if named is not None:
        key = (named, ordered.db, ordered.model._meta.label, fields, date_field, seeks)
        # One read: another thread of a gthread worker may clear the dict meanwhile.
        kept = _STATEMENTS.get(key, _NOT_KEPT)
        if kept is not _NOT_KEPT:
            return kept
    statement = _compile(ordered, date_field, seeks, fields)
    if key is not None:
        if len(_STATEMENTS) >= _STATEMENTS_KEPT:
            _STATEMENTS.clear()
        _STATEMENTS[key] = statement
    return statement


def _compile(
    ordered: models.QuerySet[Any], date_field: str, seeks: bool, fields: tuple[str, ...]
) -> _Statement | None:
    window = _after(ordered, date_field, _TIME_STAND_IN, _PK_STAND_IN) if seeks else ordered
    compiler = window.query.get_compiler(window.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        return _NOTHING
    if compiler.get_converters([column for column, _, _ in compiler.select]):
        return None
    time_at = tuple(i for i, param in enumerate(params) if param is _TIME_STAND_IN)
    pk_at = tuple(i for i, param in enumerate(params) if param is _PK_STAND_IN)
    if seeks and not (time_at and pk_at):
        return None
    query = window.query
    names = fields or (*query.extra_select, *query.values_select, *query.annotation_select)
    row = create_namedtuple_class(*names)
    return _Statement(f"{sql} LIMIT %s OFFSET %s", tuple(params), time_at, pk_at, row)


def _after(
    ordered: models.QuerySet[M], date_field: str, last_updated: datetime, pk: Any
) -> models.QuerySet[M]:
    """The rows of `ordered` after the one with this sort key."""
    # The >= bound lets the database start an index range scan there.
    later = models.Q(**{f"{date_field}__gt": last_updated}) | models.Q(pk__gt=pk)
    return ordered.filter(later, **{f"{date_field}__gte": last_updated})


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
    if value > _LARGEST_SQL_INTEGER:  # the database's OFFSET is a 64-bit integer
        raise InvalidParametersError(f"Query parameter {name} is too large, got {value}")
    return value


_LARGEST_SQL_INTEGER = 2**63 - 1


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
