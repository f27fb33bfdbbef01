"""The outbound client: headers, envelope checks, the transient/permanent split, paging, logging."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import httpx
import pytest

from roaming import client as ocpi_client
from roaming.choices import OcpiVersion
from roaming.client import PermanentError, TransientError, call, paginate, redact
from roaming.keepalive import KeepAliveTransport
from roaming.models import ExchangeLog, Partner
from roaming.transport.ids import RequestIds, bound_ids
from tests.roaming.conftest import make_partner
from tests.roaming.peer import envelope

pytestmark = pytest.mark.django_db

URL = "https://partner.example.com/ocpi/2.2.1/locations"
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def partner(emsp) -> Partner:
    return make_partner(parties=[emsp])[0]


@pytest.fixture
def transport(monkeypatch) -> Callable[[Handler], list[httpx.Request]]:
    """Route the shared client's calls to a handler; returns the list of requests it saw."""

    def install(handler: Handler) -> list[httpx.Request]:
        seen: list[httpx.Request] = []

        def recording(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return handler(request)

        monkeypatch.setattr(ocpi_client, "_transport", httpx.MockTransport(recording))
        return seen

    return install


def ok(data=None, **kwargs) -> Handler:
    return lambda request: httpx.Response(200, json=envelope(data), **kwargs)


def test_authorization_is_base64_from_2_2_on(partner, transport) -> None:
    seen = transport(ok())
    call("GET", URL, partner=partner)
    expected = base64.b64encode(b"token-we-use-to-call-them").decode()
    assert seen[0].headers["Authorization"] == f"Token {expected}"


def test_authorization_is_plain_for_2_1_1(partner, transport) -> None:
    partner.version = OcpiVersion.V2_1_1
    seen = transport(ok())
    call("GET", URL, partner=partner)
    assert seen[0].headers["Authorization"] == "Token token-we-use-to-call-them"


def test_every_call_carries_fresh_request_and_correlation_ids(partner, transport) -> None:
    seen = transport(ok())
    call("GET", URL, partner=partner)
    call("GET", URL, partner=partner)
    assert seen[0].headers["X-Request-ID"] != seen[1].headers["X-Request-ID"]
    assert seen[0].headers["X-Correlation-ID"]


def test_calls_made_while_serving_a_request_keep_its_correlation_id(partner, transport) -> None:
    seen = transport(ok())
    with bound_ids(RequestIds(request_id="in-1", correlation_id="corr-1")):
        call("GET", URL, partner=partner)
    assert seen[0].headers["X-Correlation-ID"] == "corr-1"
    assert seen[0].headers["X-Request-ID"] != "in-1"


def test_timeouts_come_from_settings(partner, transport, settings) -> None:
    settings.OCPI_CLIENT_CONNECT_TIMEOUT = 1.5
    settings.OCPI_CLIENT_READ_TIMEOUT = 7.0
    seen = transport(ok())
    call("GET", URL, partner=partner)
    timeout = seen[0].extensions["timeout"]
    assert timeout["connect"] == 1.5
    assert timeout["read"] == 7.0


def test_body_is_sent_as_json_with_decimals_as_numbers(partner, transport) -> None:
    from decimal import Decimal

    seen = transport(ok())
    call("PUT", URL, partner=partner, json={"kwh": Decimal("1.250")})
    assert seen[0].headers["Content-Type"] == "application/json"
    assert json.loads(seen[0].content) == {"kwh": 1.25}


def test_success_returns_the_envelope_data(partner, transport) -> None:
    transport(ok({"id": "LOC1"}))
    assert call("GET", URL, partner=partner).data == {"id": "LOC1"}


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(500, json=envelope(None, 3000)), TransientError),
        (httpx.Response(503, text="busy"), TransientError),
        (httpx.Response(429, text="slow down"), TransientError),
        (httpx.Response(200, json=envelope(None, 3000, "later")), TransientError),
        (httpx.Response(200, json=envelope(None, 4003, "hub lost them")), TransientError),
        (httpx.Response(404, json=envelope(None, 2000)), PermanentError),
        (httpx.Response(401, text="who are you"), PermanentError),
        (httpx.Response(200, json=envelope(None, 2001, "bad field")), PermanentError),
        (httpx.Response(200, json=envelope(None, 4001, "unknown receiver")), PermanentError),
        (httpx.Response(200, text="<html>hello</html>"), PermanentError),
        (httpx.Response(200, json=[1, 2]), PermanentError),
        (
            httpx.Response(301, headers={"Location": "https://elsewhere.example.com"}),
            PermanentError,
        ),
    ],
)
def test_failures_split_into_transient_and_permanent(partner, transport, response, error) -> None:
    transport(lambda request: response)
    with pytest.raises(error):
        call("GET", URL, partner=partner)


