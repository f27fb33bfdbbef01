"""Rendered-JSON cache of the locations list: reused while unchanged, never served stale."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from locations.choices import Status
from locations.models import EVSE, Connector
from roaming.models import Party
from roaming.transport import connections
from roaming.transport.encoding import RenderedList
from roaming.transport.envelope import OcpiJSONRenderer
from tests.roaming.modules.conftest import data, ocpi_get
from tests.roaming.modules.test_locations_sender import LIST_QUERIES, site, url

pytestmark = pytest.mark.django_db

# An unchanged page skips the reads of locations, EVSEs and connectors, the count and the
# unpublished lists.
WARM_LIST_QUERIES = LIST_QUERIES - 5


def test_second_read_of_an_unchanged_page_skips_the_location_reads(
    client: Client, emsp_token: str, django_assert_num_queries: Any
) -> None:
    site("LOC1", evses=2, connectors=2)
    first = ocpi_get(client, emsp_token, url("2.2.1"))

    with django_assert_num_queries(WARM_LIST_QUERIES):
        second = ocpi_get(client, emsp_token, url("2.2.1"))

    assert second.json()["data"] == first.json()["data"]


def test_changed_evse_is_served_fresh(client: Client, emsp_token: str) -> None:
    location = site("LOC1", evses=1, connectors=1)
    ocpi_get(client, emsp_token, url("2.2.1"))
    evse = EVSE.objects.get(location=location)
    evse.status = Status.CHARGING
    evse.save()

    listed = data(ocpi_get(client, emsp_token, url("2.2.1")))

    assert listed[0]["evses"][0]["status"] == "CHARGING"


def test_changed_connector_is_served_fresh(client: Client, emsp_token: str) -> None:
    location = site("LOC1", evses=1, connectors=1)
    ocpi_get(client, emsp_token, url("2.2.1"))
    connector = Connector.objects.get(evse__location=location)
    connector.max_amperage = 99
    connector.save()

    listed = data(ocpi_get(client, emsp_token, url("2.2.1")))

    assert listed[0]["evses"][0]["connectors"][0]["max_amperage"] == 99


def test_renamed_owner_is_served_fresh(client: Client, emsp_token: str, our_cpo: Party) -> None:
    site("LOC1", owner=our_cpo)
    ocpi_get(client, emsp_token, url("2.2.1"))
    Party.objects.filter(pk=our_cpo.pk).update(party_id="NEW")

    listed = data(ocpi_get(client, emsp_token, url("2.2.1")))

    assert listed[0]["party_id"] == "NEW"


def test_with_remembered_parties_a_renamed_owner_is_served_fresh(
    client: Client,
    emsp_token: str,
    our_cpo: Party,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setattr(connections, "cache_is_shared", lambda: True)  # as with Redis
    monkeypatch.setattr(connections, "_memory", connections._Memory())
    site("LOC1", owner=our_cpo)
    ocpi_get(client, emsp_token, url("2.2.1"))

    with django_capture_on_commit_callbacks(execute=True):
        our_cpo.party_id = "NEW"
        our_cpo.save()

    assert data(ocpi_get(client, emsp_token, url("2.2.1")))[0]["party_id"] == "NEW"


def test_each_version_is_cached_apart(client: Client, emsp_token: str) -> None:
    site("LOC1")
    ocpi_get(client, emsp_token, url("2.2.1"))

    listed = data(ocpi_get(client, emsp_token, url("2.1.1")))

    assert "party_id" not in listed[0]


def test_cached_page_is_the_same_text_as_a_freshly_rendered_one(
    client: Client, emsp_token: str
) -> None:
    site("LOC1", name="Gare du Nord \u2028 quai", evses=2, connectors=2)
    fresh = ocpi_get(client, emsp_token, url("2.2.1")).content
    cached = ocpi_get(client, emsp_token, url("2.2.1")).content

    def without_timestamp(body: bytes) -> bytes:
        return body[: body.rindex(b'"timestamp"')]

    assert without_timestamp(cached) == without_timestamp(fresh)
    assert b"\\u2028" in fresh


def test_new_location_is_counted_at_once(client: Client, emsp_token: str) -> None:
    site("LOC1")
    ocpi_get(client, emsp_token, url("2.2.1"))
    site("LOC2")

    assert ocpi_get(client, emsp_token, url("2.2.1"))["X-Total-Count"] == "2"


def test_unpublished_location_leaves_the_count_at_once(client: Client, emsp_token: str) -> None:
    site("LOC1")
    hiding = site("LOC2")
    ocpi_get(client, emsp_token, url("2.2.1"))
    hiding.publish = False
    hiding.save()

    assert ocpi_get(client, emsp_token, url("2.2.1"))["X-Total-Count"] == "1"


def test_list_answers_even_when_the_cache_forgot_everything(
    client: Client, emsp_token: str
) -> None:
    site("LOC1")
    ocpi_get(client, emsp_token, url("2.2.1"))
    cache.clear()

    assert [item["id"] for item in data(ocpi_get(client, emsp_token, url("2.2.1")))] == ["LOC1"]


def test_renderer_splices_pre_rendered_items_first_in_the_envelope() -> None:
    body = OcpiJSONRenderer().render(
        {"data": RenderedList([b'{"id":"A"}', b'{"id":"B"}']), "status_code": 1000}
    )

    assert body == b'{"data":[{"id":"A"},{"id":"B"}],"status_code":1000}'


def test_on_redis_a_page_is_served_from_the_texts_stored_by_the_first_read(
    client: Client, emsp_token: str, redis_cache: Any, django_assert_num_queries: Any
) -> None:
    site("LOC1", evses=2, connectors=2)
    site("LOC2")
    first = ocpi_get(client, emsp_token, url("2.2.1"))

    # The state of locations and tokens, and the page's keys: the connection and its routing are
    # remembered (roaming.transport.connections), the rest comes from Redis.
    with django_assert_num_queries(2):
        second = ocpi_get(client, emsp_token, url("2.2.1"))

    assert second.content.split(b',"status_code"')[0] == first.content.split(b',"status_code"')[0]
    assert [item["id"] for item in data(second)] == ["LOC1", "LOC2"]
