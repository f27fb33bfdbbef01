"""Database rows as plain objects with the models' attribute names, for the outbound serializers.

A page of a sender renders many objects, and Django's model construction and its prefetch
machinery (a queryset clone per related lookup) cost more than the serializers themselves. The
read side of such a page reads plain values instead, as objects carrying the attribute names the
serializer functions read (and ``.all()`` for related rows); each sender has a test pinning its
list output to the serialization of real model instances.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db.models import JSONField, Model, QuerySet, TextField
from django.db.models.functions import Cast

T = TypeVar("T")


@dataclass(frozen=True)
class Columns:
    """What to read of a model for its rows: every column, JSON ones as text."""

    names: tuple[str, ...]  # attribute names, as the model (and so the serializers) uses them
    selects: tuple[str | Cast, ...]
    json_positions: tuple[int, ...]

    @classmethod
    def of(cls, model: type[Model], **joined: str) -> Columns:
        """Every concrete column of `model`, plus `joined` (attribute name -> lookup)."""
        names: list[str] = []
        selects: list[str | Cast] = []
        json_positions: list[int] = []
        for field in model._meta.concrete_fields:
            if isinstance(field, JSONField):
                json_positions.append(len(selects))
                selects.append(Cast(field.attname, output_field=TextField()))
            else:
                selects.append(field.attname)
            names.append(field.attname)
        for name, lookup in joined.items():
            names.append(name)
            selects.append(lookup)
        return cls(tuple(names), tuple(selects), tuple(json_positions))

    def rows(self, queryset: QuerySet[Any], decode: JsonDecoder) -> Iterator[tuple[Any, ...]]:
        """The queryset's rows as values in `names` order, JSON columns decoded."""
        positions = self.json_positions
        for values in queryset.values_list(*self.selects):
            row = list(values)
            for position in positions:
                row[position] = decode(row[position])
            yield tuple(row)


class JsonDecoder:
    """json.loads with a memory of the texts already seen, for one page.

    Most JSON columns hold one of a few values ([] and null above all, then the same
    capability, facility and tariff lists over and over), and decoding dominated the cost of a
    page. Equal texts share one decoded value, which the serializers only read.
    """

    def __init__(self) -> None:
        self._seen: dict[str, Any] = {}

    def __call__(self, text: str | None) -> Any:
        if text is None:
            return None
        try:
            return self._seen[text]
        except KeyError:
            value = self._seen[text] = json.loads(text)
            return value


class Loaded(list[T], Generic[T]):
    """Related rows already read, answering ``.all()`` as a prefetched related manager does."""

    def all(self) -> Loaded[T]:
        return self


class Row:
    """One database row as attributes named like the model's."""

    def __init__(self, names: Sequence[str], values: Iterable[Any]) -> None:
        self.__dict__.update(zip(names, values, strict=True))

    @property
    def pk(self) -> Any:
        """The primary key, as a model instance names it (our models' is ``id``)."""
        return self.__dict__["id"]
