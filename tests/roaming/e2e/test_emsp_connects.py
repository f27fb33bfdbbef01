"""End to end: an eMSP registers with us with token A, pulls every module we serve page by page,
and keeps its tokens in our cache; in each OCPI version we speak."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest

from roaming.choices import OcpiVersion, Role
from roaming.credentials.services import partner_invite
from roaming.models import Partner, PartnerState, Party
from sessions_app.models import Token
from tests.roaming.e2e.conftest import Network, day, seed_network
from tests.roaming.peer import Answer, Peer, pull, request

pytestmark = pytest.mark.django_db(transaction=True)

PULLED = ("locations", "tariffs", "sessions", "cdrs")
UID = "04A1B2C3D4"


@pytest.fixture(params=[version.value for version in OcpiVersion])
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def invitation(ocpi_base: str) -> tuple[Partner, str]:
    """Staff invited the eMSP DE-PEE: a connection and its token A."""
    return partner_invite(name="Peer eMSP", country_code="DE", party_id="PEE", role=Role.EMSP)


@pytest.fixture
def peer(version: str) -> Iterator[Peer]:
    with Peer(versions=(version,), country_code="DE", party_id="PEE") as running:
        yield running


@pytest.fixture
def registered(peer: Peer, invitation: tuple[Partner, str], versions_url: str) -> Partner:
    partner, token_a = invitation
    answer = peer.register_with(versions_url, token_a)
    assert (answer.http_status, answer.status_code) == (200, 1000)
    partner.refresh_from_db()
    return partner


@pytest.fixture
def endpoints(peer: Peer, registered: Partner, versions_url: str) -> dict[str, str]:
    assert peer.token_to_call_them is not None
    return peer.endpoints_at(versions_url, peer.token_to_call_them)


@pytest.fixture
def network(registered: Partner) -> Network:
    other = Party.objects.create(
        country_code="NL", party_id="OTH", name="Other eMSP", roles=[Role.EMSP.value]
    )
    return seed_network([Party.objects.get_by_code("DE", "PEE"), other])


def expected(network: Network, module: str) -> list[str]:
    """What DE-PEE may see of a module: all we publish, but only its own drivers' sessions/CDRs."""
    return {
        "locations": network.locations,
        "tariffs": network.tariffs,
        "sessions": network.sessions["DE-PEE"],
        "cdrs": network.cdrs["DE-PEE"],
    }[module]


def token_c(peer: Peer) -> str:
    assert peer.token_to_call_them is not None
    return peer.token_to_call_them


def pulled_ids(pages: list[Answer]) -> list[str]:
    assert all((page.http_status, page.status_code) == (200, 1000) for page in pages)
    return [item["id"] for page in pages for item in page.data]


def header(answer: Answer, name: str) -> str | None:
    return next((v for k, v in answer.headers.items() if k.lower() == name.lower()), None)


def token_body(version: str, **changes: Any) -> dict[str, Any]:
    common = {
        "uid": UID,
        "type": "RFID",
        "issuer": "Peer eMSP",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": "2025-03-01T10:00:00Z",
    }
    if version == OcpiVersion.V2_1_1:
        return {**common, "auth_id": "DE-PEE-C00000001", **changes}
    return {
        "country_code": "DE",
        "party_id": "PEE",
        **common,
        "contract_id": "DE-PEE-C00000001",
        **changes,
    }


# --- registration ---------------------------------------------------------------------------------


def test_the_peer_registers_at_its_version_and_gets_token_c(
    registered, peer, invitation, version
) -> None:
    _, token_a = invitation
    assert (registered.state, registered.version) == (PartnerState.REGISTERED, version)
    # We called the peer back with the token B it offered, before answering with token C.
    assert [r.path for r in peer.received if r.method == "GET"] == [
        "/ocpi/versions",
        f"/ocpi/{version}/",
    ]
    assert token_c(peer) != token_a
    assert [party.code for party in registered.parties.all()] == ["DE-PEE"]


def test_our_version_details_list_every_module_we_serve(endpoints, version) -> None:
    assert {"credentials", "tokens", *PULLED} <= set(endpoints)
    assert ("hubclientinfo" in endpoints) == (version != OcpiVersion.V2_1_1)


