"""Commands receiver: eMSPs' commands validated, answered at once, and results POSTed later."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from locations.choices import Status
from roaming.client import OcpiResponse
from roaming.models import Party
from sessions_app.choices import (
    ChargerAction,
    CommandResultType,
    CommandState,
    CommandType,
    ReservationStatus,
    SessionStatus,
)
from sessions_app.commands import command_answer, command_timeout_due
from sessions_app.models import ChargerInstruction, Command, Reservation, Token
from tests.locations.factories import ConnectorFactory
from tests.roaming.conftest import auth
from tests.roaming.modules.conftest import data
from tests.sessions_app.factories import ReservationFactory, SessionFactory, TokenFactory

pytestmark = pytest.mark.django_db

RESPONSE_URL = "https://emsp.example.com/ocpi/2.2.1/commands/START_SESSION/42"


class ResultPosts:
    """Stands in for roaming.client.call in sessions_app.tasks: records the result POSTs."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, Any]] = []

    def __call__(self, method: str, url: str, **kwargs: Any) -> OcpiResponse:
        self.posts.append((url, kwargs["json"]))
        return OcpiResponse(200, 1000, "Success", None, httpx.Headers())


@pytest.fixture
def results(monkeypatch: pytest.MonkeyPatch) -> ResultPosts:
    posts = ResultPosts()
    monkeypatch.setattr("sessions_app.tasks.call", posts)
    return posts


def post(client: Client, token: str, command: str, body: Any, version: str = "2.2.1") -> Any:
    return client.post(
        f"/ocpi/{version}/commands/{command}",
        json.dumps(body),
        content_type="application/json",
        headers=auth(token, encoded=version != "2.1.1"),
    )


def token_object(party: Party, **changes: Any) -> dict[str, Any]:
    return {
        "country_code": party.country_code,
        "party_id": party.party_id,
        "uid": "0102030405",
        "type": "RFID",
        "contract_id": f"{party.country_code}-{party.party_id}-C00000042",
        "issuer": party.name,
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": "2025-06-01T12:00:00Z",
        **changes,
    }


def start_body(emsp: Party, connector, **changes: Any) -> dict[str, Any]:
    return {
        "response_url": RESPONSE_URL,
        "token": token_object(emsp),
        "location_id": connector.evse.location.ocpi_id,
        "evse_uid": connector.evse.uid,
        "connector_id": connector.ocpi_id,
        "authorization_reference": "AUTH-1",
        **changes,
    }


def test_start_session_is_accepted_with_a_timeout(client, emsp, emsp_token, settings) -> None:
    settings.CHARGING_COMMAND_TIMEOUT_SECONDS = 45
    connector = ConnectorFactory.create()
    response = post(client, emsp_token, "START_SESSION", start_body(emsp, connector))
    assert response.status_code == 200
    assert response.json()["status_code"] == 1000
    assert data(response) == {"result": "ACCEPTED", "timeout": 45}


def test_accepted_start_session_instructs_the_charger(client, emsp, emsp_token) -> None:
    connector = ConnectorFactory.create()
    post(client, emsp_token, "START_SESSION", start_body(emsp, connector))
    instruction = ChargerInstruction.objects.get()
    assert instruction.evse == connector.evse
    assert instruction.action == ChargerAction.START
    assert instruction.payload["connector_id"] == connector.pk
    assert instruction.payload["authorization_reference"] == "AUTH-1"
    assert Command.objects.get().command_type == CommandType.START_SESSION


def test_start_session_stores_a_token_we_did_not_have(client, emsp, emsp_token) -> None:
    post(client, emsp_token, "START_SESSION", start_body(emsp, ConnectorFactory.create()))
    assert Token.objects.get().uid == "0102030405"


@pytest.mark.parametrize("field", ["response_url", "token", "location_id"])
def test_start_session_without_a_required_field_is_2001_naming_it(
    client, emsp, emsp_token, field
) -> None:
    body = start_body(emsp, ConnectorFactory.create())
    del body[field]
    answer = post(client, emsp_token, "START_SESSION", body).json()
    assert answer["status_code"] == 2001
    assert field in answer["status_message"]


