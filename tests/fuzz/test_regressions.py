"""Inputs the fuzz tests found to break an endpoint, each pinned as a plain test.

Each test names the input that broke and the answer it must get now: never a server error, always
the OCPI envelope.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from roaming.models import Party
from tests.locations.factories import ConnectorFactory
from tests.roaming.conftest import auth, make_partner
from tests.sessions_app.factories import SessionFactory, TokenFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def emsp_token(emsp: Party) -> str:
    _, token = make_partner(parties=[emsp])
    return token


def envelope(response: Any) -> dict[str, Any]:
    assert response["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert isinstance(body["status_code"], int)
    assert body["timestamp"].endswith("Z")
    return body


# A date-time inside datetime's range whose UTC form is not (year 1 ahead of UTC, year 9999
# behind it) made the conversion overflow: HTTP 500.
OUT_OF_RANGE_DATETIMES = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]


@pytest.mark.parametrize("value", OUT_OF_RANGE_DATETIMES)
@pytest.mark.parametrize("module", ["locations", "tariffs", "sessions", "cdrs"])
def test_date_from_outside_the_utc_range_is_an_invalid_parameter(
    client: Client, emsp_token: str, module: str, value: str
) -> None:
    response = client.get(f"/ocpi/2.2.1/{module}/", {"date_from": value}, headers=auth(emsp_token))

    assert response.status_code == 200
    body = envelope(response)
    assert body["status_code"] == 2001
    assert "date_from" in body["status_message"]


@pytest.mark.parametrize("value", OUT_OF_RANGE_DATETIMES)
def test_token_last_updated_outside_the_utc_range_is_an_invalid_field(
    client: Client, emsp: Party, emsp_token: str, value: str
) -> None:
    token = {
        "country_code": emsp.country_code,
        "party_id": emsp.party_id,
        "uid": "FUZZ0001",
        "type": "RFID",
        "contract_id": "DE-EMS-C00000001",
        "issuer": "Fuzz eMSP",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": value,
    }
    response = client.put(
        f"/ocpi/2.2.1/tokens/{emsp.country_code}/{emsp.party_id}/FUZZ0001",
        token,
        content_type="application/json",
        headers=auth(emsp_token),
    )

    assert response.status_code == 200
    body = envelope(response)
    assert body["status_code"] == 2001
    assert "last_updated" in body["status_message"]


def test_charging_profile_limit_too_large_for_a_decimal_is_an_invalid_field(
    client: Client, emsp_token: str
) -> None:
    """A limit of 1e30 could not be rounded to our places: decimal.InvalidOperation, HTTP 500."""
    body = {
        "charging_profile": {
            "charging_rate_unit": "W",
            "charging_profile_period": [{"start_period": 0, "limit": 1e30}],
        },
        "response_url": "https://emsp.example.com/ocpi/2.2.1/chargingprofiles/1",
    }
    response = client.put(
        "/ocpi/2.2.1/chargingprofiles/SES1",
        body,
        content_type="application/json",
        headers=auth(emsp_token),
    )

    assert response.status_code == 200
    body = envelope(response)
    assert body["status_code"] == 2001
    assert "limit" in body["status_message"]


def test_start_session_with_a_token_uid_our_model_refuses_is_an_invalid_field(
    client: Client, emsp: Party, emsp_token: str
) -> None:
    """A new token with uid "\\x1b" failed the Token model's validation inside the command:
    HTTP 500."""
    connector = ConnectorFactory.create()
    command = {
        "response_url": "https://emsp.example.com/ocpi/2.2.1/commands/START_SESSION/1",
        "token": {
            "country_code": emsp.country_code,
            "party_id": emsp.party_id,
            "uid": "\x1b",
            "type": "RFID",
            "contract_id": "0",
            "issuer": "0",
            "valid": False,
            "whitelist": "NEVER",
            "last_updated": "2000-01-01T00:00:00Z",
        },
        "location_id": connector.evse.location.ocpi_id,
        "evse_uid": connector.evse.uid,
        "connector_id": connector.ocpi_id,
    }
    response = client.post(
        "/ocpi/2.2.1/commands/START_SESSION",
        command,
        content_type="application/json",
        headers=auth(emsp_token),
    )

    assert response.status_code == 200
    answer = envelope(response)
    assert answer["status_code"] == 2001
    assert "token.uid" in answer["status_message"]


@pytest.mark.parametrize("module", ["locations", "tariffs", "sessions", "cdrs"])
def test_offset_beyond_a_64_bit_integer_is_an_invalid_parameter(
    client: Client, emsp_token: str, module: str
) -> None:
    """offset=9223372036854775808 reached the database's OFFSET: HTTP 500."""
    response = client.get(
        f"/ocpi/2.3.0/{module}/", {"offset": str(2**63), "limit": "1"}, headers=auth(emsp_token)
    )

    assert response.status_code == 200
    answer = envelope(response)
    assert answer["status_code"] == 2001
    assert "offset" in answer["status_message"]


def test_charging_profile_with_a_nul_key_is_accepted_without_storing_it(
    client: Client, emsp: Party, emsp_token: str
) -> None:
    """An unknown key "\\u0000" was stored with the raw body; PostgreSQL refused it: HTTP 500."""
    session = SessionFactory.create(token=TokenFactory.create(owner=emsp))
    body = {
        "charging_profile": {"\u0000": None, "charging_rate_unit": "A"},
        "response_url": "https://emsp.example.com/ocpi/2.2.1/chargingprofiles/1",
    }
    response = client.put(
        f"/ocpi/2.2.1/chargingprofiles/{session.ocpi_id}",
        body,
        content_type="application/json",
        headers=auth(emsp_token),
    )

    assert response.status_code == 200
    answer = envelope(response)
    assert answer["status_code"] == 1000
    assert answer["data"]["result"] == "ACCEPTED"


def test_a_command_with_a_nul_key_is_answered_without_storing_it(
    client: Client, emsp: Party, emsp_token: str
) -> None:
    """A command's raw body was stored as its request; PostgreSQL refuses "\\u0000" in JSON."""
    connector = ConnectorFactory.create()
    command = {
        "\u0000": "x",
        "response_url": "https://emsp.example.com/ocpi/2.2.1/commands/UNLOCK_CONNECTOR/1",
        "location_id": connector.evse.location.ocpi_id,
        "evse_uid": connector.evse.uid,
        "connector_id": connector.ocpi_id,
    }
    response = client.post(
        "/ocpi/2.2.1/commands/UNLOCK_CONNECTOR",
        command,
        content_type="application/json",
        headers=auth(emsp_token),
    )

    assert response.status_code == 200
    answer = envelope(response)
    assert answer["status_code"] == 1000
    assert answer["data"]["result"] == "ACCEPTED"


def test_a_command_the_version_lacks_still_refuses_a_body_that_is_not_json(
    client: Client, emsp_token: str
) -> None:
    """CANCEL_RESERVATION is not in 2.1.1; its NOT_SUPPORTED answer accepted a body of b"\\x00"."""
    response = client.post(
        "/ocpi/2.1.1/commands/CANCEL_RESERVATION",
        b"\x00",
        content_type="application/json",
        headers={"Authorization": f"Token {emsp_token}"},
    )

    assert response.status_code == 400
    assert envelope(response)["status_code"] == 2000
