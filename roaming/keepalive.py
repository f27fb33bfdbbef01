"""The HTTP/1.1 transport of our outbound OCPI calls: kept-alive http.client connections.

``roaming.client`` builds each call as an ``httpx.Request`` and hands it to a transport, without
httpx's ``Client``: OCPI calls need none of its cookie jar, redirects, auth flows or header
merging, and on a push worker those (and httpcore's h11 state machine) were most of a
delivery's CPU time. This transport sends the request as built on a connection of the standard
library, kept open per origin for the next call, and answers an ``httpx.Response`` with the body
read. Failures raise the httpx exceptions httpx's own transport raises (timeouts, connection
errors, protocol errors), so callers and tests see one interface.

An idle connection is checked before reuse: one the server closed meanwhile (it reads as ready)
is dropped for a new one, so a request is never written to a dead socket and never needs a
resend. A process that has an HTTP proxy configured in its environment goes through httpx's
client instead, which honours it (see ``roaming.client``).
"""

from __future__ import annotations

import http.client
import select
import ssl
import threading
from collections import defaultdict

import certifi
import httpx

# Idle connections kept per origin (scheme, host, port); more concurrent calls open more.
MAX_IDLE_PER_ORIGIN = 4

Origin = tuple[str, str, int]


class KeepAliveTransport(httpx.BaseTransport):
    """Sends httpx requests over kept-alive http.client connections (see the module docstring)."""

    def __init__(self) -> None:
        self._idle: dict[Origin, list[http.client.HTTPConnection]] = defaultdict(list)
        self._lock = threading.Lock()
        self._tls = ssl.create_default_context(cafile=certifi.where())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"Unsupported URL scheme {url.scheme!r}")
        origin: Origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        timeouts = request.extensions.get("timeout", {})
        connection = self._checkout(origin, request, timeouts.get("connect"))
        try:
            status, headers, content, closing = _exchange(connection, request, timeouts.get("read"))
        except BaseException:
            connection.close()
            raise
        if closing:
            connection.close()
        else:
            self._checkin(origin, connection)
        return httpx.Response(status, headers=headers, content=content, request=request)

    def close(self) -> None:
        with self._lock:
            idle = [connection for kept in self._idle.values() for connection in kept]
            self._idle.clear()
        for connection in idle:
            connection.close()

    def _checkout(
        self, origin: Origin, request: httpx.Request, connect_timeout: float | None
    ) -> http.client.HTTPConnection:
        with self._lock:
            kept = self._idle[origin]
            while kept:
                reused = kept.pop()
                if _still_open(reused):
                    return reused
                reused.close()
        scheme, host, port = origin
        connection: http.client.HTTPConnection
        if scheme == "https":
            connection = http.client.HTTPSConnection(
                host, port, timeout=connect_timeout, context=self._tls
            )
        else:
            connection = http.client.HTTPConnection(host, port, timeout=connect_timeout)
        try:
            connection.connect()
        except TimeoutError as error:
            connection.close()
            raise httpx.ConnectTimeout(
                str(error) or "connect timed out", request=request
            ) from error
        except (OSError, ssl.SSLError) as error:
            connection.close()
            raise httpx.ConnectError(str(error), request=request) from error
        return connection

    def _checkin(self, origin: Origin, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            kept = self._idle[origin]
            if len(kept) < MAX_IDLE_PER_ORIGIN:
                kept.append(connection)
                return
        connection.close()


def _still_open(connection: http.client.HTTPConnection) -> bool:
    """An idle connection with nothing to read: a closed one reads as ready (end of stream)."""
    sock = connection.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def _exchange(
    connection: http.client.HTTPConnection, request: httpx.Request, read_timeout: float | None
) -> tuple[int, list[tuple[str, str]], bytes, bool]:
    """Write the request, read the whole answer: (status, headers, body, connection closing)."""
    assert connection.sock is not None
    connection.sock.settimeout(read_timeout)
    body = request.read()
    try:
        connection.putrequest(
            request.method,
            request.url.raw_path.decode("ascii"),
            skip_host=True,
            skip_accept_encoding=True,
        )
        for name, value in request.headers.raw:
            connection.putheader(name.decode("latin-1"), value.decode("latin-1"))
        connection.endheaders(body or None)
        answer = connection.getresponse()
        content = answer.read()
    except TimeoutError as error:
        raise httpx.ReadTimeout(str(error) or "read timed out", request=request) from error
    except http.client.HTTPException as error:
        raise httpx.RemoteProtocolError(
            str(error) or type(error).__name__, request=request
        ) from error
    except (OSError, ssl.SSLError) as error:
        raise httpx.ReadError(str(error), request=request) from error
    return answer.status, answer.getheaders(), content, answer.will_close
