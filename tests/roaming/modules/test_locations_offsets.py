"""Raw offsets into the locations list: served through marks, the same rows as a plain OFFSET."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from locations.models import Location
from roaming.transport import pagination
from tests.roaming.modules.conftest import ids, ocpi_get
from tests.roaming.modules.test_locations_sender import START, site, url

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def small_marks(monkeypatch: pytest.MonkeyPatch) -> None:
    """A mark every 3 rows, so that a few locations span several blocks."""
    monkeypatch.setattr(pagination, "MARK_SPACING", 3)


@pytest.fixture
def eleven(db: None) -> list[str]:
    """Eleven published locations; two share a last_updated (the id breaks the tie)."""
    times = [START + timedelta(minutes=minute) for minute in (5, 1, 9, 3, 3, 7, 2, 8, 6, 4, 10)]
    for number, when in enumerate(times):
        site(f"LOC{number:02d}", evses=1, connectors=1, last_updated=when)
    return list(Location.objects.order_by("last_updated", "pk").values_list("ocpi_id", flat=True))


def page(client: Client, token: str, **params: str) -> Any:
    return ocpi_get(client, token, url("2.2.1"), params=params)


@pytest.mark.parametrize("offset", range(13))
def test_every_offset_gives_the_rows_of_a_plain_offset(
    client: Client, emsp_token: str, eleven: list[str], offset: int
) -> None:
    response = page(client, emsp_token, offset=str(offset), limit="4")

    assert ids(response) == eleven[offset : offset + 4]
    assert response["X-Total-Count"] == "11"


def test_marks_follow_the_date_filters(client: Client, emsp_token: str, eleven: list[str]) -> None:
    date_from = (START + timedelta(minutes=3)).isoformat().replace("+00:00", "Z")
    filtered = eleven[2:]  # minutes 1 and 2 are before

    for offset in range(len(filtered) + 1):
        response = page(client, emsp_token, offset=str(offset), limit="2", date_from=date_from)
        assert ids(response) == filtered[offset : offset + 2]


def test_a_new_location_moves_the_marks_at_once(
    client: Client, emsp_token: str, eleven: list[str]
) -> None:
    page(client, emsp_token, offset="7", limit="2")  # marks made
    first = site("LOC-NEW", evses=1, connectors=1, last_updated=START)

    response = page(client, emsp_token, offset="7", limit="2")

    assert ids(response) == [first.ocpi_id, *eleven][7:9]
    assert response["X-Total-Count"] == "12"  # four full blocks of three


def test_an_offset_past_the_end_is_an_empty_page_with_the_count(
    client: Client, emsp_token: str, eleven: list[str]
) -> None:
    response = page(client, emsp_token, offset="30", limit="2")

    assert ids(response) == []
    assert response["X-Total-Count"] == "11"


def test_a_date_filter_matching_nothing_counts_nothing(
    client: Client, emsp_token: str, eleven: list[str]
) -> None:
    date_from = (START + timedelta(days=1)).isoformat().replace("+00:00", "Z")

    response = page(client, emsp_token, offset="5", limit="2", date_from=date_from)

    assert ids(response) == []
    assert response["X-Total-Count"] == "0"


def test_unpublished_locations_take_no_place_for_those_who_may_not_see_them(
    client: Client, emsp_token: str, eleven: list[str]
) -> None:
    site("HIDDEN", evses=1, connectors=1, publish=False, publish_allowed_to=[{"uid": "NOBODY"}])

    response = page(client, emsp_token, offset="6", limit="3")

    assert ids(response) == eleven[6:9]
    assert response["X-Total-Count"] == "11"
