"""Rendered OCPI JSON of objects, kept per version and reused until the object changes.

A partner's sync reads the same objects again and again, and serializing one (a location with
its EVSEs and connectors, a tariff with its elements) costs far more than reading its text back.
So list endpoints keep each object's rendered JSON in Django's cache (Redis in production:
shared by every worker), one entry per object and OCPI version. The key names the kind, the
version of the rendering (a number bumped by hand plus a digest of the source files that shape
the output, the encoder's among them, so that a deployment that changes the output never reads older texts), the OCPI
version and the primary key.

The entry holds the text behind a tag naming the state it was rendered from (for instance the
object's ``last_updated`` and its owner's codes). A text whose tag is not the object's current
one is a miss, so nothing is served stale, and a change overwrites the entry rather than leaving
the old text behind.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple, Protocol, TypeVar

from cpms.caching import bytes_get_many, bytes_set_many
from roaming.transport import encoding

# Entries are overwritten on change; the expiry only returns the memory of deleted objects.
TIMEOUT_SECONDS = 30 * 24 * 3600


class Stamp(NamedTuple):
    """One object's primary key and the tag of its current state."""

    pk: int
    tag: bytes


Rendered = tuple[Stamp, bytes]


def stamp(pk: int, last_updated: datetime, *state: object) -> Stamp:
    """The stamp of an object: its primary key, its ``last_updated`` and the other values naming
    the state its text shows (for most kinds its owner's country code and party id).

    The time goes in as microseconds since the epoch: a page stamps every row, and formatting
    the datetime took most of that.
    """
    micros = (last_updated - _EPOCH) // _MICROSECOND
    return Stamp(pk, f"{micros}|{'|'.join(map(str, state))}\n".encode())


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class _Keyed(Protocol):
    @property
    def pk(self) -> int: ...


K = TypeVar("K", bound=_Keyed)


def in_page_order(pks: Sequence[int], items: Iterable[K]) -> list[K]:
    """`items` (rows, stamps) in the order of `pks`; one whose row is gone is left out."""
    by_pk = {item.pk: item for item in items}
    return [by_pk[pk] for pk in pks if pk in by_pk]


class RenderedTexts:
    """The store of one kind of object (see the module docstring)."""

    def __init__(self, kind: str, *, rendering_version: int, sources: Iterable[str]) -> None:
        # The encoder shapes every text too.
        files = [*sources, encoding.__file__]
        digest = hashlib.sha1(b"".join(Path(p).read_bytes() for p in files)).hexdigest()[:8]
        self.prefix = f"ocpi:{kind}:{rendering_version}.{digest}"

    def key(self, version: str, pk: int) -> str:
        return f"{self._of_version(version)}{pk}"

    def _of_version(self, version: str) -> str:
        """The keys of one OCPI version's texts start so; the primary key completes them."""
        return f"{self.prefix}:{version}:"

    def cached(self, stamps: Sequence[Stamp], version: str) -> dict[int, bytes]:
        """The text of each object whose entry was rendered from its current state."""
        entries = bytes_get_many(self._of_version(version), [stamp.pk for stamp in stamps])
        texts: dict[int, bytes] = {}
        for stamp, entry in zip(stamps, entries, strict=True):
            if entry is not None and entry.startswith(stamp.tag):
                texts[stamp.pk] = entry[len(stamp.tag) :]
        return texts

    def store(self, rendered: Iterable[Rendered], version: str) -> None:
        """Keep each text under its object, behind the tag of the state it was rendered from."""
        entries = {stamp.pk: stamp.tag + text for stamp, text in rendered}
        bytes_set_many(self._of_version(version), entries, timeout=TIMEOUT_SECONDS)

    def texts(
        self,
        stamps: Sequence[Stamp],
        version: str,
        render: Callable[[list[int]], Sequence[Rendered]],
    ) -> list[bytes]:
        """The text of each object, in order: cached where current, else rendered and stored.

        `render` renders the objects with the given primary keys, each with the stamp of the
        state it read (it may leave out one deleted meanwhile, which is then left out of the
        answer too). A fresh text is stored behind the tag it was rendered from, so an object
        that changed between the page query and the rendering is never stored as its older state.
        """
        texts = self.cached(stamps, version)
        missing = [stamp.pk for stamp in stamps if stamp.pk not in texts]
        if missing:
            fresh = render(missing)
            self.store(fresh, version)
            texts.update((stamp.pk, text) for stamp, text in fresh)
        return [texts[stamp.pk] for stamp in stamps if stamp.pk in texts]
