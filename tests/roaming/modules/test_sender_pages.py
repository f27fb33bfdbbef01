"""Pages of the sessions, CDRs and tariffs senders, as they are read for speed.

Sessions and CDRs are read in two steps (the page's keys through the index, then the rows of just
those keys); tariffs are rendered once per state and version and reused. Whatever the way, a page
holds exactly what a plain ``ORDER BY last_updated, id OFFSET n LIMIT m`` over what the partner
may see holds, and a tariff's JSON is always that of its current state.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test import Client
from django.test.utils import CaptureQueriesContext

from billing.choices import ReservationRestrictionType, TariffDimensionType
from billing.models import CDR, PriceComponent, Tariff, TariffElement
from locations.models import Connector
from roaming.models import Party
from roaming.services import parties_sync_ours
from sessions_app.models import Session
from tests.billing.factories import (
    CDRFactory,
    PriceComponentFactory,
    TariffElementFactory,
    TariffFactory,
)
from tests.locations.factories import ConnectorFactory, EVSEFactory, LocationFactory
from tests.roaming.modules.conftest import data, ids, next_link, ocpi_get, to_party
from tests.sessions_app.factories import SessionFactory, TokenFactory

pytestmark = pytest.mark.django_db

START = datetime(2025, 6, 1, tzinfo=UTC)
LIMIT = 4
OFFSETS = (0, 1, 3, 4, 7, 10, 13, 20)
# Half-open windows on last_updated; None leaves that end open.
DATE_FILTERS = (
    (None, None),
    (START + timedelta(hours=2), None),
    (None, START + timedelta(hours=5)),
    (START + timedelta(hours=1), START + timedelta(hours=5)),
)


def stamp(number: int) -> datetime:
    """Last updated times with ties (two objects per half hour), so the id decides their order."""
    return START + timedelta(minutes=30 * (number // 2))


def plain_page(
    visible: QuerySet[Any], offset: int, date_from: datetime | None, date_to: datetime | None
) -> list[str]:
    """The OCPI ids of the page a plain ORDER BY ... OFFSET ... LIMIT over `visible` gives."""
    if date_from is not None:
        visible = visible.filter(last_updated__gte=date_from)
    if date_to is not None:
        visible = visible.filter(last_updated__lt=date_to)
    ordered = visible.order_by("last_updated", "id").values_list("ocpi_id", flat=True)
    return list(ordered[offset : offset + LIMIT])


def page_query(offset: int, date_from: datetime | None, date_to: datetime | None) -> dict[str, str]:
    query = {"offset": str(offset), "limit": str(LIMIT)}
    if date_from is not None:
        query["date_from"] = date_from.isoformat()
    if date_to is not None:
        query["date_to"] = date_to.isoformat()
    return query


def assert_pages_match_plain_offsets(
    client: Client,
    token: str,
    path: str,
    visible: QuerySet[Any],
    headers: dict[str, str] | None = None,
) -> None:
    for date_from, date_to in DATE_FILTERS:
        for offset in OFFSETS:
            response = ocpi_get(
                client, token, path, page_query(offset, date_from, date_to), headers=headers
            )
            expected = plain_page(visible, offset, date_from, date_to)
            assert ids(response) == expected, (offset, date_from, date_to)


def follow(client: Client, token: str, path: str, params: dict[str, str]) -> Iterator[Any]:
    """Every response of a pull that follows the Link headers from the first page."""
    response = ocpi_get(client, token, path, params)
    yield response
    while (link := next_link(response)) is not None:
        response = ocpi_get(client, token, link)
        yield response


@pytest.fixture
def connector(db: None) -> Connector:
    return ConnectorFactory.create()


@pytest.fixture
def second_cpo(db: None) -> Party:
    """Our second CPO identity (the first owns the factories' locations)."""
    return parties_sync_ours()[1]


def sessions_of(party: Party, connector: Connector, count: int, *, prefix: str) -> list[Session]:
    """`count` sessions of `party`'s driver at `connector`, with last_updated per ``stamp``."""
    token = TokenFactory.create(owner=party)
    created = [
        SessionFactory.create(connector=connector, token=token, ocpi_id=f"{prefix}{n}")
        for n in range(count)
    ]
    for number, session in enumerate(created):
        Session.objects.filter(pk=session.pk).update(last_updated=stamp(number))
    return created


def cdrs_of(party: Party, count: int, *, prefix: str, **fields: Any) -> list[CDR]:
    return [
        CDRFactory.create(emsp=party, ocpi_id=f"{prefix}{n}", last_updated=stamp(n), **fields)
        for n in range(count)
    ]


# --- sessions ------------------------------------------------------------------------------------


@pytest.fixture
def sessions(emsp: Party, second_emsp: Party, outsider: Party, connector: Connector) -> None:
    """Sessions of two eMSPs a hub relays for, interleaved in time, and of an outsider."""
    sessions_of(emsp, connector, 13, prefix="A")
    sessions_of(second_emsp, connector, 9, prefix="B")
    sessions_of(outsider, connector, 5, prefix="X")


def test_sessions_pages_of_an_emsp_are_those_of_plain_offsets(
    client: Client, emsp_token: str, emsp: Party, sessions
) -> None:
    visible = Session.objects.filter(emsp=emsp)

    assert_pages_match_plain_offsets(client, emsp_token, "/ocpi/2.2.1/sessions", visible)


def test_sessions_pages_of_a_hub_are_those_of_plain_offsets(
    client: Client, hub_token: str, emsp: Party, second_emsp: Party, sessions
) -> None:
    visible = Session.objects.filter(emsp__in=[emsp, second_emsp])

    assert_pages_match_plain_offsets(client, hub_token, "/ocpi/2.2.1/sessions", visible)


def test_sessions_pages_addressed_to_one_of_our_identities_hold_only_its_sessions(
    client: Client, hub_token: str, emsp: Party, second_cpo: Party, sessions
) -> None:
    theirs = LocationFactory.create(owner=second_cpo)
    at_second = ConnectorFactory.create(evse=EVSEFactory.create(location=theirs))
    sessions_of(emsp, at_second, 6, prefix="T")
    visible = Session.objects.filter(emsp=emsp, owner=second_cpo)

    assert_pages_match_plain_offsets(
        client, hub_token, "/ocpi/2.1.1/sessions", visible, headers=to_party(second_cpo)
    )


@pytest.mark.parametrize("version", ["2.1.1", "2.2.1", "2.3.0"])
def test_sessions_page_names_location_evse_and_connector_in_every_version(
    client: Client, emsp_token: str, emsp: Party, connector: Connector, version: str
) -> None:
    sessions_of(emsp, connector, 2, prefix="A")

    listed = data(ocpi_get(client, emsp_token, f"/ocpi/{version}/sessions", {"offset": "1"}))

    (session,) = listed
    if version == "2.1.1":
        assert session["location"]["id"] == connector.evse.location.ocpi_id
        assert session["location"]["evses"][0]["uid"] == connector.evse.uid
    else:
        assert session["location_id"] == connector.evse.location.ocpi_id
        assert (session["evse_uid"], session["connector_id"]) == (
            connector.evse.uid,
            connector.ocpi_id,
        )


def test_a_session_changed_during_a_pull_moves_to_its_end(
    client: Client, emsp_token: str, emsp: Party, connector: Connector
) -> None:
    first, *_ = sessions_of(emsp, connector, 10, prefix="A")
    pulled: list[str] = []

    for number, response in enumerate(
        follow(client, emsp_token, "/ocpi/2.2.1/sessions", {"limit": str(LIMIT)})
    ):
        pulled += ids(response)
        if number == 0:
            first.kwh = Decimal("20")
            first.save()  # bumps last_updated to now, after every other session

    assert pulled == [f"A{n}" for n in range(10)] + ["A0"]
    last_page = ids(ocpi_get(client, emsp_token, "/ocpi/2.2.1/sessions", {"offset": "8"}))
    assert last_page == ["A9", "A0"]


# --- CDRs ----------------------------------------------------------------------------------------


@pytest.fixture
def cdrs(emsp: Party, second_emsp: Party, outsider: Party) -> None:
    """CDRs of two eMSPs a hub relays for, interleaved in time, and of an outsider."""
    cdrs_of(emsp, 13, prefix="A")
    cdrs_of(second_emsp, 9, prefix="B")
    cdrs_of(outsider, 5, prefix="X")


@pytest.mark.parametrize("version", ["2.1.1", "2.2.1"])
def test_cdrs_pages_of_an_emsp_are_those_of_plain_offsets(
    client: Client, emsp_token: str, emsp: Party, cdrs, version: str
) -> None:
    visible = CDR.objects.filter(emsp=emsp)

    assert_pages_match_plain_offsets(client, emsp_token, f"/ocpi/{version}/cdrs", visible)


def test_cdrs_pages_of_a_hub_are_those_of_plain_offsets(
    client: Client, hub_token: str, emsp: Party, second_emsp: Party, cdrs
) -> None:
    visible = CDR.objects.filter(emsp__in=[emsp, second_emsp])

    assert_pages_match_plain_offsets(client, hub_token, "/ocpi/2.2.1/cdrs", visible)


def test_cdrs_pages_addressed_to_one_of_our_identities_hold_only_its_cdrs(
    client: Client, hub_token: str, emsp: Party, second_cpo: Party, cdrs
) -> None:
    cdrs_of(emsp, 6, prefix="T", owner=second_cpo)
    visible = CDR.objects.filter(emsp=emsp, owner=second_cpo)

    assert_pages_match_plain_offsets(
        client, hub_token, "/ocpi/2.2.1/cdrs", visible, headers=to_party(second_cpo)
    )


def test_a_cdrs_pull_following_the_links_reads_each_cdr_once(
    client: Client, emsp_token: str, emsp: Party, cdrs
) -> None:
    pulled = [
        cdr_id
        for response in follow(client, emsp_token, "/ocpi/2.2.1/cdrs", {"limit": str(LIMIT)})
        for cdr_id in ids(response)
    ]

    assert pulled == [f"A{n}" for n in range(13)]


# --- tariffs -------------------------------------------------------------------------------------


def tariff(ocpi_id: str, *, price: str = "0.30") -> Tariff:
    """A tariff of one element with one ENERGY component at `price`."""
    created = TariffFactory.create(ocpi_id=ocpi_id)
    element = TariffElementFactory.create(tariff=created, position=0)
    PriceComponentFactory.create(element=element, position=0, price=Decimal(price))
    return created


def energy_price(listed: dict[str, Any]) -> Any:
    return listed["elements"][0]["price_components"][0]["price"]


def tariffs_get(client: Client, token: str, version: str = "2.2.1") -> Any:
    return ocpi_get(client, token, f"/ocpi/{version}/tariffs")


def test_a_tariffs_page_again_is_the_same_without_reading_elements(
    client: Client, emsp_token: str
) -> None:
    for number in range(3):
        tariff(f"T{number}")
    first = tariffs_get(client, emsp_token)

    with CaptureQueriesContext(connection) as queries:
        again = tariffs_get(client, emsp_token)

    assert again.json()["data"] == first.json()["data"]
    assert again["X-Total-Count"] == "3"
    read = " ".join(query["sql"] for query in queries.captured_queries)
    assert TariffElement._meta.db_table not in read
    assert PriceComponent._meta.db_table not in read


def test_a_changed_price_component_shows_at_once(client: Client, emsp_token: str) -> None:
    listed = tariff("T0")
    tariffs_get(client, emsp_token)

    component = PriceComponent.objects.get(element__tariff=listed)
    component.price = Decimal("0.45")
    component.save()

    assert energy_price(data(tariffs_get(client, emsp_token))[0]) == 0.45


def test_a_changed_tariff_shows_at_once(client: Client, emsp_token: str) -> None:
    listed = tariff("T0")
    tariffs_get(client, emsp_token)

    listed.tariff_alt_url = "https://example.com/prices"
    listed.save()

    assert data(tariffs_get(client, emsp_token))[0]["tariff_alt_url"] == listed.tariff_alt_url


def test_a_deleted_tariff_leaves_the_page_at_once(client: Client, emsp_token: str) -> None:
    tariff("KEPT")
    gone = tariff("GONE")
    tariffs_get(client, emsp_token)

    gone.delete()

    assert ids(tariffs_get(client, emsp_token)) == ["KEPT"]


def test_each_version_gets_its_own_rendering(client: Client, emsp_token: str) -> None:
    tariff("T0")

    in_230 = data(tariffs_get(client, emsp_token, "2.3.0"))[0]
    in_221 = data(tariffs_get(client, emsp_token, "2.2.1"))[0]
    in_211 = data(tariffs_get(client, emsp_token, "2.1.1"))[0]

    assert "tax_included" in in_230
    assert "tax_included" not in in_221
    assert "country_code" in in_221
    assert "country_code" not in in_211


def test_a_tariff_2_1_1_cannot_express_stays_out_of_every_2_1_1_page(
    client: Client, emsp_token: str
) -> None:
    tariff("PLAIN")
    reservation_only = TariffFactory.create(ocpi_id="RESERVE")
    element = TariffElementFactory.create(
        tariff=reservation_only, reservation=ReservationRestrictionType.RESERVATION
    )
    PriceComponentFactory.create(element=element, type=TariffDimensionType.TIME)

    assert ids(tariffs_get(client, emsp_token, "2.1.1")) == ["PLAIN"]
    assert ids(tariffs_get(client, emsp_token, "2.1.1")) == ["PLAIN"]
    assert sorted(ids(tariffs_get(client, emsp_token, "2.2.1"))) == ["PLAIN", "RESERVE"]
