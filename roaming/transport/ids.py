"""X-Request-ID and X-Correlation-ID: read (or made up) per request, echoed on every answer.

The correlation id of the request being served is kept in a context variable so that outbound
calls made while serving it (the credentials callback, for one) carry the same correlation id.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

REQUEST_ID_HEADER = "X-Request-ID"
CORRELATION_ID_HEADER = "X-Correlation-ID"

# Echoed values go back into response headers: keep them short printable ASCII.
_VALID_ID = re.compile(r"^[\x21-\x7e]{1,64}$")


@dataclass(frozen=True)
class RequestIds:
    request_id: str
    correlation_id: str

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RequestIds:
        return cls(
            request_id=_valid_or_new(headers.get(REQUEST_ID_HEADER)),
            correlation_id=_valid_or_new(headers.get(CORRELATION_ID_HEADER)),
        )

    def as_headers(self) -> dict[str, str]:
        return {REQUEST_ID_HEADER: self.request_id, CORRELATION_ID_HEADER: self.correlation_id}


_current: ContextVar[RequestIds | None] = ContextVar("ocpi_request_ids", default=None)


def new_id() -> str:
    return str(uuid.uuid4())


def current_ids() -> RequestIds | None:
    """Ids of the OCPI request being served in this context, if any."""
    return _current.get()


@contextmanager
def bound_ids(ids: RequestIds) -> Iterator[RequestIds]:
    token = _current.set(ids)
    try:
        yield ids
    finally:
        _current.reset(token)


def _valid_or_new(value: str | None) -> str:
    if value and _VALID_ID.match(value):
        return value
    return new_id()