def test_a_bad_token_inside_a_command_is_2001_naming_the_field(client, emsp, emsp_token) -> None:
    body = start_body(
        emsp, ConnectorFactory.create(), token=token_object(emsp, whitelist="SOMETIMES")
    )
    answer = post(client, emsp_token, "START_SESSION", body).json()
    assert answer["status_code"] == 2001
    assert "token.whitelist" in answer["status_message"]


def test_start_session_at_an_unknown_location_is_2003(client, emsp, emsp_token) -> None:
    body = start_body(emsp, ConnectorFactory.create(), location_id="NOWHERE")
    answer = post(client, emsp_token, "START_SESSION", body).json()
    assert answer["status_code"] == 2003
    assert answer["data"]["result"] == "REJECTED"
    assert not Command.objects.exists()


def test_start_session_at_an_unknown_evse_is_rejected(client, emsp, emsp_token) -> None:
    body = start_body(emsp, ConnectorFactory.create(), evse_uid="NO-SUCH-EVSE")
    assert data(post(client, emsp_token, "START_SESSION", body))["result"] == "REJECTED"


def test_start_session_at_a_removed_evse_is_rejected(client, emsp, emsp_token) -> None:
    connector = ConnectorFactory.create(evse__status=Status.REMOVED)
    answer = data(post(client, emsp_token, "START_SESSION", start_body(emsp, connector)))
    assert answer["result"] == "REJECTED"
    assert not ChargerInstruction.objects.exists()


def test_start_session_with_another_partys_token_is_2001(
    client, emsp, outsider, emsp_token
) -> None:
    body = start_body(emsp, ConnectorFactory.create(), token=token_object(outsider))
    answer = post(client, emsp_token, "START_SESSION", body).json()
    assert answer["status_code"] == 2001
    assert "token" in answer["status_message"]


def test_unknown_command_path_is_404(client, emsp_token) -> None:
    response = post(client, emsp_token, "FLY_TO_THE_MOON", {"response_url": RESPONSE_URL})
    assert response.status_code == 404


def test_cancel_reservation_is_not_supported_in_211(client, emsp_token) -> None:
    response = post(
        client,
        emsp_token,
        "CANCEL_RESERVATION",
        {"response_url": RESPONSE_URL, "reservation_id": "R1"},
        version="2.1.1",
    )
    assert data(response) == {"result": "NOT_SUPPORTED"}


def test_stop_session_of_an_unknown_session_is_unknown_session(client, emsp_token) -> None:
    body = {"response_url": RESPONSE_URL, "session_id": "NOPE"}
    assert data(post(client, emsp_token, "STOP_SESSION", body))["result"] == "UNKNOWN_SESSION"


def test_stop_session_of_another_partys_session_is_unknown_session(
    client, emsp_token, outsider
) -> None:
    theirs = SessionFactory.create(token=TokenFactory.create(owner=outsider))
    body = {"response_url": RESPONSE_URL, "session_id": theirs.ocpi_id}
    assert data(post(client, emsp_token, "STOP_SESSION", body))["result"] == "UNKNOWN_SESSION"
    assert not Command.objects.exists()


def test_stop_session_of_a_finished_session_is_rejected(client, emsp, emsp_token) -> None:
    done = SessionFactory.create(
        token=TokenFactory.create(owner=emsp), status=SessionStatus.COMPLETED
    )
    body = {"response_url": RESPONSE_URL, "session_id": done.ocpi_id}
    assert data(post(client, emsp_token, "STOP_SESSION", body))["result"] == "REJECTED"


def test_stop_session_of_own_session_instructs_the_charger(client, emsp, emsp_token) -> None:
    session = SessionFactory.create(token=TokenFactory.create(owner=emsp))
    body = {"response_url": RESPONSE_URL, "session_id": session.ocpi_id.lower()}
    assert data(post(client, emsp_token, "STOP_SESSION", body))["result"] == "ACCEPTED"
    instruction = ChargerInstruction.objects.get()
    assert instruction.action == ChargerAction.STOP
    assert instruction.payload == {"session_id": session.pk}


