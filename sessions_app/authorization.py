"""Token authorization at our chargers: a local decision from cached tokens, real-time when needed.

The eMSP's whitelist setting of a token says how far the local cache may be trusted:

* ALWAYS and ALLOWED: a valid token is allowed from the cache, with no call (ALLOWED would permit
  a real-time call; the cache is trusted because the eMSP keeps it current and drivers wait).
* ALLOWED_OFFLINE: the eMSP is asked; only when it cannot be reached (timeout, connection error,
  its server failing, no tokens endpoint known) is the token allowed from the cache.
* NEVER: the eMSP is asked; unreachable means refused.

A token the eMSP marked invalid is refused without asking, and so is a token we do not have (we
cannot know whose it is). The real-time answer's ``authorization_reference`` is carried into the
session and its CDR.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from locations.models import EVSE, Location
from roaming.choices import InterfaceRole, ModuleID, OcpiVersion
from roaming.client import PermanentError, TransientError, call
from roaming.models import Partner, PartnerEndpoint, PartnerState, Party
from roaming.push.payloads import routing_headers
from roaming.transport.status import OcpiStatus
from sessions_app.choices import AuthMethod, AuthorizationAllowed, TokenType, WhitelistType
from sessions_app.models import Token

logger = logging.getLogger(__name__)

_ASK_FIRST = frozenset({WhitelistType.ALLOWED_OFFLINE, WhitelistType.NEVER})


@dataclass(frozen=True)
class AuthorizationDecision:
    """Whether a token may charge here, how that was decided, and the eMSP's reference."""

    allowed: AuthorizationAllowed
    token: Token | None
    auth_method: AuthMethod
    authorization_reference: str = ""
    reason: str = ""

    @property
    def is_allowed(self) -> bool:
        return self.allowed == AuthorizationAllowed.ALLOWED


@dataclass(frozen=True)
class RealtimeAnswer:
    """The eMSP's AuthorizationInfo, reduced to what the decision needs."""

    allowed: AuthorizationAllowed
    authorization_reference: str = ""


class EmspUnreachableError(Exception):
    """The eMSP could not be asked, or did not answer in time."""


def token_lookup(*, uid: str, token_type: str = TokenType.RFID) -> Token | None:
    """The cached token with this uid and type, from any eMSP (uids compared case-insensitively).

    Runs at every plug-in, so it is one fixed statement on the ``token_uid_lookup`` index
    (``lower(uid)``, the model's case rule) reading only what a decision needs, prepared once per
    database connection on PostgreSQL (``_fetch_one``); the token is built without its other
    fields (they load if read). When two eMSPs issued the same uid, the most recently updated
    token wins.
    """
    row = _fetch_one(_LOOKUP_SQL, (uid.lower(), token_type))
    if row is None:
        return None
    return Token.from_db(DEFAULT_DB_ALIAS, _LOOKUP_COLUMNS, row)


_LOOKUP_COLUMNS = ("id", "owner_id", "uid", "type", "valid", "whitelist")
_LOOKUP_SQL = (
    f"SELECT {', '.join(_LOOKUP_COLUMNS)} FROM {Token._meta.db_table} "
    "WHERE lower(uid) = %s AND type = %s ORDER BY last_updated DESC, id DESC LIMIT 1"
)
# Only the statements that ask for it are prepared (Django's own never are).
_PREPARE_ONLY_WHEN_ASKED = 2**31


