"""The fuzz driver: what a generated request may look like, how it is sent, what every answer must be.

A request starts as a schemathesis case of one operation (valid data, or invalid data from the
negative generation mode) and is then steered, by further draws, towards the code behind the
checks a random value never passes: path parameters and body identifiers are often replaced by
objects that exist (our location, the partner's token, a session under way), routing headers are
often valid, and a few requests are turned into transport errors (unknown path, method not
allowed, a body that is not JSON, one too large).

Every answer must be an OCPI envelope and none may be a server error; see ``check_answer``.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.core.handlers.wsgi import WSGIHandler
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core import NotSet
from schemathesis.schemas import APIOperation
from werkzeug.test import Client as WerkzeugClient

# Reproducible in CI: a fixed derandomized search, no example database, no deadlines.
FUZZ_SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)
# Requests per operation: authenticated ones explore the modules, unauthenticated ones only the
# transport and authentication layer.
AUTHENTICATED_EXAMPLES = 36
UNAUTHENTICATED_EXAMPLES = 10
MINIMUM_REQUESTS = 5000

# Bodies above this are refused with 413 during the fuzz run (set in the fixture).
FUZZ_MAX_BODY_BYTES = 32 * 1024

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$")
_VERSION = re.compile(r"^/ocpi/(?P<version>\d+\.\d+\.\d+)/(?P<module>[a-z]+)?")
_UNROUTED = {"credentials", "hubclientinfo", None}
_ALL_METHODS = ("GET", "PUT", "POST", "PATCH", "DELETE")
COMMANDS = (
    "START_SESSION",
    "STOP_SESSION",
    "RESERVE_NOW",
    "CANCEL_RESERVATION",
    "UNLOCK_CONNECTOR",
)


# --- the world the requests are sent into ---------------------------------------------------------


@dataclass(frozen=True)
class World:
    """What exists when the fuzz requests arrive, and the tokens of the callers."""

    emsp_token: str  # a registered eMSP connection (speaks for emsp_code)
    hub_token: str  # a registered hub connection (for hubclientinfo)
    invited_token: str  # token A of a connection still invited
    emsp_code: tuple[str, str]
    our_code: tuple[str, str]
    # Path parameter or body field -> values of objects that exist.
    known: dict[str, tuple[str, ...]]


@dataclass
class Tally:
    """Requests sent, per endpoint (source, method, path template) and per HTTP status."""

    requests: int = 0
    endpoints: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    by_source: Counter[str] = field(default_factory=Counter)

    def count(self, source: str, operation: APIOperation, status: int) -> None:
        self.requests += 1
        self.endpoints[(source, operation.method.upper(), operation.path)] += 1
        self.statuses[status] += 1
        self.by_source[f"{source} {version_of(operation.path) or '-'}"] += 1

    def summary(self) -> str:
        return f"fuzz: {self.requests} requests, {len(self.endpoints)} endpoints"


def version_of(path: str) -> str | None:
    match = _VERSION.match(path)
    return match.group("version") if match else None


def module_of(path: str) -> str | None:
    match = _VERSION.match(path)
    return match.group("module") if match else None


# --- strategies -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FuzzRequest:
    """One request: the generated case and how it was steered."""

    case: Any
    authorization: str | None
    mutation: str  # "", "unknown-path", "method", "not-json", "too-large"


def _header_text() -> st.SearchStrategy[str]:
    """Printable ASCII, as a header value may hold (no leading whitespace)."""
    printable = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
    return st.text(printable, max_size=40).map(str.lstrip)


def _unauthenticated(world: World) -> st.SearchStrategy[str | None]:
    unknown = "not-a-token-of-anyone"
    return st.one_of(
        st.none(),
        st.just(f"Token {unknown}"),
        st.just("Token " + base64.b64encode(unknown.encode()).decode()),
        st.just("Token " + base64.b64encode(world.invited_token.encode()).decode()),
        st.just(f"Bearer {world.emsp_token}"),
        _header_text().map(lambda text: f"Token {text}"),
        _header_text(),
    )


def _authorization(world: World, operation: APIOperation) -> str:
    module = module_of(operation.path)
    token = world.hub_token if module == "hubclientinfo" else world.emsp_token
    if version_of(operation.path) == "2.1.1":
        return f"Token {token}"  # 2.1.1 partners send it as is
    return "Token " + base64.b64encode(token.encode()).decode()


def _aligned(value: Any, replacements: dict[str, str]) -> Any:
    """`value` with every identifier field that `replacements` names set to an existing one."""
    if isinstance(value, dict):
        return {
            key: replacements[key]
            if key in replacements and isinstance(item, str)
            else _aligned(item, replacements)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_aligned(item, replacements) for item in value]
    return value


def _routing(world: World, module: str | None, version: str | None) -> dict[str, str]:
    if version in (None, "2.1.1") or module in _UNROUTED:
        return {}
    return {
        "OCPI-from-country-code": world.emsp_code[0],
        "OCPI-from-party-id": world.emsp_code[1],
        "OCPI-to-country-code": world.our_code[0],
        "OCPI-to-party-id": world.our_code[1],
    }


def fuzz_requests(
    operation: APIOperation, world: World, *, authenticated: bool
) -> st.SearchStrategy[FuzzRequest]:
    """Valid and invalid cases of the operation (half each), steered as the module says."""
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )
    return _steered(cases, operation, world, authenticated=authenticated)


@st.composite
def _steered(
    draw: st.DrawFn,
    cases: st.SearchStrategy[Any],
    operation: APIOperation,
    world: World,
    *,
    authenticated: bool,
) -> FuzzRequest:
    case = draw(cases)
    module, version = module_of(operation.path), version_of(operation.path)
    known = {name: draw(st.sampled_from(values)) for name, values in world.known.items()}
    if draw(st.booleans()):
        for name in case.path_parameters:
            if name in known:
                case.path_parameters[name] = known[name]
    if isinstance(case.body, dict) and draw(st.booleans()):
        case.body = _aligned(case.body, {**known, **_url_identity(case)})
    headers = draw(st.sampled_from(("generated", "valid", "none")))
    routing = _routing(world, module, version)
    if headers == "valid":
        case.headers.update(routing)
    elif headers == "none":
        for name in routing:
            case.headers.pop(name, None)
    case.headers.pop("Authorization", None)
    authorization = (
        _authorization(world, operation) if authenticated else draw(_unauthenticated(world))
    )
    mutation = draw(
        st.sampled_from(("", "", "", "", "", "", "unknown-path", "method", "not-json", "too-large"))
    )
    return FuzzRequest(case=case, authorization=authorization, mutation=mutation)


def _url_identity(case: Any) -> dict[str, str]:
    """Body fields that must agree with the URL (tokens, hubclientinfo)."""
    names = {"country_code": "country_code", "party_id": "party_id", "token_uid": "uid"}
    return {
        body_name: str(case.path_parameters[path_name])
        for path_name, body_name in names.items()
        if path_name in case.path_parameters
    }


# --- sending -----------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    request: str  # method and path, for failure messages


def send(app: WSGIHandler, request: FuzzRequest) -> Answer:
    case = request.case
    headers = {} if request.authorization is None else {"Authorization": request.authorization}
    if not request.mutation:
        response = case.call(app=app, headers=headers)
        return Answer(
            status=response.status_code,
            headers={name.lower(): _one(value) for name, value in response.headers.items()},
            body=response.content,
            request=f"{case.method} {case.formatted_path}",
        )
    return _send_mutated(app, request, headers)


def _one(value: str | list[str]) -> str:
    return ", ".join(value) if isinstance(value, list) else value


def _send_mutated(app: WSGIHandler, request: FuzzRequest, headers: dict[str, str]) -> Answer:
    case = request.case
    method, path, body = case.method.upper(), case.formatted_path, b""
    headers = {**{k: str(v) for k, v in case.headers.items()}, **headers}
    if request.mutation == "unknown-path":
        path = "/ocpi/no-such-version" + path.removeprefix("/ocpi")
    elif request.mutation == "method":
        allowed = {m.upper() for m in case.operation.schema.raw_schema["paths"][case.path]}
        method = next(m for m in _ALL_METHODS if m not in allowed)
    elif request.mutation == "not-json":
        method = method if method != "GET" else "PUT"
        body = b"{not json"
    elif request.mutation == "too-large":
        body = b"[" + b"0," * FUZZ_MAX_BODY_BYTES + b"0]"
    headers["Content-Type"] = "application/json"
    response = WerkzeugClient(app).open(path=path, method=method, headers=headers, data=body)
    return Answer(
        status=response.status_code,
        headers={name.lower(): value for name, value in response.headers.items()},
        body=response.get_data(),
        request=f"{method} {path} ({request.mutation})",
    )


# --- the checks ------------------------------------------------------------------------------


def check_answer(answer: Answer, request: FuzzRequest) -> None:
    """No server error, and an OCPI envelope whatever the HTTP status."""
    where = f"{answer.request} -> HTTP {answer.status}"
    assert answer.status < 500, f"server error: {where}: {answer.body[:2000]!r}"
    assert answer.headers.get("content-type", "").startswith("application/json"), (
        f"not JSON: {where}: {answer.headers.get('content-type')}"
    )
    try:
        envelope = json.loads(answer.body)
    except ValueError as error:
        raise AssertionError(f"body is not JSON: {where}: {answer.body[:500]!r}") from error
    assert isinstance(envelope, dict), f"not an envelope: {where}: {envelope!r:.500}"
    status_code = envelope.get("status_code")
    assert isinstance(status_code, int), f"status_code: {where}: {envelope!r:.500}"
    assert 1000 <= status_code <= 4999, f"status_code: {where}: {envelope!r:.500}"
    timestamp = envelope.get("timestamp")
    assert isinstance(timestamp, str), f"timestamp: {where}: {timestamp!r}"
    assert _DATETIME.match(timestamp), f"timestamp: {where}: {timestamp!r}"
    message = envelope.get("status_message")
    assert message is None or isinstance(message, str), f"status_message: {where}"
    if answer.status >= 400 or status_code >= 2000:
        assert message, f"an error without a status_message: {where}: {envelope!r:.500}"
    if answer.status >= 400:
        assert status_code >= 2000, f"an HTTP error with a success code: {where}"
    if request.mutation == "unknown-path":
        assert answer.status == 404, where
    elif request.mutation == "too-large":
        assert answer.status == 413, where
    elif request.mutation:
        assert status_code >= 2000, f"a broken request accepted: {where}"
    for header in ("x-request-id", "x-correlation-id"):
        assert answer.headers.get(header), f"{header} not echoed: {where}"


# --- one fuzz test ------------------------------------------------------------------------------


def fuzz_operation(
    operation: APIOperation,
    *,
    source: str,
    world: World,
    app: WSGIHandler,
    tally: Tally,
    authenticated: bool,
) -> None:
    """Send the operation's generated requests and check every answer."""
    examples = AUTHENTICATED_EXAMPLES if authenticated else UNAUTHENTICATED_EXAMPLES

    errors = _ErrorRecorder()

    @settings(FUZZ_SETTINGS, max_examples=examples)
    @given(request=fuzz_requests(operation, world, authenticated=authenticated))
    def fuzz(request: FuzzRequest) -> None:
        errors.records.clear()
        answer = send(app, request)
        tally.count(source, operation, answer.status)
        try:
            check_answer(answer, request)
        except AssertionError as failure:
            failure.add_note(describe(request) + errors.tracebacks())
            raise

    logger = logging.getLogger()
    logger.addHandler(errors)
    try:
        fuzz()
    finally:
        logger.removeHandler(errors)


class _ErrorRecorder(logging.Handler):
    """Keeps the errors logged while a request is served (the traceback of a server error)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def tracebacks(self) -> str:
        formatter = logging.Formatter()
        return "".join(
            "\n" + formatter.formatException(record.exc_info)
            for record in self.records
            if record.exc_info
        )


def describe(request: FuzzRequest) -> str:
    case = request.case
    body = case.body if not isinstance(case.body, NotSet) else None
    return (
        f"request: {case.method} {case.formatted_path} query={case.query!r} "
        f"headers={dict(case.headers)!r} authorization={request.authorization!r} "
        f"mutation={request.mutation!r}\nbody: {json.dumps(body, default=str)[:3000]}"
    )


def operation_id(operation: APIOperation) -> str:
    """E.g. "spec-2.2.1 GET /ocpi/versions/" (the official /versions is in both versions)."""
    source = operation.schema.raw_schema["info"]["x-fuzz-source"]
    return f"{source} {operation.method.upper()} {operation.path}"