def test_unlock_connector_of_an_unknown_connector_is_rejected(client, emsp_token) -> None:
    connector = ConnectorFactory.create()
    body = {
        "response_url": RESPONSE_URL,
        "location_id": connector.evse.location.ocpi_id,
        "evse_uid": connector.evse.uid,
        "connector_id": "99",
    }
    assert data(post(client, emsp_token, "UNLOCK_CONNECTOR", body))["result"] == "REJECTED"


def test_unlock_connector_at_an_unknown_location_is_2003(client, emsp_token) -> None:
    body = {
        "response_url": RESPONSE_URL,
        "location_id": "NOWHERE",
        "evse_uid": "E1",
        "connector_id": "1",
    }
    assert post(client, emsp_token, "UNLOCK_CONNECTOR", body).json()["status_code"] == 2003


def test_reserve_now_in_the_past_is_rejected(client, emsp, emsp_token) -> None:
    connector = ConnectorFactory.create()
    body = {
        "response_url": RESPONSE_URL,
        "token": token_object(emsp),
        "expiry_date": "2020-01-01T00:00:00Z",
        "reservation_id": "R1",
        "location_id": connector.evse.location.ocpi_id,
        "evse_uid": connector.evse.uid,
    }
    assert data(post(client, emsp_token, "RESERVE_NOW", body))["result"] == "REJECTED"


def test_reservation_accepted_by_the_charger_is_recorded_with_its_expiry(
    client, emsp, emsp_token, results, django_capture_on_commit_callbacks
) -> None:
    connector = ConnectorFactory.create()
    body = {
        "response_url": RESPONSE_URL,
        "token": token_object(emsp),
        "expiry_date": "2099-01-01T10:00:00Z",
        "reservation_id": "R1",
        "location_id": connector.evse.location.ocpi_id,
        "evse_uid": connector.evse.uid,
    }
    assert data(post(client, emsp_token, "RESERVE_NOW", body))["result"] == "ACCEPTED"
    command = Command.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        command_answer(command_id=command.pk, result=CommandResultType.ACCEPTED)
    reservation = Reservation.objects.get()
    assert reservation.reservation_id == "R1"
    assert reservation.evse == connector.evse
    assert reservation.expiry_date.year == 2099
    assert results.posts == [(RESPONSE_URL, {"result": "ACCEPTED"})]


def test_cancel_reservation_of_anothers_reservation_is_rejected(
    client, emsp_token, outsider
) -> None:
    theirs = ReservationFactory.create(token=TokenFactory.create(owner=outsider), emsp=outsider)
    body = {"response_url": RESPONSE_URL, "reservation_id": theirs.reservation_id}
    assert data(post(client, emsp_token, "CANCEL_RESERVATION", body))["result"] == "REJECTED"


def test_cancel_reservation_confirmed_by_the_charger_cancels_it(
    client, emsp, emsp_token, results, django_capture_on_commit_callbacks
) -> None:
    reservation = ReservationFactory.create(token=TokenFactory.create(owner=emsp), emsp=emsp)
    body = {"response_url": RESPONSE_URL, "reservation_id": reservation.reservation_id}
    assert data(post(client, emsp_token, "CANCEL_RESERVATION", body))["result"] == "ACCEPTED"
    with django_capture_on_commit_callbacks(execute=True):
        command_answer(command_id=Command.objects.get().pk, result=CommandResultType.ACCEPTED)
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.CANCELED


def test_the_chargers_answer_is_posted_to_the_response_url(
    client, emsp, emsp_token, results, django_capture_on_commit_callbacks
) -> None:
    post(client, emsp_token, "START_SESSION", start_body(emsp, ConnectorFactory.create()))
    command = Command.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        command_answer(command_id=command.pk, result=CommandResultType.EVSE_OCCUPIED)
    assert results.posts == [(RESPONSE_URL, {"result": "EVSE_OCCUPIED"})]
    command.refresh_from_db()
    assert command.state == CommandState.ANSWERED
    assert command.result_sent_at is not None


