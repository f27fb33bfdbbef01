"""An eMSP on loopback that receives our pushes and serves its tokens, for push and pull tests.

A standard-library ThreadingHTTPServer (HTTP/1.1, keep-alive) in a background thread. It keeps
what it receives the way a receiver would: locations, EVSEs, connectors, tariffs and sessions by
URL (PUT replaces, PATCH merges and appends charging periods, DELETE removes), CDRs by country
code, party id and id (a second POST of the same CDR is refused, or acknowledged when
``duplicate_cdr_answer`` says so), and records every request. It can be told to fail: answer
given HTTP or OCPI status codes for the next requests, or to be down (close connections without
answering). Its tokens sender pages through ``tokens`` with Link headers.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

TOKEN = "token-we-use-to-call-them"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    received_at: float

    @property
    def module_path(self) -> str:
        """The path below /ocpi/<version>/, e.g. 'locations/NL/OPN/LOC1/EVSE1'."""
        parts = self.path.strip("/").split("/")
        return "/".join(unquote(p) for p in parts[2:])


@dataclass
class Answer:
    http_status: int = 200
    ocpi_status: int = 1000
    message: str = "Success"
    data: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class ReceiverPeer:
    """The other platform, as an eMSP: receiver of pushes, sender of tokens."""

    def __init__(self, *, page_size: int = 2) -> None:
        self.requests: list[Request] = []
        self.objects: dict[str, Any] = {}
        self.cdrs: dict[tuple[str, str, str], Any] = {}
        self.tokens: list[dict[str, Any]] = []
        self.page_size = page_size
        self.script: deque[Answer] = deque()
        self.failing_requests: set[int] = set()  # numbers (from 1) of requests answered HTTP 500
        self.is_down = False
        self.duplicate_cdr_answer = Answer(ocpi_status=2001, message="CDR already exists")
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- life cycle ---

    def __enter__(self) -> ReceiverPeer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/ocpi"

    def url(self, version: str, module: str) -> str:
        return f"{self.base_url}/{version}/{module}"

    # --- test controls ---

    def answer_next(self, *answers: Answer) -> None:
        self.script.extend(answers)

    def fail_next(self, count: int, *, http_status: int = 500, ocpi_status: int = 3000) -> None:
        self.answer_next(
            *[Answer(http_status, ocpi_status, "Scripted failure") for _ in range(count)]
        )

    def down(self) -> None:
        self.is_down = True

    def up(self) -> None:
        self.is_down = False

    def received(self, method: str | None = None, prefix: str = "") -> list[Request]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and r.module_path.startswith(prefix)
        ]

    def forget(self) -> None:
        self.requests.clear()

    # --- serving ---

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body are written separately: without this, Nagle's algorithm and the
            # client's delayed ACK hold every answer back ~40 ms.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                peer._serve(self, "GET")

            def do_POST(self) -> None:
                peer._serve(self, "POST")

            def do_PUT(self) -> None:
                peer._serve(self, "PUT")

            def do_PATCH(self) -> None:
                peer._serve(self, "PATCH")

            def do_DELETE(self) -> None:
                peer._serve(self, "DELETE")

        return Handler

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        if self.is_down:
            handler.close_connection = True
            handler.connection.close()
            return
        parts = urlsplit(handler.path)
        request = Request(
            method=method,
            path=parts.path,
            query=parse_qs(parts.query),
            headers=dict(handler.headers),
            body=json.loads(raw) if raw else None,
            received_at=time.time(),
        )
        with self._lock:
            self.requests.append(request)
            if handler.headers.get("Authorization") not in (
                f"Token {_b64(TOKEN)}",
                f"Token {TOKEN}",
            ):
                answer = Answer(401, 2000, "Unknown token")
            elif len(self.requests) in self.failing_requests:
                answer = Answer(500, 3000, "Scripted failure")
            elif self.script:
                answer = self.script.popleft()
            else:
                answer = self._handle(request, handler)
        self._reply(handler, answer)

    def _handle(self, request: Request, handler: BaseHTTPRequestHandler) -> Answer:
        path = request.module_path
        module = path.split("/", 1)[0]
        if module == "tokens" and request.method == "GET":
            return self._tokens_page(request)
        if module == "cdrs":
            return self._cdrs(request)
        if request.method == "PUT":
            self.objects[path] = request.body
            return Answer(data=None)
        if request.method == "PATCH":
            if path not in self.objects:
                return Answer(404, 2003, "Unknown object")
            stored = dict(self.objects[path])
            for key, value in request.body.items():
                if key == "charging_periods":
                    stored[key] = [*stored.get(key, []), *value]
                else:
                    stored[key] = value
            self.objects[path] = stored
            return Answer()
        if request.method == "DELETE":
            self.objects.pop(path, None)
            return Answer()
        if request.method == "GET" and path in self.objects:
            return Answer(data=self.objects[path])
        return Answer(404, 2000, "Not found")

    def _cdrs(self, request: Request) -> Answer:
        if request.method == "POST":
            body = request.body
            key = (body.get("country_code", ""), body.get("party_id", ""), body["id"])
            if key in self.cdrs:
                return self.duplicate_cdr_answer
            self.cdrs[key] = body
            location = f"{self.base_url}/2.2.1/cdrs/{body['id']}"
            return Answer(201, 1000, "Created", headers={"Location": location})
        cdr_id = request.module_path.split("/")[-1]
        found = next((cdr for key, cdr in self.cdrs.items() if key[2] == cdr_id), None)
        if found is None:
            return Answer(404, 2000, "Unknown CDR")
        return Answer(data=found)

    def _tokens_page(self, request: Request) -> Answer:
        offset = int(request.query.get("offset", ["0"])[0])
        limit = min(int(request.query.get("limit", [str(self.page_size)])[0]), self.page_size)
        date_from = request.query.get("date_from", [None])[0]
        tokens = self.tokens
        if date_from:
            tokens = [t for t in tokens if str(t.get("last_updated", "")) >= date_from]
        page = tokens[offset : offset + limit]
        headers = {"X-Total-Count": str(len(tokens)), "X-Limit": str(self.page_size)}
        if offset + limit < len(tokens):
            query = {k: v[0] for k, v in request.query.items()}
            query.update(offset=str(offset + limit), limit=str(limit))
            headers["Link"] = (
                f'<{self.base_url}{request.path.removeprefix("/ocpi")}?{urlencode(query)}>; rel="next"'
            )
        return Answer(data=page, headers=headers)

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, answer: Answer) -> None:
        payload = {
            "status_code": answer.ocpi_status,
            "status_message": answer.message,
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if answer.data is not None:
            payload["data"] = answer.data
        raw = json.dumps(payload).encode()
        handler.send_response(answer.http_status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(raw)))
        for name, value in answer.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(raw)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def paths(requests: Iterable[Request]) -> list[tuple[str, str]]:
    return [(r.method, r.module_path) for r in requests]
