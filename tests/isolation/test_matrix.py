"""Isolation matrix: no party reads, changes or commands another party's objects.

Every case of ``cases.CASES`` (actor x victim x object kind x channel x operation x version) is
sent over real OCPI requests, and must

* get exactly the expected HTTP status, OCPI status code and command result;
* return none of the victim's identifiers unless the request itself carried them;
* leave every object of the victim as it was (tokens, sessions, charging profiles, CDRs,
  reservations), also after the charger accepted any command the case made;
* make commands only for the actor's own party, sessions, reservations and tokens.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client

from roaming.models import Party
from sessions_app.choices import CommandResultType
from sessions_app.commands import command_answer
from sessions_app.models import ChargerInstruction, Command, Token
from tests.isolation.cases import CASES, Case
from tests.isolation.world import CASE_COUNTS, CODES, World, auth_header, snapshot


def send(client: Client, case: Case, token: str) -> Any:
    """The case's request with the connection's token and, if it claims a party, its headers."""
    headers = auth_header(token, case.version)
    if case.claims is not None:
        headers["OCPI-from-country-code"] = CODES[case.claims]
        headers["OCPI-from-party-id"] = case.claims
    request = case.request
    path = request.path
    if request.query:
        path += "?" + urlencode(request.query)
    if request.body is None:
        return client.generic(request.method, path, headers=headers)
    return client.generic(
        request.method,
        path,
        json.dumps(request.body),
        content_type="application/json",
        headers=headers,
    )


def guarded(world: World, case: Case) -> list[Party]:
    """The parties whose objects the case must not touch: the victim, or everyone else."""
    if case.victim is not None:
        return [world.actors[case.victim].party]
    acting = acting_parties(world, case)
    return [actor.party for actor in world.actors.values() if actor.party.pk not in acting]


def acting_parties(world: World, case: Case) -> set[int]:
    """The parties the case's connection acts for ("HUB": both of the hub's)."""
    if case.actor == "HUB":
        return {actor.party.pk for actor in world.actors.values() if actor.via_hub}
    return {world.actors[case.actor].party.pk}


def assert_commands_are_the_actors_own(commands: list[Command], parties: set[int]) -> None:
    for command in commands:
        assert command.emsp_id in parties, f"{command.command_type} made for another party"
        for related in (command.session, command.reservation):
            assert related is None or related.emsp_id in parties, (
                f"{command.command_type} aims at another party's {type(related).__name__}"
            )
        for instruction in ChargerInstruction.objects.filter(command=command):
            token_id = instruction.payload.get("token_id")
            if token_id is not None:
                assert Token.objects.get(pk=token_id).owner_id in parties, (
                    f"{command.command_type} uses another party's token"
                )


def let_the_charger_accept(commands: list[Command]) -> None:
    for command in commands:
        command_answer(command_id=command.pk, result=CommandResultType.ACCEPTED)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_isolation(case: Case, world: World, db: None, client: Client) -> None:
    token = world.hub_token if case.actor == "HUB" else world.actors[case.actor].token
    watched = guarded(world, case)

    response = send(client, case, token)
    # The world has no commands: whatever there is, this case made.
    new_commands = list(Command.objects.select_related("session", "reservation"))
    if case.charger_accepts:
        let_the_charger_accept(new_commands)

    answer = response.json()
    assert (response.status_code, answer["status_code"]) == (case.expect.http, case.expect.ocpi), (
        answer.get("status_message")
    )
    if case.expect.result is not None:
        # Charging preferences answer with the bare result; commands with a CommandResponse.
        data = answer["data"]
        assert (data if isinstance(data, str) else data["result"]) == case.expect.result, data
    if case.expect.ids is not None:
        assert tuple(sorted(item["id"] for item in answer["data"])) == case.expect.ids
        assert response["X-Total-Count"] == str(len(case.expect.ids))
    sent = json.dumps(case.request.body) + case.request.path
    text = response.content.decode()
    for party in watched:
        identifiers = world.actor_of(party).identifiers
        leaked = [value for value in identifiers if value in text and value not in sent]
        assert not leaked, f"the answer shows {party.code}'s {leaked}"
    assert snapshot(watched) == world.pristine_of(watched), "another party's objects changed"
    assert_commands_are_the_actors_own(new_commands, acting_parties(world, case))
    CASE_COUNTS[(case.kind, case.channel)] += 1
