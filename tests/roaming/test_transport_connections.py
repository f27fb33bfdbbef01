"""What a process remembers of connections and routing: reused until any of them changes."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from roaming.choices import InterfaceRole, ModuleID, Role
from roaming.models import Partner, PartnerEndpoint, PartnerState, Party
from roaming.push.services import receiver_ids
from roaming.transport import connections
from tests.roaming.conftest import auth, make_partner
from tests.roaming.test_transport_routing import routed

pytestmark = [pytest.mark.urls("tests.roaming.probe_urls"), pytest.mark.django_db]

PROBE = "/ocpi/2.2.1/probe/"
Commit = Callable[..., AbstractContextManager[Any]]


@pytest.fixture(autouse=True)
def remembering(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in production, where the processes share a Redis cache."""
    monkeypatch.setattr(connections, "cache_is_shared", lambda: True)
    monkeypatch.setattr(connections, "_memory", connections._Memory())


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Commit) -> Callable[[], Any]:
    """Changes made inside are committed (the tests' transaction otherwise never commits)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_a_remembered_connection_costs_no_query(
    client: Client, registered: tuple[Partner, str], django_assert_num_queries: Any
) -> None:
    _, token = registered
    client.get(PROBE, headers=auth(token))

    with django_assert_num_queries(0):
        answer = client.get(PROBE, headers=auth(token))

    assert answer.json()["data"]["from"] == "DE-EMS"


def test_a_suspended_connection_is_refused_at_once(
    client: Client, registered: tuple[Partner, str], committed: Callable[[], Any]
) -> None:
    partner, token = registered
    client.get(PROBE, headers=auth(token))
    with committed():
        partner.state = PartnerState.SUSPENDED
        partner.save()

    answer = client.get(PROBE, headers=auth(token))

    assert answer.status_code == 401
    assert "suspended" in answer.json()["status_message"]


def test_a_replaced_token_is_refused_at_once(
    client: Client, registered: tuple[Partner, str], committed: Callable[[], Any]
) -> None:
    partner, old_token = registered
    client.get(PROBE, headers=auth(old_token))
    with committed():
        partner.set_token("the-new-token-of-this-connection")
        partner.save()

    assert client.get(PROBE, headers=auth(old_token)).status_code == 401
    assert client.get(PROBE, headers=auth("the-new-token-of-this-connection")).status_code == 200


def test_a_party_a_hub_no_longer_relays_for_is_refused_at_once(
    client: Client, emsp: Party, outsider: Party, committed: Callable[[], Any]
) -> None:
    hub_party = Party.objects.create(
        country_code="NL", party_id="HUB", name="Hub", roles=[Role.HUB.value]
    )
    hub, token = make_partner(parties=[hub_party, emsp, outsider], name="Hub")
    assert client.get(PROBE, headers=routed(token, from_cc="FR", from_pid="OUT")).status_code == 200
    with committed():
        hub.parties.remove(outsider)

    answer = client.get(PROBE, headers=routed(token, from_cc="FR", from_pid="OUT"))

    assert answer.status_code == 403


def test_a_deleted_connection_is_refused_at_once(
    client: Client, registered: tuple[Partner, str], committed: Callable[[], Any]
) -> None:
    partner, token = registered
    client.get(PROBE, headers=auth(token))
    with committed():
        partner.delete()

    assert client.get(PROBE, headers=auth(token)).status_code == 401


def test_unknown_tokens_are_not_remembered(client: Client, registered: tuple[Partner, str]) -> None:
    for guess in range(20):
        client.get(PROBE, headers=auth(f"guessed-token-{guess}"))

    assert connections._memory.entries == {}


def test_an_emptied_cache_makes_every_process_read_again(
    client: Client, registered: tuple[Partner, str], django_assert_num_queries: Any
) -> None:
    _, token = registered
    client.get(PROBE, headers=auth(token))
    cache.clear()

    with django_assert_num_queries(3):  # the connection, then the routing's two parties
        client.get(PROBE, headers=auth(token))


def test_the_receivers_of_a_module_are_remembered_until_an_endpoint_changes(
    registered: tuple[Partner, str], committed: Callable[[], Any], django_assert_num_queries: Any
) -> None:
    partner, _ = registered
    assert receiver_ids(ModuleID.LOCATIONS) == []
    with django_assert_num_queries(0):
        assert receiver_ids(ModuleID.LOCATIONS) == []

    with committed():
        PartnerEndpoint.objects.create(
            partner=partner,
            module=ModuleID.LOCATIONS,
            role=InterfaceRole.RECEIVER,
            url="https://emsp.example.com/ocpi/2.2.1/locations",
        )

    assert receiver_ids(ModuleID.LOCATIONS) == [partner.pk]
