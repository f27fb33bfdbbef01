"""Plain byte values in the cache: one MGET of raw values on Redis, the cache API elsewhere."""

from __future__ import annotations

import redis
from django.core.cache import cache

from cpms.caching import bytes_get_many, bytes_set_many, cache_is_shared


def test_values_come_back_in_the_order_of_the_keys_with_none_for_missing_ones() -> None:
    bytes_set_many({"a": b"first", "c": b"third"}, timeout=60)

    assert bytes_get_many(["a", "b", "c"]) == [b"first", None, b"third"]
    assert bytes_get_many([]) == []


def test_on_redis_the_values_are_stored_raw_under_the_cache_keys(
    redis_cache: redis.Redis,
) -> None:
    bytes_set_many({"text:1": b'{"id":"LOC1"}', "text:2": b"\xff\x00"}, timeout=60)

    assert cache_is_shared()
    assert bytes_get_many(["text:1", "missing", "text:2"]) == [b'{"id":"LOC1"}', None, b"\xff\x00"]
    assert redis_cache.get(cache.make_key("text:1")) == b'{"id":"LOC1"}'
    assert 0 < redis_cache.ttl(cache.make_key("text:1")) <= 60
