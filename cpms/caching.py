"""Facts about the configured cache, and plain byte values in it for hot paths."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.cache.backends.base import default_key_func
from django.core.cache.backends.redis import RedisCache


def cache_is_shared() -> bool:
    """Whether every process reads the same cache (Redis), not memory of its own (no CACHE_URL)."""
    backend: str = settings.CACHES["default"]["BACKEND"]
    return not backend.endswith(("LocMemCache", "DummyCache"))


def bytes_get_many(prefix: str, names: Sequence[int]) -> list[bytes | None]:
    """The byte values stored by ``bytes_set_many`` under `prefix` followed by each name, in
    order (None where there is none).

    On Redis one MGET of the raw values, the keys built as bytes from the prefix: Django's cache
    API checks every key for memcached and unpickles every value, and building and encoding
    each key on its own cost more than Redis took to answer a page of them.
    """
    if not names:
        return []
    backend = caches["default"]
    client = _redis_client(backend, write=False)
    if client is None:
        keys = [f"{prefix}{name}" for name in names]
        found = backend.get_many(keys)
        return [found.get(key) for key in keys]
    head = _raw_key_head(backend, prefix)
    if head is None:
        values: list[bytes | None] = client.mget(
            [backend.make_key(f"{prefix}{name}") for name in names]
        )
    else:
        values = client.mget([b"%s%d" % (head, name) for name in names])
    return values


def bytes_set_many(prefix: str, values: Mapping[int, bytes], *, timeout: int) -> None:
    """Store byte values under `prefix` followed by each name (read back only by
    ``bytes_get_many``) for `timeout` seconds."""
    if not values:
        return
    backend = caches["default"]
    client = _redis_client(backend, write=True)
    if client is None:
        backend.set_many(
            {f"{prefix}{name}": value for name, value in values.items()}, timeout=timeout
        )
        return
    with client.pipeline(transaction=False) as pipeline:
        for name, value in values.items():
            pipeline.set(backend.make_key(f"{prefix}{name}"), value, ex=timeout)
        pipeline.execute()


def _raw_key_head(backend: BaseCache, prefix: str) -> bytes | None:
    """The cache key of `prefix` as bytes, which a name completes, when the backend builds keys
    the default way (prefix, version and key joined, the key last)."""
    if backend.key_func is not default_key_func:
        return None
    return backend.make_key(prefix).encode()


def _redis_client(backend: BaseCache, *, write: bool) -> Any:
    """The redis-py client of a cache, when it is Django's Redis backend."""
    if not isinstance(backend, RedisCache):
        return None
    client_factory: Any = backend._cache  # type: ignore[attr-defined]  # Django's RedisCacheClient
    return client_factory.get_client(write=write)
