"""No credentials token is ever stored or logged in plain text, even after a full handshake,
a rotation in each direction and ordinary OCPI traffic."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator

import pytest
from django.apps import apps
from django.core import serializers

from roaming.choices import Role
from roaming.credentials.services import partner_invite, partner_rotate
from roaming.models import ExchangeLog, Partner
from tests.roaming.peer import Peer, request

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ocpi_base(live_server, settings) -> str:
    settings.OCPI_BASE_URL = f"{live_server.url}/ocpi"
    return settings.OCPI_BASE_URL


@pytest.fixture
def peer() -> Iterator[Peer]:
    with Peer(versions=("2.1.1", "2.2.1")) as running:
        yield running


@pytest.fixture
def traffic(ocpi_base: str, peer: Peer, caplog: pytest.LogCaptureFixture) -> set[str]:
    """Register, talk, rotate both ways, talk again; return every token that was in play."""
    caplog.set_level(logging.DEBUG)
    partner, token_a = partner_invite(
        name="Peer eMSP", country_code="DE", party_id="PEE", role=Role.EMSP
    )
    versions = f"{ocpi_base}/versions"
    assert peer.register_with(versions, token_a).status_code == 1000
    partner.refresh_from_db()
    tokens = {token_a, _held(peer), partner.their_token}

    assert request("GET", f"{ocpi_base}/2.2.1/credentials", _held(peer)).status_code == 1000
    assert request("GET", f"{ocpi_base}/2.2.1/locations", _held(peer)).status_code == 1000
    assert request("GET", versions, "a-wrong-guess-of-a-token").http_status == 401
    assert peer.update_at(versions).status_code == 1000  # the peer rotates
    tokens.add(_held(peer))
    partner_rotate(partner=Partner.objects.get(pk=partner.pk))  # we rotate
    partner.refresh_from_db()
    tokens |= {_held(peer), partner.their_token}
    assert request("GET", versions, _held(peer)).status_code == 1000
    return tokens | set(peer.accepted_tokens)


def _held(peer: Peer) -> str:
    """The token the peer currently presents to us."""
    token = peer.token_to_call_them
    assert token is not None
    return token


def _spellings(tokens: set[str]) -> set[str]:
    """Each token as is and as it travels in a 2.2+ Authorization header."""
    return tokens | {base64.b64encode(token.encode()).decode() for token in tokens}


def test_no_database_table_holds_a_token(traffic: set[str]) -> None:
    dump = "\n".join(
        serializers.serialize("json", model._base_manager.all()) for model in apps.get_models()
    )

    assert "Peer eMSP" in dump  # the dump does reach the partner's rows
    assert [token for token in _spellings(traffic) if token in dump] == []


def test_no_log_record_holds_a_token(traffic: set[str], caplog: pytest.LogCaptureFixture) -> None:
    # The traffic ran while the fixture was set up: its records belong to that phase.
    records = caplog.get_records("setup") + caplog.get_records("call")
    logged = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in records)

    assert any(record.name == "roaming.client" for record in records)  # the calls were logged
    assert [token for token in _spellings(traffic) if token in logged] == []


def test_no_exchange_log_body_holds_a_token(traffic: set[str]) -> None:
    logs = list(ExchangeLog.objects.all())
    text = "\n".join(
        f"{log.url} {log.request_body} {log.response_body} {log.error}" for log in logs
    )

    assert len(logs) >= 3  # versions, details and credentials calls at least
    assert [token for token in _spellings(traffic) if token in text] == []
