"""Fixtures of roaming tests: partner connections in each state, and an authenticated client."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

import pytest
from django.test import Client

from roaming.choices import OcpiVersion, Role
from roaming.credentials.services import partner_invite
from roaming.crypto import token_generate
from roaming.models import Partner, PartnerState, Party


def auth(token: str, *, encoded: bool = True) -> dict[str, str]:
    """Request headers carrying a credentials token, base64-encoded (2.2+) or plain (2.1.1)."""
    value = base64.b64encode(token.encode()).decode() if encoded else token
    return {"Authorization": f"Token {value}"}


def make_partner(
    *,
    state: PartnerState = PartnerState.REGISTERED,
    parties: Iterable[Party] = (),
    version: OcpiVersion = OcpiVersion.V2_2_1,
    name: str = "Connected eMSP",
) -> tuple[Partner, str]:
    """A connection in `state` and the token it presents to us."""
    token = token_generate()
    partner = Partner(
        name=name,
        state=state,
        version=version,
        versions_url="http://partner.example.com/ocpi/versions",
    )
    partner.set_token(token)
    partner.set_their_token("token-we-use-to-call-them")
    partner.save()
    partner.parties.set(list(parties))
    return partner, token


@pytest.fixture
def registered(emsp: Party) -> tuple[Partner, str]:
    """A registered connection speaking for the eMSP of tests/conftest.py."""
    return make_partner(parties=[emsp])


@pytest.fixture
def invited(db: None) -> tuple[Partner, str]:
    """An invited connection and its token A."""
    return partner_invite(name="Invited eMSP", country_code="NL", party_id="INV", role=Role.EMSP)


@pytest.fixture
def client() -> Client:
    return Client()


def body(response: Any) -> Any:
    return response.json()
