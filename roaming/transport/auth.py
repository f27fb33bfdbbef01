"""Credentials-token authentication of partners and what each kind of token may reach.

From OCPI 2.2 on the Authorization header carries `Token <base64(token)>`; 2.1.1 peers (and many
2.2 ones) send the token as is. We accept both: the base64 reading is used only when it decodes
to printable ASCII that matches a stored token, the plain reading otherwise.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.db.models import Q
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from roaming.crypto import token_hash
from roaming.models import Partner, PartnerState
from roaming.transport.connections import remembered
from roaming.transport.errors import NotAuthenticatedError

if TYPE_CHECKING:
    from rest_framework.views import APIView

_TOKEN = re.compile(r"^[\x21-\x7e]{1,255}$")


class TokenScope(StrEnum):
    """Which modules a view belongs to, for deciding which tokens may call it."""

    VERSIONS = "versions"
    CREDENTIALS = "credentials"
    FUNCTIONAL = "functional"


@dataclass(frozen=True)
class PresentedToken:
    """The token a partner authenticated with; `pending` for one offered in a running handshake."""

    token: str
    pending: bool = False


def token_candidates(header: str) -> list[str]:
    """Readings of an Authorization header, the base64-decoded one first when there is one."""
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "token" or not _TOKEN.match(value):
        return []
    decoded = _base64_text(value)
    return [decoded, value] if decoded and decoded != value else [value]


def _base64_text(value: str) -> str | None:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    # Tolerate the trailing newline of `echo token | base64`, the spec's own example included.
    text = raw.rstrip(b"\r\n").decode("ascii", errors="replace")
    return text if _TOKEN.match(text) else None


def authorization_header(token: str, *, base64_encoded: bool) -> str:
    if not base64_encoded:
        return f"Token {token}"
    return "Token " + base64.b64encode(token.encode("utf-8")).decode("ascii")


class OcpiTokenAuthentication(BaseAuthentication):
    """Finds the partner connection whose current (or pending) token the request carries."""

    def authenticate(self, request: Request) -> tuple[Partner, PresentedToken]:
        header = request.headers.get("Authorization", "")
        if not header:
            raise NotAuthenticatedError("Authorization header missing")
        candidates = token_candidates(header)
        if not candidates:
            raise NotAuthenticatedError("Authorization must be 'Token <credentials token>'")
        hashes = tuple(token_hash(candidate) for candidate in candidates)
        found = remembered(("token", hashes), lambda: _connection_of(hashes))
        if found is None:
            raise NotAuthenticatedError("Unknown credentials token")
        partner, reading, pending = found
        # A copy: the remembered connection is shared by the process's requests.
        return copy.copy(partner), PresentedToken(candidates[reading], pending=pending)

    def authenticate_header(self, request: Request) -> str:
        return "Token"


def _connection_of(hashes: tuple[str, ...]) -> tuple[Partner, int, bool] | None:
    """The connection holding one of these token hashes (the first reading wins), the reading's
    position, and whether it is the connection's pending token."""
    partners = list(
        Partner.objects.filter(Q(token_hash__in=hashes) | Q(pending_token_hash__in=hashes))
    )
    for reading, digest in enumerate(hashes):
        for partner in partners:
            if partner.token_hash == digest:
                return partner, reading, False
            if partner.pending_token_hash == digest:
                return partner, reading, True
    return None


class TokenScopePermission(BasePermission):
    """Token A (and a suspended connection) reach only versions and credentials; a token offered
    in a handshake still under way reaches only versions; functional modules need a registered
    connection."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        partner: Any = request.user
        presented: Any = request.auth
        if not isinstance(partner, Partner) or not isinstance(presented, PresentedToken):
            raise NotAuthenticatedError()
        scope: TokenScope = getattr(view, "token_scope", TokenScope.FUNCTIONAL)
        if scope is TokenScope.VERSIONS:
            return True
        if presented.pending:
            raise NotAuthenticatedError("This token is only valid for the versions endpoints yet")
        if scope is TokenScope.CREDENTIALS:
            return True
        if partner.state != PartnerState.REGISTERED:
            raise NotAuthenticatedError(
                "This token is only valid for the versions and credentials modules"
                if partner.state == PartnerState.INVITED
                else "This connection is suspended"
            )
        return True