def test_token_a_reaches_no_functional_module_before_registration(invitation, ocpi_base) -> None:
    _, token_a = invitation
    for module in PULLED:
        assert request("GET", f"{ocpi_base}/2.2.1/{module}", token_a).http_status == 401
    put = request("PUT", f"{ocpi_base}/2.2.1/tokens/DE/PEE/{UID}", token_a, token_body("2.2.1"))
    assert put.http_status == 401
    assert not Token.objects.exists()


def test_token_a_is_dead_after_registration(registered, invitation, endpoints) -> None:
    _, token_a = invitation
    assert request("GET", endpoints["locations"], token_a).http_status == 401


# --- pulling what we serve ------------------------------------------------------------------------


@pytest.mark.parametrize("module", PULLED)
def test_the_peer_pulls_a_module_page_by_page_following_link(
    network, peer, endpoints, module
) -> None:
    pages = pull(endpoints[module], token_c(peer), {"limit": "2"})
    wanted = expected(network, module)
    assert sorted(pulled_ids(pages)) == sorted(wanted)
    assert len(pages) == math.ceil(len(wanted) / 2)
    assert {header(page, "X-Total-Count") for page in pages} == {str(len(wanted))}
    assert header(pages[-1], "Link") is None


@pytest.mark.parametrize("module", PULLED)
def test_date_filters_hold_on_every_page(network, peer, endpoints, module) -> None:
    window = {
        "limit": "1",
        "date_from": day(1).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "date_to": day(3).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    pages = pull(endpoints[module], token_c(peer), window)
    # Objects were last updated on days 0, 1, 2...: the window [day 1, day 3) holds items 1 and 2.
    assert sorted(pulled_ids(pages)) == sorted(expected(network, module)[1:3])
    assert len(pages) == 2


def test_sessions_and_cdrs_of_other_emsps_never_reach_the_peer(network, peer, endpoints) -> None:
    others = set(network.sessions["NL-OTH"]) | set(network.cdrs["NL-OTH"])
    for module in ("sessions", "cdrs"):
        assert not others & set(pulled_ids(pull(endpoints[module], token_c(peer))))


# --- pushing tokens -------------------------------------------------------------------------------


def test_the_peer_pushes_a_new_token_into_our_cache(registered, peer, endpoints, version) -> None:
    answer = request(
        "PUT", f"{endpoints['tokens']}/DE/PEE/{UID}", token_c(peer), token_body(version)
    )
    assert (answer.http_status, answer.status_code) == (201, 1000)
    token = Token.objects.get(uid=UID)
    assert (token.owner.code, token.contract_id, token.valid) == (
        "DE-PEE",
        "DE-PEE-C00000001",
        True,
    )


def test_the_peer_replaces_patches_and_reads_back_its_token(
    registered, peer, endpoints, version
) -> None:
    url = f"{endpoints['tokens']}/DE/PEE/{UID}"
    request("PUT", url, token_c(peer), token_body(version))
    replaced = request("PUT", url, token_c(peer), token_body(version, issuer="Renamed Issuer"))
    assert (replaced.http_status, replaced.status_code) == (200, 1000)
    patched = request(
        "PATCH", url, token_c(peer), {"valid": False, "last_updated": "2025-03-02T08:00:00Z"}
    )
    assert (patched.http_status, patched.status_code) == (200, 1000)
    token = Token.objects.get(uid=UID)
    assert (token.valid, token.issuer, token.last_updated.day) == (False, "Renamed Issuer", 2)
    read = request("GET", url, token_c(peer))
    assert (read.data["uid"], read.data["valid"]) == (UID, False)


def test_a_patch_without_last_updated_is_refused_from_2_2_1_on(
    registered, peer, endpoints, version
) -> None:
    url = f"{endpoints['tokens']}/DE/PEE/{UID}"
    request("PUT", url, token_c(peer), token_body(version))
    answer = request("PATCH", url, token_c(peer), {"valid": False})
    refused = version != OcpiVersion.V2_1_1
    assert answer.status_code == (2001 if refused else 1000)
    assert Token.objects.get(uid=UID).valid is refused


def test_the_peer_cannot_push_a_token_of_another_party(
    registered, peer, endpoints, version
) -> None:
    Party.objects.create(country_code="NL", party_id="OTH", name="Other", roles=["EMSP"])
    body = token_body(version)
    if version != OcpiVersion.V2_1_1:
        body.update(country_code="NL", party_id="OTH")
    answer = request("PUT", f"{endpoints['tokens']}/NL/OTH/{UID}", token_c(peer), body)
    assert answer.http_status == 404
    assert not Token.objects.exists()
