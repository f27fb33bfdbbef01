"""Fixtures of the fuzz tests: the world the requests meet, the app they are sent to, the tally.

Requests go in-process through Django's WSGI handler, in the test's thread and on its database
connection, so they see the objects made here inside the test's transaction (and what one request
stores, the next one sees). Outbound OCPI calls (credentials handshakes, command results) reach a
partner that is offline, so no request leaves the process.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings

from roaming import client as ocpi_client
from roaming.choices import Role
from roaming.credentials.services import partner_invite
from roaming.models import Party
from roaming.services import parties_sync_ours
from tests.billing.factories import (
    CDRFactory,
    PriceComponentFactory,
    TariffElementFactory,
    TariffFactory,
)
from tests.fuzz import harness
from tests.fuzz.harness import FUZZ_MAX_BODY_BYTES, Tally, World
from tests.roaming.conftest import make_partner
from tests.sessions_app.factories import SessionFactory, TokenFactory

TALLY = Tally()


@pytest.fixture(scope="session")
def tally() -> Tally:
    return TALLY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLY.requests:
        terminalreporter.write_line(TALLY.summary())
        per_source = ", ".join(f"{name}: {n}" for name, n in sorted(TALLY.by_source.items()))
        terminalreporter.write_line(f"fuzz: per source and version: {per_source}")
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(TALLY.statuses.items()))
        terminalreporter.write_line(f"fuzz: HTTP statuses: {statuses}")


@pytest.fixture
def wsgi_app() -> Iterator[WSGIHandler]:
    """Django's WSGI handler, kept from closing the test's connection between requests (as
    Django's own test client does)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def offline_partners(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("partner offline (fuzz tests)", request=request)

    monkeypatch.setattr(ocpi_client, "_transport", httpx.MockTransport(refuse))


@pytest.fixture
def fuzz_limits() -> Iterator[None]:
    """No rate limits (they would answer 429 before the code under test); a small body limit."""
    with override_settings(
        OCPI_RATE_LIMIT=0,
        OCPI_RATE_LIMIT_UNAUTHENTICATED=0,
        OCPI_MAX_BODY_BYTES=FUZZ_MAX_BODY_BYTES,
    ):
        yield


@pytest.fixture
def world(db: None, offline_partners: None, fuzz_limits: None) -> World:
    """Our CPO with a location, EVSE, connector, tariff, a session under way and a CDR; a
    registered eMSP with a token, a hub relaying for it, and an invited connection."""
    ours = parties_sync_ours()[0]
    emsp = Party.objects.create(
        country_code="DE", party_id="EMS", name="Fuzz eMSP", roles=[Role.EMSP.value]
    )
    hub = Party.objects.create(
        country_code="NL", party_id="HUB", name="Fuzz hub", roles=[Role.HUB.value]
    )
    _, emsp_token = make_partner(parties=[emsp], name="Fuzz eMSP")
    _, hub_token = make_partner(parties=[hub, emsp], name="Fuzz hub")
    _, invited_token = partner_invite(
        name="Invited eMSP", country_code="NL", party_id="INV", role=Role.EMSP
    )
    token = TokenFactory.create(owner=emsp)
    session = SessionFactory.create(token=token)
    connector = session.connector
    tariff = TariffFactory.create(ocpi_id="FUZZ-T1")
    element = TariffElementFactory.create(tariff=tariff, position=0)
    PriceComponentFactory.create(element=element, position=0)
    cdr = CDRFactory.create(emsp=emsp)
    known = {
        "location_id": (connector.evse.location.ocpi_id,),
        "evse_uid": (connector.evse.uid,),
        "connector_id": (connector.ocpi_id,),
        "session_id": (session.ocpi_id,),
        "token_uid": (token.uid,),
        "tariff_id": (tariff.ocpi_id,),
        "cdr_id": (cdr.ocpi_id,),
        "country_code": (emsp.country_code,),
        "party_id": (emsp.party_id,),
        "command": harness.COMMANDS,
    }
    return World(
        emsp_token=emsp_token,
        hub_token=hub_token,
        invited_token=invited_token,
        emsp_code=(emsp.country_code, emsp.party_id),
        our_code=(ours.country_code, ours.party_id),
        known=known,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fuzz: a generated-request test of one OCPI operation")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The check of the whole run's request count goes after every fuzz test."""
    last = [item for item in items if item.name.startswith("test_whole_fuzz_run")]
    for item in last:
        items.remove(item)
        items.append(item)
