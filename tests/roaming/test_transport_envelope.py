"""Every answer under /ocpi/ is an OCPI envelope with the request ids, whatever went wrong."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.roaming.conftest import auth

pytestmark = [pytest.mark.urls("tests.roaming.probe_urls"), pytest.mark.django_db]

PROBE = "/ocpi/2.2.1/probe/"
ENVELOPE_KEYS = {"data", "status_code", "status_message", "timestamp"}


def test_success_carries_the_whole_envelope(client: Client, registered) -> None:
    _, token = registered
    payload = client.get(PROBE, headers=auth(token)).json()
    assert set(payload) == ENVELOPE_KEYS
    assert payload["status_code"] == 1000
    assert len(payload["timestamp"]) <= 25
    assert payload["timestamp"].endswith("Z")


def test_unknown_url_under_ocpi_answers_404_envelope(client: Client, registered) -> None:
    _, token = registered
    response = client.get("/ocpi/2.2.1/no-such-module/", headers=auth(token))
    assert response.status_code == 404
    assert set(response.json()) == ENVELOPE_KEYS
    assert response.json()["status_code"] == 2000


def test_unknown_url_without_token_still_answers_404_envelope(client: Client) -> None:
    response = client.get("/ocpi/nothing-here")
    assert response.status_code == 404
    assert response.json()["status_code"] == 2000


def test_body_that_is_not_json_answers_400(client: Client, registered) -> None:
    _, token = registered
    response = client.post(
        PROBE, data="{not json", content_type="application/json", headers=auth(token)
    )
    assert response.status_code == 400
    assert set(response.json()) == ENVELOPE_KEYS
    assert "not valid JSON" in response.json()["status_message"]


def test_json_body_is_read_whatever_the_content_type(client: Client, registered) -> None:
    _, token = registered
    response = client.post(PROBE, data='{"a": 1}', content_type="text/plain", headers=auth(token))
    assert response.json()["data"] == {"a": 1}


def test_answer_is_json_whatever_the_accept_header(client: Client, registered) -> None:
    _, token = registered
    response = client.get(PROBE, headers={**auth(token), "Accept": "text/html"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_oversize_body_answers_413_envelope(client: Client, registered, settings) -> None:
    settings.OCPI_MAX_BODY_BYTES = 100
    _, token = registered
    big = json.dumps({"padding": "x" * 200})
    response = client.post(PROBE, data=big, content_type="application/json", headers=auth(token))
    assert response.status_code == 413
    assert set(response.json()) == ENVELOPE_KEYS


def test_body_within_the_limit_is_accepted(client: Client, registered, settings) -> None:
    settings.OCPI_MAX_BODY_BYTES = 100
    _, token = registered
    response = client.post(
        PROBE, data={"a": "b"}, content_type="application/json", headers=auth(token)
    )
    assert response.status_code == 200


def test_unexpected_error_answers_500_without_internals(client: Client, registered) -> None:
    _, token = registered
    response = client.get("/ocpi/2.2.1/boom/", headers=auth(token))
    assert response.status_code == 500
    assert response.json()["status_code"] == 3000
    assert b"secret internals" not in response.content
    assert b"Traceback" not in response.content


def test_unexpected_error_is_logged(client: Client, registered, caplog) -> None:
    _, token = registered
    client.get("/ocpi/2.2.1/boom/", headers=auth(token))
    assert any("secret internals" in str(record.exc_info) for record in caplog.records)


def test_error_in_a_plain_django_view_answers_500_envelope(registered) -> None:
    response = Client(raise_request_exception=False).get("/ocpi/plain/boom/")
    assert response.status_code == 500
    assert response.json()["status_code"] == 3000
    assert b"secret internals" not in response.content


def test_method_a_view_lacks_answers_405_envelope(client: Client, registered) -> None:
    _, token = registered
    response = client.delete(PROBE, headers=auth(token))
    assert response.status_code == 405
    assert set(response.json()) == ENVELOPE_KEYS


def test_options_answers_405_envelope(client: Client, registered) -> None:
    _, token = registered
    response = client.options(PROBE, headers=auth(token))
    assert response.status_code == 405
    assert set(response.json()) == ENVELOPE_KEYS


def test_django_405_page_becomes_an_envelope(client: Client) -> None:
    response = client.post("/ocpi/plain/get-only/")
    assert response.status_code == 405
    assert response.json()["status_code"] == 2000


def test_request_and_correlation_ids_are_echoed(client: Client, registered) -> None:
    _, token = registered
    ids = {"X-Request-ID": "req-123", "X-Correlation-ID": "corr-456"}
    response = client.get(PROBE, headers={**auth(token), **ids})
    assert response["X-Request-ID"] == "req-123"
    assert response["X-Correlation-ID"] == "corr-456"


@pytest.mark.parametrize("path", ["/ocpi/versions", PROBE, "/ocpi/no-such-thing"])
def test_ids_are_made_up_when_absent_even_on_errors(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code in (401, 404)
    assert len(response["X-Request-ID"]) == 36
    assert len(response["X-Correlation-ID"]) == 36


def test_ids_unfit_for_a_header_are_replaced(client: Client) -> None:
    response = client.get("/ocpi/versions", headers={"X-Request-ID": "x" * 500})
    assert response["X-Request-ID"] != "x" * 500


def test_ids_are_echoed_on_413(client: Client, settings) -> None:
    settings.OCPI_MAX_BODY_BYTES = 10
    response = client.post(
        PROBE, data="{}" + " " * 20, content_type="application/json", headers={"X-Request-ID": "r1"}
    )
    assert response.status_code == 413
    assert response["X-Request-ID"] == "r1"


@pytest.mark.parametrize("path", ["/ocpi/2.2.1/probe", "/ocpi/2.2.1/probe/"])
def test_trailing_slash_is_optional(client: Client, registered, path: str) -> None:
    _, token = registered
    assert client.get(path, headers=auth(token)).status_code == 200


def test_decimals_are_numbers_and_datetimes_short_utc(client: Client, registered) -> None:
    _, token = registered
    response = client.get("/ocpi/2.2.1/values/", headers=auth(token))
    assert b'"amount":12.3456' in response.content
    assert b'"energy":0.1' in response.content
    assert response.json()["data"]["when"] == "2024-05-01T12:30:15.123Z"


def test_paths_outside_ocpi_are_left_alone() -> None:
    response = Client(raise_request_exception=False).get("/outside/boom/")
    assert response.status_code == 500
    assert "X-Request-ID" not in response
    assert not response["Content-Type"].startswith("application/json")
