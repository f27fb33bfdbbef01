"""Tariffs sender: our tariffs in force per version, paginated, in a fixed number of queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client

from billing.choices import ReservationRestrictionType, TariffDimensionType, TaxIncluded
from billing.models import Tariff
from roaming.models import Party
from roaming.services import parties_sync_ours
from tests.billing.factories import PriceComponentFactory, TariffElementFactory, TariffFactory
from tests.roaming.modules.conftest import (
    VERSIONS,
    data,
    ids,
    link_query,
    ocpi_get,
    to_party,
)

pytestmark = pytest.mark.django_db

START = datetime(2025, 1, 1, tzinfo=UTC)


def url(version: str) -> str:
    return f"/ocpi/{version}/tariffs"


def tariff(
    ocpi_id: str, *, last_updated: datetime = START, elements: int = 2, **fields: object
) -> Tariff:
    """A tariff with `elements` elements of an ENERGY and a TIME component each."""
    created = TariffFactory.create(ocpi_id=ocpi_id, **fields)
    for position in range(elements):
        element = TariffElementFactory.create(tariff=created, position=position)
        PriceComponentFactory.create(element=element, position=0, price=Decimal("0.30"))
        PriceComponentFactory.create(
            element=element, position=1, type=TariffDimensionType.TIME, price=Decimal("2.00")
        )
    Tariff.objects.filter(pk=created.pk).update(last_updated=last_updated)
    return created


@pytest.fixture
def tariffs(db: None) -> list[Tariff]:
    """Four tariffs, one hour apart, oldest first."""
    return [tariff(f"T{i}", last_updated=START + timedelta(hours=i)) for i in range(4)]


@pytest.mark.parametrize("version", VERSIONS)
def test_list_returns_tariffs_with_elements_and_components(
    client: Client, emsp_token: str, version: str
) -> None:
    tariff("AC1")

    response = ocpi_get(client, emsp_token, url(version))

    assert response.status_code == 200
    (listed,) = data(response)
    assert listed["id"] == "AC1"
    assert listed["currency"] == "EUR"
    assert len(listed["elements"]) == 2
    assert [c["type"] for c in listed["elements"][0]["price_components"]] == ["ENERGY", "TIME"]


def test_2_1_1_tariff_has_no_owner_fields(client: Client, emsp_token: str) -> None:
    tariff("AC1")

    (listed,) = data(ocpi_get(client, emsp_token, url("2.1.1")))

    assert "country_code" not in listed
    assert "vat" not in listed["elements"][0]["price_components"][0]


def test_2_2_1_tariff_names_its_owner(client: Client, emsp_token: str, our_cpo: Party) -> None:
    tariff("AC1")

    (listed,) = data(ocpi_get(client, emsp_token, url("2.2.1")))

    assert (listed["country_code"], listed["party_id"]) == (our_cpo.country_code, our_cpo.party_id)
    assert "tax_included" not in listed


def test_2_3_0_tariff_says_whether_prices_include_taxes(client: Client, emsp_token: str) -> None:
    tariff("AC1", tax_included=TaxIncluded.YES)

    (listed,) = data(ocpi_get(client, emsp_token, url("2.3.0")))

    assert listed["tax_included"] == "YES"


def test_elements_keep_their_order(client: Client, emsp_token: str) -> None:
    created = TariffFactory.create(ocpi_id="ORDERED")
    for position, price in ((2, "0.30"), (0, "0.10"), (1, "0.20")):
        element = TariffElementFactory.create(tariff=created, position=position)
        PriceComponentFactory.create(element=element, price=Decimal(price))

    (listed,) = data(ocpi_get(client, emsp_token, url("2.2.1")))

    prices = [e["price_components"][0]["price"] for e in listed["elements"]]
    assert prices == [0.1, 0.2, 0.3]


def test_deleted_tariff_is_not_listed(client: Client, emsp_token: str) -> None:
    tariff("KEPT")
    tariff("GONE").delete()

    assert ids(ocpi_get(client, emsp_token, url("2.2.1"))) == ["KEPT"]


def test_tariff_2_1_1_cannot_express_is_left_out_of_2_1_1_only(
    client: Client, emsp_token: str
) -> None:
    reservation_only = TariffFactory.create(ocpi_id="RESERVE")
    element = TariffElementFactory.create(
        tariff=reservation_only, reservation=ReservationRestrictionType.RESERVATION
    )
    PriceComponentFactory.create(element=element, type=TariffDimensionType.TIME)

    assert ids(ocpi_get(client, emsp_token, url("2.1.1"))) == []
    assert ids(ocpi_get(client, emsp_token, url("2.2.1"))) == ["RESERVE"]


def test_every_partner_sees_every_tariff(
    client: Client, emsp_token: str, outsider_token: str, tariffs
) -> None:
    assert ids(ocpi_get(client, emsp_token, url("2.2.1"))) == ["T0", "T1", "T2", "T3"]
    assert ids(ocpi_get(client, outsider_token, url("2.2.1"))) == ["T0", "T1", "T2", "T3"]


def test_request_addressed_to_one_of_our_identities_lists_only_its_tariffs(
    client: Client, emsp_token: str
) -> None:
    first, second = parties_sync_ours()[:2]
    tariff("FIRST", owner=first)
    tariff("SECOND", owner=second)

    response = ocpi_get(client, emsp_token, url("2.2.1"), headers=to_party(first))

    assert ids(response) == ["FIRST"]


def test_pagination_headers_and_link_keep_the_filters(
    client: Client, emsp_token: str, tariffs
) -> None:
    response = ocpi_get(
        client, emsp_token, url("2.2.1"), {"limit": "2", "date_to": "2025-01-01T03:00:00Z"}
    )

    assert ids(response) == ["T0", "T1"]
    assert response["X-Total-Count"] == "3"
    assert response["X-Limit"] == "2"
    assert link_query(response)["date_to"] == ["2025-01-01T03:00:00Z"]


def test_date_from_is_inclusive_and_date_to_exclusive(
    client: Client, emsp_token: str, tariffs
) -> None:
    response = ocpi_get(
        client,
        emsp_token,
        url("2.2.1"),
        {"date_from": "2025-01-01T01:00:00Z", "date_to": "2025-01-01T03:00:00Z"},
    )

    assert ids(response) == ["T1", "T2"]


def test_bad_date_from_is_2001_naming_it(client: Client, emsp_token: str) -> None:
    response = ocpi_get(client, emsp_token, url("2.2.1"), {"date_from": "01/02/2025"})

    assert response.json()["status_code"] == 2001
    assert "date_from" in response.json()["status_message"]


def test_negative_offset_is_2001(client: Client, emsp_token: str) -> None:
    response = ocpi_get(client, emsp_token, url("2.2.1"), {"offset": "-5"})

    assert response.json()["status_code"] == 2001
    assert "offset" in response.json()["status_message"]


def test_limit_above_the_maximum_is_capped(
    client: Client, emsp_token: str, tariffs, settings
) -> None:
    settings.OCPI_MAX_PAGE_SIZE = 2

    response = ocpi_get(client, emsp_token, url("2.2.1"), {"limit": "100"})

    assert len(data(response)) == 2
    assert response["X-Limit"] == "2"


def test_unknown_token_is_401(client: Client, emsp_token: str) -> None:
    assert ocpi_get(client, "wrong", url("2.2.1")).status_code == 401


def test_token_a_is_401(client: Client, invited) -> None:
    assert ocpi_get(client, invited[1], url("2.2.1")).status_code == 401


# Token, routing (2), the page's keys, count; and to render them, tariffs with owner, elements,
# components (not again while they are unchanged: see test_an_unchanged_tariff_is_not_read_again).
LIST_QUERIES = 8


@pytest.mark.parametrize("count", [1, 20])
def test_list_reads_a_page_in_a_fixed_number_of_queries(
    client: Client, emsp_token: str, django_assert_num_queries, count: int
) -> None:
    for number in range(count):
        tariff(f"T{number}", elements=3)

    with django_assert_num_queries(LIST_QUERIES):
        response = ocpi_get(client, emsp_token, url("2.2.1"))

    assert len(data(response)) == count


def test_an_unchanged_tariff_is_not_read_again(
    client: Client, emsp_token: str, django_assert_num_queries
) -> None:
    tariff("T1", elements=2)
    first = data(ocpi_get(client, emsp_token, url("2.2.1")))

    with django_assert_num_queries(LIST_QUERIES - 3):
        again = data(ocpi_get(client, emsp_token, url("2.2.1")))

    assert again == first
