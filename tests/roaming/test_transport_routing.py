"""Routing headers: the party a request is from must be one the connection speaks for."""

from __future__ import annotations

import pytest
from django.test import Client

from roaming.choices import OcpiVersion, Role
from roaming.models import Party
from roaming.services import parties_sync_ours
from tests.roaming.conftest import auth, make_partner

pytestmark = [pytest.mark.urls("tests.roaming.probe_urls"), pytest.mark.django_db]

PROBE = "/ocpi/2.2.1/probe/"


def routed(token: str, **headers: str) -> dict[str, str]:
    names = {
        "from_cc": "OCPI-from-country-code",
        "from_pid": "OCPI-from-party-id",
        "to_cc": "OCPI-to-country-code",
        "to_pid": "OCPI-to-party-id",
    }
    return {**auth(token), **{names[key]: value for key, value in headers.items()}}


@pytest.fixture
def hub(emsp: Party, outsider: Party) -> str:
    """A hub connection relaying for two eMSPs."""
    hub_party = Party.objects.create(
        country_code="NL", party_id="HUB", name="Hub", roles=[Role.HUB.value]
    )
    _, token = make_partner(parties=[hub_party, emsp, outsider], name="Hub")
    return token


def test_from_headers_choose_among_the_parties_of_a_hub(client: Client, hub: str) -> None:
    response = client.get(PROBE, headers=routed(hub, from_cc="fr", from_pid="out"))
    assert response.json()["data"]["from"] == "FR-OUT"


def test_party_the_connection_does_not_speak_for_is_refused(
    client: Client, registered, outsider: Party
) -> None:
    _, token = registered
    response = client.get(PROBE, headers=routed(token, from_cc="FR", from_pid="OUT"))
    assert response.status_code == 403
    assert "FR-OUT" in response.json()["status_message"]


def test_without_from_headers_a_single_party_connection_is_that_party(
    client: Client, registered
) -> None:
    _, token = registered
    assert client.get(PROBE, headers=auth(token)).json()["data"]["from"] == "DE-EMS"


def test_without_from_headers_a_hub_request_has_no_party(client: Client, hub: str) -> None:
    assert client.get(PROBE, headers=auth(hub)).json()["data"]["from"] is None


def test_half_a_routing_header_pair_answers_2001_naming_the_header(
    client: Client, registered
) -> None:
    _, token = registered
    response = client.get(PROBE, headers=routed(token, from_cc="DE"))
    assert response.status_code == 200
    assert response.json()["status_code"] == 2001
    assert "OCPI-from-party-id" in response.json()["status_message"]


def test_to_headers_choose_one_of_our_identities(client: Client, registered) -> None:
    _, token = registered
    parties_sync_ours()
    response = client.get(PROBE, headers=routed(token, to_cc="DE", to_pid="OPN"))
    assert response.json()["data"]["to"] == "DE-OPN"


def test_to_a_party_that_is_not_ours_answers_404(client: Client, registered) -> None:
    _, token = registered
    response = client.get(PROBE, headers=routed(token, to_cc="DE", to_pid="EMS"))
    assert response.status_code == 404


def test_response_swaps_the_routing_headers(client: Client, registered) -> None:
    _, token = registered
    parties_sync_ours()
    response = client.get(
        PROBE, headers=routed(token, from_cc="DE", from_pid="EMS", to_cc="NL", to_pid="OPN")
    )
    assert response["OCPI-to-country-code"] == "DE"
    assert response["OCPI-to-party-id"] == "EMS"
    assert response["OCPI-from-country-code"] == "NL"
    assert response["OCPI-from-party-id"] == "OPN"


def test_2_1_1_responses_carry_no_routing_headers(client: Client, emsp: Party) -> None:
    _, token = make_partner(parties=[emsp], version=OcpiVersion.V2_1_1)
    response = client.get("/ocpi/2.1.1/probe/", headers=auth(token, encoded=False))
    assert response.status_code == 200
    assert "OCPI-to-party-id" not in response


def test_configuration_modules_carry_no_routing_headers(client: Client, registered) -> None:
    _, token = registered
    response = client.get("/ocpi/versions", headers=routed(token, from_cc="DE", from_pid="EMS"))
    assert "OCPI-to-party-id" not in response
