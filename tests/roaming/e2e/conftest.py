"""Fixtures of the end-to-end tests: our app on pytest-django's live server, a peer platform on
loopback (tests/roaming/peer.py), and a small network of our objects for the peer to pull.

Every request really crosses HTTP in both directions; the database is committed
(``transaction=True``) so that the live server's thread sees what a test creates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from billing.models import Tariff
from locations.models import Connector, Location
from roaming.models import Party
from sessions_app.models import Session
from tests.billing.factories import CDRFactory, PriceComponentFactory
from tests.locations.factories import ConnectorFactory, EVSEFactory, LocationFactory
from tests.sessions_app.factories import SessionFactory, TokenFactory

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


@pytest.fixture
def ocpi_base(live_server, settings) -> str:
    """Our OCPI base URL, served by the live server, as we announce it to partners."""
    settings.OCPI_BASE_URL = f"{live_server.url}/ocpi"
    return str(settings.OCPI_BASE_URL)


@pytest.fixture
def versions_url(ocpi_base: str) -> str:
    return f"{ocpi_base}/versions"


@dataclass
class Network:
    """Ids of what we publish, and of the sessions and CDRs of each eMSP's drivers."""

    locations: list[str] = field(default_factory=list)
    tariffs: list[str] = field(default_factory=list)
    sessions: dict[str, list[str]] = field(default_factory=dict)  # by party code
    cdrs: dict[str, list[str]] = field(default_factory=dict)


def seed_locations(count: int) -> tuple[list[str], list[Connector]]:
    """Published locations last updated on days 0..count-1, each with one EVSE and connector."""
    ids, connectors = [], []
    for n in range(count):
        location = LocationFactory.create(ocpi_id=f"LOC-{n}")
        evse = EVSEFactory.create(location=location, uid=f"LOC-{n}-E1")
        connectors.append(ConnectorFactory.create(evse=evse, ocpi_id="1"))
        Location.objects.filter(pk=location.pk).update(last_updated=day(n))
        ids.append(location.ocpi_id)
    return ids, connectors


def seed_tariffs(count: int) -> list[str]:
    ids = []
    for n in range(count):
        component = PriceComponentFactory.create(element__tariff__ocpi_id=f"TAR-{n}")
        Tariff.objects.filter(pk=component.element.tariff_id).update(last_updated=day(n))
        ids.append(f"TAR-{n}")
    return ids


def seed_driving(
    party: Party, connectors: list[Connector], count: int, *, offset: int = 0
) -> tuple[list[str], list[str]]:
    """`count` sessions and CDRs of `party`'s drivers, last updated on days offset.. onwards."""
    sessions, cdrs = [], []
    for n in range(count):
        token = TokenFactory.create(owner=party)
        session = SessionFactory.create(
            connector=connectors[n % len(connectors)],
            token=token,
            ocpi_id=f"S-{party.party_id}-{n}",
        )
        Session.objects.filter(pk=session.pk).update(last_updated=day(offset + n))
        cdr = CDRFactory.create(
            emsp=party, ocpi_id=f"C-{party.party_id}-{n}", last_updated=day(offset + n)
        )
        sessions.append(session.ocpi_id)
        cdrs.append(cdr.ocpi_id)
    return sessions, cdrs


def seed_network(emsps: list[Party], *, locations: int = 5, tariffs: int = 3) -> Network:
    network = Network()
    network.locations, connectors = seed_locations(locations)
    network.tariffs = seed_tariffs(tariffs)
    for index, party in enumerate(emsps):
        sessions, cdrs = seed_driving(party, connectors, 3 - index, offset=index)
        network.sessions[party.code] = sessions
        network.cdrs[party.code] = cdrs
    return network
