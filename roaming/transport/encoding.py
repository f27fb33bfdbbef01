"""JSON on the OCPI wire: Decimal as numbers, DateTime as OCPI's short UTC form."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from rest_framework.utils.encoders import JSONEncoder

from roaming.transport.datetimes import format_datetime


class OcpiJSONEncoder(JSONEncoder):
    def default(self, obj: Any) -> Any:
        if isinstance(obj, Decimal):
            # A float prints the shortest text that reads back as the same float, and every
            # decimal of up to 15 significant digits reads back exactly, which covers our money,
            # energy and coordinate fields (at most 4 decimal places).
            return float(obj)
        if isinstance(obj, datetime):
            return format_datetime(obj if obj.tzinfo else obj.replace(tzinfo=UTC))
        if isinstance(obj, date):
            return obj.isoformat()
        if isinstance(obj, time):
            return obj.strftime("%H:%M")
        return super().default(obj)


def dumps(value: Any) -> str:
    return json.dumps(
        value, cls=OcpiJSONEncoder, ensure_ascii=False, allow_nan=False, separators=(",", ":")
    )


def render_bytes(value: Any) -> bytes:
    """`value` as the envelope renderer writes it (the same encoder, separators and escapes)."""
    text = dumps(value)
    # As DRF's JSONRenderer: these two are valid JSON but end a line in JavaScript.
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()


class PreRendered:
    """Data of an envelope already rendered (``render_bytes``): the renderer splices it in."""

    __slots__ = ()

    def render(self) -> bytes:
        raise NotImplementedError


class RenderedObject(PreRendered):
    """One JSON value already rendered."""

    __slots__ = ("text",)

    def __init__(self, text: bytes) -> None:
        self.text = text

    def render(self) -> bytes:
        return self.text


class RenderedList(PreRendered):
    """A JSON array whose items are already rendered (``render_bytes``), spliced in verbatim.

    For list endpoints that keep their items' JSON (see roaming.modules.locations.cache): the
    envelope renderer writes the array without decoding or re-encoding the items.
    """

    __slots__ = ("items",)

    def __init__(self, items: Sequence[bytes]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def render(self) -> bytes:
        return b"[" + b",".join(self.items) + b"]"
