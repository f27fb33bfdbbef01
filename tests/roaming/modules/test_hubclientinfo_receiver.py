"""HubClientInfo receiver: a hub tells us about the parties it connects us with, and may then
relay for them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from roaming.choices import ConnectionStatus, Role
from roaming.models import HubClientInfo, Partner, Party
from tests.roaming.conftest import auth, make_partner
from tests.roaming.modules.conftest import data, from_party

pytestmark = pytest.mark.django_db

UPDATED = "2025-05-01T10:00:00Z"


@pytest.fixture
def hub(hub_party: Party) -> tuple[Partner, str]:
    """A hub connection that (as 2.2.1 hubs do) listed only itself in its credentials."""
    return make_partner(parties=[hub_party], name="Roaming hub")


def url(country_code: str, party_id: str, version: str = "2.2.1") -> str:
    return f"/ocpi/{version}/hubclientinfo/{country_code}/{party_id}"


def client_info(country_code: str = "BE", party_id: str = "NEW", **changes: Any) -> dict[str, Any]:
    return {
        "country_code": country_code,
        "party_id": party_id,
        "role": "EMSP",
        "status": "CONNECTED",
        "last_updated": UPDATED,
        **changes,
    }


def put(client: Client, token: str, path: str, body: Any, **headers: str) -> Any:
    raw = body if isinstance(body, str) else json.dumps(body)
    return client.put(
        path, raw, content_type="application/json", headers={**auth(token), **headers}
    )


def status(response: Any) -> tuple[int, int]:
    return response.status_code, response.json()["status_code"]


def test_client_info_of_a_new_party_registers_it_and_answers_201(client, hub) -> None:
    partner, token = hub
    response = put(client, token, url("BE", "NEW"), client_info())
    assert status(response) == (201, 1000)
    party = Party.objects.get_by_code("BE", "NEW")
    assert (party.roles, party.is_ours) == (["EMSP"], False)
    info = HubClientInfo.objects.get(hub=partner, party=party)
    assert (info.status, info.last_updated) == (
        ConnectionStatus.CONNECTED,
        datetime(2025, 5, 1, 10, tzinfo=UTC),
    )


def test_the_hub_then_speaks_for_the_party(client, hub) -> None:
    partner, token = hub
    put(client, token, url("BE", "NEW"), client_info())
    assert partner.parties.filter(country_code="BE", party_id="NEW").exists()


def test_the_hub_may_then_relay_the_partys_token_pushes(client, hub) -> None:
    _, token = hub
    put(client, token, url("BE", "NEW"), client_info())
    party = Party.objects.get_by_code("BE", "NEW")
    token_object = {
        "country_code": "BE",
        "party_id": "NEW",
        "uid": "04A1B2",
        "type": "RFID",
        "contract_id": "BE-NEW-C00000001",
        "issuer": "New eMSP",
        "valid": True,
        "whitelist": "ALWAYS",
        "last_updated": UPDATED,
    }
    response = put(
        client, token, "/ocpi/2.2.1/tokens/BE/NEW/04A1B2", token_object, **from_party(party)
    )
    assert status(response) == (201, 1000)


def test_before_its_client_info_the_hub_may_not_relay_for_a_party(client, hub) -> None:
    _, token = hub
    headers = {"OCPI-from-country-code": "BE", "OCPI-from-party-id": "NEW"}
    response = client.get("/ocpi/2.2.1/tokens/BE/NEW/04A1B2", headers={**auth(token), **headers})
    assert response.status_code == 403


def test_an_update_answers_200_and_keeps_one_row(client, hub) -> None:
    partner, token = hub
    put(client, token, url("BE", "NEW"), client_info())
    response = put(client, token, url("BE", "NEW"), client_info(status="OFFLINE"))
    assert status(response) == (200, 1000)
    (info,) = HubClientInfo.objects.filter(hub=partner)
    assert info.status == ConnectionStatus.OFFLINE


def test_an_offline_party_stays_spoken_for(client, hub) -> None:
    partner, token = hub
    put(client, token, url("BE", "NEW"), client_info(status="OFFLINE"))
    assert partner.parties.filter(party_id="NEW").exists()


def test_a_suspended_party_is_no_longer_spoken_for(client, hub) -> None:
    partner, token = hub
    put(client, token, url("BE", "NEW"), client_info())
    put(client, token, url("BE", "NEW"), client_info(status="SUSPENDED"))
    assert not partner.parties.filter(party_id="NEW").exists()
    assert Party.objects.filter(party_id="NEW").exists()


def test_a_known_party_gains_the_role_and_keeps_its_others(client, hub, emsp) -> None:
    _, token = hub
    put(client, token, url("DE", "EMS"), client_info("DE", "EMS", role="CPO"))
    emsp.refresh_from_db()
    assert emsp.roles == ["CPO", "EMSP"]
    assert emsp.name == "Example eMSP"


def test_one_of_our_own_parties_is_recorded_but_never_spoken_for(client, hub, our_cpo) -> None:
    partner, token = hub
    body = client_info(our_cpo.country_code, our_cpo.party_id, role="CPO")
    response = put(client, token, url(our_cpo.country_code, our_cpo.party_id), body)
    assert status(response) == (201, 1000)
    assert not partner.parties.filter(pk=our_cpo.pk).exists()
    our_cpo.refresh_from_db()
    assert our_cpo.is_ours


def test_the_hubs_own_party_stays_spoken_for_whatever_it_reports(client, hub, hub_party) -> None:
    partner, token = hub
    body = client_info("NL", "HUB", role="HUB", status="SUSPENDED")
    put(client, token, url("NL", "HUB"), body)
    assert partner.parties.filter(pk=hub_party.pk).exists()


def test_get_returns_what_the_hub_told_us(client, hub) -> None:
    _, token = hub
    put(client, token, url("BE", "NEW"), client_info(status="PLANNED"))
    response = client.get(url("be", "new"), headers=auth(token))
    assert status(response) == (200, 1000)
    assert data(response) == client_info(status="PLANNED")


def test_get_of_a_party_the_hub_never_reported_answers_404(client, hub, emsp) -> None:
    _, token = hub
    assert client.get(url("DE", "EMS"), headers=auth(token)).status_code == 404


def test_get_does_not_show_what_another_hub_reported(client, hub) -> None:
    _, token = hub
    put(client, token, url("BE", "NEW"), client_info())
    other_party = Party.objects.create(
        country_code="FR", party_id="HB2", name="Other hub", roles=[Role.HUB.value]
    )
    _, other_token = make_partner(parties=[other_party], name="Other hub")
    assert client.get(url("BE", "NEW"), headers=auth(other_token)).status_code == 404


def test_version_2_3_0_is_served_too(client, hub) -> None:
    _, token = hub
    response = put(client, token, url("BE", "NEW", "2.3.0"), client_info())
    assert status(response) == (201, 1000)


def test_2_1_1_has_no_hubclientinfo(client, hub) -> None:
    _, token = hub
    assert put(client, token, url("BE", "NEW", "2.1.1"), client_info()).status_code == 404


# --- bad input --------------------------------------------------------------------------------


def test_a_connection_that_is_no_hub_is_refused_with_403(client, emsp_token) -> None:
    response = put(client, emsp_token, url("BE", "NEW"), client_info())
    assert response.status_code == 403
    assert not Party.objects.filter(party_id="NEW").exists()


def test_an_unknown_credentials_token_answers_401(client, db) -> None:
    assert put(client, "nope", url("BE", "NEW"), client_info()).status_code == 401


def test_token_a_does_not_reach_hubclientinfo(client, invited) -> None:
    _, token_a = invited
    assert put(client, token_a, url("BE", "NEW"), client_info()).status_code == 401


def test_a_body_for_another_party_than_the_url_answers_2001(client, hub) -> None:
    _, token = hub
    response = put(client, token, url("BE", "NEW"), client_info(party_id="OTH"))
    assert status(response) == (200, 2001)
    assert response.json()["status_message"].startswith("party_id:")
    assert not Party.objects.filter(country_code="BE").exists()


@pytest.mark.parametrize("missing", ["role", "status", "last_updated", "party_id"])
def test_a_missing_field_answers_2001_naming_it(client, hub, missing) -> None:
    _, token = hub
    body = client_info()
    del body[missing]
    response = put(client, token, url("BE", "NEW"), body)
    assert status(response) == (200, 2001)
    assert missing in response.json()["status_message"]


@pytest.mark.parametrize("version", ["2.2.1", "2.3.0"])
def test_an_unknown_status_is_refused_in_every_version(client, hub, version) -> None:
    _, token = hub
    response = put(client, token, url("BE", "NEW", version), client_info(status="SLEEPING"))
    assert status(response) == (200, 2001)
    assert response.json()["status_message"].startswith("status:")


def test_an_unknown_role_is_refused(client, hub) -> None:
    _, token = hub
    response = put(client, token, url("BE", "NEW", "2.3.0"), client_info(role="WIZARD"))
    assert status(response) == (200, 2001)


def test_the_ptp_role_does_not_exist_in_2_2_1(client, hub) -> None:
    _, token = hub
    response = put(client, token, url("BE", "NEW"), client_info(role="PTP"))
    assert status(response) == (200, 2001)


def test_a_body_that_is_not_json_answers_400(client, hub) -> None:
    _, token = hub
    assert put(client, token, url("BE", "NEW"), "{oops").status_code == 400


def test_a_malformed_party_id_answers_2001(client, hub) -> None:
    _, token = hub
    response = put(client, token, url("BE", "N-W"), client_info(party_id="N-W"))
    assert status(response) == (200, 2001)
    assert not Party.objects.filter(country_code="BE").exists()
