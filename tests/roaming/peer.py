"""A minimal OCPI platform (an eMSP, or a hub) on loopback, for tests against a real HTTP server.

It serves its versions, version details and credentials endpoints with the standard library's
ThreadingHTTPServer in a background thread, and can act as a client: register with, update at and
unregister from another platform, read its endpoints, and pull paginated lists by following the
Link headers. It records every request it receives.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

OUR_VERSIONS = ("2.1.1", "2.2.1", "2.3.0")


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Answer:
    http_status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def status_code(self) -> int | None:
        return self.body.get("status_code") if isinstance(self.body, dict) else None

    @property
    def data(self) -> Any:
        return self.body.get("data") if isinstance(self.body, dict) else None


def envelope(data: Any = None, status_code: int = 1000, message: str = "Success") -> dict[str, Any]:
    timestamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "data": data,
        "status_code": status_code,
        "status_message": message,
        "timestamp": timestamp,
    }


def auth_header(token: str, *, encoded: bool = True) -> str:
    return "Token " + (base64.b64encode(token.encode()).decode() if encoded else token)


def request(
    method: str,
    url: str,
    token: str | None,
    body: Any = None,
    *,
    encoded: bool = True,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """One HTTP call with urllib (a client independent of the code under test)."""
    sent = {
        "X-Request-ID": secrets.token_hex(8),
        "X-Correlation-ID": secrets.token_hex(8),
        **(headers or {}),
    }
    if token is not None:
        sent["Authorization"] = auth_header(token, encoded=encoded)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    try:
        with urlopen(Request(url, data=data, method=method, headers=sent), timeout=10) as resp:
            return Answer(resp.status, _json(resp.read()), dict(resp.headers))
    except HTTPError as error:
        return Answer(error.code, _json(error.read()), dict(error.headers))


def next_url(answer: Answer) -> str | None:
    """The URL of the Link rel="next" header, None on the last page."""
    link = next((v for k, v in answer.headers.items() if k.lower() == "link"), None)
    if link is None:
        return None
    target, _, rel = link.partition(";")
    if rel.strip() != 'rel="next"':
        raise AssertionError(f"Unexpected Link header: {link}")
    return target.strip().removeprefix("<").removesuffix(">")


def pull(
    url: str,
    token: str,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    encoded: bool = True,
    max_pages: int = 100,
) -> list[Answer]:
    """GET a paginated list: the first page with `params`, then every Link rel="next"."""
    first = f"{url}?{urlencode(params)}" if params else url
    pages = [request("GET", first, token, encoded=encoded, headers=headers)]
    while (following := next_url(pages[-1])) is not None:
        if len(pages) >= max_pages:
            raise AssertionError(f"More than {max_pages} pages at {url}")
        pages.append(request("GET", following, token, encoded=encoded, headers=headers))
    return pages


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


class Peer:
    """The other platform. `versions` are the OCPI versions it speaks."""

    def __init__(
        self,
        *,
        versions: tuple[str, ...] = ("2.2.1",),
        country_code: str = "DE",
        party_id: str = "PEE",
        name: str = "Peer eMSP",
        role: str = "EMSP",
    ) -> None:
        self.versions = versions
        self.country_code = country_code
        self.party_id = party_id
        self.name = name
        self.role = role  # its credentials role from 2.2 on (2.1.1 has none)
        self.accepted_tokens: set[str] = set()  # tokens the other platform may call us with
        self.registered = False
        self.token_to_call_them: str | None = None  # what we present to the other platform
        self.their_versions_url: str | None = None
        self.their_endpoints: list[dict[str, Any]] = []
        self.received: list[Received] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- life cycle ---

    def __enter__(self) -> Peer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/ocpi"

    @property
    def versions_url(self) -> str:
        return f"{self.base_url}/versions"

    def issue_token_a(self) -> str:
        # Hex never starts with "-", which argparse would read as an option.
        token = secrets.token_hex(24)
        self.accepted_tokens.add(token)
        return token

    def credentials(self, token: str, version: str) -> dict[str, Any]:
        details = {"name": self.name}
        if version == "2.1.1":
            return {
                "token": token,
                "url": self.versions_url,
                "party_id": self.party_id,
                "country_code": self.country_code,
                "business_details": details,
            }
        return {
            "token": token,
            "url": self.versions_url,
            "roles": [
                {
                    "role": self.role,
                    "party_id": self.party_id,
                    "country_code": self.country_code,
                    "business_details": details,
                }
            ],
        }

    # --- as a client of the other platform ---

    def register_with(self, versions_url: str, token_a: str, version: str | None = None) -> Answer:
        """POST our credentials (with a fresh token B) to the other platform."""
        version, credentials_url = self._discover(versions_url, token_a, version)
        token_b = self.issue_token_a()
        answer = request(
            "POST",
            credentials_url,
            token_a,
            self.credentials(token_b, version),
            encoded=version != "2.1.1",
        )
        if answer.status_code == 1000:
            self.token_to_call_them = answer.data["token"]
            self.registered = True
        return answer

    def update_at(self, versions_url: str, version: str | None = None) -> Answer:
        """PUT new credentials (a fresh token) with the token we hold."""
        assert self.token_to_call_them
        version, credentials_url = self._discover(versions_url, self.token_to_call_them, version)
        new_token = self.issue_token_a()
        answer = request(
            "PUT",
            credentials_url,
            self.token_to_call_them,
            self.credentials(new_token, version),
            encoded=version != "2.1.1",
        )
        if answer.status_code == 1000:
            self.token_to_call_them = answer.data["token"]
        return answer

    def endpoints_at(
        self, versions_url: str, token: str, version: str | None = None
    ) -> dict[str, str]:
        """The other platform's endpoints of a version (default: the highest in common), by
        module identifier; for modules listed in both roles, the RECEIVER one is keyed
        "<module>:RECEIVER"."""
        versions = request("GET", versions_url, token).data
        offered = {item["version"]: item["url"] for item in versions}
        chosen = version or max(v for v in self.versions if v in offered)
        details = request("GET", offered[chosen], token).data
        found: dict[str, str] = {}
        for endpoint in details["endpoints"]:
            key = endpoint["identifier"]
            if endpoint.get("role") == "RECEIVER" and key in found:
                key = f"{key}:RECEIVER"
            found[key] = endpoint["url"]
        return found

    def _discover(self, versions_url: str, token: str, version: str | None) -> tuple[str, str]:
        versions = request("GET", versions_url, token).data
        offered = {item["version"]: item["url"] for item in versions}
        common = [v for v in self.versions if v in offered]
        chosen = version or max(common)
        details = request("GET", offered[chosen], token).data
        credentials_url = next(
            e["url"] for e in details["endpoints"] if e["identifier"] == "credentials"
        )
        return chosen, credentials_url

    # --- as a server ---

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                peer._serve(self, "GET")

            def do_POST(self) -> None:
                peer._serve(self, "POST")

            def do_PUT(self) -> None:
                peer._serve(self, "PUT")

            def do_DELETE(self) -> None:
                peer._serve(self, "DELETE")

        return Handler

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = _json(handler.rfile.read(length)) if length else None
        self.received.append(Received(method, handler.path, dict(handler.headers), body))
        token = self._authenticated(handler.headers.get("Authorization", ""))
        if token is None:
            return self._reply(handler, 401, envelope(None, 2000, "Unauthorized"))
        status, payload = self._route(method, handler.path.rstrip("/"), token, body)
        self._reply(handler, status, payload)

    def _authenticated(self, header: str) -> str | None:
        value = header.removeprefix("Token ")
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except ValueError:
            decoded = ""
        for candidate in (decoded, value):
            if candidate in self.accepted_tokens:
                return candidate
        return None

    def _route(self, method: str, path: str, token: str, body: Any) -> tuple[int, Any]:
        path = path.removeprefix("/ocpi")
        if method == "GET" and path == "/versions":
            return 200, envelope(
                [{"version": v, "url": f"{self.base_url}/{v}/"} for v in self.versions]
            )
        for version in self.versions:
            if method == "GET" and path == f"/{version}":
                return 200, envelope(self._details(version))
            if path == f"/{version}/credentials":
                return self._credentials(method, version, token, body)
        return 404, envelope(None, 2000, "Not found")

    def _details(self, version: str) -> dict[str, Any]:
        endpoints = [
            {
                "identifier": "credentials",
                "role": "SENDER",
                "url": f"{self.base_url}/{version}/credentials",
            },
            {
                "identifier": "locations",
                "role": "RECEIVER",
                "url": f"{self.base_url}/{version}/locations",
            },
            {"identifier": "nltnm-custom", "role": "SENDER", "url": f"{self.base_url}/custom"},
        ]
        if version == "2.1.1":
            for endpoint in endpoints:
                del endpoint["role"]
        return {"version": version, "endpoints": endpoints}

    def _credentials(self, method: str, version: str, token: str, body: Any) -> tuple[int, Any]:
        if method == "GET":
            return 200, envelope(self.credentials(token, version))
        if method == "DELETE":
            if not self.registered:
                return 405, envelope(None, 2000, "Not registered")
            self.registered = False
            self.accepted_tokens.discard(token)
            return 200, envelope()
        if (method == "POST") == self.registered:
            return 405, envelope(None, 2000, "Wrong registration state")
        # Read the other platform with the token it offered, as a registering server must.
        offered_token, offered_url = body["token"], body["url"]
        versions = request("GET", offered_url, offered_token, encoded=version != "2.1.1")
        if versions.status_code != 1000:
            return 200, envelope(None, 3001, "Cannot read your versions")
        details_url = {v["version"]: v["url"] for v in versions.data}[version]
        details = request("GET", details_url, offered_token, encoded=version != "2.1.1")
        self.their_endpoints = details.data["endpoints"]
        self.their_versions_url = offered_url
        self.token_to_call_them = offered_token
        self.accepted_tokens.discard(token)
        new_token = self.issue_token_a()
        self.registered = True
        return 200, envelope(self.credentials(new_token, version))

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
        raw = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(raw)))
        handler.end_headers()
        handler.wfile.write(raw)
