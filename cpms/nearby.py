"""A process's own copy of a few values it read from the shared cache, each until a set moment.

A partner's list request reads small entries of the shared cache whose keys name the state they
hold for (which unpublished locations a party sees, the count and marks of a set). Each costs a
round trip to Redis, a good part of a small page's time, although the entry rarely changes. A
process may keep the entry it read until the moment the entry itself stops being valid, which
the caller gives: it then answers as the shared cache would, without the round trip.

Only in front of a shared cache: a per-process cache is this memory already.
"""

from __future__ import annotations

import time
from typing import Any, Generic, TypeVar

from cpms.caching import cache_is_shared

V = TypeVar("V")


class NearbyCopies(Generic[V]):
    """At most `size` values by key, each until its own expiry (a ``time.time()`` moment)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: dict[Any, tuple[float, V]] = {}
        _ALL.append(self)

    def get(self, key: Any) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= time.time():
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: Any, value: V, *, until: float) -> None:
        if not cache_is_shared():
            return
        if len(self._entries) >= self._size:
            now = time.time()
            self._entries = {k: e for k, e in self._entries.items() if e[0] > now}
            if len(self._entries) >= self._size:
                self._entries.clear()  # all still valid: states moving faster than they expire
        self._entries[key] = (until, value)

    def clear(self) -> None:
        self._entries.clear()


_ALL: list[NearbyCopies[Any]] = []


def forget_all() -> None:
    """Drop every copy this process keeps (when the shared cache is emptied, as tests do)."""
    for copies in _ALL:
        copies.clear()
