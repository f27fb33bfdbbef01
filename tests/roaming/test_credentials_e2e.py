"""The credentials exchange end to end, both directions, against a real peer over loopback HTTP.

Our app runs in pytest-django's live server; the peer (tests/roaming/peer.py) is a minimal OCPI
platform in another thread. Each side really calls the other back during the exchange.
"""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator

import pytest
from django.core.management import CommandError, call_command

from roaming.choices import ModuleID, OcpiVersion, Role
from roaming.credentials.services import partner_invite, partner_rotate, partner_unregister
from roaming.models import ExchangeLog, Partner, PartnerState, Party
from tests.roaming.conftest import make_partner
from tests.roaming.peer import Peer, request

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ocpi_base(live_server, settings) -> str:
    """Our OCPI base URL, served by the live server, as we announce it to partners."""
    settings.OCPI_BASE_URL = f"{live_server.url}/ocpi"
    return settings.OCPI_BASE_URL


@pytest.fixture
def peer() -> Iterator[Peer]:
    with Peer(versions=("2.1.1", "2.2.1")) as running:
        yield running


@pytest.fixture
def invitation(ocpi_base) -> tuple[Partner, str]:
    return partner_invite(name="Peer eMSP", country_code="DE", party_id="PEE", role=Role.EMSP)


def versions_url(ocpi_base: str) -> str:
    return f"{ocpi_base}/versions"


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/ocpi/versions"


# --- the peer registers with us ---------------------------------------------------------------


def test_peer_registers_with_token_a_and_receives_token_c(ocpi_base, peer, invitation) -> None:
    partner, token_a = invitation
    answer = peer.register_with(versions_url(ocpi_base), token_a)
    assert answer.http_status == 200
    assert answer.status_code == 1000
    token_c = answer.data["token"]
    assert token_c != token_a
    assert {role["party_id"] for role in answer.data["roles"]} == {"OPN"}
    partner.refresh_from_db()
    assert partner.state == PartnerState.REGISTERED
    assert partner.version == OcpiVersion.V2_2_1
    assert request("GET", f"{ocpi_base}/2.2.1/credentials", token_c).status_code == 1000


def test_registration_reads_the_peer_back_with_its_token_b(ocpi_base, peer, invitation) -> None:
    partner, token_a = invitation
    peer.register_with(versions_url(ocpi_base), token_a)
    partner.refresh_from_db()
    token_b = partner.their_token
    callbacks = [r for r in peer.received if r.method == "GET"]
    assert [r.path for r in callbacks] == ["/ocpi/versions", "/ocpi/2.2.1/"]
    expected = "Token " + base64.b64encode(token_b.encode()).decode()
    assert all(r.headers["Authorization"] == expected for r in callbacks)
    assert all(r.headers.get("X-Request-ID") for r in callbacks)


def test_registration_stores_endpoints_and_parties(ocpi_base, peer, invitation) -> None:
    partner, token_a = invitation
    peer.register_with(versions_url(ocpi_base), token_a)
    partner.refresh_from_db()
    assert partner.endpoint_url(ModuleID.CREDENTIALS) == f"{peer.base_url}/2.2.1/credentials"
    assert (
        partner.endpoint_url(ModuleID.LOCATIONS, "RECEIVER") == f"{peer.base_url}/2.2.1/locations"
    )
    assert partner.endpoints.count() == 2  # the custom module is skipped
    assert [party.code for party in partner.parties.all()] == ["DE-PEE"]
    assert partner.versions_url == peer.versions_url


def test_a_registration_claiming_another_connections_party_answers_2001(
    ocpi_base, invitation
) -> None:
    owner = Party.objects.create(
        country_code="NL", party_id="AAA", name="eMSP AAA", roles=[Role.EMSP.value]
    )
    connection, _ = make_partner(parties=[owner])
    partner, token_a = invitation

    with Peer(country_code="NL", party_id="AAA") as impostor:
        answer = impostor.register_with(versions_url(ocpi_base), token_a)

    assert (answer.http_status, answer.status_code) == (200, 2001)
    assert "NL-AAA" in answer.body["status_message"]
    partner.refresh_from_db()
    assert partner.state == PartnerState.INVITED
    assert list(owner.connections.all()) == [connection]


def test_token_a_dies_at_registration(ocpi_base, peer, invitation) -> None:
    _, token_a = invitation
    peer.register_with(versions_url(ocpi_base), token_a)
    assert request("GET", versions_url(ocpi_base), token_a).http_status == 401


