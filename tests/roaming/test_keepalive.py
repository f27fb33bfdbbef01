"""The outbound transport: kept-alive connections, requests sent as built, httpx's failures."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from roaming.keepalive import KeepAliveTransport


class _Peer(ThreadingHTTPServer):
    """A loopback HTTP/1.1 server counting the connections it accepted."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections = 0
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        self.close_after_answer = False
        self.delay = 0.0

    def get_request(self) -> tuple[socket.socket, Any]:
        self.connections += 1
        return super().get_request()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Peer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append((self.command, self.path, dict(self.headers), body))
        time.sleep(self.server.delay)
        if self.path.startswith("/chunked"):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b'{"status_code":', b"1000}"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        answer = b'{"status_code":1000}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        if self.server.close_after_answer:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_PUT = do_PATCH = do_POST = _answer  # noqa: N815 (http.server names)


@pytest.fixture
def peer() -> Iterator[_Peer]:
    server = _Peer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def transport() -> Iterator[KeepAliveTransport]:
    sending = KeepAliveTransport()
    yield sending
    sending.close()


def _send(transport: KeepAliveTransport, method: str, url: str, **kwargs: Any) -> httpx.Response:
    timeout = kwargs.pop("timeout", httpx.Timeout(5.0))
    request = httpx.Request(method, url, extensions={"timeout": timeout.as_dict()}, **kwargs)
    return transport.handle_request(request)


def test_calls_to_one_partner_share_one_connection(peer: _Peer, transport: Any) -> None:
    for _ in range(5):
        assert _send(transport, "GET", f"{peer.base}/ocpi/versions").json() == {"status_code": 1000}

    assert peer.connections == 1


def test_the_request_goes_out_as_built(peer: _Peer, transport: Any) -> None:
    _send(
        transport,
        "PATCH",
        f"{peer.base}/ocpi/2.2.1/locations/NL/OPN/LOC1",
        params={"type": "RFID"},
        headers={"Authorization": "Token abc", "X-Request-ID": "r-1"},
        content=b'{"status":"CHARGING"}',
    )

    method, path, headers, body = peer.seen[0]
    assert (method, path, body) == ("PATCH", "/ocpi/2.2.1/locations/NL/OPN/LOC1?type=RFID", body)
    assert body == b'{"status":"CHARGING"}'
    assert headers["Authorization"] == "Token abc"
    assert headers["X-Request-ID"] == "r-1"
    assert headers["Content-Length"] == "21"
    assert headers["Host"] == f"127.0.0.1:{peer.server_address[1]}"


def test_a_connection_the_partner_closes_is_not_used_again(peer: _Peer, transport: Any) -> None:
    peer.close_after_answer = True

    _send(transport, "GET", f"{peer.base}/a")
    _send(transport, "GET", f"{peer.base}/b")

    assert peer.connections == 2
    assert [path for _, path, _, _ in peer.seen] == ["/a", "/b"]


def test_an_idle_connection_closed_meanwhile_is_replaced_without_an_error(
    peer: _Peer, transport: Any
) -> None:
    _send(transport, "GET", f"{peer.base}/a")
    for idle in transport._idle.values():
        for connection in idle:
            connection.sock.shutdown(socket.SHUT_RDWR)  # as a server dropping an idle client

    assert _send(transport, "GET", f"{peer.base}/b").status_code == 200
    assert peer.connections == 2


def test_a_chunked_answer_is_read_whole(peer: _Peer, transport: Any) -> None:
    assert _send(transport, "GET", f"{peer.base}/chunked").json() == {"status_code": 1000}


def test_a_slow_partner_times_out_as_httpx_does(peer: _Peer, transport: Any) -> None:
    peer.delay = 0.5

    with pytest.raises(httpx.ReadTimeout):
        _send(transport, "GET", f"{peer.base}/slow", timeout=httpx.Timeout(0.1))


def test_a_partner_that_is_down_is_a_connect_error(transport: Any) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]

    with pytest.raises(httpx.ConnectError):
        _send(transport, "GET", f"http://127.0.0.1:{port}/ocpi/versions")


def test_other_schemes_are_refused(transport: Any) -> None:
    with pytest.raises(httpx.UnsupportedProtocol):
        _send(transport, "GET", "ftp://example.com/ocpi/versions")
