"""Staff admin of tokens, sessions and reservations: readable, never editable."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sessions_app.choices import CommandType
from sessions_app.models import Command, Session, Token
from tests.sessions_app.factories import (
    ReservationFactory,
    SessionChargingPeriodFactory,
    SessionFactory,
    TokenFactory,
)

MODELS = ["token", "session", "reservation"]


@pytest.fixture
def rows(db: None) -> None:
    """One row of each model, so every page has something to render."""
    SessionChargingPeriodFactory.create()
    ReservationFactory.create()


def _url(model: str, view: str, *args: object) -> str:
    return reverse(f"admin:sessions_app_{model}_{view}", args=args)


@pytest.mark.parametrize("model", MODELS)
def test_changelist_renders(admin_client: Client, rows: None, model: str) -> None:
    response = admin_client.get(_url(model, "changelist"))

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) >= 1


@pytest.mark.parametrize("model", MODELS)
def test_add_page_is_forbidden(admin_client: Client, model: str) -> None:
    assert admin_client.get(_url(model, "add")).status_code == 403


def test_session_page_is_view_only_with_charging_periods(admin_client: Client) -> None:
    period = SessionChargingPeriodFactory.create(dimensions=[{"type": "ENERGY", "volume": 7.25}])

    response = admin_client.get(_url("session", "change", period.session.pk))

    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    assert 'name="_save"' not in response.content.decode()
    assert "7.25" in response.content.decode()


def test_session_cannot_be_changed_by_post(admin_client: Client) -> None:
    session = SessionFactory.create(ocpi_id="SES-KEEP")

    response = admin_client.post(_url("session", "change", session.pk), {"ocpi_id": "SES-NEW"})

    assert response.status_code == 403
    assert Session.objects.get(pk=session.pk).ocpi_id == "SES-KEEP"


def test_token_cannot_be_deleted(admin_client: Client) -> None:
    token = TokenFactory.create()

    response = admin_client.post(_url("token", "delete", token.pk), {"post": "yes"})

    assert response.status_code == 403
    assert Token.objects.filter(pk=token.pk).exists()


def test_token_list_offers_no_bulk_delete(admin_client: Client, rows: None) -> None:
    response = admin_client.get(_url("token", "changelist"))

    assert response.context["action_form"] is None or "delete_selected" not in [
        name for name, _ in response.context["action_form"].fields["action"].choices
    ]


@pytest.mark.parametrize(
    ("field", "value_of"),
    [
        ("uid", lambda s: s.cdr_token["uid"].lower()),
        ("contract id", lambda s: s.cdr_token["contract_id"]),
        ("session id", lambda s: s.ocpi_id.lower()),
        ("evse id", lambda s: s.evse.evse_id),
    ],
)
def test_session_search_finds_by_exact_id(
    admin_client: Client, field: str, value_of: object
) -> None:
    wanted = SessionFactory.create()
    SessionFactory.create()

    response = admin_client.get(_url("session", "changelist"), {"q": value_of(wanted)})  # type: ignore[operator]

    assert list(response.context["cl"].result_list) == [wanted], field


@pytest.mark.parametrize("field", ["uid", "contract_id"])
def test_token_search_finds_by_exact_id(admin_client: Client, field: str) -> None:
    wanted = TokenFactory.create()
    TokenFactory.create()

    response = admin_client.get(_url("token", "changelist"), {"q": getattr(wanted, field)})

    assert list(response.context["cl"].result_list) == [wanted]


def test_session_list_drills_down_by_start_date(admin_client: Client) -> None:
    session = SessionFactory.create()
    start = session.start_date_time

    response = admin_client.get(
        _url("session", "changelist"),
        {"start_date_time__year": start.year, "start_date_time__month": start.month},
    )

    assert list(response.context["cl"].result_list) == [session]


def test_session_list_filters_by_status(admin_client: Client) -> None:
    active = SessionFactory.create(status="ACTIVE")
    SessionFactory.create(status="COMPLETED")

    response = admin_client.get(_url("session", "changelist"), {"status__exact": "ACTIVE"})

    assert list(response.context["cl"].result_list) == [active]


def _queries_to_render(client: Client, url: str) -> int:
    client.get(url)  # warm the login session and permission caches
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    ("model", "factory"),
    [("session", SessionFactory), ("token", TokenFactory), ("reservation", ReservationFactory)],
)
def test_changelist_query_count_does_not_grow_with_rows(
    admin_client: Client, model: str, factory: Any
) -> None:
    url = _url(model, "changelist")
    factory.create()
    with_one = _queries_to_render(admin_client, url)
    factory.create_batch(4)

    assert _queries_to_render(admin_client, url) == with_one


def start_command_of(session: Session, reference: str) -> Command:
    return Command.objects.create(
        command_type=CommandType.START_SESSION,
        emsp=session.emsp,
        version="2.2.1",
        response_url="https://emsp.example.com/r/1",
        request={"authorization_reference": reference},
        deadline=session.start_date_time,
        session=session,
    )


def test_command_list_shows_the_session_and_authorization_reference(
    admin_client: Client,
) -> None:
    session = SessionFactory.create(ocpi_id="SES-LINKED", authorization_reference="AUTH-42")
    start_command_of(session, "AUTH-42")

    page = admin_client.get(_url("command", "changelist")).content.decode()

    assert "SES-LINKED" in page
    assert "AUTH-42" in page


def test_session_page_lists_the_command_that_started_it(admin_client: Client) -> None:
    session = SessionFactory.create()
    command = start_command_of(session, "AUTH-43")

    page = admin_client.get(_url("session", "change", session.pk)).content.decode()

    assert "START_SESSION" in page
    assert _url("command", "change", command.pk) in page
