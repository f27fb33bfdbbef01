"""Facts about the configured cache, and plain byte values in it for hot paths."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.cache.backends.redis import RedisCache


def cache_is_shared() -> bool:
    """Whether every process reads the same cache (Redis), not memory of its own (no CACHE_URL)."""
    backend: str = settings.CACHES["default"]["BACKEND"]
    return not backend.endswith(("LocMemCache", "DummyCache"))


def bytes_get_many(keys: Sequence[str]) -> list[bytes | None]:
    """The byte values stored under `keys` by ``bytes_set_many`` (None where there is none).

    On Redis one MGET of the raw values: Django's cache API checks every key for memcached and
    unpickles every value, which cost more than the rest of a page of cached texts.
    """
    if not keys:
        return []
    backend = caches["default"]
    client = _redis_client(backend, write=False)
    if client is None:
        found = backend.get_many(keys)
        return [found.get(key) for key in keys]
    make_key = backend.make_key
    values: list[bytes | None] = client.mget([make_key(key) for key in keys])
    return values


def bytes_set_many(values: Mapping[str, bytes], *, timeout: int) -> None:
    """Store byte values (read back only by ``bytes_get_many``) for `timeout` seconds."""
    if not values:
        return
    backend = caches["default"]
    client = _redis_client(backend, write=True)
    if client is None:
        backend.set_many(dict(values), timeout=timeout)
        return
    with client.pipeline(transaction=False) as pipeline:
        for key, value in values.items():
            pipeline.set(backend.make_key(key), value, ex=timeout)
        pipeline.execute()


def _redis_client(backend: BaseCache, *, write: bool) -> Any:
    """The redis-py client of a cache, when it is Django's Redis backend."""
    if not isinstance(backend, RedisCache):
        return None
    client_factory: Any = backend._cache  # type: ignore[attr-defined]  # Django's RedisCacheClient
    return client_factory.get_client(write=write)
