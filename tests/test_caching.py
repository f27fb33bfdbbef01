"""Plain byte values in the cache: one MGET of raw values on Redis, the cache API elsewhere."""

from __future__ import annotations

import redis
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings

from cpms.caching import bytes_get_many, bytes_set_many, cache_is_shared


def test_values_come_back_in_the_order_of_the_keys_with_none_for_missing_ones() -> None:
    bytes_set_many("text:", {1: b"first", 3: b"third"}, timeout=60)

    assert bytes_get_many("text:", [1, 2, 3]) == [b"first", None, b"third"]
    assert bytes_get_many("text:", []) == []


def test_on_redis_the_values_are_stored_raw_under_the_cache_keys(
    redis_cache: redis.Redis,
) -> None:
    bytes_set_many("text:", {1: b'{"id":"LOC1"}', 2: b"\xff\x00"}, timeout=60)

    assert cache_is_shared()
    assert bytes_get_many("text:", [1, 3, 2]) == [b'{"id":"LOC1"}', None, b"\xff\x00"]
    assert redis_cache.get(cache.make_key("text:1")) == b'{"id":"LOC1"}'
    assert 0 < redis_cache.ttl(cache.make_key("text:1")) <= 60


def test_a_custom_key_function_builds_every_key(redis_cache: redis.Redis) -> None:
    def reversed_key(key: str, key_prefix: str, version: int) -> str:
        return f"{key}:{version}:{key_prefix}"

    with override_settings(
        CACHES={"default": {**settings.CACHES["default"], "KEY_FUNCTION": reversed_key}}
    ):
        bytes_set_many("text:", {7: b"seven"}, timeout=60)

        assert bytes_get_many("text:", [7, 8]) == [b"seven", None]
        assert redis_cache.get("text:7:1:") == b"seven"
