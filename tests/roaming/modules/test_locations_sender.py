"""Locations sender: list and objects per version, who sees what, pagination and bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from locations.choices import ConnectorType, Status
from locations.models import Location
from roaming.choices import OcpiVersion
from roaming.models import Party
from roaming.modules.locations.selectors import locations_with_evses
from roaming.modules.locations.serializers import location_to_ocpi
from roaming.services import parties_sync_ours
from roaming.transport.encoding import render_bytes
from sessions_app.choices import TokenType
from tests.locations.factories import ConnectorFactory, EVSEFactory, LocationFactory
from tests.roaming.conftest import auth
from tests.roaming.modules.conftest import (
    VERSIONS,
    data,
    from_party,
    ids,
    link_query,
    next_link,
    ocpi_get,
    to_party,
)
from tests.sessions_app.factories import TokenFactory

pytestmark = pytest.mark.django_db

START = datetime(2025, 1, 1, tzinfo=UTC)


def url(version: str, *segments: str) -> str:
    return "/".join([f"/ocpi/{version}/locations", *segments])


def site(
    ocpi_id: str,
    *,
    evses: int = 2,
    connectors: int = 2,
    last_updated: datetime = START,
    owner: Party | None = None,
    **fields: object,
) -> Location:
    """A location with EVSEs and connectors, last updated at a chosen time."""
    extra = {"owner": owner} if owner is not None else {}
    location = LocationFactory.create(ocpi_id=ocpi_id, **extra, **fields)
    for e in range(1, evses + 1):
        evse = EVSEFactory.create(location=location, uid=f"{ocpi_id}-E{e}")
        for c in range(1, connectors + 1):
            ConnectorFactory.create(evse=evse, ocpi_id=str(c))
    Location.objects.filter(pk=location.pk).update(last_updated=last_updated)
    location.refresh_from_db()
    return location


def hidden_site(ocpi_id: str, uid: str) -> Location:
    """An unpublished location shown only to drivers with the RFID token `uid`."""
    return site(ocpi_id, publish=False, publish_allowed_to=[{"uid": uid, "type": "RFID"}])


@pytest.fixture
def sites(db: None) -> list[Location]:
    """Five published locations, one hour apart, oldest first."""
    return [site(f"LOC{i}", last_updated=START + timedelta(hours=i)) for i in range(5)]


# --- shapes, per version -------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_list_returns_locations_with_their_evses_and_connectors(
    client: Client, emsp_token: str, version: str
) -> None:
    site("LOC1", evses=2, connectors=2)

    response = ocpi_get(client, emsp_token, url(version))

    assert response.status_code == 200
    assert response.json()["status_code"] == 1000
    (location,) = data(response)
    assert location["id"] == "LOC1"
    assert [evse["uid"] for evse in location["evses"]] == ["LOC1-E1", "LOC1-E2"]
    assert [c["id"] for c in location["evses"][0]["connectors"]] == ["1", "2"]


def test_2_1_1_location_has_a_type_and_no_owner_fields(client: Client, emsp_token: str) -> None:
    site("LOC1")

    (location,) = data(ocpi_get(client, emsp_token, url("2.1.1")))

    assert "type" in location
    assert "country_code" not in location
    assert "publish" not in location
    assert "voltage" in location["evses"][0]["connectors"][0]


@pytest.mark.parametrize("version", ["2.2.1", "2.3.0"])
def test_2_2_location_names_its_owner_and_publish_state(
    client: Client, emsp_token: str, our_cpo: Party, version: str
) -> None:
    site("LOC1")

    (location,) = data(ocpi_get(client, emsp_token, url(version)))

    assert (location["country_code"], location["party_id"]) == (
        our_cpo.country_code,
        our_cpo.party_id,
    )
    assert location["publish"] is True
    assert "max_voltage" in location["evses"][0]["connectors"][0]


@pytest.mark.parametrize("version", VERSIONS)
def test_list_shows_each_location_as_its_object_endpoint_does(
    client: Client, emsp_token: str, version: str
) -> None:
    """The list reads plain rows, the serializers were written for model instances: same output."""
    first = site("LOC1", evses=3, connectors=2, publish_allowed_to=[{"group_id": "FLEET1"}])
    first.evses.order_by("pk")[0].delete()
    site("LOC2", evses=1, connectors=1, state="Utrecht", facilities=["CAFE", "BIKE_SHARING"])

    listed = data(ocpi_get(client, emsp_token, url(version)))
    instances = locations_with_evses(Location.objects.order_by("last_updated", "pk"))
    serialized = [
        json.loads(render_bytes(location_to_ocpi(row, OcpiVersion(version)))) for row in instances
    ]

    assert sorted(item["id"] for item in listed) == ["LOC1", "LOC2"]
    assert listed == serialized
    assert [data(ocpi_get(client, emsp_token, url(version, i["id"]))) for i in listed] == listed


@pytest.mark.parametrize("version", VERSIONS)
def test_get_one_location(client: Client, emsp_token: str, version: str) -> None:
    site("LOC1")
    site("LOC2")

    response = ocpi_get(client, emsp_token, url(version, "LOC2"))

    assert response.status_code == 200
    assert data(response)["id"] == "LOC2"
    assert len(data(response)["evses"]) == 2


@pytest.mark.parametrize("version", VERSIONS)
def test_get_one_evse(client: Client, emsp_token: str, version: str) -> None:
    site("LOC1")

    response = ocpi_get(client, emsp_token, url(version, "LOC1", "LOC1-E2"))

    assert data(response)["uid"] == "LOC1-E2"
    assert [c["id"] for c in data(response)["connectors"]] == ["1", "2"]


@pytest.mark.parametrize("version", VERSIONS)
def test_get_one_connector(client: Client, emsp_token: str, version: str) -> None:
    site("LOC1")

    response = ocpi_get(client, emsp_token, url(version, "LOC1", "LOC1-E2", "2"))

    assert data(response)["id"] == "2"
    assert data(response)["standard"] == ConnectorType.IEC_62196_T2


def test_object_ids_are_compared_ignoring_case(client: Client, emsp_token: str) -> None:
    site("Loc1")

    response = ocpi_get(client, emsp_token, url("2.2.1", "LOC1", "loc1-e1", "1"))

    assert data(response)["id"] == "1"


def test_object_url_with_a_trailing_slash_is_served(client: Client, emsp_token: str) -> None:
    site("LOC1")

    response = ocpi_get(client, emsp_token, url("2.2.1", "LOC1") + "/")

    assert data(response)["id"] == "LOC1"


def test_removed_evse_is_still_listed(client: Client, emsp_token: str) -> None:
    location = site("LOC1", evses=2)
    location.evses.get(uid="LOC1-E1").delete()

    (listed,) = data(ocpi_get(client, emsp_token, url("2.2.1")))

    statuses = {evse["uid"]: evse["status"] for evse in listed["evses"]}
    assert statuses == {"LOC1-E1": Status.REMOVED, "LOC1-E2": Status.AVAILABLE}


def test_removed_evse_can_be_fetched(client: Client, emsp_token: str) -> None:
    location = site("LOC1", evses=1)
    location.evses.get().delete()

    response = ocpi_get(client, emsp_token, url("2.2.1", "LOC1", "LOC1-E1"))

    assert data(response)["status"] == Status.REMOVED


def test_evse_the_version_cannot_describe_is_left_out_and_not_found(
    client: Client, emsp_token: str
) -> None:
    location = site("LOC1", evses=1, connectors=0)
    ConnectorFactory.create(
        evse=location.evses.get(), ocpi_id="1", standard=ConnectorType.SAE_J3400
    )
    ConnectorFactory.create(
        evse=EVSEFactory.create(location=location, uid="MCS"),
        ocpi_id="1",
        standard=ConnectorType.MCS,
    )

    (listed,) = data(ocpi_get(client, emsp_token, url("2.2.1")))
    missing = ocpi_get(client, emsp_token, url("2.2.1", "LOC1", "MCS"))

    assert [evse["uid"] for evse in listed["evses"]] == ["LOC1-E1"]
    assert missing.status_code == 404


# --- not found ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_unknown_location_is_404_with_unknown_location_status(
    client: Client, emsp_token: str, version: str
) -> None:
    response = ocpi_get(client, emsp_token, url(version, "NOPE"))

    assert response.status_code == 404
    assert response.json()["status_code"] == 2003
    assert response.json()["data"] is None
    assert "NOPE" in response.json()["status_message"]


def test_unknown_evse_is_404_naming_it(client: Client, emsp_token: str) -> None:
    site("LOC1")

    response = ocpi_get(client, emsp_token, url("2.2.1", "LOC1", "NOPE"))

    assert response.status_code == 404
    assert "NOPE" in response.json()["status_message"]


def test_unknown_connector_is_404_naming_it(client: Client, emsp_token: str) -> None:
    site("LOC1")

    response = ocpi_get(client, emsp_token, url("2.2.1", "LOC1", "LOC1-E1", "9"))

    assert response.status_code == 404
    assert "9" in response.json()["status_message"]


# --- who sees what -------------------------------------------------------------------------------


def test_unpublished_location_is_hidden_from_an_emsp_without_a_listed_token(
    client: Client, emsp_token: str, emsp: Party
) -> None:
    TokenFactory.create(owner=emsp, uid="04EMSP", type=TokenType.RFID)
    site("PUBLIC")
    hidden_site("HIDDEN", uid="04SOMEONEELSE")

    assert ids(ocpi_get(client, emsp_token, url("2.2.1"))) == ["PUBLIC"]
    assert ocpi_get(client, emsp_token, url("2.2.1", "HIDDEN")).status_code == 404


def test_unpublished_location_is_shown_to_the_emsp_of_a_listed_token(
    client: Client, emsp_token: str, emsp: Party
) -> None:
    TokenFactory.create(owner=emsp, uid="04EMSP", type=TokenType.RFID)
    hidden_site("HIDDEN", uid="04EMSP")

    assert ids(ocpi_get(client, emsp_token, url("2.2.1"))) == ["HIDDEN"]
    assert data(ocpi_get(client, emsp_token, url("2.2.1", "HIDDEN")))["publish"] is False


def test_token_of_another_emsp_does_not_unlock_a_location(
    client: Client, outsider_token: str, emsp: Party
) -> None:
    TokenFactory.create(owner=emsp, uid="04EMSP", type=TokenType.RFID)
    hidden_site("HIDDEN", uid="04EMSP")

    assert ids(ocpi_get(client, outsider_token, url("2.2.1"))) == []
    assert ocpi_get(client, outsider_token, url("2.2.1", "HIDDEN")).status_code == 404


def test_hub_sees_locations_unlocked_for_any_party_it_relays_for(
    client: Client, hub_token: str, emsp: Party, second_emsp: Party
) -> None:
    TokenFactory.create(owner=emsp, uid="04EMSP", type=TokenType.RFID)
    TokenFactory.create(owner=second_emsp, uid="04SECOND", type=TokenType.RFID)
    hidden_site("FOR-EMSP", uid="04EMSP")
    hidden_site("FOR-SECOND", uid="04SECOND")

    assert sorted(ids(ocpi_get(client, hub_token, url("2.2.1")))) == ["FOR-EMSP", "FOR-SECOND"]


def test_hub_request_from_one_party_sees_only_what_that_party_may_see(
    client: Client, hub_token: str, emsp: Party, second_emsp: Party
) -> None:
    TokenFactory.create(owner=emsp, uid="04EMSP", type=TokenType.RFID)
    TokenFactory.create(owner=second_emsp, uid="04SECOND", type=TokenType.RFID)
    hidden_site("FOR-EMSP", uid="04EMSP")
    hidden_site("FOR-SECOND", uid="04SECOND")

    response = ocpi_get(client, hub_token, url("2.2.1"), headers=from_party(second_emsp))
    other = ocpi_get(client, hub_token, url("2.2.1", "FOR-EMSP"), headers=from_party(second_emsp))

    assert ids(response) == ["FOR-SECOND"]
    assert other.status_code == 404


def test_request_addressed_to_one_of_our_identities_lists_only_its_locations(
    client: Client, emsp_token: str
) -> None:
    first, second = parties_sync_ours()[:2]
    site("NL-SITE", owner=first)
    site("DE-SITE", owner=second)

    response = ocpi_get(client, emsp_token, url("2.2.1"), headers=to_party(second))

    assert ids(response) == ["DE-SITE"]
    assert response["OCPI-from-party-id"] == second.party_id


# --- pagination ----------------------------------------------------------------------------------


def test_list_states_total_and_limit(client: Client, emsp_token: str, sites, settings) -> None:
    settings.OCPI_MAX_PAGE_SIZE = 50

    response = ocpi_get(client, emsp_token, url("2.2.1"), {"limit": "2"})

    assert ids(response) == ["LOC0", "LOC1"]
    assert response["X-Total-Count"] == "5"
    assert response["X-Limit"] == "2"


def test_next_link_keeps_the_filters(client: Client, emsp_token: str, sites) -> None:
    date_from = "2025-01-01T01:00:00Z"

    response = ocpi_get(
        client, emsp_token, url("2.2.1"), {"limit": "2", "date_from": date_from, "foo": "bar"}
    )

    query = link_query(response)
    assert query["date_from"] == [date_from]
    assert query["offset"] == ["2"]
    assert query["limit"] == ["2"]
    assert response["X-Total-Count"] == "4"


def test_following_next_links_returns_every_location_once(
    client: Client, emsp_token: str, sites
) -> None:
    seen: list[str] = []
    link: str | None = url("2.2.1") + "?limit=2"
    while link is not None:
        response = client.get(link, headers=auth(emsp_token))
        seen.extend(ids(response))
        link = next_link(response)
    assert seen == [f"LOC{i}" for i in range(5)]


def test_last_page_has_no_link(client: Client, emsp_token: str, sites) -> None:
    response = ocpi_get(client, emsp_token, url("2.2.1"), {"offset": "3", "limit": "2"})

    assert ids(response) == ["LOC3", "LOC4"]
    assert "Link" not in response


def test_date_from_is_inclusive_and_date_to_exclusive(
    client: Client, emsp_token: str, sites
) -> None:
    response = ocpi_get(
        client,
        emsp_token,
        url("2.2.1"),
        {"date_from": "2025-01-01T01:00:00Z", "date_to": "2025-01-01T03:00:00Z"},
    )

    assert ids(response) == ["LOC1", "LOC2"]


def test_limit_above_the_maximum_is_capped(
    client: Client, emsp_token: str, sites, settings
) -> None:
    settings.OCPI_MAX_PAGE_SIZE = 3

    response = ocpi_get(client, emsp_token, url("2.2.1"), {"limit": "1000"})

    assert len(data(response)) == 3
    assert response["X-Limit"] == "3"


def test_unknown_query_parameters_are_ignored(client: Client, emsp_token: str, sites) -> None:
    response = ocpi_get(client, emsp_token, url("2.2.1"), {"country": "NLD", "page": "7"})

    assert response.json()["status_code"] == 1000
    assert len(data(response)) == 5


# --- bad input -----------------------------------------------------------------------------------


def test_bad_date_from_is_2001_naming_it(client: Client, emsp_token: str) -> None:
    response = ocpi_get(client, emsp_token, url("2.2.1"), {"date_from": "yesterday"})

    assert response.status_code == 200
    assert response.json()["status_code"] == 2001
    assert "date_from" in response.json()["status_message"]


def test_bad_date_to_is_2001_naming_it(client: Client, emsp_token: str) -> None:
    response = ocpi_get(client, emsp_token, url("2.2.1"), {"date_to": "2025-13-01"})

    assert response.json()["status_code"] == 2001
    assert "date_to" in response.json()["status_message"]


def test_negative_offset_is_2001_naming_it(client: Client, emsp_token: str) -> None:
    response = ocpi_get(client, emsp_token, url("2.2.1"), {"offset": "-1"})

    assert response.json()["status_code"] == 2001
    assert "offset" in response.json()["status_message"]


def test_non_numeric_limit_is_2001_naming_it(client: Client, emsp_token: str) -> None:
    response = ocpi_get(client, emsp_token, url("2.2.1"), {"limit": "ten"})

    assert response.json()["status_code"] == 2001
    assert "limit" in response.json()["status_message"]


def test_unknown_token_is_401(client: Client, emsp_token: str) -> None:
    response = ocpi_get(client, "not-a-token", url("2.2.1"))

    assert response.status_code == 401


def test_token_a_is_401_on_locations(client: Client, invited) -> None:
    _, token_a = invited

    response = ocpi_get(client, token_a, url("2.2.1"))

    assert response.status_code == 401


def test_post_is_not_allowed(client: Client, emsp_token: str) -> None:
    response = client.post(url("2.2.1"), {}, headers=auth(emsp_token))

    assert response.status_code == 405


# --- query count ---------------------------------------------------------------------------------

# Token, routing (2), the state of the locations and tokens, their unpublished lists (read once,
# then cached while the locations are unchanged), page ids, the parties' codes (with a shared cache
# remembered while no party changes), count, locations, EVSEs, connectors.
LIST_QUERIES = 11


@pytest.mark.parametrize("count", [1, 50])
def test_list_reads_a_page_in_a_fixed_number_of_queries(
    client: Client, emsp_token: str, django_assert_num_queries, count: int
) -> None:
    for number in range(count):
        site(f"LOC{number}", evses=3, connectors=2)

    with django_assert_num_queries(LIST_QUERIES):
        response = ocpi_get(client, emsp_token, url("2.2.1"))

    assert len(data(response)) == count
