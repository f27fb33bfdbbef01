"""Production settings pass `manage.py check --deploy` and send the security headers."""

from __future__ import annotations

import importlib.util
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client, override_settings

import cpms.settings

# What an operator sets in production; every other setting keeps its default.
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "cpms.example.com",
}
# Left as the test run has them: the test database, and the app registry.
KEEP = {"DATABASES", "INSTALLED_APPS"}


def _settings_from_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> dict[str, Any]:
    """Evaluate cpms/settings.py afresh under `env`, as a production process would."""
    for name in ("SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_COOKIES", "CACHE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location(
        "cpms_settings_under_test", cpms.settings.__file__
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {name: getattr(module, name) for name in dir(module) if name.isupper()}


def _changed(values: dict[str, Any]) -> dict[str, Any]:
    """The settings that differ from the test run's, to override for the test."""
    return {
        name: value
        for name, value in values.items()
        if name not in KEEP and getattr(settings, name, None) != value
    }


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    values = _changed(_settings_from_env(monkeypatch, PRODUCTION_ENV))
    with override_settings(**values):
        yield values


def test_production_settings_pass_the_deploy_check(production) -> None:
    call_command("check", deploy=True, fail_level="WARNING")


def test_https_is_on_by_default_without_debug(production) -> None:
    assert settings.DEBUG is False
    assert settings.SECURE_SSL_REDIRECT is True
    assert settings.SESSION_COOKIE_SECURE is True
    assert settings.CSRF_COOKIE_SECURE is True
    assert settings.SECURE_HSTS_SECONDS >= 31536000


def test_the_deploy_check_catches_an_insecure_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    values = _changed(
        _settings_from_env(monkeypatch, {**PRODUCTION_ENV, "SECURE_HSTS_SECONDS": "0"})
    )

    with override_settings(**values), pytest.raises(SystemCheckError, match=r"security\.W004"):
        call_command("check", deploy=True, fail_level="WARNING")


def test_plain_http_is_redirected_to_https(production, db: None) -> None:
    response = Client().get("/admin/login/", headers={"host": "cpms.example.com"})

    assert response.status_code == 301
    assert response["Location"] == "https://cpms.example.com/admin/login/"


def test_admin_pages_carry_the_security_headers(production, db: None) -> None:
    response = Client().get("/admin/login/", secure=True, headers={"host": "cpms.example.com"})

    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_ocpi_answers_carry_the_security_headers(production, db: None) -> None:
    response = Client().get("/ocpi/versions", secure=True, headers={"host": "cpms.example.com"})

    assert response.status_code == 401
    assert "Strict-Transport-Security" in response
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_redis_cache_url_selects_djangos_own_redis_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    values = _settings_from_env(
        monkeypatch, {**PRODUCTION_ENV, "CACHE_URL": "redis://127.0.0.1:6379/1"}
    )

    assert values["CACHES"]["default"] == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/1",
    }


def test_the_cache_is_local_memory_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    values = _settings_from_env(monkeypatch, PRODUCTION_ENV)

    assert values["CACHES"]["default"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"


def test_the_login_lockout_is_configured_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {**PRODUCTION_ENV, "AXES_FAILURE_LIMIT": "7", "AXES_COOLOFF_MINUTES": "30"}

    values = _settings_from_env(monkeypatch, env)

    assert values["AXES_FAILURE_LIMIT"] == 7
    assert values["AXES_COOLOFF_TIME"] == 0.5  # hours, as django-axes reads it
    assert values["AXES_LOCKOUT_PARAMETERS"] == [["username", "ip_address"]]
