"""Each process's memory of the connections that called it, valid while none has changed.

Every OCPI request looks up its connection by token and resolves its routing headers: three
queries whose ORM set-up costs more than a small page does; every change of the network asks
which partners receive pushes of it. These answers change only when a connection, one of its
endpoints or a party changes (staff, a handshake, a hub's ClientInfo), so a process keeps them,
under a generation number held in the shared cache. A commit that saves or deletes a connection,
an endpoint or a party, or changes the parties a connection speaks for, moves the number; a request reads it
(one cache round trip) and drops the process's memory when it moved.

Only with a cache the processes share: with per-process memory (no CACHE_URL) a change made in
another process would go unseen, so every request reads the database then.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import transaction

from cpms.caching import cache_is_shared

T = TypeVar("T")

_GENERATION_KEY = "ocpi:connections:generation"
# The key lives as long as the cache keeps it; a lost key only costs a fresh start everywhere.
_GENERATION_TIMEOUT = None


class _Memory:
    def __init__(self) -> None:
        self.generation: Any = None
        self.entries: dict[tuple[Any, ...], Any] = {}
        # Set while a request runs whose generation was read already: read once per request.
        self.checked = False
        self.in_request = False

    def remembered(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        """`compute()`, or what it gave under the current generation (None is not kept)."""
        if not cache_is_shared():
            return compute()
        if not self.checked:
            generation = _current_generation()
            if generation != self.generation:
                self.entries = {}
                self.generation = generation
            self.checked = self.in_request
        try:
            return self.entries[key]
        except KeyError:
            value = compute()
            if value is not None:  # unknown tokens are not kept: guessing must not fill memory
                self.entries[key] = value
            return value


_memory = _Memory()


def remembered(key: tuple[Any, ...], compute: Callable[[], T]) -> T:
    """What `compute` answers for `key` (a connection by token hash, a routing, the receivers
    of a module), remembered while no connection, endpoint or party has changed. `compute` must
    read only those;
    what it answers is shared by the requests of the process, which must not change it.
    """
    return _memory.remembered(key, compute)


@contextmanager
def one_request() -> Iterator[None]:
    """Within: the generation is read once, by the first lookup (the middleware wraps requests)."""
    _memory.in_request, _memory.checked = True, False
    try:
        yield
    finally:
        _memory.in_request = _memory.checked = False


def _current_generation() -> Any:
    generation = cache.get(_GENERATION_KEY)
    if generation is None:
        # Emptied cache: start a generation no process has seen.
        cache.add(_GENERATION_KEY, time.time_ns(), timeout=_GENERATION_TIMEOUT)
        generation = cache.get(_GENERATION_KEY)
    return generation


def connections_changed(**kwargs: Any) -> None:
    """Signal receiver: once the change is committed, every process forgets what it kept."""
    transaction.on_commit(_next_generation)


def _next_generation() -> None:
    try:
        cache.incr(_GENERATION_KEY)
    except ValueError:  # no generation yet, or the cache lost it: any new one will do
        cache.set(_GENERATION_KEY, time.time_ns(), timeout=_GENERATION_TIMEOUT)