def test_an_unanswered_command_gets_timeout_at_its_deadline(
    client, emsp, emsp_token, results, django_capture_on_commit_callbacks
) -> None:
    post(client, emsp_token, "START_SESSION", start_body(emsp, ConnectorFactory.create()))
    command = Command.objects.get()
    assert command_timeout_due(now=command.deadline - timedelta(seconds=1)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert command_timeout_due(now=command.deadline) == 1
    assert results.posts == [(RESPONSE_URL, {"result": "TIMEOUT"})]
    assert ChargerInstruction.objects.get().taken_at is not None  # the charger won't act late


def test_an_answer_after_the_timeout_changes_nothing(
    client, emsp, emsp_token, results, django_capture_on_commit_callbacks
) -> None:
    post(client, emsp_token, "START_SESSION", start_body(emsp, ConnectorFactory.create()))
    command = Command.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        command_timeout_due(now=command.deadline)
        command_answer(command_id=command.pk, result=CommandResultType.ACCEPTED)
    command.refresh_from_db()
    assert command.result == CommandResultType.TIMEOUT
    assert results.posts == [(RESPONSE_URL, {"result": "TIMEOUT"})]


def test_results_in_211_use_the_211_words(
    client, emsp, registered, results, django_capture_on_commit_callbacks
) -> None:
    _partner, token = registered
    connector = ConnectorFactory.create()
    body = {
        "response_url": RESPONSE_URL,
        "token": {
            "uid": "0102030405",
            "type": "RFID",
            "auth_id": "DE-EMS-C00000042",
            "issuer": "Example",
            "valid": True,
            "whitelist": "ALLOWED",
            "last_updated": "2025-06-01T12:00:00Z",
        },
        "location_id": connector.evse.location.ocpi_id,
        "evse_uid": connector.evse.uid,
    }
    assert data(post(client, token, "START_SESSION", body, version="2.1.1")) == {
        "result": "ACCEPTED"
    }
    with django_capture_on_commit_callbacks(execute=True):
        command_answer(command_id=Command.objects.get().pk, result=CommandResultType.EVSE_OCCUPIED)
    assert results.posts == [(RESPONSE_URL, {"result": "REJECTED"})]


def test_start_session_without_evse_uid_takes_a_free_evse_of_the_location(
    client, emsp, emsp_token
) -> None:
    busy = ConnectorFactory.create(evse__status=Status.CHARGING)
    free = ConnectorFactory.create(evse__location=busy.evse.location)
    body = start_body(emsp, busy)
    del body["evse_uid"], body["connector_id"]
    assert data(post(client, emsp_token, "START_SESSION", body))["result"] == "ACCEPTED"
    assert ChargerInstruction.objects.get().evse == free.evse


def test_start_session_without_evse_uid_reads_no_connectors(client, emsp, emsp_token) -> None:
    connector = ConnectorFactory.create()
    body = start_body(emsp, connector)
    del body["evse_uid"], body["connector_id"]

    with CaptureQueriesContext(connection) as queries:
        assert data(post(client, emsp_token, "START_SESSION", body))["result"] == "ACCEPTED"

    assert not [q for q in queries.captured_queries if "locations_connector" in q["sql"]]


def test_start_session_in_230_is_accepted(client, emsp, emsp_token, settings) -> None:
    settings.CHARGING_COMMAND_TIMEOUT_SECONDS = 60
    body = start_body(emsp, ConnectorFactory.create())
    assert data(post(client, emsp_token, "START_SESSION", body, version="2.3.0")) == {
        "result": "ACCEPTED",
        "timeout": 60,
    }


def test_a_hub_must_say_which_party_sends_the_command(client, emsp, hub_token) -> None:
    body = {"response_url": RESPONSE_URL, "session_id": "S1"}
    answer = post(client, hub_token, "STOP_SESSION", body).json()
    assert answer["status_code"] == 2001
    assert "OCPI-from" in answer["status_message"]
