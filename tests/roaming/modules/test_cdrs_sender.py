"""CDRs sender: only the requesting eMSP's CDRs, per version, paginated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from billing.models import CDR
from roaming.choices import OcpiVersion
from roaming.models import Party
from roaming.modules.cdrs.cache import _render
from roaming.modules.cdrs.selectors import cdrs_of_page
from roaming.modules.cdrs.serializers import cdr_to_ocpi, cdrs_for_ocpi
from roaming.transport.encoding import render_bytes
from roaming.transport.rendered import in_page_order, stamp
from tests.billing.factories import CDRFactory
from tests.locations.factories import ConnectorFactory, EVSEFactory, LocationFactory
from tests.roaming.modules.conftest import (
    VERSIONS,
    data,
    from_party,
    ids,
    link_query,
    ocpi_get,
)

pytestmark = pytest.mark.django_db

START = datetime(2025, 4, 1, tzinfo=UTC)


def url(version: str) -> str:
    return f"/ocpi/{version}/cdrs"


def cdr_of(party: Party, ocpi_id: str, *, last_updated: datetime = START, **fields: Any) -> CDR:
    return CDRFactory.create(emsp=party, ocpi_id=ocpi_id, last_updated=last_updated, **fields)


@pytest.fixture
def cdrs(emsp: Party) -> list[CDR]:
    """Four CDRs of DE-EMS drivers, one hour apart, oldest first."""
    return [cdr_of(emsp, f"C{i}", last_updated=START + timedelta(hours=i)) for i in range(4)]


@pytest.mark.parametrize("version", VERSIONS)
def test_list_returns_the_emsps_cdrs(
    client: Client, emsp_token: str, emsp: Party, version: str
) -> None:
    cdr_of(emsp, "C1")

    response = ocpi_get(client, emsp_token, url(version))

    assert response.status_code == 200
    (listed,) = data(response)
    assert listed["id"] == "C1"
    assert listed["currency"] == "EUR"
    assert listed["total_energy"] == 15.342


def test_2_1_1_cdr_names_the_contract_and_embeds_the_location(
    client: Client, emsp_token: str, emsp: Party
) -> None:
    cdr_of(emsp, "C1")

    (listed,) = data(ocpi_get(client, emsp_token, url("2.1.1")))

    assert listed["auth_id"] == "DE8ACC12E46L89"
    assert listed["location"]["id"] == "LOC1"
    assert listed["total_cost"] == 4
    assert "stop_date_time" in listed


def test_2_1_1_cdr_shows_our_location_as_it_is_when_we_still_have_it(
    client: Client, emsp_token: str, emsp: Party
) -> None:
    location = LocationFactory.create(ocpi_id="LOC1", name="Renamed site")
    evse = EVSEFactory.create(location=location, uid="3256")
    ConnectorFactory.create(evse=evse, ocpi_id="1")
    cdr_of(emsp, "C1", location=location)

    (listed,) = data(ocpi_get(client, emsp_token, url("2.1.1")))

    assert listed["location"]["name"] == "Renamed site"


@pytest.mark.parametrize("version", ["2.2.1", "2.3.0"])
def test_2_2_cdr_carries_its_location_copy_and_token(
    client: Client, emsp_token: str, emsp: Party, version: str
) -> None:
    cdr_of(emsp, "C1")

    (listed,) = data(ocpi_get(client, emsp_token, url(version)))

    assert listed["cdr_location"]["evse_uid"] == "3256"
    assert listed["cdr_token"]["party_id"] == "EMS"


def test_2_2_1_costs_are_prices_with_and_without_vat(
    client: Client, emsp_token: str, emsp: Party
) -> None:
    cdr_of(emsp, "C1")

    (listed,) = data(ocpi_get(client, emsp_token, url("2.2.1")))

    assert listed["total_cost"] == {"excl_vat": 4, "incl_vat": 4.4}


@pytest.mark.parametrize("version", [OcpiVersion.V2_2_1, OcpiVersion.V2_3_0])
def test_a_page_read_as_rows_renders_and_stamps_as_the_cdrs_themselves(
    emsp: Party, version: OcpiVersion
) -> None:
    plain = cdr_of(emsp, "C1")
    remarked = cdr_of(emsp, "C2", remark="Charger restarted", booking_id="B-1", meter_id="M-7")
    pks = [remarked.pk, plain.pk]

    rows = cdrs_of_page(pks, version)
    cdrs = in_page_order(pks, cdrs_for_ocpi(CDR.objects.filter(pk__in=pks)))

    assert [cdr_to_ocpi(row, version) for row in rows] == [
        cdr_to_ocpi(cdr, version) for cdr in cdrs
    ]
    assert _render(pks, version) == [
        (
            stamp(cdr.pk, cdr.last_updated, cdr.owner.country_code, cdr.owner.party_id),
            render_bytes(cdr_to_ocpi(cdr, version)),
        )
        for cdr in cdrs
    ]


def test_cdrs_of_another_emsp_are_not_listed(
    client: Client, emsp_token: str, emsp: Party, outsider: Party
) -> None:
    cdr_of(emsp, "MINE")
    cdr_of(outsider, "THEIRS")

    assert ids(ocpi_get(client, emsp_token, url("2.2.1"))) == ["MINE"]


def test_outsider_sees_none_of_the_emsps_cdrs(client: Client, outsider_token: str, cdrs) -> None:
    response = ocpi_get(client, outsider_token, url("2.2.1"))

    assert ids(response) == []
    assert response["X-Total-Count"] == "0"


def test_hub_without_from_headers_sees_the_cdrs_of_every_party_it_relays_for(
    client: Client, hub_token: str, emsp: Party, second_emsp: Party, outsider: Party
) -> None:
    cdr_of(emsp, "FIRST")
    cdr_of(second_emsp, "SECOND")
    cdr_of(outsider, "OUTSIDE")

    assert sorted(ids(ocpi_get(client, hub_token, url("2.2.1")))) == ["FIRST", "SECOND"]


def test_hub_with_from_headers_sees_only_that_partys_cdrs(
    client: Client, hub_token: str, emsp: Party, second_emsp: Party
) -> None:
    cdr_of(emsp, "FIRST")
    cdr_of(second_emsp, "SECOND")

    response = ocpi_get(client, hub_token, url("2.2.1"), headers=from_party(emsp))

    assert ids(response) == ["FIRST"]


def test_date_from_is_inclusive_and_date_to_exclusive(
    client: Client, emsp_token: str, cdrs
) -> None:
    response = ocpi_get(
        client,
        emsp_token,
        url("2.2.1"),
        {"date_from": "2025-04-01T01:00:00Z", "date_to": "2025-04-01T03:00:00Z"},
    )

    assert ids(response) == ["C1", "C2"]


def test_pagination_headers_and_link_keep_the_filters(
    client: Client, emsp_token: str, cdrs
) -> None:
    response = ocpi_get(
        client, emsp_token, url("2.2.1"), {"limit": "2", "date_to": "2025-04-02T00:00:00Z"}
    )

    assert ids(response) == ["C0", "C1"]
    assert response["X-Total-Count"] == "4"
    assert response["X-Limit"] == "2"
    query = link_query(response)
    assert query["date_to"] == ["2025-04-02T00:00:00Z"]
    assert query["offset"] == ["2"]


def test_bad_date_from_is_2001_naming_it(client: Client, emsp_token: str) -> None:
    response = ocpi_get(client, emsp_token, url("2.2.1"), {"date_from": "last week"})

    assert response.json()["status_code"] == 2001
    assert "date_from" in response.json()["status_message"]


def test_negative_offset_is_2001(client: Client, emsp_token: str) -> None:
    response = ocpi_get(client, emsp_token, url("2.2.1"), {"offset": "-10"})

    assert response.json()["status_code"] == 2001


def test_limit_above_the_maximum_is_capped(client: Client, emsp_token: str, cdrs, settings) -> None:
    settings.OCPI_MAX_PAGE_SIZE = 2

    response = ocpi_get(client, emsp_token, url("2.2.1"), {"limit": "9999"})

    assert len(data(response)) == 2
    assert response["X-Limit"] == "2"


def test_unknown_token_is_401(client: Client) -> None:
    assert ocpi_get(client, "wrong", url("2.2.1")).status_code == 401


def test_token_a_is_401(client: Client, invited) -> None:
    assert ocpi_get(client, invited[1], url("2.2.1")).status_code == 401


# Token, routing (2), the page's keys, count, their stamps, those CDRs with owner (the first
# time: a CDR's rendered JSON is kept, see test_a_cdr_is_rendered_once).
LIST_QUERIES = 7
# 2.1.1 embeds our live location (rendered every time, no stamps): + its EVSEs and connectors.
LIST_QUERIES_211 = 8


@pytest.mark.parametrize("count", [1, 20])
@pytest.mark.parametrize(
    ("version", "queries"), [("2.2.1", LIST_QUERIES), ("2.1.1", LIST_QUERIES_211)]
)
def test_list_reads_a_page_in_a_fixed_number_of_queries(
    client: Client,
    emsp_token: str,
    emsp: Party,
    django_assert_num_queries,
    count: int,
    version: str,
    queries: int,
) -> None:
    location = LocationFactory.create(ocpi_id="LOC1")
    ConnectorFactory.create(evse=EVSEFactory.create(location=location, uid="3256"), ocpi_id="1")
    for number in range(count):
        cdr_of(emsp, f"C{number}", location=location)

    with django_assert_num_queries(queries):
        response = ocpi_get(client, emsp_token, url(version))

    assert len(data(response)) == count


def test_a_cdr_is_rendered_once(
    client: Client, emsp_token: str, emsp: Party, django_assert_num_queries
) -> None:
    cdr_of(emsp, "C1")
    first = data(ocpi_get(client, emsp_token, url("2.2.1")))

    with django_assert_num_queries(LIST_QUERIES - 1):  # no read of the CDR rows
        again = data(ocpi_get(client, emsp_token, url("2.2.1")))

    assert again == first
