"""The one outbound OCPI client: every call we make to a partner goes through `call()`.

One transport per process (kept-alive connections, roaming.keepalive), explicit timeouts, request and correlation ids on every call,
the Authorization header in the partner's version's style, the envelope checked, and one
ExchangeLog row per call. Failures split into TransientError (worth retrying later: timeouts,
connection errors, HTTP 5xx/408/429, OCPI 3xxx and the hub's timeout/connection codes) and
PermanentError (retrying the same request will not help: other HTTP 4xx, OCPI 2xxx, answers that
are not OCPI).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies

import httpx
from django.conf import settings
from django.db import DatabaseError

from roaming.choices import OcpiVersion
from roaming.keepalive import KeepAliveTransport
from roaming.models import ExchangeLog, Partner
from roaming.transport.auth import authorization_header
from roaming.transport.encoding import dumps
from roaming.transport.ids import CORRELATION_ID_HEADER, REQUEST_ID_HEADER, current_ids, new_id
from roaming.transport.status import OcpiStatus

logger = logging.getLogger(__name__)

USER_AGENT = "cpms-ocpi"
_TRANSIENT_HTTP = frozenset({408, 425, 429})
_TRANSIENT_HUB = frozenset({OcpiStatus.HUB_TIMEOUT, OcpiStatus.HUB_CONNECTION_PROBLEM})


class OcpiClientError(Exception):
    """A call to a partner that did not end in an OCPI success."""

    def __init__(
        self,
        message: str,
        *,
        url: str,
        http_status: int | None = None,
        ocpi_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.url = url
        self.http_status = http_status
        self.ocpi_status = ocpi_status


class TransientError(OcpiClientError):
    """May succeed later: timeouts, connection errors, 5xx, OCPI 3xxx."""


class PermanentError(OcpiClientError):
    """Will fail again as is: 4xx, OCPI 2xxx, an answer that is not an OCPI envelope."""


@dataclass(frozen=True)
class OcpiResponse:
    http_status: int
    status_code: int
    status_message: str
    data: Any
    headers: httpx.Headers
    links: dict[str, str] = field(default_factory=dict)


# --- the shared transport ----------------------------------------------------------------------

_transport: httpx.BaseTransport | None = None
_transport_lock = threading.Lock()


def transport() -> httpx.BaseTransport:
    """The process's transport (made on first use, so each forked worker makes its own).

    Kept-alive connections of our own (roaming.keepalive); httpx's client, which honours them,
    when the environment configures an HTTP proxy.
    """
    global _transport
    if _transport is None:
        with _transport_lock:
            if _transport is None:
                _transport = _ProxiedTransport() if getproxies() else KeepAliveTransport()
    return _transport


class _ProxiedTransport(httpx.BaseTransport):
    """httpx's client (proxies from the environment), sending our requests as built."""

    def __init__(self) -> None:
        self._client = httpx.Client(follow_redirects=False)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._client.send(request)
        response.read()
        return response


def _forget_transport() -> None:
    global _transport
    _transport = None  # a forked child must not share the parent's sockets


os.register_at_fork(after_in_child=_forget_transport)


def _timeout() -> httpx.Timeout:
    read: float = settings.OCPI_CLIENT_READ_TIMEOUT
    return httpx.Timeout(read, connect=settings.OCPI_CLIENT_CONNECT_TIMEOUT)


# --- calls -------------------------------------------------------------------------------------


def call(
    method: str,
    url: str,
    *,
    partner: Partner | None = None,
    token: str | None = None,
    version: OcpiVersion | str | None = None,
    json: Any = None,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    correlation_id: str | None = None,
    timeout: float | None = None,
    log_success: bool = True,
) -> OcpiResponse:
    """Make one OCPI call and return the envelope of a successful (1xxx) answer.

    The token and version default to the partner's; `headers` adds e.g. routing headers. Token
    encoding follows the version: plain for 2.1.1, base64 from 2.2 on (and when unknown).
    `timeout` (seconds) shortens the whole wait for calls someone is waiting on (real-time
    authorization at a charger). `log_success=False` leaves a successful call out of the exchange
    log, for callers that keep their own record of successes (the push outbox); a failed call is
    always logged.
    """
    if token is None:
        if partner is None:
            raise ValueError("call() needs a partner or a token")
        token = partner.their_token
    version = version or (partner.version if partner else "")
    ids = current_ids()
    request_headers = {
        "Authorization": authorization_header(token, base64_encoded=version != OcpiVersion.V2_1_1),
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
        REQUEST_ID_HEADER: new_id(),
        CORRELATION_ID_HEADER: correlation_id or (ids.correlation_id if ids else new_id()),
        **(headers or {}),
    }
    body = None if json is None else dumps(json).encode("utf-8")
    if body is not None:
        request_headers["Content-Type"] = "application/json"
    exchange = _Exchange(partner, method.upper(), url, request_headers, body)
    logged = True
    try:
        response = _send(exchange, params, timeout)
        result = _interpret(url, response, exchange.envelope)
        logged = log_success
    except OcpiClientError as error:
        exchange.fail(error)
        raise
    finally:
        if logged:
            exchange.save()
    return result


