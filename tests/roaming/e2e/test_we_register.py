"""End to end, the other way round: we register with a peer that gave us a token A, read its
versions with the token it answered with, and the peer then uses ours on our modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.management import call_command

from roaming.choices import ModuleID, OcpiVersion
from roaming.client import call
from roaming.credentials.services import partner_register
from roaming.models import Partner, PartnerState
from tests.roaming.e2e.conftest import seed_locations
from tests.roaming.peer import Peer, auth_header, pull

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def peer() -> Iterator[Peer]:
    with Peer(versions=("2.1.1", "2.2.1"), country_code="DE", party_id="PEE") as running:
        yield running


@pytest.fixture
def registered(ocpi_base: str, peer: Peer) -> Partner:
    call_command("ocpi_register", versions_url=peer.versions_url, token=peer.issue_token_a())
    return Partner.objects.get(versions_url=peer.versions_url)


def test_we_register_at_the_highest_common_version(registered, peer) -> None:
    assert (registered.state, registered.version) == (PartnerState.REGISTERED, "2.2.1")
    assert [party.code for party in registered.parties.all()] == ["DE-PEE"]
    assert registered.their_token in peer.accepted_tokens


def test_we_pull_the_peers_versions_with_the_token_it_gave_us(registered, peer) -> None:
    answer = call("GET", registered.versions_url, partner=registered)
    assert {item["version"] for item in answer.data} == {"2.1.1", "2.2.1"}
    sent = peer.received[-1]
    assert (sent.method, sent.path) == ("GET", "/ocpi/versions")
    assert sent.headers["Authorization"] == auth_header(registered.their_token)


def test_we_pull_the_details_of_the_agreed_version(registered, peer) -> None:
    versions = call("GET", registered.versions_url, partner=registered).data
    details_url = next(item["url"] for item in versions if item["version"] == "2.2.1")
    details = call("GET", details_url, partner=registered).data
    assert details["version"] == "2.2.1"
    listed = {(item["identifier"], item.get("role")) for item in details["endpoints"]}
    assert {("credentials", "SENDER"), ("locations", "RECEIVER")} <= listed
    assert registered.endpoint_url(ModuleID.LOCATIONS) == f"{peer.base_url}/2.2.1/locations"


def test_a_2_1_1_peer_is_read_with_the_token_as_is(ocpi_base) -> None:
    with Peer(versions=("2.1.1",), country_code="DE", party_id="OLD") as old:
        partner = partner_register(versions_url=old.versions_url, token=old.issue_token_a())
        answer = call("GET", partner.versions_url, partner=partner)
        assert [item["version"] for item in answer.data] == ["2.1.1"]
        assert partner.version == OcpiVersion.V2_1_1
        assert old.received[-1].headers["Authorization"] == f"Token {partner.their_token}"


def test_the_peer_then_pulls_our_locations_with_the_token_we_offered(
    registered, peer, ocpi_base
) -> None:
    ids, _ = seed_locations(3)
    token_b = peer.token_to_call_them
    assert token_b is not None
    endpoints = peer.endpoints_at(f"{ocpi_base}/versions", token_b, "2.2.1")
    pages = pull(endpoints["locations"], token_b, {"limit": "2"})
    assert len(pages) == 2
    assert sorted(item["id"] for page in pages for item in page.data) == sorted(ids)
