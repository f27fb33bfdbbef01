"""Token authorization: whitelist rules, real-time calls to the eMSP, and the offline fallback."""

from __future__ import annotations

import contextlib
from typing import Any

import httpx
import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from roaming.choices import InterfaceRole, ModuleID
from roaming.client import OcpiResponse, PermanentError, TransientError
from roaming.models import Partner, PartnerEndpoint, PartnerState
from sessions_app.authorization import _LOOKUP_SQL, token_authorize, token_lookup
from sessions_app.choices import AuthMethod, AuthorizationAllowed, TokenType, WhitelistType
from tests.locations.factories import EVSEFactory
from tests.roaming.conftest import make_partner
from tests.sessions_app.factories import TokenFactory

pytestmark = pytest.mark.django_db

TOKENS_URL = "https://emsp.example.com/ocpi/2.2.1/tokens"


class FakeEmsp:
    """Stands in for roaming.client.call: answers, fails, and records what was asked."""

    def __init__(self, *, answer: Any = None, error: Exception | None = None) -> None:
        self.answer = answer
        self.error = error
        self.calls: list[dict[str, Any]] = []

    def __call__(self, method: str, url: str, **kwargs: Any) -> OcpiResponse:
        self.calls.append({"method": method, "url": url, **kwargs})
        if self.error is not None:
            raise self.error
        return OcpiResponse(200, 1000, "Success", self.answer, httpx.Headers())


@pytest.fixture
def emsp_connection(emsp):
    partner, _ = make_partner(parties=[emsp])
    PartnerEndpoint.objects.create(
        partner=partner, module=ModuleID.TOKENS, role=InterfaceRole.SENDER, url=TOKENS_URL
    )
    return partner


def fake(monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> FakeEmsp:
    emsp = FakeEmsp(**kwargs)
    monkeypatch.setattr("sessions_app.authorization.call", emsp)
    return emsp


def token(emsp, whitelist: str, **kwargs: Any):
    return TokenFactory.create(owner=emsp, whitelist=whitelist, **kwargs)


@pytest.mark.parametrize("whitelist", [WhitelistType.ALWAYS, WhitelistType.ALLOWED])
def test_whitelisted_valid_token_is_allowed_without_asking(emsp, monkeypatch, whitelist) -> None:
    asked = fake(monkeypatch)
    t = token(emsp, whitelist)
    decision = token_authorize(uid=t.uid)
    assert decision.is_allowed
    assert decision.auth_method == AuthMethod.WHITELIST
    assert asked.calls == []


def test_invalid_token_is_refused_without_asking(emsp, monkeypatch) -> None:
    asked = fake(monkeypatch)
    decision = token_authorize(uid=token(emsp, WhitelistType.ALWAYS, valid=False).uid)
    assert decision.allowed == AuthorizationAllowed.BLOCKED
    assert asked.calls == []


def test_unknown_token_is_refused(db) -> None:
    decision = token_authorize(uid="NOSUCHCARD")
    assert not decision.is_allowed
    assert decision.token is None


def test_lookup_ignores_the_case_of_the_uid(emsp) -> None:
    t = token(emsp, WhitelistType.ALWAYS, uid="04ABCDEF")
    assert token_lookup(uid="04abcdef") == t


def test_lookup_matches_the_type(emsp) -> None:
    token(emsp, WhitelistType.ALWAYS, uid="APP1", type=TokenType.APP_USER)
    assert token_lookup(uid="APP1", token_type=TokenType.RFID) is None


@pytest.mark.parametrize("whitelist", [WhitelistType.ALLOWED_OFFLINE, WhitelistType.NEVER])
def test_real_time_answer_decides_and_its_reference_is_kept(
    emsp, emsp_connection, monkeypatch, whitelist
) -> None:
    asked = fake(monkeypatch, answer={"allowed": "ALLOWED", "authorization_reference": "AR-9"})
    t = token(emsp, whitelist)
    evse = EVSEFactory.create()
    decision = token_authorize(uid=t.uid, location=evse.location, evse=evse)
    assert decision.is_allowed
    assert decision.auth_method == AuthMethod.AUTH_REQUEST
    assert decision.authorization_reference == "AR-9"
    call = asked.calls[0]
    assert call["method"] == "POST"
    assert call["url"] == f"{TOKENS_URL}/{t.uid}/authorize"
    assert call["params"] == {"type": "RFID"}
    assert call["json"] == {"location_id": evse.location.ocpi_id, "evse_uids": [evse.uid]}
    assert call["timeout"] > 0


def test_real_time_refusal_refuses(emsp, emsp_connection, monkeypatch) -> None:
    fake(monkeypatch, answer={"allowed": "NO_CREDIT"})
    decision = token_authorize(uid=token(emsp, WhitelistType.ALLOWED_OFFLINE).uid)
    assert decision.allowed == AuthorizationAllowed.NO_CREDIT


def test_allowed_offline_is_allowed_when_the_emsp_is_unreachable(
    emsp, emsp_connection, monkeypatch
) -> None:
    fake(monkeypatch, error=TransientError("Timed out", url=TOKENS_URL))
    decision = token_authorize(uid=token(emsp, WhitelistType.ALLOWED_OFFLINE).uid)
    assert decision.is_allowed
    assert decision.auth_method == AuthMethod.WHITELIST


def test_never_is_refused_when_the_emsp_is_unreachable(emsp, emsp_connection, monkeypatch) -> None:
    fake(monkeypatch, error=TransientError("Timed out", url=TOKENS_URL))
    decision = token_authorize(uid=token(emsp, WhitelistType.NEVER).uid)
    assert not decision.is_allowed


def test_allowed_offline_is_refused_when_the_emsp_answers_unknown_token(
    emsp, emsp_connection, monkeypatch
) -> None:
    fake(monkeypatch, error=PermanentError("2004", url=TOKENS_URL, ocpi_status=2004))
    decision = token_authorize(uid=token(emsp, WhitelistType.ALLOWED_OFFLINE).uid)
    assert not decision.is_allowed
    assert decision.auth_method == AuthMethod.AUTH_REQUEST


def test_allowed_offline_without_a_known_tokens_endpoint_counts_as_unreachable(
    emsp, monkeypatch
) -> None:
    asked = fake(monkeypatch)
    decision = token_authorize(uid=token(emsp, WhitelistType.ALLOWED_OFFLINE).uid)
    assert decision.is_allowed
    assert asked.calls == []


def test_never_without_a_known_tokens_endpoint_is_refused(emsp, monkeypatch) -> None:
    fake(monkeypatch)
    assert not token_authorize(uid=token(emsp, WhitelistType.NEVER).uid).is_allowed


def test_lookup_reads_the_rest_of_the_token_when_asked(emsp) -> None:
    t = token(emsp, WhitelistType.ALWAYS, contract_id="DE-EMS-C00000042")
    found = token_lookup(uid=t.uid)
    assert found is not None
    assert found.owner == emsp
    assert found.contract_id == "DE-EMS-C00000042"


postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL plans and prepared statements"
)