def test_registration_on_2_1_1_uses_its_shape_and_plain_tokens(ocpi_base, invitation) -> None:
    partner, token_a = invitation
    with Peer(versions=("2.1.1",)) as old_peer:
        answer = old_peer.register_with(versions_url(ocpi_base), token_a)
        assert answer.status_code == 1000
        assert {"party_id", "country_code", "business_details"} <= set(answer.data)
        assert "roles" not in answer.data
        partner.refresh_from_db()
        callback = next(r for r in old_peer.received if r.path == "/ocpi/versions")
        assert callback.headers["Authorization"] == f"Token {partner.their_token}"
    assert partner.version == OcpiVersion.V2_1_1
    assert partner.endpoint_url(ModuleID.LOCATIONS) == f"{old_peer.base_url}/2.1.1/locations"


def test_second_post_answers_405(ocpi_base, peer, invitation) -> None:
    _, token_a = invitation
    token_c = peer.register_with(versions_url(ocpi_base), token_a).data["token"]
    again = request(
        "POST", f"{ocpi_base}/2.2.1/credentials", token_c, peer.credentials("new", "2.2.1")
    )
    assert again.http_status == 405
    assert again.status_code == 2000


def test_put_rotates_both_tokens(ocpi_base, peer, invitation) -> None:
    partner, token_a = invitation
    old_c = peer.register_with(versions_url(ocpi_base), token_a).data["token"]
    answer = peer.update_at(versions_url(ocpi_base))
    assert answer.status_code == 1000
    new_c = answer.data["token"]
    assert new_c != old_c
    assert request("GET", versions_url(ocpi_base), old_c).http_status == 401
    assert request("GET", versions_url(ocpi_base), new_c).status_code == 1000
    partner.refresh_from_db()
    assert partner.state == PartnerState.REGISTERED
    assert partner.their_token in peer.accepted_tokens


def test_put_before_registration_answers_405(ocpi_base, peer, invitation) -> None:
    _, token_a = invitation
    answer = request(
        "PUT", f"{ocpi_base}/2.2.1/credentials", token_a, peer.credentials("b", "2.2.1")
    )
    assert answer.http_status == 405


def test_delete_unregisters(ocpi_base, peer, invitation) -> None:
    partner, token_a = invitation
    token_c = peer.register_with(versions_url(ocpi_base), token_a).data["token"]
    answer = request("DELETE", f"{ocpi_base}/2.2.1/credentials", token_c)
    assert answer.status_code == 1000
    partner.refresh_from_db()
    assert partner.state == PartnerState.UNREGISTERED
    assert not partner.endpoints.exists()
    assert partner.their_token_encrypted == ""
    assert request("GET", versions_url(ocpi_base), token_c).http_status == 401


def test_delete_before_registration_answers_405(ocpi_base, invitation) -> None:
    _, token_a = invitation
    assert request("DELETE", f"{ocpi_base}/2.2.1/credentials", token_a).http_status == 405


def test_unreachable_versions_url_answers_3001(ocpi_base, peer, invitation) -> None:
    partner, token_a = invitation
    offered = {**peer.credentials("token-b", "2.2.1"), "url": closed_port_url()}
    answer = request("POST", f"{ocpi_base}/2.2.1/credentials", token_a, offered)
    assert answer.http_status == 200
    assert answer.status_code == 3001
    partner.refresh_from_db()
    assert partner.state == PartnerState.INVITED
    assert request("GET", versions_url(ocpi_base), token_a).status_code == 1000


def test_no_common_version_answers_3003(ocpi_base, invitation) -> None:
    _, token_a = invitation
    with Peer(versions=("2.0",)) as ancient:
        token_b = ancient.issue_token_a()
        answer = request(
            "POST", f"{ocpi_base}/2.2.1/credentials", token_a, ancient.credentials(token_b, "2.2.1")
        )
    assert answer.status_code == 3003
    assert "2.0" in answer.body["status_message"]


def test_registering_at_a_version_the_peer_lacks_answers_3002(ocpi_base, invitation) -> None:
    _, token_a = invitation
    with Peer(versions=("2.2.1",)) as modern:
        token_b = modern.issue_token_a()
        answer = request(
            "POST", f"{ocpi_base}/2.3.0/credentials", token_a, modern.credentials(token_b, "2.2.1")
        )
    assert answer.status_code == 3002


def test_invalid_credentials_answer_2001_naming_the_field(ocpi_base, peer, invitation) -> None:
    _, token_a = invitation
    offered = peer.credentials("token-b", "2.2.1")
    del offered["token"]
    answer = request("POST", f"{ocpi_base}/2.2.1/credentials", token_a, offered)
    assert answer.status_code == 2001
    assert "token" in answer.body["status_message"]


