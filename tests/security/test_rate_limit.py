"""Rate limits on the OCPI API: per partner connection, per client IP for bad tokens, 429 in the
envelope with Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client

from roaming.models import Partner
from tests.roaming.conftest import auth, make_partner

VERSIONS = "/ocpi/versions"
NOON = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def partner(db: None) -> tuple[Partner, str]:
    return make_partner(name="Busy eMSP")


@pytest.fixture
def limit_of_three(settings) -> None:
    settings.OCPI_RATE_LIMIT = 3


def _get(client: Client, token: str, **extra: Any):
    return client.get(VERSIONS, headers=auth(token), **extra)


@time_machine.travel(NOON, tick=False)
def test_a_partner_within_its_limit_is_served(client: Client, partner, limit_of_three) -> None:
    _, token = partner

    assert [_get(client, token).status_code for _ in range(3)] == [200, 200, 200]


@time_machine.travel(NOON, tick=False)
def test_a_partner_over_its_limit_gets_429_in_the_envelope(
    client: Client, partner, limit_of_three
) -> None:
    _, token = partner
    for _ in range(3):
        _get(client, token)

    response = _get(client, token, HTTP_X_REQUEST_ID="req-42")

    assert response.status_code == 429
    body = response.json()
    assert body["status_code"] == 2000
    assert "Rate limit exceeded" in body["status_message"]
    assert response["X-Request-ID"] == "req-42"


@time_machine.travel(datetime(2026, 3, 2, 12, 0, 45, tzinfo=UTC), tick=False)
def test_retry_after_gives_the_seconds_left_in_the_minute(
    client: Client, partner, limit_of_three
) -> None:
    _, token = partner
    for _ in range(3):
        _get(client, token)

    response = _get(client, token)

    assert response["Retry-After"] == "15"


def test_the_limit_starts_again_in_the_next_minute(client: Client, partner, limit_of_three) -> None:
    _, token = partner
    with time_machine.travel(NOON, tick=False) as traveller:
        for _ in range(3):
            _get(client, token)
        assert _get(client, token).status_code == 429

        traveller.move_to(datetime(2026, 3, 2, 12, 1, 0, tzinfo=UTC))

        assert _get(client, token).status_code == 200


@time_machine.travel(NOON, tick=False)
def test_one_partners_burst_does_not_limit_another(client: Client, partner, limit_of_three) -> None:
    _, busy_token = partner
    _, quiet_token = make_partner(name="Quiet eMSP")
    for _ in range(4):
        _get(client, busy_token)

    assert _get(client, quiet_token).status_code == 200


@time_machine.travel(NOON, tick=False)
def test_a_limit_of_zero_switches_the_limit_off(client: Client, partner, settings) -> None:
    settings.OCPI_RATE_LIMIT = 0
    _, token = partner

    assert {_get(client, token).status_code for _ in range(20)} == {200}


@time_machine.travel(NOON, tick=False)
def test_an_unreachable_cache_lets_requests_in(
    client: Client, partner, limit_of_three, monkeypatch
) -> None:
    def broken(*args: object, **kwargs: object) -> bool:
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "add", broken)
    _, token = partner

    assert {_get(client, token).status_code for _ in range(5)} == {200}


# --- requests without a valid token: counted per client IP ------------------------------------


@pytest.fixture
def two_failures_per_ip(settings) -> None:
    settings.OCPI_RATE_LIMIT_UNAUTHENTICATED = 2


@time_machine.travel(NOON, tick=False)
def test_guessing_tokens_is_refused_with_429_after_the_ip_limit(
    client: Client, db: None, two_failures_per_ip
) -> None:
    statuses = [_get(client, f"guess-{n}").status_code for n in range(3)]

    assert statuses == [401, 401, 429]


@time_machine.travel(NOON, tick=False)
def test_requests_without_a_token_count_against_the_ip(
    client: Client, db: None, two_failures_per_ip
) -> None:
    statuses = [client.get(VERSIONS).status_code for _ in range(3)]

    assert statuses == [401, 401, 429]


@time_machine.travel(NOON, tick=False)
def test_failed_attempts_from_one_ip_do_not_block_another_ip(
    client: Client, db: None, two_failures_per_ip
) -> None:
    for n in range(3):
        _get(client, f"guess-{n}", REMOTE_ADDR="203.0.113.7")

    assert _get(client, "guess-x", REMOTE_ADDR="203.0.113.8").status_code == 401


@time_machine.travel(NOON, tick=False)
def test_a_forged_forwarded_for_header_does_not_escape_the_ip_limit(
    client: Client, db: None, two_failures_per_ip
) -> None:
    statuses = [
        _get(client, f"guess-{n}", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code
        for n in range(3)
    ]

    assert statuses == [401, 401, 429]


@time_machine.travel(NOON, tick=False)
def test_behind_a_trusted_proxy_the_forwarded_client_ip_is_counted(
    client: Client, db: None, two_failures_per_ip, settings
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(3):
        _get(client, f"guess-{n}", HTTP_X_FORWARDED_FOR="198.51.100.1")

    assert _get(client, "guess-x", HTTP_X_FORWARDED_FOR="198.51.100.2").status_code == 401


@time_machine.travel(NOON, tick=False)
def test_a_partner_is_served_while_its_ip_is_over_the_failure_limit(
    client: Client, partner, two_failures_per_ip
) -> None:
    _, token = partner
    for n in range(3):
        _get(client, f"guess-{n}")

    assert _get(client, token).status_code == 200


@time_machine.travel(NOON, tick=False)
def test_behind_a_trusted_proxy_forged_entries_do_not_escape_the_ip_limit(
    client: Client, db: None, two_failures_per_ip, settings
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    statuses = [
        _get(client, f"guess-{n}", HTTP_X_FORWARDED_FOR=f"10.9.9.{n}, 198.51.100.1").status_code
        for n in range(3)
    ]

    assert statuses == [401, 401, 429]
