"""Pulling tokens from partner eMSPs (their tokens sender interface) into our token cache.

Incremental pulls ask for tokens changed since the start of the last successful pull (less a
small overlap, because the eMSP stamps ``last_updated`` with its own clock and may commit late;
upserts are idempotent, so the overlap only costs a few repeats). Full pulls ask for everything.
Pages are followed through their Link headers (``roaming.client.paginate``).

Tokens are validated by the partner's version's ``TokenReader`` (plain tokens checked directly,
anything else by the inbound Token serializer and the model) and upserted a page at a time by
owner, uid (case-insensitively) and type: one query finds the stored ones, one
``INSERT ... ON CONFLICT (id) DO UPDATE`` (``bulk_create``) writes the page. A bad token is
recorded on the run and skipped; it never stops the pull. A token we hold in a newer state
(``last_updated``) than the pulled one, because the eMSP pushed it meanwhile, is left alone. A
token that is new, or changed in what location lists name, may open unpublished locations to its
eMSP: they are sent to it (``roaming.push.services.push_locations_opened``), as for a token the
eMSP pushes.

A token must belong to a party the connection speaks for (an eMSP, or the parties a hub relays
for); a 2.1.1 token names no owner and belongs to the connection's eMSP.

After a complete full pull, OCPI reads tokens missing from the list as no longer valid: tokens of
the parties the list covered that it did not contain are set invalid (``invalidated``). Parties
absent from the list entirely are left alone, so a hub that stops relaying for one does not wipe
its tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import psycopg
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, connections, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from rest_framework import serializers

from locations.selectors import locations_listing
from roaming.choices import InterfaceRole, ModuleID, OcpiVersion, Role
from roaming.client import OcpiClientError, paginate
from roaming.models import Partner, PartnerState, Party, PullRun, PullState, SyncCursor
from roaming.modules.common import error_paths
from roaming.modules.tokens.serializers import (
    ReadToken,
    TokenReader,
    token_assign,
    token_fields,
)
from roaming.push.services import push_locations_opened
from roaming.transport.datetimes import format_datetime
from sessions_app.models import Token

PAGE_LIMIT = 1000
# Tokens validated and written together: one page of the largest size we ask for.
BATCH_SIZE = PAGE_LIMIT
INCREMENTAL_OVERLAP = timedelta(minutes=2)
# A pull marked running for longer than this died without cleaning up; another may start.
RUN_STALE_AFTER = timedelta(hours=3)
REJECTIONS_KEPT = 100

TokenKey = tuple[int, str, str]
# Token fields a location's publish_allowed_to entries name: a token new or changed in these may
# open unpublished locations to its eMSP.
LISTED_BY = ("uid", "type", "visual_number", "issuer", "group_id")
Progress = Callable[[PullRun], None]


class PullBusyError(Exception):
    """Another pull of the same module from the same partner is running."""


class NotATokenSourceError(Exception):
    """The partner is not registered or has no tokens sender endpoint."""


def token_endpoint(partner: Partner) -> str | None:
    """The partner's tokens sender URL (2.1.1: the tokens endpoint of an eMSP connection)."""
    speaks_for_emsp = any(party.has_role(Role.EMSP) for party in partner.parties.all())
    for endpoint in partner.endpoints.all():
        if endpoint.module != ModuleID.TOKENS:
            continue
        if endpoint.role == InterfaceRole.SENDER or (endpoint.role == "" and speaks_for_emsp):
            return endpoint.url
    return None


def token_sources() -> list[Partner]:
    """Registered partners we can pull tokens from, endpoints and parties loaded."""
    partners = (
        Partner.objects.registered()
        .filter(endpoints__module=ModuleID.TOKENS)
        .distinct()
        .order_by("pk")
        .prefetch_related("endpoints", "parties")
    )
    return [partner for partner in partners if token_endpoint(partner)]