def paginate(
    url: str,
    *,
    partner: Partner,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Iterator[Any]:
    """Yield every object of a paginated list, following Link rel="next" to the last page.

    A next link must stay on the origin of `url` (we would send it our token) and never repeat.
    """
    origin = _origin(url)
    next_url: str | None = url
    next_params = params
    seen: set[str] = set()
    while next_url is not None:
        response = call("GET", next_url, partner=partner, params=next_params, headers=headers)
        if not isinstance(response.data, list):
            raise PermanentError("A list endpoint answered without a list", url=next_url)
        yield from response.data
        following = response.links.get("next")
        if following is None or not response.data:
            return
        if _origin(following) != origin:
            raise PermanentError(f"Next page link leaves {origin}: {following}", url=next_url)
        if following in seen:
            raise PermanentError(f"Next page link repeats: {following}", url=next_url)
        seen.add(following)
        next_url, next_params = following, None


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def _send(
    exchange: _Exchange, params: Mapping[str, str] | None, timeout: float | None = None
) -> httpx.Response:
    url = exchange.url
    limits = _timeout() if timeout is None else httpx.Timeout(timeout)
    try:
        request = httpx.Request(
            exchange.method,
            url,
            params=params,
            headers=exchange.headers,
            content=exchange.body,
            extensions={"timeout": limits.as_dict()},
        )
        response = transport().handle_request(request)
        response.request = request
        response.read()
    except httpx.TimeoutException as error:
        raise TransientError(f"Timed out: {type(error).__name__}", url=url) from error
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
        raise PermanentError(f"Bad URL: {error}", url=url) from error
    except httpx.HTTPError as error:
        raise TransientError(f"Connection failed: {error}", url=url) from error
    exchange.answered(response)
    logger.debug("%s %s: HTTP %s", exchange.method, url, response.status_code)
    return response


def _interpret(url: str, response: httpx.Response, envelope: dict[str, Any] | None) -> OcpiResponse:
    http_status = response.status_code
    code = envelope.get("status_code") if envelope else None
    message = str(envelope.get("status_message") or "") if envelope else ""
    failure = f"HTTP {http_status}" + (f", OCPI {code} {message}".rstrip() if code else "")
    if http_status >= 500 or http_status in _TRANSIENT_HTTP:
        raise TransientError(failure, url=url, http_status=http_status, ocpi_status=code)
    if http_status >= 300:
        raise PermanentError(failure, url=url, http_status=http_status, ocpi_status=code)
    if envelope is None or not isinstance(code, int):
        raise PermanentError(
            f"HTTP {http_status} without an OCPI envelope", url=url, http_status=http_status
        )
    if code >= 3000 and (code < 4000 or code in _TRANSIENT_HUB):
        raise TransientError(failure, url=url, http_status=http_status, ocpi_status=code)
    if not 1000 <= code < 2000:
        raise PermanentError(failure, url=url, http_status=http_status, ocpi_status=code)
    return OcpiResponse(
        http_status=http_status,
        status_code=code,
        status_message=message,
        data=envelope.get("data"),
        headers=response.headers,
        links={rel: link["url"] for rel, link in response.links.items() if rel and "url" in link},
    )


def _envelope(response: httpx.Response) -> dict[str, Any] | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


# --- the exchange log --------------------------------------------------------------------------

# The token inside a Credentials object (ours or theirs); also catches one cut off by truncation.
_TOKEN_VALUE = re.compile(r'("token"\s*:\s*")[^"]*("|$)')


def redact(text: str) -> str:
    return _TOKEN_VALUE.sub(r"\1***\2", text)


def _excerpt(raw: bytes | None) -> str:
    if not raw:
        return ""
    limit: int = settings.OCPI_EXCHANGE_LOG_BODY_CHARS
    text = raw[: limit * 4].decode("utf-8", errors="replace")[:limit]
    return redact(text)


class _Exchange:
    """Timing and outcome of one call, written as one ExchangeLog row (one INSERT, no reads)."""

    def __init__(
        self,
        partner: Partner | None,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
    ) -> None:
        self.partner = partner
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.started = time.monotonic()
        self.response: httpx.Response | None = None
        self.envelope: dict[str, Any] | None = None
        self.error = ""

    def answered(self, response: httpx.Response) -> None:
        self.response = response
        self.envelope = _envelope(response)

    def fail(self, error: OcpiClientError) -> None:
        self.error = error.message

    def save(self) -> None:
        response = self.response
        code = self.envelope.get("status_code") if self.envelope else None
        try:
            ExchangeLog.objects.create(
                partner=self.partner if self.partner and self.partner.pk else None,
                method=self.method,
                url=(str(response.request.url) if response is not None else self.url)[:2048],
                http_status=response.status_code if response is not None else None,
                ocpi_status=code if isinstance(code, int) and 0 <= code < 32768 else None,
                duration_ms=int((time.monotonic() - self.started) * 1000),
                request_id=self.headers[REQUEST_ID_HEADER][:64],
                correlation_id=self.headers[CORRELATION_ID_HEADER][:64],
                request_body=_excerpt(self.body),
                response_body=_excerpt(response.content if response is not None else None),
                error=self.error,
            )
        except DatabaseError:
            # The log must never turn a delivered call into a failed one.
            logger.exception("Could not write the exchange log for %s %s", self.method, self.url)
