"""Pagination of list endpoints: parameters, headers, the next link and its keyset cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from roaming.choices import Role
from roaming.models import Party
from roaming.transport import pagination
from roaming.transport.pagination import (
    COUNT_REUSE_SECONDS,
    STALE_REUSE_SECONDS,
    PageRequest,
    SetState,
    _Reuse,
    _set_key,
)
from tests.roaming.conftest import auth

pytestmark = [pytest.mark.urls("tests.roaming.probe_urls"), pytest.mark.django_db]

LIST = "/ocpi/2.2.1/parties/"
START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def token(registered) -> str:
    return registered[1]


@pytest.fixture
def parties(registered) -> list[str]:
    """Ten more partner parties (with the eMSP: eleven), one minute apart, oldest first."""
    codes = []
    Party.objects.filter(country_code="DE", party_id="EMS").update(created_at=START)
    codes.append("DE-EMS")
    for index in range(10):
        party = Party.objects.create(
            country_code="BE", party_id=f"P{index:02d}", name=f"P{index}", roles=[Role.EMSP.value]
        )
        Party.objects.filter(pk=party.pk).update(created_at=START + timedelta(minutes=index + 1))
        codes.append(party.code)
    return codes


def get(client: Client, token: str, url: str, **params: str):
    return client.get(url, params, headers=auth(token))


def next_link(response) -> str | None:
    link = response.get("Link")
    if link is None:
        return None
    url, rel = link.split(";")
    assert rel.strip() == 'rel="next"'
    return url.strip()[1:-1]


def local(url: str | None) -> str:
    assert url is not None
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_page_headers_count_everything_and_state_the_limit(client, token, parties) -> None:
    response = get(client, token, LIST, limit="4")
    assert response.json()["data"] == parties[:4]
    assert response["X-Total-Count"] == "11"
    assert response["X-Limit"] == "4"


def test_next_link_is_absolute_and_keeps_the_filters(client, token, parties, settings) -> None:
    settings.OCPI_BASE_URL = "https://cpms.example.com/ocpi"
    date_from = "2023-12-31T00:00:00Z"
    response = get(client, token, LIST, limit="4", date_from=date_from)
    link = next_link(response)
    assert link is not None
    assert link.startswith("https://cpms.example.com/ocpi/2.2.1/parties/?")
    query = parse_qs(urlsplit(link).query)
    assert query["offset"] == ["4"]
    assert query["limit"] == ["4"]
    assert query["date_from"] == [date_from]
    assert "cursor" in query


def test_following_links_walks_every_object_once(client, token, parties) -> None:
    seen: list[str] = []
    url: str | None = f"{LIST}?limit=3"
    while url is not None:
        response = client.get(url, headers=auth(token))
        seen.extend(response.json()["data"])
        link = next_link(response)
        url = local(link) if link else None
    assert seen == parties


def test_last_page_has_no_link(client, token, parties) -> None:
    response = get(client, token, LIST, offset="8", limit="3")
    assert response.json()["data"] == parties[8:]
    assert "Link" not in response


def test_exactly_full_last_page_has_no_link(client, token, parties) -> None:
    response = get(client, token, LIST, offset="7", limit="4")
    assert len(response.json()["data"]) == 4
    assert "Link" not in response


def test_limit_is_capped_by_the_server_maximum(client, token, parties, settings) -> None:
    settings.OCPI_MAX_PAGE_SIZE = 5
    response = get(client, token, LIST, limit="500")
    assert len(response.json()["data"]) == 5
    assert response["X-Limit"] == "5"
    assert "limit=5" in response["Link"]


def test_default_limit_is_the_server_maximum(client, token, parties, settings) -> None:
    settings.OCPI_MAX_PAGE_SIZE = 6
    response = get(client, token, LIST)
    assert len(response.json()["data"]) == 6
    assert response["X-Limit"] == "6"


def test_date_from_is_inclusive_and_date_to_exclusive(client, token, parties) -> None:
    response = get(
        client, token, LIST, date_from="2024-01-01T00:02:00Z", date_to="2024-01-01T00:05:00Z"
    )
    assert response.json()["data"] == parties[2:5]
    assert response["X-Total-Count"] == "3"


def test_raw_offset_is_honoured(client, token, parties) -> None:
    response = get(client, token, LIST, offset="5", limit="2")
    assert response.json()["data"] == parties[5:7]


def test_following_the_link_seeks_instead_of_offsetting(client, token, parties) -> None:
    first = get(client, token, LIST, limit="3")
    with CaptureQueriesContext(connection) as queries:
        client.get(local(next_link(first)), headers=auth(token))
    page_query = [q["sql"] for q in queries if "roaming_party" in q["sql"] and "LIMIT" in q["sql"]]
    assert page_query
    assert all("OFFSET" not in sql for sql in page_query)


def test_a_raw_deep_offset_uses_offset(client, token, parties) -> None:
    with CaptureQueriesContext(connection) as queries:
        get(client, token, LIST, offset="6", limit="3")
    assert any("OFFSET" in q["sql"] for q in queries if "roaming_party" in q["sql"])


def test_an_object_updated_while_crawling_is_not_skipped(client, token, parties) -> None:
    first = get(client, token, LIST, limit="3")
    # The first object changes: it moves to the end of the order.
    Party.objects.filter(country_code="DE", party_id="EMS").update(
        created_at=START + timedelta(hours=1)
    )
    seen = list(first.json()["data"])
    link = next_link(first)
    while link:
        response = client.get(local(link), headers=auth(token))
        seen.extend(response.json()["data"])
        link = next_link(response)
    assert set(seen) == set(parties)


def test_changed_offset_with_a_cursor_falls_back_to_the_offset(client, token, parties) -> None:
    first = get(client, token, LIST, limit="3")
    url = local(next_link(first)).replace("offset=3", "offset=2")
    response = client.get(url, headers=auth(token))
    assert response.json()["data"] == parties[2:5]


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("offset", "-1"),
        ("offset", "one"),
        ("limit", "-5"),
        ("limit", "ten"),
        ("date_from", "yesterday"),
        ("date_to", "2024-13-45T00:00:00Z"),
        ("cursor", "forged"),
    ],
)
def test_malformed_parameter_answers_2001_naming_it(client, token, param, value) -> None:
    response = get(client, token, LIST, **{param: value})
    assert response.status_code == 200
    assert response.json()["status_code"] == 2001
    assert param in response.json()["status_message"]


def test_date_with_an_unencoded_plus_offset_is_read(client, token, parties) -> None:
    response = client.get(f"{LIST}?date_from=2024-01-01T01:09:00+01:00", headers=auth(token))
    assert response.json()["data"] == parties[9:]


KEYS = "/ocpi/2.2.1/party-keys/"


NAMINGS = [{}, {"named": "1"}, {"named": "stateless"}]


@pytest.mark.parametrize("named_set", NAMINGS, ids=["unnamed", "named", "stateless"])
def test_named_key_rows_page_like_the_objects(client, token, parties, named_set) -> None:
    for params in ({"limit": "3"}, {"offset": "5", "limit": "4"}, {"offset": "9"}):
        by_keys = get(client, token, KEYS, **params, **named_set)
        by_objects = get(client, token, LIST, **params)
        assert by_keys.json()["data"] == by_objects.json()["data"]
        assert by_keys["X-Total-Count"] == by_objects["X-Total-Count"] == "11"
    seen: list[str] = []
    url: str | None = f"{KEYS}?limit=4&date_from=2024-01-01T00:01:00Z&{urlencode(named_set)}"
    while url is not None:
        response = client.get(url, headers=auth(token))
        seen.extend(response.json()["data"])
        link = next_link(response)
        url = local(link) if link else None
    assert seen == parties[1:]


@pytest.mark.parametrize("named_set", NAMINGS, ids=["unnamed", "named", "stateless"])
def test_an_empty_set_of_key_rows_is_an_empty_page(client, token, parties, named_set) -> None:
    response = get(client, token, KEYS, none="1", **named_set)
    assert response.json()["data"] == []
    assert response["X-Total-Count"] == "0"
    assert "Link" not in response


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements")
def test_on_postgresql_a_page_of_key_rows_is_planned_once_per_connection(
    client, token, parties
) -> None:
    for offset in range(6):
        get(client, token, KEYS, offset=str(offset), limit="2")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE %s",
            ["%roaming_party%LIMIT $% OFFSET $%"],
        )
        plans = cursor.fetchall()
    assert plans
    assert all(custom == 0 for _, custom in plans)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="statements of PostgreSQL")
@pytest.mark.parametrize("naming", ["1", "stateless"])
def test_on_postgresql_the_pages_of_a_named_set_are_compiled_once_per_process(
    client, token, parties, monkeypatch, naming
) -> None:
    monkeypatch.setattr(pagination, "_STATEMENTS", {})
    compiled: list[bool] = []
    compile_statement = pagination._compile

    def counted(*args: Any) -> Any:
        compiled.append(args[2])  # seeks
        return compile_statement(*args)

    monkeypatch.setattr(pagination, "_compile", counted)
    first = get(client, token, KEYS, named=naming, limit="4")
    following = local(next_link(first))
    second = client.get(following, headers=auth(token))
    assert compiled == [False, True]  # the first rows, then the rows after a sort key
    assert (
        get(client, token, KEYS, named=naming, limit="4", offset="1").json()["data"] == parties[1:5]
    )
    again = client.get(following, headers=auth(token))
    assert compiled == [False, True]
    assert again.json()["data"] == second.json()["data"] == parties[4:8]
    assert first.json()["data"] == parties[:4]


def test_a_set_named_without_a_state_is_counted_by_every_request(client, token, parties) -> None:
    assert get(client, token, KEYS, named="stateless")["X-Total-Count"] == "11"
    Party.objects.create(country_code="BE", party_id="NEW", name="New", roles=[Role.EMSP.value])

    assert get(client, token, KEYS, named="stateless")["X-Total-Count"] == "12"


# --- the count and marks of a named set, reused across requests ---------------------------------

NO_FILTERS = PageRequest(offset=0, limit=10, date_from=None, date_to=None, cursor=None)


class Counted:
    """Stands in for a queryset's count: remembers how often it was asked."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.calls = 0

    def count(self) -> int:
        self.calls += 1
        return self.total


