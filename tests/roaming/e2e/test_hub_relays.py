"""End to end: a roaming hub registers with us (listing only itself, as OCPI 2.2.1 hubs do), tells
us of two eMSPs behind it with HubClientInfo, relays their token pushes, and pulls sessions and
CDRs for each with routing headers: each eMSP's reach only that eMSP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from roaming.choices import Role
from roaming.credentials.services import partner_invite
from roaming.models import Partner, Party
from sessions_app.models import Token
from tests.roaming.e2e.conftest import Network, seed_network
from tests.roaming.peer import Answer, Peer, pull, request

pytestmark = pytest.mark.django_db(transaction=True)

BEHIND = (("DE", "AAA"), ("FR", "BBB"))


def routed_from(country_code: str, party_id: str) -> dict[str, str]:
    return {"OCPI-from-country-code": country_code, "OCPI-from-party-id": party_id}


def header(answer: Answer, name: str) -> str | None:
    return next((v for k, v in answer.headers.items() if k.lower() == name.lower()), None)


def ids(pages: list[Answer]) -> set[str]:
    assert all(page.status_code == 1000 for page in pages)
    return {item["id"] for page in pages for item in page.data}


@pytest.fixture
def hub(ocpi_base: str, versions_url: str) -> Iterator[tuple[Peer, Partner]]:
    partner, token_a = partner_invite(
        name="Roaming hub", country_code="NL", party_id="HUB", role=Role.HUB
    )
    with Peer(
        versions=("2.2.1",), country_code="NL", party_id="HUB", name="Roaming hub", role="HUB"
    ) as running:
        assert running.register_with(versions_url, token_a).status_code == 1000
        yield running, partner


@pytest.fixture
def token(hub: tuple[Peer, Partner]) -> str:
    peer, _ = hub
    assert peer.token_to_call_them is not None
    return peer.token_to_call_them


@pytest.fixture
def endpoints(hub: tuple[Peer, Partner], token: str, versions_url: str) -> dict[str, str]:
    peer, _ = hub
    return peer.endpoints_at(versions_url, token)


def client_info(country_code: str, party_id: str, status: str = "CONNECTED") -> dict[str, Any]:
    return {
        "country_code": country_code,
        "party_id": party_id,
        "role": "EMSP",
        "status": status,
        "last_updated": "2025-02-01T00:00:00Z",
    }


@pytest.fixture
def introduced(token: str, endpoints: dict[str, str]) -> list[Party]:
    """The hub told us of the two eMSPs behind it."""
    for country_code, party_id in BEHIND:
        answer = request(
            "PUT",
            f"{endpoints['hubclientinfo']}/{country_code}/{party_id}",
            token,
            client_info(country_code, party_id),
        )
        assert (answer.http_status, answer.status_code) == (201, 1000)
    return [Party.objects.get_by_code(*code) for code in BEHIND]


@pytest.fixture
def network(introduced: list[Party]) -> Network:
    return seed_network(introduced)


def test_the_hub_connection_speaks_only_for_itself_after_registration(hub) -> None:
    _, partner = hub
    assert [party.code for party in partner.parties.all()] == ["NL-HUB"]


def test_client_info_makes_the_hub_speak_for_the_parties_behind_it(hub, introduced) -> None:
    _, partner = hub
    assert {party.code for party in partner.parties.all()} == {"NL-HUB", "DE-AAA", "FR-BBB"}
    assert all(party.has_role(Role.EMSP) for party in introduced)


def test_the_hub_reads_back_what_it_told_us(token, endpoints, introduced) -> None:
    answer = request("GET", f"{endpoints['hubclientinfo']}/DE/AAA", token)
    assert answer.data["status"] == "CONNECTED"


@pytest.mark.parametrize("module", ["sessions", "cdrs"])
def test_each_emsps_objects_reach_only_that_emsp(token, endpoints, network, module) -> None:
    by_party = network.sessions if module == "sessions" else network.cdrs
    for country_code, party_id in BEHIND:
        headers = routed_from(country_code, party_id)
        pages = pull(endpoints[module], token, {"limit": "1"}, headers=headers)
        assert ids(pages) == set(by_party[f"{country_code}-{party_id}"])
        # The answer is addressed to the party that asked, through the hub.
        assert {header(page, "OCPI-to-party-id") for page in pages} == {party_id}


@pytest.mark.parametrize("module", ["sessions", "cdrs"])
def test_without_routing_headers_the_hub_gets_those_of_every_party_behind_it(
    token, endpoints, network, module
) -> None:
    by_party = network.sessions if module == "sessions" else network.cdrs
    everything = {ocpi_id for ocpi_ids in by_party.values() for ocpi_id in ocpi_ids}
    assert ids(pull(endpoints[module], token)) == everything


def test_a_suspended_party_is_no_longer_relayed_for(token, endpoints, network) -> None:
    suspended = request(
        "PUT",
        f"{endpoints['hubclientinfo']}/FR/BBB",
        token,
        client_info("FR", "BBB", status="SUSPENDED"),
    )
    assert suspended.status_code == 1000
    answer = request("GET", endpoints["sessions"], token, headers=routed_from("FR", "BBB"))
    assert answer.http_status == 403


def test_the_hub_relays_token_pushes_for_each_party(token, endpoints, introduced) -> None:
    for country_code, party_id in BEHIND:
        body = {
            "country_code": country_code,
            "party_id": party_id,
            "uid": "0A0B0C0D",
            "type": "RFID",
            "contract_id": f"{country_code}-{party_id}-C00000001",
            "issuer": f"eMSP {party_id}",
            "valid": True,
            "whitelist": "ALWAYS",
            "last_updated": "2025-02-01T00:00:00Z",
        }
        answer = request(
            "PUT",
            f"{endpoints['tokens']}/{country_code}/{party_id}/0A0B0C0D",
            token,
            body,
            headers=routed_from(country_code, party_id),
        )
        assert (answer.http_status, answer.status_code) == (201, 1000)
    owners = {token.owner.code for token in Token.objects.filter(uid="0A0B0C0D")}
    assert owners == {"DE-AAA", "FR-BBB"}


def test_the_hub_cannot_push_one_partys_token_on_behalf_of_the_other(
    token, endpoints, introduced
) -> None:
    body = {
        "country_code": "FR",
        "party_id": "BBB",
        "uid": "0A0B0C0D",
        "type": "RFID",
        "contract_id": "FR-BBB-C00000001",
        "issuer": "eMSP BBB",
        "valid": True,
        "whitelist": "ALWAYS",
        "last_updated": "2025-02-01T00:00:00Z",
    }
    answer = request(
        "PUT",
        f"{endpoints['tokens']}/FR/BBB/0A0B0C0D",
        token,
        body,
        headers=routed_from("DE", "AAA"),
    )
    assert answer.http_status == 404
    assert not Token.objects.exists()


def test_an_emsp_connection_may_not_send_client_info(ocpi_base, versions_url) -> None:
    _, token_a = partner_invite(name="Peer", country_code="DE", party_id="PEE", role=Role.EMSP)
    with Peer(versions=("2.2.1",), country_code="DE", party_id="PEE") as emsp:
        emsp.register_with(versions_url, token_a)
        assert emsp.token_to_call_them is not None
        answer = request(
            "PUT",
            f"{ocpi_base}/2.2.1/hubclientinfo/DE/AAA",
            emsp.token_to_call_them,
            client_info("DE", "AAA"),
        )
    assert answer.http_status == 403
    assert not Party.objects.filter(party_id="AAA").exists()


def test_the_parties_behind_the_hub_stay_after_it_renews_its_credentials(
    hub, token, endpoints, introduced, versions_url
) -> None:
    peer, partner = hub
    assert peer.update_at(versions_url).status_code == 1000
    renewed = peer.token_to_call_them
    assert renewed is not None
    assert renewed != token
    assert {party.code for party in partner.parties.all()} == {"NL-HUB", "DE-AAA", "FR-BBB"}
    answer = request("GET", endpoints["sessions"], renewed, headers=routed_from("DE", "AAA"))
    assert (answer.http_status, answer.status_code) == (200, 1000)
