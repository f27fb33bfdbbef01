"""A receiver eMSP on loopback that misbehaves on demand, and the partner's view of our objects.

``FaultyReceiver`` is the push tests' ``ReceiverPeer`` with faults a real partner shows: it can
stop listening (connection refused), answer late (after the client's timeout, having applied the
request), answer HTTP 5xx, answer something that is not OCPI (text, HTML, JSON without the
envelope) or an OCPI 3xxx envelope, and hold a CDR POST unanswered until told to let go. It applies
EVSE and connector PUTs and PATCHes to the location they belong to, as a receiver keeping whole
locations does, so that its copy can be compared with our serialized state.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.roaming.push.receiver import Answer, ReceiverPeer, Request

# Bodies of answers that are not OCPI, by name.
GARBAGE = {
    "text": ("text/plain", b"OK"),
    "html": ("text/html", b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
    "no envelope": ("application/json", json.dumps({"result": "stored"}).encode()),
    "truncated json": ("application/json", b'{"status_code": 1000, "data"'),
}


@dataclass(frozen=True)
class Fault:
    """How the receiver misbehaves for one request.

    ``late`` applies the request and answers after that many seconds; ``garbage`` answers
    ``http_status`` with one of GARBAGE's bodies without applying the request; ``answer`` answers that without
    applying the request.
    """

    late: float = 0.0
    garbage: str = ""
    http_status: int = 200
    answer: Answer | None = None


class FaultyReceiver(ReceiverPeer):
    def __init__(self) -> None:
        super().__init__()
        self.faults: deque[Fault] = deque()
        self.cdr_posts_on_hold = False
        self.cdr_post_arrived = threading.Event()
        self._let_cdr_posts_go = threading.Event()
        self._port = self._server.server_address[1]
        self._late = threading.local()

    # --- test controls ---

    def misbehave(self, *faults: Fault, times: int = 1) -> None:
        """Apply these faults to the next requests, in order (each ``times`` times)."""
        self.faults.extend(fault for fault in faults for _ in range(times))

    def stop_listening(self) -> None:
        """Close the listening socket: calls are refused until ``listen_again``."""
        self._server.shutdown()
        self._server.server_close()

    def listen_again(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def hold_cdr_posts(self) -> None:
        """Store CDRs POSTed from now on but keep their answers until ``release_cdr_posts``."""
        self.cdr_posts_on_hold = True
        self._let_cdr_posts_go.clear()

    def release_cdr_posts(self) -> None:
        self.cdr_posts_on_hold = False
        self._let_cdr_posts_go.set()

    def acknowledge_repeated_cdrs(self) -> None:
        """Answer a CDR POSTed again like the first time (an idempotent receiver)."""
        self.duplicate_cdr_answer = Answer(200, 1000, "Already received")

    def cdr_posts(self, cdr_id: str) -> list[Request]:
        return [
            r
            for r in self.received("POST", "cdrs")
            if isinstance(r.body, dict) and r.body.get("id") == cdr_id
        ]

    def location(self, country_code: str, party_id: str, location_id: str) -> Any:
        return self.objects.get(f"locations/{country_code}/{party_id}/{location_id}")

    # --- serving ---

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        with self._lock:
            fault = self.faults.popleft() if self.faults else None
        self._late.seconds = fault.late if fault else 0.0
        if fault is None or fault.late:
            super()._serve(handler, method)
            return
        length = int(handler.headers.get("Content-Length") or 0)
        if length:
            handler.rfile.read(length)
        if fault.garbage:
            content_type, raw = GARBAGE[fault.garbage]
            _write(handler, fault.http_status, content_type, raw)
        elif fault.answer is not None:
            self._reply(handler, fault.answer)

    def _reply(self, handler: BaseHTTPRequestHandler, answer: Answer) -> None:  # type: ignore[override]
        late = getattr(self._late, "seconds", 0.0)
        if late:
            time.sleep(late)
        # The caller may have given up waiting (timeout) or died meanwhile.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            ReceiverPeer._reply(handler, answer)

    def _handle(self, request: Request, handler: BaseHTTPRequestHandler) -> Answer:
        parts = request.module_path.split("/")
        if parts[0] == "locations" and len(parts) > 4 and request.method in ("PUT", "PATCH"):
            return self._location_part(parts, request)
        answer = super()._handle(request, handler)
        if parts[0] == "cdrs" and request.method == "POST" and self.cdr_posts_on_hold:
            self.cdr_post_arrived.set()
            # The lock is held while handling: release it so that the test can look meanwhile.
            self._lock.release()
            try:
                self._let_cdr_posts_go.wait(timeout=120)
            finally:
                self._lock.acquire()
        return answer

    def _location_part(self, parts: list[str], request: Request) -> Answer:
        """An EVSE or connector PUT/PATCH, applied to the location it belongs to."""
        location = self.objects.get("/".join(parts[:4]))
        if location is None:
            return Answer(404, 2003, "Unknown location")
        evses: list[dict[str, Any]] = location.setdefault("evses", [])
        evse = next((e for e in evses if e.get("uid") == parts[4]), None)
        if len(parts) == 5:
            answer = _apply(evses, evse, request, key="uid", value=parts[4])
            parents = [location]
        elif evse is None:
            return Answer(404, 2003, "Unknown EVSE")
        else:
            connectors: list[dict[str, Any]] = evse.setdefault("connectors", [])
            connector = next((c for c in connectors if c.get("id") == parts[5]), None)
            answer = _apply(connectors, connector, request, key="id", value=parts[5])
            parents = [location, evse]
        if answer.ocpi_status == 1000 and "last_updated" in request.body:
            # OCPI: a child's update moves its parents' last_updated forward too.
            for parent in parents:
                parent["last_updated"] = request.body["last_updated"]
        return answer


def _apply(
    siblings: list[dict[str, Any]],
    current: dict[str, Any] | None,
    request: Request,
    *,
    key: str,
    value: str,
) -> Answer:
    if request.method == "PUT":
        if current is None:
            siblings.append(request.body)
        else:
            siblings[siblings.index(current)] = request.body
        return Answer()
    if current is None:
        return Answer(404, 2003, f"Unknown object {key}={value}")
    current.update(request.body)
    return Answer()


def _write(handler: BaseHTTPRequestHandler, status: int, content_type: str, raw: bytes) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(raw)))
    handler.end_headers()
    handler.wfile.write(raw)