def reuse(state: str) -> _Reuse:
    return _Reuse(_set_key(SetState("a set", state), NO_FILTERS), state)


def test_a_count_is_reused_while_the_state_holds() -> None:
    rows = Counted(5)
    assert reuse("one").total(rows.count) == 5
    assert reuse("one").total(rows.count) == 5
    assert rows.calls == 1


def test_alone_a_request_recounts_at_once_after_a_change() -> None:
    reuse("one").total(Counted(5).count)
    assert reuse("two").total(Counted(6).count) == 6


def test_a_count_older_than_the_reuse_limit_is_recounted(time_machine) -> None:
    time_machine.move_to(START)
    reuse("one").total(Counted(5).count)
    time_machine.move_to(START + timedelta(seconds=COUNT_REUSE_SECONDS + 1))
    assert reuse("one").total(Counted(4).count) == 4


def test_while_one_request_recounts_the_others_answer_from_the_last_count() -> None:
    reuse("one").total(Counted(5).count)
    recounting = reuse("two")
    assert recounting._take_recompute()

    meanwhile = Counted(6)
    assert reuse("two").total(meanwhile.count) == 5
    assert meanwhile.calls == 0

    assert recounting.total(Counted(6).count) == 6
    assert reuse("two").total(meanwhile.count) == 6
    assert meanwhile.calls == 0


