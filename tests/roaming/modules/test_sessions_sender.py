"""Sessions sender: only the requesting eMSP's sessions, per version; charging preferences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from billing.choices import TariffType
from locations.choices import Capability
from roaming.choices import OcpiVersion
from roaming.models import Party
from roaming.modules.sessions.cache import _stamp_of
from roaming.modules.sessions.selectors import sessions_of_page
from roaming.modules.sessions.serializers import session_to_ocpi, sessions_for_ocpi
from roaming.transport.rendered import in_page_order
from sessions_app.choices import SessionStatus
from sessions_app.models import Session, SessionChargingPeriod
from tests.billing.factories import TariffFactory
from tests.locations.factories import ConnectorFactory, EVSEFactory
from tests.roaming.conftest import auth
from tests.roaming.modules.conftest import (
    VERSIONS,
    data,
    from_party,
    ids,
    link_query,
    ocpi_get,
)
from tests.sessions_app.factories import (
    SessionChargingPeriodFactory,
    SessionFactory,
    TokenFactory,
)

pytestmark = pytest.mark.django_db

START = datetime(2025, 3, 1, tzinfo=UTC)


def url(version: str, *segments: str) -> str:
    return "/".join([f"/ocpi/{version}/sessions", *segments])


def session_of(
    party: Party, ocpi_id: str, *, last_updated: datetime = START, **fields: Any
) -> Session:
    """A session charged with a token of `party`, last updated at a chosen time."""
    created = SessionFactory.create(
        ocpi_id=ocpi_id, token=TokenFactory.create(owner=party), **fields
    )
    SessionChargingPeriodFactory.create(session=created)
    Session.objects.filter(pk=created.pk).update(last_updated=last_updated)
    return created


@pytest.fixture
def sessions(emsp: Party) -> list[Session]:
    """Four sessions of DE-EMS drivers, one hour apart, oldest first."""
    return [session_of(emsp, f"S{i}", last_updated=START + timedelta(hours=i)) for i in range(4)]


# --- list ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_list_returns_the_emsps_sessions(
    client: Client, emsp_token: str, emsp: Party, version: str
) -> None:
    session_of(emsp, "S1")

    response = ocpi_get(client, emsp_token, url(version))

    assert response.status_code == 200
    (listed,) = data(response)
    assert listed["id"] == "S1"
    assert listed["charging_periods"][0]["dimensions"] == [{"type": "ENERGY", "volume": 12.5}]


def test_2_1_1_session_embeds_the_location_and_names_the_contract(
    client: Client, emsp_token: str, emsp: Party
) -> None:
    created = session_of(emsp, "S1")

    (listed,) = data(ocpi_get(client, emsp_token, url("2.1.1")))

    assert listed["auth_id"] == created.cdr_token["contract_id"]
    assert listed["location"]["id"] == created.location.ocpi_id
    assert "start_datetime" in listed


@pytest.mark.parametrize("version", ["2.2.1", "2.3.0"])
def test_2_2_session_names_location_evse_and_connector(
    client: Client, emsp_token: str, emsp: Party, version: str
) -> None:
    created = session_of(emsp, "S1")

    (listed,) = data(ocpi_get(client, emsp_token, url(version)))

    assert listed["location_id"] == created.location.ocpi_id
    assert listed["evse_uid"] == created.evse.uid
    assert listed["connector_id"] == created.connector.ocpi_id
    assert listed["cdr_token"]["party_id"] == "EMS"


def test_sessions_of_another_emsp_are_not_listed(
    client: Client, emsp_token: str, emsp: Party, outsider: Party
) -> None:
    session_of(emsp, "MINE")
    session_of(outsider, "THEIRS")

    assert ids(ocpi_get(client, emsp_token, url("2.2.1"))) == ["MINE"]


def test_outsider_sees_none_of_the_emsps_sessions(
    client: Client, outsider_token: str, sessions
) -> None:
    response = ocpi_get(client, outsider_token, url("2.2.1"))

    assert ids(response) == []
    assert response["X-Total-Count"] == "0"


def test_hub_without_from_headers_sees_the_sessions_of_every_party_it_relays_for(
    client: Client, hub_token: str, emsp: Party, second_emsp: Party, outsider: Party
) -> None:
    session_of(emsp, "FIRST")
    session_of(second_emsp, "SECOND")
    session_of(outsider, "OUTSIDE")

    assert sorted(ids(ocpi_get(client, hub_token, url("2.2.1")))) == ["FIRST", "SECOND"]


def test_hub_with_from_headers_sees_only_that_partys_sessions(
    client: Client, hub_token: str, emsp: Party, second_emsp: Party
) -> None:
    session_of(emsp, "FIRST")
    session_of(second_emsp, "SECOND")

    response = ocpi_get(client, hub_token, url("2.2.1"), headers=from_party(second_emsp))

    assert ids(response) == ["SECOND"]
    assert response["OCPI-to-party-id"] == "SEC"


def test_hub_asking_for_a_party_it_does_not_relay_for_is_refused(
    client: Client, hub_token: str, outsider: Party, sessions
) -> None:
    response = ocpi_get(client, hub_token, url("2.2.1"), headers=from_party(outsider))

    assert response.status_code == 403


def test_date_from_is_inclusive_and_date_to_exclusive(
    client: Client, emsp_token: str, sessions
) -> None:
    response = ocpi_get(
        client,
        emsp_token,
        url("2.2.1"),
        {"date_from": "2025-03-01T01:00:00Z", "date_to": "2025-03-01T03:00:00Z"},
    )

    assert ids(response) == ["S1", "S2"]


def test_pagination_headers_and_link_keep_the_filters(
    client: Client, emsp_token: str, sessions
) -> None:
    response = ocpi_get(
        client, emsp_token, url("2.2.1"), {"limit": "1", "date_from": "2025-03-01T01:00:00Z"}
    )

    assert ids(response) == ["S1"]
    assert response["X-Total-Count"] == "3"
    assert link_query(response)["date_from"] == ["2025-03-01T01:00:00Z"]


def test_list_without_date_from_returns_every_session(
    client: Client, emsp_token: str, sessions
) -> None:
    assert ids(ocpi_get(client, emsp_token, url("2.2.1"))) == ["S0", "S1", "S2", "S3"]


def test_bad_date_from_is_2001_naming_it(client: Client, emsp_token: str) -> None:
    response = ocpi_get(client, emsp_token, url("2.2.1"), {"date_from": "2025-02-30T00:00:00Z"})

    assert response.json()["status_code"] == 2001
    assert "date_from" in response.json()["status_message"]


def test_negative_offset_is_2001(client: Client, emsp_token: str) -> None:
    response = ocpi_get(client, emsp_token, url("2.2.1"), {"offset": "-1"})

    assert response.json()["status_code"] == 2001


def test_limit_above_the_maximum_is_capped(
    client: Client, emsp_token: str, sessions, settings
) -> None:
    settings.OCPI_MAX_PAGE_SIZE = 3

    response = ocpi_get(client, emsp_token, url("2.2.1"), {"limit": "50"})

    assert len(data(response)) == 3
    assert response["X-Limit"] == "3"


def test_unknown_token_is_401(client: Client) -> None:
    assert ocpi_get(client, "wrong", url("2.2.1")).status_code == 401


def test_token_a_is_401(client: Client, invited) -> None:
    assert ocpi_get(client, invited[1], url("2.2.1")).status_code == 401


# Token, routing (2), the page's keys, count, their stamps, those sessions with
# owner/location/EVSE/connector and charging periods (only for sessions whose rendered JSON is not
# current, see test_an_unchanged_session_is_not_rendered_again).
LIST_QUERIES = 8


@pytest.mark.parametrize("count", [1, 20])
def test_list_reads_a_page_in_a_fixed_number_of_queries(
    client: Client, emsp_token: str, emsp: Party, django_assert_num_queries, count: int
) -> None:
    for number in range(count):
        session_of(emsp, f"S{number}")

    with django_assert_num_queries(LIST_QUERIES):
        response = ocpi_get(client, emsp_token, url("2.2.1"))

    assert len(data(response)) == count


@pytest.mark.parametrize("version", [OcpiVersion.V2_2_1, OcpiVersion.V2_3_0])
def test_a_page_read_as_rows_renders_and_stamps_as_the_sessions_themselves(
    emsp: Party, version: OcpiVersion
) -> None:
    bare = session_of(emsp, "S0")
    SessionChargingPeriod.objects.filter(session=bare).delete()
    priced = session_of(
        emsp,
        "S1",
        status=SessionStatus.COMPLETED,
        end_date_time=datetime(2025, 3, 14, 10, 30, tzinfo=UTC),
        total_cost=Decimal("4.2000"),
        total_cost_taxes=[{"name": "VAT", "percentage": "19", "amount": "0.8000"}],
        authorization_reference="AUTH-1",
        meter_id="M-7",
    )
    for minutes in (10, 20):
        SessionChargingPeriodFactory.create(
            session=priced,
            start_date_time=priced.start_date_time + timedelta(minutes=minutes),
            dimensions=[{"type": "TIME", "volume": minutes / 60}],
            tariff_id="T-1",
        )
    pks = [priced.pk, bare.pk]

    rows = sessions_of_page(pks, version)
    sessions = in_page_order(pks, sessions_for_ocpi(Session.objects.filter(pk__in=pks)))

    assert [session_to_ocpi(row, version) for row in rows] == [
        session_to_ocpi(session, version) for session in sessions
    ]
    assert [_stamp_of(row) for row in rows] == [_stamp_of(session) for session in sessions]


# --- charging preferences --------------------------------------------------------------------------

PREFERENCES = {
    "profile_type": "FAST",
    "departure_time": "2025-03-01T18:00:00Z",
    "energy_need": 40,
    "discharge_allowed": False,
}


def put_preferences(
    client: Client, token: str, session_id: str, body: Any, version: str = "2.2.1", **headers: str
) -> Any:
    return client.put(
        url(version, session_id, "charging_preferences"),
        body,
        content_type="application/json",
        headers={**auth(token), **headers},
    )


def capable_session(party: Party, ocpi_id: str = "S1", **fields: Any) -> Session:
    """A session at an EVSE that takes charging preferences, its connector priced by a FAST
    profile tariff."""
    TariffFactory.create(ocpi_id="FAST-1", type=TariffType.PROFILE_FAST)
    evse = EVSEFactory.create(capabilities=[Capability.CHARGING_PREFERENCES_CAPABLE])
    connector = ConnectorFactory.create(evse=evse, tariff_ids=["fast-1"])
    return session_of(party, ocpi_id, connector=connector, **fields)


@pytest.mark.parametrize("version", ["2.2.1", "2.3.0"])
def test_preferences_are_accepted_and_stored(
    client: Client, emsp_token: str, emsp: Party, version: str
) -> None:
    session = capable_session(emsp)

    response = put_preferences(client, emsp_token, "s1", PREFERENCES, version)

    assert response.status_code == 200
    assert data(response) == "ACCEPTED"
    session.refresh_from_db()
    assert session.charging_preferences == PREFERENCES
    assert session.last_updated == START


def test_regular_profile_needs_no_profile_tariff(
    client: Client, emsp_token: str, emsp: Party
) -> None:
    evse = EVSEFactory.create(capabilities=[Capability.CHARGING_PREFERENCES_CAPABLE])
    session_of(emsp, "S1", connector=ConnectorFactory.create(evse=evse))

    response = put_preferences(client, emsp_token, "S1", {"profile_type": "REGULAR"})

    assert data(response) == "ACCEPTED"


def test_profile_without_a_tariff_at_the_connector_is_not_supported(
    client: Client, emsp_token: str, emsp: Party
) -> None:
    session = capable_session(emsp)

    response = put_preferences(client, emsp_token, "S1", {**PREFERENCES, "profile_type": "GREEN"})

    assert data(response) == "PROFILE_TYPE_NOT_SUPPORTED"
    session.refresh_from_db()
    assert session.charging_preferences is None


def test_preferences_for_a_finished_session_are_not_possible(
    client: Client, emsp_token: str, emsp: Party
) -> None:
    capable_session(emsp, status=SessionStatus.COMPLETED)

    response = put_preferences(client, emsp_token, "S1", PREFERENCES)

    assert data(response) == "NOT_POSSIBLE"


def test_evse_without_the_capability_answers_404_with_2001(
    client: Client, emsp_token: str, emsp: Party
) -> None:
    session_of(emsp, "S1")

    response = put_preferences(client, emsp_token, "S1", PREFERENCES)

    assert response.status_code == 404
    assert response.json()["status_code"] == 2001


def test_preferences_for_another_partys_session_answer_404(
    client: Client, outsider_token: str, emsp: Party
) -> None:
    session = capable_session(emsp)

    response = put_preferences(client, outsider_token, "S1", PREFERENCES)

    assert response.status_code == 404
    session.refresh_from_db()
    assert session.charging_preferences is None


def test_preferences_for_an_unknown_session_answer_404(client: Client, emsp_token: str) -> None:
    response = put_preferences(client, emsp_token, "NOPE", PREFERENCES)

    assert response.status_code == 404
    assert "NOPE" in response.json()["status_message"]


def test_preferences_without_a_profile_type_are_2001_naming_it(
    client: Client, emsp_token: str, emsp: Party
) -> None:
    capable_session(emsp)

    response = put_preferences(client, emsp_token, "S1", {"energy_need": 10})

    assert response.status_code == 200
    assert response.json()["status_code"] == 2001
    assert "profile_type" in response.json()["status_message"]


def test_preferences_with_a_bad_departure_time_are_2001(
    client: Client, emsp_token: str, emsp: Party
) -> None:
    capable_session(emsp)

    response = put_preferences(
        client, emsp_token, "S1", {"profile_type": "FAST", "departure_time": "soon"}
    )

    assert response.json()["status_code"] == 2001
    assert "departure_time" in response.json()["status_message"]


def test_non_json_body_is_400(client: Client, emsp_token: str, emsp: Party) -> None:
    capable_session(emsp)

    response = put_preferences(client, emsp_token, "S1", "{not json")

    assert response.status_code == 400


def test_2_1_1_has_no_charging_preferences(client: Client, emsp_token: str, emsp: Party) -> None:
    capable_session(emsp)

    response = put_preferences(client, emsp_token, "S1", PREFERENCES, "2.1.1")

    assert response.status_code == 404


def test_an_unchanged_session_is_not_rendered_again(
    client: Client, emsp_token: str, emsp: Party, django_assert_num_queries
) -> None:
    session_of(emsp, "S1")
    first = data(ocpi_get(client, emsp_token, url("2.2.1")))

    with django_assert_num_queries(LIST_QUERIES - 2):  # no read of sessions and their periods
        again = data(ocpi_get(client, emsp_token, url("2.2.1")))

    assert again == first


def test_a_changed_session_is_served_fresh(client: Client, emsp_token: str, emsp: Party) -> None:
    session = session_of(emsp, "S1")
    ocpi_get(client, emsp_token, url("2.2.1"))
    session.kwh = Decimal("12.5")
    session.save()

    [shown] = data(ocpi_get(client, emsp_token, url("2.2.1")))

    assert shown["kwh"] == 12.5