def tokens_pull(
    *,
    partner: Partner,
    full: bool = False,
    trigger: str = "",
    progress: Progress | None = None,
) -> PullRun:
    """Pull the partner's tokens (everything when ``full``); returns the finished run.

    Raises PullBusyError when a pull from this partner is already running and
    NotATokenSourceError when the partner has nothing to pull from. A partner that fails
    (HTTP or OCPI errors) ends the run FAILED with the error; what was received is kept.
    """
    partner = Partner.objects.prefetch_related("endpoints", "parties").get(pk=partner.pk)
    url = token_endpoint(partner)
    if partner.state != PartnerState.REGISTERED or not url or not partner.version:
        raise NotATokenSourceError(f"{partner} is not a registered partner with a tokens sender.")
    started = timezone.now()
    cursor = _start(partner, started)
    date_from = None
    if not full and cursor.last_success_started_at is not None:
        date_from = cursor.last_success_started_at - INCREMENTAL_OVERLAP
    run = PullRun.objects.create(
        partner=partner,
        module=ModuleID.TOKENS,
        full=full,
        trigger=trigger,
        date_from=date_from,
        started_at=started,
    )
    params = {"limit": str(PAGE_LIMIT)}
    if date_from is not None:
        params["date_from"] = format_datetime(date_from)
    writer = _TokenWriter(partner, run, full=full)
    try:
        for data in paginate(url, partner=partner, params=params):
            writer.add(data)
            if writer.waiting >= BATCH_SIZE:
                writer.flush()
                _save_progress(run)
                if progress:
                    progress(run)
        writer.flush()
        if full:
            run.invalidated = _invalidate_missing(writer.not_written, started)
        run.state = PullState.SUCCEEDED
    except OcpiClientError as error:
        writer.flush()
        run.state = PullState.FAILED
        run.error = error.message
    except Exception as error:
        run.state = PullState.FAILED
        run.error = f"{type(error).__name__}: {error}"
        raise
    finally:
        run.finished_at = timezone.now()
        run.save()
        _finish(cursor, run)
        if progress:
            progress(run)
    return run


# --- the cursor ------------------------------------------------------------------------------------


def _start(partner: Partner, now: datetime) -> SyncCursor:
    with transaction.atomic():
        cursor, _ = SyncCursor.objects.select_for_update().get_or_create(
            partner=partner, module=ModuleID.TOKENS
        )
        if cursor.running_since is not None and cursor.running_since > now - RUN_STALE_AFTER:
            raise PullBusyError(
                f"A token pull from {partner} is running since {cursor.running_since}."
            )
        cursor.running_since = now
        cursor.save(update_fields=["running_since"])
    return cursor


def _finish(cursor: SyncCursor, run: PullRun) -> None:
    cursor.running_since = None
    fields = ["running_since"]
    if run.state == PullState.SUCCEEDED:
        cursor.last_success_started_at = run.started_at
        fields.append("last_success_started_at")
        if run.full:
            cursor.last_full_at = run.started_at
            fields.append("last_full_at")
    cursor.save(update_fields=fields)


def _save_progress(run: PullRun) -> None:
    PullRun.objects.filter(pk=run.pk).update(
        received=run.received,
        created=run.created,
        updated=run.updated,
        rejected=run.rejected,
        rejections=run.rejections,
    )


# --- writing -------------------------------------------------------------------------------------