def test_claiming_one_of_our_parties_answers_2001(ocpi_base, peer, invitation) -> None:
    _, token_a = invitation
    offered = peer.credentials(peer.issue_token_a(), "2.2.1")
    offered["roles"][0].update(country_code="NL", party_id="OPN")
    answer = request("POST", f"{ocpi_base}/2.2.1/credentials", token_a, offered)
    assert answer.status_code == 2001
    assert not Party.objects.get(country_code="NL", party_id="OPN").connections.exists()


def test_unknown_roles_of_newer_peers_are_skipped(ocpi_base, peer, invitation) -> None:
    partner, token_a = invitation
    offered = peer.credentials(peer.issue_token_a(), "2.2.1")
    offered["roles"].append({**offered["roles"][0], "role": "FUTURE", "party_id": "FUT"})
    answer = request("POST", f"{ocpi_base}/2.2.1/credentials", token_a, offered)
    assert answer.status_code == 1000
    assert [party.code for party in partner.parties.all()] == ["DE-PEE"]


# --- we register with the peer ----------------------------------------------------------------


@pytest.fixture
def registered_with_peer(ocpi_base, peer) -> Partner:
    call_command("ocpi_register", versions_url=peer.versions_url, token=peer.issue_token_a())
    return Partner.objects.get(versions_url=peer.versions_url)


def test_ocpi_register_connects_us_at_the_highest_common_version(
    registered_with_peer, peer
) -> None:
    partner = registered_with_peer
    assert partner.state == PartnerState.REGISTERED
    assert partner.version == OcpiVersion.V2_2_1
    assert partner.their_token in peer.accepted_tokens
    assert [party.code for party in partner.parties.all()] == ["DE-PEE"]
    assert partner.name == "Peer eMSP"


def test_peer_read_us_back_with_the_token_we_offered(registered_with_peer, peer, ocpi_base) -> None:
    assert peer.their_versions_url == versions_url(ocpi_base)
    assert any(e["identifier"] == "credentials" for e in peer.their_endpoints)
    # That token (B) is now the one the peer uses with us, on every module.
    assert (
        request("GET", f"{ocpi_base}/2.2.1/credentials", peer.token_to_call_them).status_code
        == 1000
    )
    registered_with_peer.refresh_from_db()
    assert registered_with_peer.pending_token_hash is None


def test_rotation_renews_both_tokens(registered_with_peer, peer, ocpi_base) -> None:
    old_ours, old_theirs = peer.token_to_call_them, registered_with_peer.their_token
    partner_rotate(partner=registered_with_peer)
    registered_with_peer.refresh_from_db()
    assert registered_with_peer.their_token != old_theirs
    assert registered_with_peer.their_token in peer.accepted_tokens
    assert peer.token_to_call_them != old_ours
    assert request("GET", versions_url(ocpi_base), old_ours).http_status == 401
    assert request("GET", versions_url(ocpi_base), peer.token_to_call_them).status_code == 1000
    assert peer.received[-1].method == "PUT"


def test_unregistering_tells_the_peer_and_forgets_it(registered_with_peer, peer, ocpi_base) -> None:
    our_token = peer.token_to_call_them
    assert partner_unregister(partner=registered_with_peer) is True
    assert peer.registered is False
    registered_with_peer.refresh_from_db()
    assert registered_with_peer.state == PartnerState.UNREGISTERED
    assert request("GET", versions_url(ocpi_base), our_token).http_status == 401


def test_registering_twice_is_refused(registered_with_peer, peer) -> None:
    with pytest.raises(CommandError, match="already registered"):
        call_command("ocpi_register", versions_url=peer.versions_url, token=peer.issue_token_a())


def test_register_with_an_unreachable_partner_fails_with_3001(ocpi_base) -> None:
    with pytest.raises(CommandError, match="3001"):
        call_command("ocpi_register", versions_url=closed_port_url(), token="token-a")


def test_register_with_a_wrong_token_fails_and_leaves_nothing_usable(ocpi_base, peer) -> None:
    with pytest.raises(CommandError, match="3001"):
        call_command("ocpi_register", versions_url=peer.versions_url, token="not-theirs")
    partner = Partner.objects.get(versions_url=peer.versions_url)
    assert partner.state == PartnerState.UNREGISTERED
    assert partner.token_hash is None
    assert partner.pending_token_hash is None


def test_no_exchange_log_reveals_a_token(registered_with_peer, peer) -> None:
    partner_rotate(partner=registered_with_peer)
    registered_with_peer.refresh_from_db()
    secrets_ = {peer.token_to_call_them, registered_with_peer.their_token}
    logs = list(ExchangeLog.objects.all())
    assert logs
    for log in logs:
        for secret in secrets_:
            assert secret not in log.request_body
            assert secret not in log.response_body