@postgres_only
def test_lookup_is_answered_from_the_lower_uid_index(emsp) -> None:
    token(emsp, WhitelistType.ALWAYS)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {_LOOKUP_SQL}", ["04a1b2c3000001", "RFID"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "token_uid_lookup" in plan


@postgres_only
def test_lookup_in_a_failed_transaction_raises_djangos_error(emsp) -> None:
    with transaction.atomic():
        with connection.cursor() as cursor, contextlib.suppress(DatabaseError):
            cursor.execute("SELECT 1/0")
        with pytest.raises(DatabaseError):
            token_lookup(uid="ANY")
        transaction.set_rollback(True)


def test_where_the_emsp_is_asked_is_remembered(emsp, emsp_connection, monkeypatch) -> None:
    fake(monkeypatch, answer={"allowed": "ALLOWED"})
    t = token(emsp, WhitelistType.NEVER)
    token_authorize(uid=t.uid)
    with CaptureQueriesContext(connection) as queries:
        assert token_authorize(uid=t.uid).is_allowed
    assert not any("partnerendpoint" in q["sql"] for q in queries.captured_queries)


def test_a_tokens_endpoint_added_later_is_used_at_once(emsp, monkeypatch) -> None:
    asked = fake(monkeypatch, answer={"allowed": "ALLOWED"})
    t = token(emsp, WhitelistType.NEVER)
    assert not token_authorize(uid=t.uid).is_allowed  # nobody to ask

    partner, _ = make_partner(parties=[emsp])
    PartnerEndpoint.objects.create(
        partner=partner, module=ModuleID.TOKENS, role=InterfaceRole.SENDER, url=TOKENS_URL
    )
    assert token_authorize(uid=t.uid).is_allowed
    assert len(asked.calls) == 1


def test_a_suspended_connection_is_not_asked_even_when_remembered(
    emsp, emsp_connection, monkeypatch
) -> None:
    asked = fake(monkeypatch, answer={"allowed": "ALLOWED"})
    t = token(emsp, WhitelistType.NEVER)
    token_authorize(uid=t.uid)
    Partner.objects.filter(pk=emsp_connection.pk).update(state=PartnerState.SUSPENDED)

    assert not token_authorize(uid=t.uid).is_allowed
    assert len(asked.calls) == 1
