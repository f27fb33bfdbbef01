"""Fixtures of the module endpoint tests: partner connections that call us, and request helpers.

* ``emsp_token``: a registered connection speaking for the eMSP ``emsp`` (DE-EMS).
* ``second_emsp``: another partner eMSP (NL-SEC) and ``hub_token``: a hub connection relaying
  for ``emsp`` and ``second_emsp`` (the hub's own party is among the parties it speaks for).
* ``outsider_token``: a registered connection speaking for ``outsider`` (FR-OUT), an eMSP that
  has no business with the others' objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from roaming.choices import Role
from roaming.models import Party
from tests.roaming.conftest import auth, make_partner

VERSIONS = ("2.1.1", "2.2.1", "2.3.0")


@pytest.fixture
def emsp_token(registered) -> str:
    """The token of a registered connection speaking for the eMSP DE-EMS."""
    return registered[1]


@pytest.fixture
def second_emsp(db: None) -> Party:
    return Party.objects.create(
        country_code="NL", party_id="SEC", name="Second eMSP", roles=[Role.EMSP.value]
    )


@pytest.fixture
def hub_party(db: None) -> Party:
    return Party.objects.create(
        country_code="NL", party_id="HUB", name="Roaming hub", roles=[Role.HUB.value]
    )


@pytest.fixture
def hub_token(hub_party: Party, emsp: Party, second_emsp: Party) -> str:
    """The token of a hub connection relaying for DE-EMS and NL-SEC."""
    _, token = make_partner(parties=[hub_party, emsp, second_emsp], name="Roaming hub")
    return token


@pytest.fixture
def outsider_token(outsider: Party) -> str:
    """The token of a registered connection speaking for the outsider FR-OUT."""
    _, token = make_partner(parties=[outsider], name="Outsider eMSP")
    return token


def from_party(party: Party) -> dict[str, str]:
    """Routing headers of a request sent on behalf of `party` (a hub's)."""
    return {"OCPI-from-country-code": party.country_code, "OCPI-from-party-id": party.party_id}


def to_party(party: Party) -> dict[str, str]:
    """Routing headers of a request addressed to `party` (one of ours)."""
    return {"OCPI-to-country-code": party.country_code, "OCPI-to-party-id": party.party_id}


def ocpi_get(
    client: Client,
    token: str,
    path: str,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Any:
    """GET with the token (base64, as 2.2+ sends it) and any extra headers."""
    return client.get(path, dict(params or {}), headers={**auth(token), **dict(headers or {})})


def data(response: Any) -> Any:
    return response.json()["data"]


def ids(response: Any, key: str = "id") -> list[str]:
    return [item[key] for item in data(response)]


def next_link(response: Any) -> str | None:
    """The local path and query of the Link rel="next" header, None on the last page."""
    link = response.get("Link")
    if link is None:
        return None
    url, rel = link.split(";")
    assert rel.strip() == 'rel="next"'
    parts = urlsplit(url.strip()[1:-1])
    return f"{parts.path}?{parts.query}"


def link_query(response: Any) -> dict[str, list[str]]:
    link = next_link(response)
    assert link is not None
    return parse_qs(urlsplit(link).query)