class _TokenWriter:
    """Validates received tokens and upserts them in batches, counting on the run.

    A full pull remembers, per party the list covered, only the listed tokens it did not write
    (rejected ones, and those we hold in a newer state): every token it wrote was received during
    the pull, so tokens of those parties received before it started and not remembered are the
    ones missing from the list.
    """

    def __init__(self, partner: Partner, run: PullRun, *, full: bool) -> None:
        self.version = OcpiVersion(partner.version)
        self.reader = TokenReader(self.version)
        self.update_fields = [*token_fields(self.version), "received_at"]
        self.run = run
        self.full = full
        parties = sorted(partner.parties.all(), key=lambda p: (p.country_code, p.party_id))
        self.parties = {(p.country_code, p.party_id): p for p in parties}
        self.default_owner = next((p for p in parties if p.is_partner_emsp), None)
        self.items: list[tuple[int, Any]] = []
        self.count = 0
        self.not_written: dict[int, set[tuple[str, str]]] = {}
        self.locations_sent: set[int] = set()

    @property
    def waiting(self) -> int:
        return len(self.items)

    def add(self, data: Any) -> None:
        self.items.append((self.count, data))
        self.count += 1
        self.run.received += 1

    def flush(self) -> None:
        items, self.items = self.items, []
        if not items:
            return
        candidates: dict[TokenKey, _Candidate] = {}
        for index, data in items:
            try:
                read = self.reader.read(data)
                owner = self._owner(read.validated)
            except serializers.ValidationError as error:
                self._reject(index, data, error_paths(error.detail))
                continue
            validated = read.validated
            key = (owner.pk, validated["uid"].lower(), validated["type"])
            if self.full:
                self.not_written.setdefault(owner.pk, set())
            candidates[key] = _Candidate(owner, read, index, data)  # a later copy in the list wins
        try:
            self._write(candidates)
        except IntegrityError:
            # The eMSP pushed one of these tokens to us meanwhile: it exists now, update it.
            self._write(candidates)

    def _owner(self, validated: Mapping[str, Any]) -> Party:
        if self.version == OcpiVersion.V2_1_1:
            if self.default_owner is None:
                raise serializers.ValidationError(
                    {
                        "uid": [
                            "A 2.1.1 token names no owner and this connection speaks for no eMSP."
                        ]
                    }
                )
            return self.default_owner
        code = (str(validated["country_code"]).upper(), str(validated["party_id"]).upper())
        party = self.parties.get(code)
        if party is None:
            raise serializers.ValidationError(
                {"party_id": [f"This connection does not speak for {code[0]}-{code[1]}."]}
            )
        if not party.is_partner_emsp:
            raise serializers.ValidationError({"party_id": [f"{party.code} is not an eMSP."]})
        return party

    def _write(self, candidates: Mapping[TokenKey, _Candidate]) -> None:
        now = timezone.now()
        tokens = {
            key: token
            for key, candidate in candidates.items()
            if (token := self._token(candidate, now)) is not None
        }
        listed = {
            key: {name: getattr(token, name) for name in LISTED_BY} for key, token in tokens.items()
        }
        # Which listed tokens are new or changed matters only when one may open a location.
        may_open = bool(locations_listing(listed.values()) - self.locations_sent)
        on_key = connections[Token.objects.db].vendor == "postgresql"
        held = _stored(tokens.keys()) if may_open or not on_key else {}
        with transaction.atomic():
            if on_key:
                written, created = _upsert_on_key(tokens, self.update_fields)
            else:
                written, created = _upsert_by_id(tokens, held, self.update_fields)
            for key in tokens.keys() - written:
                self._keep(key)  # we hold a newer state, pushed by the eMSP meanwhile
            if may_open:
                self._push_locations_opened(
                    [
                        (key[0], listed[key])
                        for key in written
                        if key not in held or held[key].listed != tuple(listed[key].values())
                    ]
                )
        self.run.created += len(created)
        self.run.updated += len(written) - len(created)

    def _push_locations_opened(self, relisted: Iterable[tuple[int, dict[str, Any]]]) -> None:
        by_owner: dict[int, list[dict[str, Any]]] = {}
        for owner_pk, listed in relisted:
            by_owner.setdefault(owner_pk, []).append(listed)
        for owner_pk, listed_tokens in by_owner.items():
            sent = push_locations_opened(
                owner_id=owner_pk, tokens=listed_tokens, sent=self.locations_sent
            )
            self.locations_sent.update(sent)

    def _token(self, candidate: _Candidate, now: datetime) -> Token | None:
        """The token to write, or None when the model refuses it."""
        token = Token(owner_id=candidate.owner.pk, received_at=now)
        token_assign(token, candidate.read.validated, self.version)
        if candidate.read.model_checked:
            return token
        token.owner = candidate.owner  # the model's validation looks at the owner
        try:
            token.full_clean(
                exclude=["owner", "type"], validate_unique=False, validate_constraints=False
            )
        except DjangoValidationError as error:
            self._reject(
                candidate.position,
                candidate.data,
                [
                    f"{field}: {message}"
                    for field, msgs in error.message_dict.items()
                    for message in msgs
                ],
            )
            return None
        return token

    def _keep(self, key: TokenKey) -> None:
        if self.full:
            self.not_written.setdefault(key[0], set()).add(key[1:])

    def _reject(self, index: int, data: Any, errors: list[str]) -> None:
        self.run.rejected += 1
        self._remember_raw(data)
        if len(self.run.rejections) < REJECTIONS_KEPT:
            uid = data.get("uid") if isinstance(data, dict) else None
            self.run.rejections.append(
                {
                    "index": index,
                    "uid": str(uid)[:64] if uid is not None else None,
                    "errors": errors,
                }
            )

    def _remember_raw(self, data: Any) -> None:
        """A rejected token the list did contain is not "missing": a full pull keeps it valid."""
        if not self.full or not isinstance(data, dict):
            return
        uid, kind = data.get("uid"), data.get("type")
        if not isinstance(uid, str) or not isinstance(kind, str):
            return
        owner = self.default_owner
        if self.version != OcpiVersion.V2_1_1:
            code = (
                str(data.get("country_code", "")).upper(),
                str(data.get("party_id", "")).upper(),
            )
            owner = self.parties.get(code)
        if owner is not None:
            self._keep((owner.pk, uid.lower(), kind))