def _fetch_one(sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """One row of a hot, fixed statement.

    On PostgreSQL the statement is a server-side prepared one (parsed and planned once per
    connection), which halves the database's work per call and most of ours. Django's cursors
    bind on the client and never prepare, so this cursor is psycopg's own, on Django's
    connection and transaction, with Django's error wrapping. Behind a transaction-pooling
    PgBouncer (``DISABLE_SERVER_SIDE_CURSORS``), and on other databases, Django's cursor is used.
    """
    db = connections[DEFAULT_DB_ALIAS]  # one look-up of the thread's connection, not one per use
    if db.vendor != "postgresql" or db.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS"):
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            row: tuple[Any, ...] | None = cursor.fetchone()
            return row
    db.ensure_connection()
    raw = db.connection
    if raw.prepare_threshold is None:
        raw.prepare_threshold = _PREPARE_ONLY_WHEN_ASKED
    with db.wrap_database_errors, psycopg.Cursor(raw) as cursor:
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchone()


def token_authorize(
    *,
    uid: str,
    token_type: str = TokenType.RFID,
    location: Location | None = None,
    evse: EVSE | None = None,
    token: Token | None = None,
) -> AuthorizationDecision:
    """Decide whether the token presented at a charger (or named by a command) may charge."""
    if token is None:
        token = token_lookup(uid=uid, token_type=token_type)
    if token is None:
        return AuthorizationDecision(
            AuthorizationAllowed.NOT_ALLOWED, None, AuthMethod.WHITELIST, reason="unknown token"
        )
    if not token.valid:
        return AuthorizationDecision(
            AuthorizationAllowed.BLOCKED, token, AuthMethod.WHITELIST, reason="token not valid"
        )
    if token.whitelist not in _ASK_FIRST:
        return AuthorizationDecision(
            AuthorizationAllowed.ALLOWED, token, AuthMethod.WHITELIST, reason="whitelisted"
        )
    try:
        answer = realtime_authorize(token=token, location=location, evse=evse)
    except EmspUnreachableError as error:
        if token.whitelist == WhitelistType.ALLOWED_OFFLINE:
            return AuthorizationDecision(
                AuthorizationAllowed.ALLOWED,
                token,
                AuthMethod.WHITELIST,
                reason=f"eMSP unreachable, allowed offline: {error}",
            )
        return AuthorizationDecision(
            AuthorizationAllowed.NOT_ALLOWED,
            token,
            AuthMethod.AUTH_REQUEST,
            reason=f"eMSP unreachable: {error}",
        )
    return AuthorizationDecision(
        answer.allowed,
        token,
        AuthMethod.AUTH_REQUEST,
        authorization_reference=answer.authorization_reference,
        reason="real-time authorization",
    )


def realtime_authorize(
    *, token: Token, location: Location | None, evse: EVSE | None
) -> RealtimeAnswer:
    """Ask the token's eMSP (POST {tokens}/{uid}/authorize); EmspUnreachableError if it cannot answer.

    An unknown-token answer (2004) is a refusal; other client errors mean the eMSP answered but
    not with a verdict, which is a refusal too (reachable is not unreachable).
    """
    partner, url = _tokens_endpoint(token.owner_id)
    version = OcpiVersion(partner.version)
    params = None if version == OcpiVersion.V2_1_1 else {"type": token.type}
    body = _location_references(location, evse)
    cpo = location.owner if location is not None else Party.objects.ours().first()
    headers = routing_headers(version, cpo, token.owner) if cpo is not None else {}
    try:
        response = call(
            "POST",
            f"{url.rstrip('/')}/{token.uid}/authorize",
            partner=partner,
            json=body,
            params=params,
            headers=headers,
            timeout=settings.CHARGING_AUTHORIZE_TIMEOUT_SECONDS,
        )
    except TransientError as error:
        raise EmspUnreachableError(error.message) from error
    except PermanentError as error:
        if error.ocpi_status == OcpiStatus.UNKNOWN_TOKEN:
            return RealtimeAnswer(AuthorizationAllowed.NOT_ALLOWED)
        logger.warning("Real-time authorization of %s refused: %s", token, error.message)
        return RealtimeAnswer(AuthorizationAllowed.NOT_ALLOWED)
    return _answer(response.data)


def _tokens_endpoint(emsp_id: int) -> tuple[Partner, str]:
    """The eMSP's tokens sender endpoint, over a registered connection."""
    route = _tokens_route(emsp_id)
    partner = None
    if route is not None:
        partner = Partner.objects.filter(pk=route[0], state=PartnerState.REGISTERED).first()
    if route is None or partner is None:
        raise EmspUnreachableError("No tokens endpoint known for the token's eMSP")
    return partner, route[1]


# Where each eMSP's tokens endpoint is (connection id and URL, or none), kept per process for
# ENDPOINT_CACHE_SECONDS: it changes only when a connection registers or updates. Changes made
# in this process clear it at once (sessions_app.apps); other processes see them within the TTL.
# The connection itself (credentials, state) is read fresh for every real-time call.
ENDPOINT_CACHE_SECONDS = 30.0
_endpoint_cache: dict[int, tuple[float, tuple[int, str] | None]] = {}


def _tokens_route(emsp_id: int) -> tuple[int, str] | None:
    now = time.monotonic()
    cached = _endpoint_cache.get(emsp_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    route = (
        PartnerEndpoint.objects.filter(
            partner__state=PartnerState.REGISTERED,
            partner__parties=emsp_id,
            module=ModuleID.TOKENS,
            role__in=("", InterfaceRole.SENDER),
        )
        .order_by("partner_id", "-role")
        .values_list("partner_id", "url")
        .first()
    )
    _endpoint_cache[emsp_id] = (now + ENDPOINT_CACHE_SECONDS, route)
    return route


def tokens_endpoints_forget(**_signal: Any) -> None:
    """Forget where eMSPs' tokens endpoints are (a connection or its endpoints changed)."""
    _endpoint_cache.clear()


def _location_references(location: Location | None, evse: EVSE | None) -> dict[str, Any] | None:
    if location is None:
        return None
    references: dict[str, Any] = {"location_id": location.ocpi_id}
    if evse is not None:
        references["evse_uids"] = [evse.uid]
    return references


def _answer(data: Any) -> RealtimeAnswer:
    if not isinstance(data, dict):
        return RealtimeAnswer(AuthorizationAllowed.NOT_ALLOWED)
    try:
        allowed = AuthorizationAllowed(str(data.get("allowed")))
    except ValueError:
        allowed = AuthorizationAllowed.NOT_ALLOWED
    reference = str(data.get("authorization_reference") or "")[:36]
    return RealtimeAnswer(allowed, reference)
