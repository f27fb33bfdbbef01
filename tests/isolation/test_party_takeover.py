"""No connection may come to speak for a party that has a connection of its own.

Which parties a connection speaks for decides everything the matrix checks; these are the two
ways a partner could add a party to its own connection. Regressions of:

* a hub's ClientInfo naming a directly connected eMSP made the hub speak for it (and then read
  its sessions and CDRs, change its tokens, stop its drivers' sessions) and changed its roles;
* a registered partner's credentials PUT listing another connection's party made the partner
  speak for it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from roaming.models import Partner
from tests.isolation.world import World, auth_header

VERSION = "2.2.1"


def client_info(country_code: str, party_id: str, role: str = "EMSP") -> dict[str, Any]:
    return {
        "country_code": country_code,
        "party_id": party_id,
        "role": role,
        "status": "CONNECTED",
        "last_updated": "2025-05-01T10:00:00Z",
    }


def put(client: Client, token: str, path: str, body: Any) -> Any:
    return client.put(
        path, json.dumps(body), content_type="application/json", headers=auth_header(token, VERSION)
    )


def pull_sessions_as(client: Client, token: str, country_code: str, party_id: str) -> Any:
    headers = {
        **auth_header(token, VERSION),
        "OCPI-from-country-code": country_code,
        "OCPI-from-party-id": party_id,
    }
    return client.get(f"/ocpi/{VERSION}/sessions", headers=headers)


def spoken_for(token: str) -> set[str]:
    """The parties the connection with this token speaks for."""
    partner = Partner.objects.by_token(token)
    assert partner is not None
    return {party.code for party in partner.parties.all()}


@pytest.mark.parametrize("role", ["EMSP", "CPO"])
def test_a_hubs_client_info_of_a_directly_connected_party_does_not_hand_it_over(
    world: World, db: None, client: Client, role: str
) -> None:
    victim = world.actors["AAA"].party
    roles_before = list(victim.roles)
    path = f"/ocpi/{VERSION}/hubclientinfo/{victim.country_code}/{victim.party_id}"

    response = put(client, world.hub_token, path, client_info("DE", "AAA", role))

    assert response.status_code in (200, 201)  # recorded, as the hub's view of its network
    assert victim.code not in spoken_for(world.hub_token)
    victim.refresh_from_db()
    assert victim.roles == roles_before
    refused = pull_sessions_as(client, world.hub_token, victim.country_code, victim.party_id)
    assert refused.status_code == 403
    assert world.actors["AAA"].session_id not in refused.content.decode()


def test_a_hubs_client_info_still_introduces_a_party_only_it_connects(
    world: World, db: None, client: Client
) -> None:
    response = put(
        client, world.hub_token, f"/ocpi/{VERSION}/hubclientinfo/BE/NEW", client_info("BE", "NEW")
    )
    assert response.status_code == 201
    assert "BE-NEW" in spoken_for(world.hub_token)
    pulled = pull_sessions_as(client, world.hub_token, "BE", "NEW")
    assert (pulled.status_code, pulled.json()["data"]) == (200, [])


def test_credentials_naming_another_connections_party_answer_2001_and_change_nothing(
    world: World, db: None, client: Client
) -> None:
    intruder = world.actors["BBB"]
    victim = world.actors["AAA"].party
    body = {
        "token": "a-new-token-for-us-to-call-bbb",
        "url": "http://bbb.example.com/ocpi/versions",
        "roles": [
            {
                "role": "EMSP",
                "country_code": victim.country_code,
                "party_id": victim.party_id,
                "business_details": {"name": "Not really AAA"},
            }
        ],
    }

    response = put(client, intruder.token, f"/ocpi/{VERSION}/credentials", body)

    assert (response.status_code, response.json()["status_code"]) == (200, 2001)
    assert "DE-AAA" in response.json()["status_message"]
    assert spoken_for(intruder.token) == {"NL-BBB"}
    victim.refresh_from_db()
    assert victim.name == "eMSP AAA"
