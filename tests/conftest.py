"""Shared fixtures: our CPO identity, a connected eMSP and an outsider."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from django.core.cache import cache
from django.test import override_settings

from cpms.nearby import forget_all
from roaming.choices import Role
from roaming.models import Party
from roaming.services import parties_sync_ours


@pytest.fixture(autouse=True, scope="session")
def _plain_http_test_client() -> Iterator[None]:
    """The test client speaks plain HTTP; without DEBUG, production redirects that to HTTPS."""
    with override_settings(SECURE_SSL_REDIRECT=False):
        yield


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Rate-limit counters in the cache must not carry over from one test to the next."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def our_cpo(db: None) -> Party:
    """Our first CPO identity from settings (present after migrate)."""
    return parties_sync_ours()[0]


@pytest.fixture
def emsp(db: None) -> Party:
    """A partner eMSP connected to us."""
    return Party.objects.create(
        country_code="DE", party_id="EMS", name="Example eMSP", roles=[Role.EMSP.value]
    )


@pytest.fixture
def outsider(db: None) -> Party:
    """Another eMSP that has no business with the first one's objects."""
    return Party.objects.create(
        country_code="FR", party_id="OUT", name="Outsider eMSP", roles=[Role.EMSP.value]
    )


REDIS_URL = "redis://127.0.0.1:6379/13"


def _redis_is_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def redis_cache() -> Iterator[redis.Redis]:
    """The default cache on a Redis database of the tests' own (skipped without a Redis)."""
    if not _redis_is_up():
        pytest.skip("no Redis at 127.0.0.1:6379")
    backend = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    with override_settings(CACHES={"default": backend}):
        cache.clear()
        forget_all()
        yield redis.Redis.from_url(REDIS_URL)
        cache.clear()
        forget_all()
