"""Admin login brute-force protection (django-axes): locked per username and client IP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

PASSWORD = "correct horse battery staple"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def staff(db: None, django_user_model):
    return django_user_model.objects.create_user(
        username="alice", password=PASSWORD, is_staff=True, is_superuser=True
    )


@pytest.fixture
def three_failures_lock(settings) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = 0.25  # hours: 15 minutes


def _login(client: Client, password: str, *, username: str = "alice", ip: str = "192.0.2.10"):
    return client.post(
        reverse("admin:login"),
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=ip,
    )


def _logged_in(client: Client) -> bool:
    return SESSION_KEY in client.session


def _fail(client: Client, times: int, **kwargs: str) -> None:
    for _ in range(times):
        _login(client, "wrong", **kwargs)


@time_machine.travel(START, tick=False)
def test_wrong_passwords_below_the_limit_leave_the_login_open(
    client: Client, staff, three_failures_lock
) -> None:
    _fail(client, 2)

    response = _login(client, PASSWORD)

    assert response.status_code == 302
    assert _logged_in(client)


@time_machine.travel(START, tick=False)
def test_the_right_password_is_refused_once_locked_out(
    client: Client, staff, three_failures_lock
) -> None:
    _fail(client, 3)

    response = _login(client, PASSWORD)

    assert response.status_code == 429
    assert not _logged_in(client)


def test_the_lock_ends_after_the_cool_off(client: Client, staff, three_failures_lock) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        _fail(client, 3)
        traveller.shift(timedelta(minutes=14))
        assert _login(client, PASSWORD).status_code == 429

        traveller.shift(timedelta(minutes=16))

        assert _login(client, PASSWORD).status_code == 302
        assert _logged_in(client)


@time_machine.travel(START, tick=False)
def test_the_lock_holds_only_for_that_ip(client: Client, staff, three_failures_lock) -> None:
    _fail(client, 3, ip="192.0.2.10")

    assert _login(client, PASSWORD, ip="192.0.2.99").status_code == 302


@time_machine.travel(START, tick=False)
def test_the_lock_holds_only_for_that_username(
    client: Client, staff, three_failures_lock, django_user_model
) -> None:
    django_user_model.objects.create_user(username="bob", password=PASSWORD, is_staff=True)
    _fail(client, 3, username="alice")

    assert _login(client, PASSWORD, username="bob").status_code == 302


@time_machine.travel(START, tick=False)
def test_the_limit_comes_from_settings(client: Client, staff, settings) -> None:
    settings.AXES_FAILURE_LIMIT = 5
    _fail(client, 4)

    assert _login(client, PASSWORD).status_code == 302


@time_machine.travel(START, tick=False)
def test_behind_a_trusted_proxy_the_lock_follows_the_forwarded_client(
    client: Client, staff, three_failures_lock, settings
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(3):
        client.post(
            reverse("admin:login"),
            {"username": "alice", "password": "wrong"},
            HTTP_X_FORWARDED_FOR=f"10.9.9.{n}, 198.51.100.1",
        )

    locked = client.post(
        reverse("admin:login"),
        {"username": "alice", "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="198.51.100.1",
    )
    other = client.post(
        reverse("admin:login"),
        {"username": "alice", "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="198.51.100.2",
    )

    assert locked.status_code == 429
    assert other.status_code == 302