def test_a_count_too_old_to_stand_in_is_recounted_even_during_a_recount(time_machine) -> None:
    time_machine.move_to(START)
    reuse("one").total(Counted(5).count)
    time_machine.move_to(START + timedelta(seconds=STALE_REUSE_SECONDS + 1))
    assert reuse("two")._take_recompute()
    assert reuse("two").total(Counted(7).count) == 7


class CacheReads:
    """The pagination helper's cache, counting its reads."""

    def __init__(self, monkeypatch) -> None:
        from roaming.transport import pagination

        self.calls = 0
        self._cache = pagination.cache
        monkeypatch.setattr(pagination, "cache", self)

    def get(self, *args, **kwargs):
        self.calls += 1
        return self._cache.get(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._cache, name)


def test_a_process_keeps_the_current_entry_and_reads_the_cache_no_more(
    redis_cache, monkeypatch
) -> None:
    reuse("one").total(Counted(5).count)
    reads = CacheReads(monkeypatch)
    rows = Counted(5)

    assert reuse("one").total(rows.count) == 5
    assert (reads.calls, rows.calls) == (0, 0)


def test_a_kept_entry_serves_only_its_own_state(redis_cache) -> None:
    reuse("one").total(Counted(5).count)
    assert reuse("two").total(Counted(6).count) == 6


def test_a_kept_entry_is_read_again_from_the_cache_at_the_reuse_limit(
    redis_cache, time_machine, monkeypatch
) -> None:
    time_machine.move_to(START, tick=False)
    reuse("one").total(Counted(5).count)
    time_machine.move_to(START + timedelta(seconds=COUNT_REUSE_SECONDS))
    reads = CacheReads(monkeypatch)

    assert reuse("one").total(Counted(4).count) == 4
    assert reads.calls == 1


def test_marks_another_process_added_are_read_from_the_cache(redis_cache) -> None:
    kept = reuse("one")
    kept.total(Counted(5).count)  # this process keeps the entry without marks
    entry = cache.get(kept.key)
    cache.set(kept.key, {**entry, "marks": [(START, 1)]})

    assert reuse("one").marks(Party.objects.none(), "created_at") == [(START, 1)]
