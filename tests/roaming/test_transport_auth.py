"""Credentials-token authentication: who may call which endpoint, and how the token is written."""

from __future__ import annotations

import base64

import pytest
from django.test import Client

from roaming.crypto import token_generate, token_hash
from roaming.models import Partner, PartnerState
from roaming.transport.auth import token_candidates
from tests.roaming.conftest import auth, make_partner

pytestmark = [pytest.mark.urls("tests.roaming.probe_urls"), pytest.mark.django_db]

PROBE = "/ocpi/2.2.1/probe/"


def test_missing_authorization_answers_401_in_envelope(client: Client) -> None:
    response = client.get("/ocpi/versions")
    assert response.status_code == 401
    assert response.json()["status_code"] == 2000
    assert "missing" in response.json()["status_message"]
    assert response["WWW-Authenticate"] == "Token"


def test_unknown_token_answers_401(client: Client) -> None:
    response = client.get("/ocpi/versions", headers=auth("no-such-token"))
    assert response.status_code == 401
    assert response.json()["status_message"] == "Unknown credentials token"


def test_other_authorization_scheme_answers_401(client: Client, registered) -> None:
    _, token = registered
    response = client.get(PROBE, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_base64_encoded_token_is_accepted(client: Client, registered) -> None:
    _, token = registered
    assert client.get(PROBE, headers=auth(token, encoded=True)).status_code == 200


def test_plain_token_is_accepted(client: Client, registered) -> None:
    _, token = registered
    assert client.get(PROBE, headers=auth(token, encoded=False)).status_code == 200


def test_base64_with_trailing_newline_is_accepted(client: Client, registered) -> None:
    """What `echo token | base64` (and the spec's own example) produces."""
    _, token = registered
    encoded = base64.b64encode(f"{token}\n".encode()).decode()
    assert client.get(PROBE, headers={"Authorization": f"Token {encoded}"}).status_code == 200


def test_plain_token_that_happens_to_be_base64_is_accepted(client: Client, emsp) -> None:
    token = "abcd1234"  # valid base64, decodes to bytes that are not printable ASCII
    partner = Partner(name="p", state=PartnerState.REGISTERED)
    partner.set_token(token)
    partner.save()
    assert client.get(PROBE, headers=auth(token, encoded=False)).status_code == 200


def test_token_candidates_prefer_the_base64_reading() -> None:
    encoded = base64.b64encode(b"example-token").decode()
    assert token_candidates(f"Token {encoded}") == ["example-token", encoded]
    assert token_candidates("Token plain-token!") == ["plain-token!"]
    assert token_candidates("Basic abc") == []


def test_token_a_reaches_versions_and_credentials(client: Client, invited) -> None:
    _, token_a = invited
    assert client.get("/ocpi/versions", headers=auth(token_a)).status_code == 200
    assert client.get("/ocpi/2.2.1/", headers=auth(token_a)).status_code == 200
    assert client.get("/ocpi/2.2.1/credentials", headers=auth(token_a)).status_code == 200


def test_token_a_on_a_functional_module_answers_401(client: Client, invited) -> None:
    _, token_a = invited
    response = client.get(PROBE, headers=auth(token_a))
    assert response.status_code == 401
    assert "versions and credentials" in response.json()["status_message"]


def test_suspended_connection_answers_401_on_a_functional_module(client: Client, emsp) -> None:
    _, token = make_partner(state=PartnerState.SUSPENDED, parties=[emsp])
    assert client.get(PROBE, headers=auth(token)).status_code == 401
    assert client.get("/ocpi/2.2.1/credentials", headers=auth(token)).status_code == 200


def test_pending_handshake_token_reaches_only_versions(client: Client, registered) -> None:
    partner, _ = registered
    pending = token_generate()
    partner.pending_token_hash = token_hash(pending)
    partner.save()
    assert client.get("/ocpi/versions", headers=auth(pending)).status_code == 200
    assert client.get("/ocpi/2.2.1/credentials", headers=auth(pending)).status_code == 401
    assert client.get(PROBE, headers=auth(pending)).status_code == 401


def test_unregistered_connection_token_is_unknown(client: Client, registered) -> None:
    partner, token = registered
    partner.state = PartnerState.UNREGISTERED
    partner.set_token(None)
    partner.save()
    assert client.get("/ocpi/versions", headers=auth(token)).status_code == 401
