"""End to end on loopback: an eMSP starts and stops a remote session at a simulated charger.

The eMSP is a real HTTP server (the push tests' ReceiverPeer, also taking command results); we
are pytest-django's live server; the charger is the simulator on a hand-driven clock, so the
energy delivered is exact. Every call crosses HTTP: the token PUT and the commands from the eMSP
to us, the command results, session PUT/PATCHes and the CDR from us to the eMSP (the outbox
delivering at commit, Celery running eagerly).
"""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from django.utils import timezone

from roaming.choices import ModuleID
from roaming.models import Party
from sessions_app.gateway.simulator import Clock, Simulator, Vehicle
from sessions_app.models import Session
from tests.billing.factories import PriceComponentFactory, TariffFactory
from tests.locations.factories import ConnectorFactory
from tests.roaming.push.conftest import RECEIVER_MODULES, connect
from tests.roaming.push.receiver import Answer, ReceiverPeer, Request

pytestmark = pytest.mark.django_db(transaction=True)

PEER_TOKEN_TO_CALL_US = "emsp-calls-cpo-token-0123456789"
UID = "04E1D2C3B4A5"


class EmspPeer(ReceiverPeer):
    """The receiver peer, also taking command results at its response_urls."""

    def _handle(self, request: Request, handler: Any) -> Answer:
        if request.module_path.startswith("commands/") and request.method == "POST":
            self.objects[request.module_path] = request.body
            return Answer()
        return super()._handle(request, handler)


@pytest.fixture
def peer() -> Iterator[EmspPeer]:
    running = EmspPeer()
    with running:
        yield running


@pytest.fixture
def ocpi(live_server, settings) -> str:
    settings.OCPI_BASE_URL = f"{live_server.url}/ocpi"
    settings.CHARGING_SESSION_PUSH_INTERVAL_SECONDS = 300
    settings.CHARGING_COMMAND_TIMEOUT_SECONDS = 30
    return f"{live_server.url}/ocpi/2.2.1"


@pytest.fixture
def connection(peer: EmspPeer, emsp: Party):
    partner = connect(peer, parties=[emsp], modules=(*RECEIVER_MODULES, ModuleID.COMMANDS))
    partner.set_token(PEER_TOKEN_TO_CALL_US)
    partner.save()
    return partner


def emsp_call(method: str, url: str, body: Any = None) -> dict[str, Any]:
    """A call of the eMSP to us, as a 2.2.1 platform makes it."""
    encoded = base64.b64encode(PEER_TOKEN_TO_CALL_US.encode()).decode()
    response = httpx.request(
        method,
        url,
        json=body,
        headers={
            "Authorization": f"Token {encoded}",
            "OCPI-from-country-code": "DE",
            "OCPI-from-party-id": "EMS",
        },
        timeout=10,
    )
    answer: dict[str, Any] = response.json()
    return answer


def token_body() -> dict[str, Any]:
    return {
        "country_code": "DE",
        "party_id": "EMS",
        "uid": UID,
        "type": "RFID",
        "contract_id": "DE-EMS-C12345678",
        "issuer": "Example eMSP",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": "2025-06-01T12:00:00Z",
    }


def test_remote_session_from_token_to_cdr(ocpi, peer, connection, emsp) -> None:
    connector = ConnectorFactory.create(tariff_ids=["T-E2E"])
    tariff = TariffFactory.create(ocpi_id="T-E2E", owner=connector.evse.location.owner)
    PriceComponentFactory.create(
        element__tariff=tariff, price=Decimal("0.30"), vat=None, step_size=1
    )
    evse, location = connector.evse, connector.evse.location

    # 1. The eMSP pushes its driver's token.
    put = emsp_call("PUT", f"{ocpi}/tokens/DE/EMS/{UID}", token_body())
    assert put["status_code"] == 1000

    # 2. START_SESSION with a response_url: accepted at once, with a timeout.
    start_url = peer.url("2.2.1", "commands/START_SESSION/start-1")
    answer = emsp_call(
        "POST",
        f"{ocpi}/commands/START_SESSION",
        {
            "response_url": start_url,
            "token": token_body(),
            "location_id": location.ocpi_id,
            "evse_uid": evse.uid,
            "connector_id": connector.ocpi_id,
            "authorization_reference": "E2E-AUTH-1",
        },
    )
    assert answer["status_code"] == 1000
    assert answer["data"] == {"result": "ACCEPTED", "timeout": 30}

    # 3. The charger (simulated, 11 kW car on a 22 kW connector) takes it and charges an hour.
    clock = Clock(timezone.now().replace(microsecond=0), real=None)
    simulator = Simulator(
        [evse],
        clock=clock,
        rng=random.Random(7),
        vehicle_factory=lambda rng: Vehicle(battery_kwh=77, soc=0.2, max_ac_kw=11),
    )
    simulator.step(1)
    assert peer.objects["commands/START_SESSION/start-1"] == {"result": "ACCEPTED"}

    session = Session.objects.get()
    key = f"sessions/{session.country_code}/{session.party_id}/{session.ocpi_id}"
    puts = peer.received("PUT", key)
    assert len(puts) == 1
    assert puts[0].body["status"] == "PENDING"
    assert puts[0].body["auth_method"] == "COMMAND"
    assert puts[0].body["authorization_reference"] == "E2E-AUTH-1"

    for _ in range(60):
        simulator.step(60)
    patches = peer.received("PATCH", key)
    assert len(patches) >= 10  # at most one per 5 simulated minutes, from the first energy on
    assert len(patches) <= 13
    assert all("last_updated" in p.body for p in patches)
    assert peer.objects[key]["status"] == "ACTIVE"

    # 4. STOP_SESSION: accepted, carried out, the final session and the CDR follow.
    stop_url = peer.url("2.2.1", "commands/STOP_SESSION/stop-1")
    answer = emsp_call(
        "POST",
        f"{ocpi}/commands/STOP_SESSION",
        {"response_url": stop_url, "session_id": session.ocpi_id},
    )
    assert answer["data"]["result"] == "ACCEPTED"
    simulator.step(1)
    assert peer.objects["commands/STOP_SESSION/stop-1"] == {"result": "ACCEPTED"}

    session.refresh_from_db()
    assert session.status == "COMPLETED"
    assert session.kwh == Decimal("11.0000")  # 11 kW for one simulated hour
    final = peer.objects[key]
    assert final["status"] == "COMPLETED"
    assert Decimal(str(final["kwh"])) == Decimal("11")
    delivered_energy = sum(
        Decimal(str(d["volume"]))
        for period in final["charging_periods"]
        for d in period["dimensions"]
        if d["type"] == "ENERGY"
    )
    assert delivered_energy == Decimal("11")

    cdrs = list(peer.cdrs.values())
    assert len(cdrs) == 1
    cdr = cdrs[0]
    assert cdr["session_id"] == session.ocpi_id
    assert cdr["auth_method"] == "COMMAND"
    assert cdr["authorization_reference"] == "E2E-AUTH-1"
    assert Decimal(str(cdr["total_energy"])) == Decimal("11")
    assert Decimal(str(cdr["total_cost"]["excl_vat"])) == Decimal("3.30")

    evse.refresh_from_db()
    assert evse.status == "AVAILABLE"
    assert clock.now() - session.start_date_time == timedelta(hours=1, seconds=1)
