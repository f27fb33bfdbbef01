"""The ocpi_invite command (ocpi_register is exercised end to end in test_credentials_e2e)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from roaming.models import Partner, PartnerState
from tests.roaming.conftest import auth

pytestmark = pytest.mark.django_db


def invite(*args: str) -> str:
    out = io.StringIO()
    call_command("ocpi_invite", *args, stdout=out)
    return out.getvalue()


def test_invite_prints_our_versions_url_and_a_token_a_as_json(settings) -> None:
    settings.OCPI_BASE_URL = "https://cpms.example.com/ocpi"
    printed = json.loads(
        invite(
            "--name",
            "Acme",
            "--country-code",
            "be",
            "--party-id",
            "acm",
            "--role",
            "EMSP",
            "--json",
        )
    )
    assert printed["versions_url"] == "https://cpms.example.com/ocpi/versions"
    partner = Partner.objects.get(name="Acme")
    assert partner.state == PartnerState.INVITED
    assert [party.code for party in partner.parties.all()] == ["BE-ACM"]
    assert Partner.objects.by_token(printed["token"]) == partner


def test_invited_token_opens_the_versions_endpoint(client: Client) -> None:
    printed = json.loads(
        invite("--name", "Acme", "--country-code", "BE", "--party-id", "ACM", "--json")
    )
    assert client.get("/ocpi/versions", headers=auth(printed["token"])).status_code == 200


def test_invite_prints_readable_text_without_json() -> None:
    printed = invite("--name", "Acme", "--country-code", "BE", "--party-id", "ACM")
    assert "Versions URL:" in printed
    assert "Token A:" in printed


def test_invite_refuses_one_of_our_own_identities(our_cpo) -> None:
    with pytest.raises(CommandError, match="our own"):
        invite("--name", "Us", "--country-code", "NL", "--party-id", "OPN")


def test_invite_refuses_a_malformed_party_id() -> None:
    with pytest.raises(CommandError, match="party-id"):
        invite("--name", "Acme", "--country-code", "BE", "--party-id", "TOOLONG")