class _Candidate(NamedTuple):
    owner: Party
    read: ReadToken
    position: int  # in the list, counted from 0
    data: Any


def _upsert_on_key(
    tokens: Mapping[TokenKey, Token], update_fields: Sequence[str]
) -> tuple[set[TokenKey], set[TokenKey]]:
    """PostgreSQL: one INSERT ... ON CONFLICT on the token's unique key (owner, lower(uid), type).

    A stored token is updated unless it holds a newer state. No lookup first: the unique index
    decides, whatever the table's statistics (a first pull fills an empty table). The page's
    columns go as one array each (binary parameters). Returns the keys written and those created.
    """
    if not tokens:
        return set(), set()
    connection = connections[Token.objects.db]
    quote = connection.ops.quote_name
    table = quote(Token._meta.db_table)
    fields = [field for field in Token._meta.concrete_fields if not field.primary_key]
    columns = [
        [
            field.get_db_prep_save(getattr(token, field.attname), connection)
            for token in tokens.values()
        ]
        for field in fields
    ]
    column = {field.name: quote(field.column) for field in fields}
    updates = ", ".join(f"{column[name]} = EXCLUDED.{column[name]}" for name in update_fields)
    sql = (
        f"INSERT INTO {table} ({', '.join(quote(field.column) for field in fields)}) "
        f"SELECT * FROM unnest({', '.join(f'%s::{field.db_type(connection)}[]' for field in fields)}) "
        f"ON CONFLICT (owner_id, lower(uid), type) DO UPDATE SET {updates} "
        f"WHERE {table}.last_updated <= EXCLUDED.last_updated "
        "RETURNING owner_id, lower(uid), type, xmax = 0"
    )
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:  # server-side binding: binary arrays
        rows = cursor.execute(sql, columns).fetchall()
    written = {(owner_id, uid, token_type) for owner_id, uid, token_type, _ in rows}
    created = {(owner_id, uid, token_type) for owner_id, uid, token_type, new in rows if new}
    return written, created


def _upsert_by_id(
    tokens: Mapping[TokenKey, Token], held: Mapping[TokenKey, _Held], update_fields: Sequence[str]
) -> tuple[set[TokenKey], set[TokenKey]]:
    """Elsewhere: the stored tokens (``held``) are updated by id, unless they hold a newer state,
    and the others inserted, by one ``bulk_create``. Returns the keys written and those created."""
    written: dict[TokenKey, Token] = {}
    for key, token in tokens.items():
        stored = held.get(key)
        if stored is not None and stored.last_updated > token.last_updated:
            continue
        token.pk = None if stored is None else stored.pk
        written[key] = token
    Token.objects.bulk_create(
        written.values(), update_conflicts=True, unique_fields=["id"], update_fields=update_fields
    )
    return set(written), {key for key in written if key not in held}


class _Held(NamedTuple):
    """What a pull needs to know of a stored token."""

    pk: int
    last_updated: datetime
    listed: tuple[str, ...]  # its LISTED_BY fields


def _stored(keys: Iterable[TokenKey]) -> dict[TokenKey, _Held]:
    """The stored tokens among ``keys``."""
    keys = list(keys)
    if not keys:
        return {}
    owners = {key[0] for key in keys}
    uids = {key[1] for key in keys}
    rows = (
        Token.objects.filter(owner_id__in=owners)
        .alias(uid_lower=Lower("uid"))
        .filter(uid_lower__in=uids)
        .values_list("pk", "owner_id", "last_updated", *LISTED_BY)
    )
    return {
        (owner_id, listed[0].lower(), listed[1]): _Held(pk, last_updated, tuple(listed))
        for pk, owner_id, last_updated, *listed in rows
    }


def _invalidate_missing(not_written: Mapping[int, set[tuple[str, str]]], started: datetime) -> int:
    """Set invalid the valid tokens of the listed parties that the full list did not contain.

    Those are the parties' tokens received before the pull started, apart from the listed ones
    the pull did not write.
    """
    invalidated = 0
    for owner_pk, kept in not_written.items():
        stale = [
            pk
            for pk, uid, token_type in Token.objects.filter(
                owner_id=owner_pk, valid=True, received_at__lt=started
            ).values_list("pk", "uid", "type")
            if (uid.lower(), token_type) not in kept
        ]
        for start in range(0, len(stale), BATCH_SIZE):
            invalidated += Token.objects.filter(pk__in=stale[start : start + BATCH_SIZE]).update(
                valid=False
            )
    return invalidated
