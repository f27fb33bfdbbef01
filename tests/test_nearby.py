"""A process's own copies of shared-cache entries: kept until their own expiry, and bounded."""

from __future__ import annotations

import time

import redis

from cpms.nearby import NearbyCopies, forget_all


def test_a_copy_is_kept_until_its_expiry(redis_cache: redis.Redis, time_machine) -> None:
    time_machine.move_to("2026-01-01T00:00:00Z", tick=False)
    copies: NearbyCopies[str] = NearbyCopies(size=4)
    copies.put("key", "value", until=time.time() + 10)

    time_machine.shift(9)
    assert copies.get("key") == "value"
    time_machine.shift(1)
    assert copies.get("key") is None


def test_with_a_per_process_cache_nothing_is_kept() -> None:
    copies: NearbyCopies[str] = NearbyCopies(size=4)
    copies.put("key", "value", until=time.time() + 10)
    assert copies.get("key") is None


def test_when_full_the_expired_copies_go_first(redis_cache: redis.Redis) -> None:
    copies: NearbyCopies[int] = NearbyCopies(size=2)
    copies.put("old", 1, until=time.time() - 1)
    copies.put("kept", 2, until=time.time() + 10)
    copies.put("new", 3, until=time.time() + 10)
    assert (copies.get("kept"), copies.get("new")) == (2, 3)


def test_when_full_of_valid_copies_all_are_dropped(redis_cache: redis.Redis) -> None:
    copies: NearbyCopies[int] = NearbyCopies(size=2)
    copies.put("a", 1, until=time.time() + 10)
    copies.put("b", 2, until=time.time() + 10)
    copies.put("c", 3, until=time.time() + 10)
    assert (copies.get("a"), copies.get("b"), copies.get("c")) == (None, None, 3)


def test_forgetting_all_empties_every_store(redis_cache: redis.Redis) -> None:
    copies: NearbyCopies[int] = NearbyCopies(size=2)
    copies.put("a", 1, until=time.time() + 10)
    forget_all()
    assert copies.get("a") is None
