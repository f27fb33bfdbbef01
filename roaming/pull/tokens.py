"""Pulling tokens from partner eMSPs (their tokens sender interface) into our token cache.

Incremental pulls ask for tokens changed since the start of the last successful pull (less a
small overlap, because the eMSP stamps ``last_updated`` with its own clock and may commit late;
upserts are idempotent, so the overlap only costs a few repeats). Full pulls ask for everything.
Pages are followed through their Link headers (``roaming.client.paginate``).

Tokens are validated with the inbound Token serializer of the partner's version and upserted in
batches by owner, uid (case-insensitively) and type. A bad token is recorded on the run and
skipped; it never stops the pull. A token we hold in a newer state (``last_updated``) than the
pulled one, because the eMSP pushed it meanwhile, is left alone.

A token must belong to a party the connection speaks for (an eMSP, or the parties a hub relays
for); a 2.1.1 token names no owner and belongs to the connection's eMSP.

After a complete full pull, OCPI reads tokens missing from the list as no longer valid: tokens of
the parties the list covered that it did not contain are set invalid (``invalidated``). Parties
absent from the list entirely are left alone, so a hub that stops relaying for one does not wipe
its tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from rest_framework import serializers

from roaming.choices import InterfaceRole, ModuleID, OcpiVersion, Role
from roaming.client import OcpiClientError, paginate
from roaming.models import Partner, PartnerState, Party, PullRun, PullState, SyncCursor
from roaming.modules.common import error_paths, validate
from roaming.modules.tokens.serializers import TOKEN_SERIALIZERS
from roaming.modules.tokens.serializers import _apply as token_apply
from roaming.transport.datetimes import format_datetime
from sessions_app.models import Token

PAGE_LIMIT = 1000
BATCH_SIZE = 500
INCREMENTAL_OVERLAP = timedelta(minutes=2)
# A pull marked running for longer than this died without cleaning up; another may start.
RUN_STALE_AFTER = timedelta(hours=3)
REJECTIONS_KEPT = 100

_UPDATE_FIELDS = [
    "uid",
    "type",
    "contract_id",
    "visual_number",
    "issuer",
    "group_id",
    "valid",
    "whitelist",
    "language",
    "default_profile_type",
    "energy_contract",
    "last_updated",
    "received_at",
]

TokenKey = tuple[int, str, str]
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
    writer = _TokenWriter(partner, run, keep_seen=full)
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
            run.invalidated = _invalidate_missing(writer.seen, started)
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
    """Validates received tokens and upserts them in batches, counting on the run."""

    def __init__(self, partner: Partner, run: PullRun, *, keep_seen: bool) -> None:
        self.version = OcpiVersion(partner.version)
        self.run = run
        self.keep_seen = keep_seen
        parties = sorted(partner.parties.all(), key=lambda p: (p.country_code, p.party_id))
        self.parties = {(p.country_code, p.party_id): p for p in parties}
        self.default_owner = next((p for p in parties if p.is_partner_emsp), None)
        self.items: list[tuple[int, Any]] = []
        self.count = 0
        self.seen: dict[int, set[tuple[str, str]]] = {}

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
        candidates: dict[TokenKey, tuple[Party, dict[str, Any], int, Any]] = {}
        for index, data in items:
            try:
                validated = validate(TOKEN_SERIALIZERS[self.version], data)
                owner = self._owner(validated)
            except serializers.ValidationError as error:
                self._reject(index, data, error_paths(error.detail))
                continue
            key = (owner.pk, str(validated["uid"]).lower(), str(validated["type"]))
            if self.keep_seen:
                self.seen.setdefault(owner.pk, set()).add(key[1:])
            candidates[key] = (owner, validated, index, data)  # a later copy in the list wins
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

    def _write(self, candidates: Mapping[TokenKey, tuple[Party, dict[str, Any], int, Any]]) -> None:
        existing = _existing(candidates.keys())
        now = timezone.now()
        to_create: list[Token] = []
        to_update: list[Token] = []
        for key, (owner, validated, index, data) in candidates.items():
            token = existing.get(key)
            if token is not None and token.last_updated > validated["last_updated"]:
                continue  # we hold a newer state, pushed by the eMSP meanwhile
            fresh = token is None
            token = token or Token(owner=owner)
            token_apply(token, validated, self.version)
            token.received_at = now
            try:
                token.full_clean(
                    exclude=["owner", "type"], validate_unique=False, validate_constraints=False
                )
            except DjangoValidationError as error:
                self._reject(
                    index,
                    data,
                    [
                        f"{field}: {message}"
                        for field, msgs in error.message_dict.items()
                        for message in msgs
                    ],
                )
                continue
            (to_create if fresh else to_update).append(token)
        with transaction.atomic():
            Token.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
            Token.objects.bulk_update(to_update, _UPDATE_FIELDS, batch_size=BATCH_SIZE)
        self.run.created += len(to_create)
        self.run.updated += len(to_update)

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
        if not self.keep_seen or not isinstance(data, dict):
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
            self.seen.setdefault(owner.pk, set()).add((uid.lower(), kind))


def _existing(keys: Iterable[TokenKey]) -> dict[TokenKey, Token]:
    keys = list(keys)
    if not keys:
        return {}
    owners = {key[0] for key in keys}
    uids = {key[1] for key in keys}
    tokens = (
        Token.objects.filter(owner_id__in=owners)
        .alias(uid_lower=Lower("uid"))
        .filter(uid_lower__in=uids)
    )
    return {(token.owner_id, token.uid.lower(), token.type): token for token in tokens}


def _invalidate_missing(seen: Mapping[int, set[tuple[str, str]]], started: datetime) -> int:
    """Set invalid the valid tokens of the listed parties that the full list did not contain."""
    invalidated = 0
    for owner_pk, keys in seen.items():
        stale = [
            token.pk
            for token in Token.objects.filter(
                owner_id=owner_pk, valid=True, received_at__lt=started
            ).only("pk", "uid", "type")
            if (token.uid.lower(), token.type) not in keys
        ]
        for start in range(0, len(stale), BATCH_SIZE):
            invalidated += Token.objects.filter(pk__in=stale[start : start + BATCH_SIZE]).update(
                valid=False
            )
    return invalidated