def test_ocpi_status_of_a_failure_is_kept(partner, transport) -> None:
    transport(lambda request: httpx.Response(200, json=envelope(None, 2001, "bad")))
    with pytest.raises(PermanentError) as caught:
        call("GET", URL, partner=partner)
    assert caught.value.ocpi_status == 2001
    assert caught.value.http_status == 200


def raising(error: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    return handler


def test_timeout_is_transient(partner, transport) -> None:
    transport(raising(httpx.ReadTimeout("slow")))
    with pytest.raises(TransientError, match="Timed out"):
        call("GET", URL, partner=partner)


def test_connection_error_is_transient(partner, transport) -> None:
    transport(raising(httpx.ConnectError("refused")))
    with pytest.raises(TransientError, match="Connection failed"):
        call("GET", URL, partner=partner)


def test_every_call_is_logged_once(partner, transport) -> None:
    transport(ok({"id": "LOC1"}))
    call("GET", URL, partner=partner)
    log = ExchangeLog.objects.get()
    assert (log.partner, log.method, log.url, log.http_status, log.ocpi_status) == (
        partner,
        "GET",
        URL,
        200,
        1000,
    )
    assert log.succeeded
    assert log.request_id


def test_failed_call_is_logged_with_its_error(partner, transport) -> None:
    transport(raising(httpx.ConnectError("refused")))
    with pytest.raises(TransientError):
        call("GET", URL, partner=partner)
    log = ExchangeLog.objects.get()
    assert log.http_status is None
    assert "refused" in log.error
    assert not log.succeeded


def test_logged_bodies_are_truncated(partner, transport, settings) -> None:
    settings.OCPI_EXCHANGE_LOG_BODY_CHARS = 50
    transport(ok(["x" * 500]))
    call("POST", URL, partner=partner, json={"padding": "y" * 500})
    log = ExchangeLog.objects.get()
    assert len(log.request_body) == 50
    assert len(log.response_body) == 50


def test_logged_bodies_never_show_a_credentials_token(partner, transport) -> None:
    transport(ok({"token": "their-new-token", "url": "https://x"}))
    call("POST", URL, partner=partner, json={"token": "our-new-token", "url": "https://y"})
    log = ExchangeLog.objects.get()
    assert "our-new-token" not in log.request_body
    assert "their-new-token" not in log.response_body
    assert "Authorization" not in log.request_body


def test_redaction_covers_a_token_cut_by_truncation() -> None:
    assert redact('{"url": "u", "token": "abcdef') == '{"url": "u", "token": "***'


def page_handler(pages: dict[str, tuple[list[int], str | None]]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        data, following = pages[str(request.url)]
        headers = {"Link": f'<{following}>; rel="next"'} if following else {}
        return httpx.Response(200, json=envelope(data), headers=headers)

    return handler


def test_paginate_follows_next_links_to_the_last_page(partner, transport) -> None:
    transport(
        page_handler(
            {
                URL: ([1, 2], f"{URL}?offset=2"),
                f"{URL}?offset=2": ([3, 4], f"{URL}?offset=4"),
                f"{URL}?offset=4": ([5], None),
            }
        )
    )
    assert list(paginate(URL, partner=partner)) == [1, 2, 3, 4, 5]


def test_paginate_refuses_a_link_to_another_host(partner, transport) -> None:
    transport(page_handler({URL: ([1], "https://evil.example.com/steal")}))
    with pytest.raises(PermanentError, match="leaves"):
        list(paginate(URL, partner=partner))


def test_paginate_stops_on_a_link_loop(partner, transport) -> None:
    transport(page_handler({URL: ([1], f"{URL}?o=1"), f"{URL}?o=1": ([2], f"{URL}?o=1")}))
    with pytest.raises(PermanentError, match="repeats"):
        list(paginate(URL, partner=partner))


def test_the_shared_transport_is_one_per_process(monkeypatch) -> None:
    monkeypatch.setattr(ocpi_client, "_transport", None)
    monkeypatch.setattr(ocpi_client, "getproxies", dict)

    assert ocpi_client.transport() is ocpi_client.transport()
    assert isinstance(ocpi_client.transport(), KeepAliveTransport)


def test_a_configured_proxy_is_honoured_through_httpx(monkeypatch) -> None:
    monkeypatch.setattr(ocpi_client, "_transport", None)
    monkeypatch.setattr(ocpi_client, "getproxies", lambda: {"https": "http://proxy:3128"})

    assert not isinstance(ocpi_client.transport(), KeepAliveTransport)
