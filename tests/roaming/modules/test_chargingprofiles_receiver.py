"""Charging profiles receiver: set, get and clear a session's limit; results POSTed later."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from django.test import Client

from roaming.client import OcpiResponse
from sessions_app.choices import ChargerAction, CommandResultType, CommandType, SessionStatus
from sessions_app.commands import command_answer, command_timeout_due
from sessions_app.models import ActiveChargingProfile, ChargerInstruction, Command
from tests.roaming.conftest import auth
from tests.roaming.modules.conftest import data
from tests.sessions_app.factories import SessionFactory, TokenFactory

pytestmark = pytest.mark.django_db

RESPONSE_URL = "https://emsp.example.com/ocpi/2.2.1/chargingprofiles/result/7"
PROFILE = {
    "charging_rate_unit": "W",
    "charging_profile_period": [
        {"start_period": 0, "limit": 11000},
        {"start_period": 1800, "limit": 7400.5},
    ],
}


class ResultPosts:
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


@pytest.fixture
def session(emsp):
    return SessionFactory.create(token=TokenFactory.create(owner=emsp))


def url(session_id: str, query: str = "", version: str = "2.2.1") -> str:
    path = f"/ocpi/{version}/chargingprofiles/{session_id}"
    return f"{path}?{query}" if query else path


def put(client: Client, token: str, session_id: str, body: Any) -> Any:
    return client.put(
        url(session_id), json.dumps(body), content_type="application/json", headers=auth(token)
    )


def test_set_profile_is_accepted_and_sent_to_the_charger(client, emsp_token, session) -> None:
    response = put(
        client,
        emsp_token,
        session.ocpi_id,
        {"charging_profile": PROFILE, "response_url": RESPONSE_URL},
    )
    assert data(response)["result"] == "ACCEPTED"
    assert data(response)["timeout"] > 0
    instruction = ChargerInstruction.objects.get()
    assert instruction.action == ChargerAction.SET_CHARGING_PROFILE
    assert instruction.payload["charging_profile"]["charging_profile_period"][1]["limit"] == 7400.5


def test_set_profile_with_a_bad_unit_is_2001_naming_it(client, emsp_token, session) -> None:
    body = {
        "charging_profile": {**PROFILE, "charging_rate_unit": "kW"},
        "response_url": RESPONSE_URL,
    }
    answer = put(client, emsp_token, session.ocpi_id, body).json()
    assert answer["status_code"] == 2001
    assert "charging_profile.charging_rate_unit" in answer["status_message"]


def test_set_profile_with_two_decimals_is_2001(client, emsp_token, session) -> None:
    periods = [{"start_period": 0, "limit": 16.25}]
    body = {
        "charging_profile": {"charging_rate_unit": "A", "charging_profile_period": periods},
        "response_url": RESPONSE_URL,
    }
    assert put(client, emsp_token, session.ocpi_id, body).json()["status_code"] == 2001


def test_set_profile_without_response_url_is_2001(client, emsp_token, session) -> None:
    answer = put(client, emsp_token, session.ocpi_id, {"charging_profile": PROFILE}).json()
    assert answer["status_code"] == 2001
    assert "response_url" in answer["status_message"]


def test_profile_of_an_unknown_session_is_unknown_session(client, emsp_token) -> None:
    body = {"charging_profile": PROFILE, "response_url": RESPONSE_URL}
    assert data(put(client, emsp_token, "NOPE", body))["result"] == "UNKNOWN_SESSION"


def test_profile_of_another_partys_session_is_unknown_session(client, emsp_token, outsider) -> None:
    theirs = SessionFactory.create(token=TokenFactory.create(owner=outsider))
    body = {"charging_profile": PROFILE, "response_url": RESPONSE_URL}
    assert data(put(client, emsp_token, theirs.ocpi_id, body))["result"] == "UNKNOWN_SESSION"


def test_profile_of_a_finished_session_is_rejected(client, emsp, emsp_token) -> None:
    done = SessionFactory.create(
        token=TokenFactory.create(owner=emsp), status=SessionStatus.COMPLETED
    )
    body = {"charging_profile": PROFILE, "response_url": RESPONSE_URL}
    assert data(put(client, emsp_token, done.ocpi_id, body))["result"] == "REJECTED"


def test_accepted_profile_is_kept_as_the_sessions_active_profile_and_reported(
    client, emsp_token, session, results, django_capture_on_commit_callbacks
) -> None:
    put(
        client,
        emsp_token,
        session.ocpi_id,
        {"charging_profile": PROFILE, "response_url": RESPONSE_URL},
    )
    with django_capture_on_commit_callbacks(execute=True):
        command_answer(
            command_id=Command.objects.get().pk,
            result=CommandResultType.ACCEPTED,
            data={"charging_profile": PROFILE},
        )
    assert ActiveChargingProfile.objects.get(session=session).charging_profile == PROFILE
    assert results.posts == [(RESPONSE_URL, {"result": "ACCEPTED"})]


def test_get_needs_duration_and_response_url(client, emsp_token, session) -> None:
    response = client.get(url(session.ocpi_id, "duration=900"), headers=auth(emsp_token))
    assert response.json()["status_code"] == 2001
    assert "response_url" in response.json()["status_message"]


def test_get_active_profile_result_carries_the_profile(
    client, emsp_token, session, results, django_capture_on_commit_callbacks
) -> None:
    query = f"duration=900&response_url={RESPONSE_URL}"
    response = client.get(url(session.ocpi_id, query), headers=auth(emsp_token))
    assert data(response)["result"] == "ACCEPTED"
    command = Command.objects.get()
    assert command.command_type == CommandType.GET_ACTIVE_CHARGING_PROFILE
    active = {"start_date_time": "2025-06-01T12:00:00Z", "charging_profile": PROFILE}
    with django_capture_on_commit_callbacks(execute=True):
        command_answer(
            command_id=command.pk, result=CommandResultType.ACCEPTED, data={"profile": active}
        )
    assert results.posts == [(RESPONSE_URL, {"result": "ACCEPTED", "profile": active})]


def test_unanswered_get_ends_as_unknown(
    client, emsp_token, session, results, django_capture_on_commit_callbacks
) -> None:
    query = f"duration=900&response_url={RESPONSE_URL}"
    client.get(url(session.ocpi_id, query), headers=auth(emsp_token))
    with django_capture_on_commit_callbacks(execute=True):
        command_timeout_due(now=Command.objects.get().deadline)
    assert results.posts == [(RESPONSE_URL, {"result": "UNKNOWN"})]


def test_clear_removes_the_active_profile_once_the_charger_confirms(
    client, emsp_token, session, results, django_capture_on_commit_callbacks
) -> None:
    ActiveChargingProfile.objects.create(
        session=session, start_date_time=session.start_date_time, charging_profile=PROFILE
    )
    response = client.delete(
        url(session.ocpi_id, f"response_url={RESPONSE_URL}"), headers=auth(emsp_token)
    )
    assert data(response)["result"] == "ACCEPTED"
    with django_capture_on_commit_callbacks(execute=True):
        command_answer(command_id=Command.objects.get().pk, result=CommandResultType.ACCEPTED)
    assert not ActiveChargingProfile.objects.filter(session=session).exists()
    assert results.posts == [(RESPONSE_URL, {"result": "ACCEPTED"})]


def test_charging_profiles_are_not_offered_in_211(client, emsp_token, session) -> None:
    response = client.get(
        url(session.ocpi_id, f"duration=1&response_url={RESPONSE_URL}", version="2.1.1"),
        headers=auth(emsp_token, encoded=False),
    )
    assert response.status_code == 404
