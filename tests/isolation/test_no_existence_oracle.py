"""Another party's object answers exactly as an object that does not exist.

The matrix checks the codes; these tests check that nothing else in the answer (message, data)
tells an eMSP whether an id it guessed belongs to someone else. Regressions of:

* STOP_SESSION of another eMSP's session answered REJECTED (UNKNOWN_SESSION for an unknown id);
* charging profile GET/PUT/DELETE on another eMSP's session answered REJECTED likewise.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from tests.isolation.cases import PROFILE, RESPONSE_URL, token_body
from tests.isolation.cases import Party as Named
from tests.isolation.world import World, auth_header

VERSIONS = ("2.2.1", "2.3.0")
NOBODYS_SESSION = "SES-NOBODY"


def answer(response: Any) -> tuple[int, dict[str, Any]]:
    """The HTTP status and the envelope, without its timestamp."""
    envelope = response.json()
    envelope.pop("timestamp", None)
    return response.status_code, envelope


def call(client: Client, world: World, version: str, method: str, path: str, body: Any = None):
    headers = auth_header(world.actors["AAA"].token, version)
    if body is None:
        return client.generic(method, path, headers=headers)
    return client.generic(
        method, path, json.dumps(body), content_type="application/json", headers=headers
    )


@pytest.mark.parametrize("version", ["2.1.1", *VERSIONS])
def test_stop_session_of_another_partys_session_answers_as_an_unknown_session(
    world: World, db: None, client: Client, version: str
) -> None:
    def stop(session_id: str) -> tuple[int, dict[str, Any]]:
        body = {"response_url": RESPONSE_URL, "session_id": session_id}
        return answer(
            call(client, world, version, "POST", f"/ocpi/{version}/commands/STOP_SESSION", body)
        )

    theirs = stop(world.actors["BBB"].session_id)
    assert theirs == stop(NOBODYS_SESSION)
    assert theirs[1]["data"]["result"] == "UNKNOWN_SESSION"


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("method", "query", "body"),
    [
        ("GET", f"?duration=900&response_url={RESPONSE_URL}", None),
        ("PUT", "", {"charging_profile": PROFILE, "response_url": RESPONSE_URL}),
        ("DELETE", f"?response_url={RESPONSE_URL}", None),
    ],
)
def test_charging_profile_of_another_partys_session_answers_as_an_unknown_session(
    world: World,
    db: None,
    client: Client,
    version: str,
    method: str,
    query: str,
    body: Any,
) -> None:
    def ask(session_id: str) -> tuple[int, dict[str, Any]]:
        path = f"/ocpi/{version}/chargingprofiles/{session_id}{query}"
        return answer(call(client, world, version, method, path, body))

    theirs = ask(world.actors["DDD"].session_id)
    assert theirs == ask(NOBODYS_SESSION)
    assert theirs[1]["data"]["result"] == "UNKNOWN_SESSION"


@pytest.mark.parametrize("version", VERSIONS)
def test_charging_preferences_of_another_partys_session_answer_as_an_unknown_session(
    world: World, db: None, client: Client, version: str
) -> None:
    def put(session_id: str) -> tuple[int, dict[str, Any]]:
        path = f"/ocpi/{version}/sessions/{session_id}/charging_preferences"
        status, envelope = answer(
            call(client, world, version, "PUT", path, {"profile_type": "REGULAR"})
        )
        # The message names the id asked for; everything else must be the same.
        return status, {
            **envelope,
            "status_message": envelope["status_message"].replace(session_id, "?"),
        }

    assert put(world.actors["CCC"].session_id) == put(NOBODYS_SESSION)


@pytest.mark.parametrize("version", VERSIONS)
def test_cancel_reservation_of_another_party_answers_as_an_unknown_reservation(
    world: World, db: None, client: Client, version: str
) -> None:
    def cancel(reservation_id: str) -> tuple[int, dict[str, Any]]:
        body = {"response_url": RESPONSE_URL, "reservation_id": reservation_id}
        path = f"/ocpi/{version}/commands/CANCEL_RESERVATION"
        status, envelope = answer(call(client, world, version, "POST", path, body))
        return status, json.loads(json.dumps(envelope).replace(reservation_id, "?"))

    assert cancel(world.actors["EEE"].reservation_id) == cancel("4242")


@pytest.mark.parametrize("version", ["2.1.1", *VERSIONS])
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH"])
def test_another_partys_token_answers_as_one_it_does_not_have(
    world: World, db: None, client: Client, version: str, method: str
) -> None:
    victim = Named("BBB")

    def touch(uid: str) -> tuple[int, dict[str, Any]]:
        path = f"/ocpi/{version}/tokens/{victim.country_code}/{victim.name}/{uid}"
        body = {
            "GET": None,
            "PUT": token_body(version, victim, uid),
            "PATCH": {"valid": False, "last_updated": "2025-06-29T22:39:09Z"},
        }[method]
        return answer(call(client, world, version, method, path, body))

    assert touch(victim.token_uid) == touch("NOSUCHTOKEN")
