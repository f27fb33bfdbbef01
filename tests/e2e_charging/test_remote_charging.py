"""End to end on loopback: an eMSP starts and stops a remote session at a simulated charger,
reserves one, and is refused what it may not do.

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
from sessions_app.commands import command_timeout_due
from sessions_app.gateway.simulator import Clock, Simulator, Vehicle
from sessions_app.models import Command, Session
from tests.billing.factories import PriceComponentFactory, TariffFactory
from tests.locations.factories import ConnectorFactory
from tests.roaming.push.conftest import RECEIVER_MODULES, connect
from tests.roaming.push.receiver import Answer, ReceiverPeer, Request
from tests.sessions_app.factories import SessionFactory

pytestmark = pytest.mark.django_db(transaction=True)

PEER_TOKEN_TO_CALL_US = "emsp-calls-cpo-token-0123456789"
UID = "04E1D2C3B4A5"


class EmspPeer(ReceiverPeer):
    """The receiver peer, also taking command results at its response_urls and answering
    real-time authorizations of its tokens (with ``verdict``)."""

    verdict = "ALLOWED"

    def _handle(self, request: Request, handler: Any) -> Answer:
        path = request.module_path
        if path.startswith("commands/") and request.method == "POST":
            self.objects[path] = request.body
            return Answer()
        if path.startswith("tokens/") and path.endswith("/authorize"):
            return Answer(data={"allowed": self.verdict, "authorization_reference": "RT-1"})
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


def charger(evse, *, arrivals_per_hour: float = 0.0) -> Simulator:
    """The simulated charger of an EVSE, on a hand-driven clock, with an 11 kW car."""
    return Simulator(
        [evse],
        clock=Clock(timezone.now().replace(microsecond=0), real=None),
        rng=random.Random(7),
        arrivals_per_hour=arrivals_per_hour,
        vehicle_factory=lambda rng: Vehicle(battery_kwh=77, soc=0.2, max_ac_kw=11),
    )


def start_session(ocpi: str, peer: EmspPeer, connector, name: str, **extra: Any) -> dict:
    evse = connector.evse
    return emsp_call(
        "POST",
        f"{ocpi}/commands/START_SESSION",
        {
            "response_url": peer.url("2.2.1", f"commands/START_SESSION/{name}"),
            "token": token_body(),
            "location_id": evse.location.ocpi_id,
            "evse_uid": evse.uid,
            "connector_id": connector.ocpi_id,
            **extra,
        },
    )


def session_key(session: Session) -> str:
    return f"sessions/{session.country_code}/{session.party_id}/{session.ocpi_id}"


def test_start_session_links_the_command_to_the_session_it_produced(
    ocpi, peer, connection, emsp
) -> None:
    connector = ConnectorFactory.create()
    emsp_call("PUT", f"{ocpi}/tokens/DE/EMS/{UID}", token_body())
    start_session(ocpi, peer, connector, "linked", authorization_reference="E2E-AUTH-7")
    charger(connector.evse).step(1)

    session = Session.objects.get()
    command = Command.objects.get(command_type="START_SESSION")
    assert command.session == session
    assert command.request["authorization_reference"] == session.authorization_reference
    assert peer.objects[session_key(session)]["authorization_reference"] == "E2E-AUTH-7"


def test_a_token_its_emsp_does_not_allow_starts_nothing(ocpi, peer, connection, emsp) -> None:
    connector = ConnectorFactory.create()
    evse = connector.evse
    emsp_call("PUT", f"{ocpi}/tokens/DE/EMS/{UID}", token_body() | {"whitelist": "NEVER"})
    peer.verdict = "NOT_ALLOWED"

    charger(evse, arrivals_per_hour=3600).step(1)  # the driver badges the card: one arrival

    asked = peer.received("POST", f"tokens/{UID}/authorize")
    assert len(asked) == 1
    assert asked[0].body == {"location_id": evse.location.ocpi_id, "evse_uids": [evse.uid]}
    assert not Session.objects.exists()
    assert peer.received(prefix="sessions/") == []
    evse.refresh_from_db()
    assert evse.status == "AVAILABLE"


def test_a_charger_that_never_answers_gives_timeout(ocpi, peer, connection, emsp) -> None:
    connector = ConnectorFactory.create()
    offline = charger(connector.evse)
    offline.chargers[connector.evse_id].offline_until = offline.clock.now() + timedelta(hours=1)

    answer = start_session(ocpi, peer, connector, "never")
    assert answer["data"]["result"] == "ACCEPTED"
    offline.step(1)  # offline: the instruction is not taken
    assert "commands/START_SESSION/never" not in peer.objects

    assert command_timeout_due(now=timezone.now() + timedelta(seconds=31)) == 1
    assert peer.objects["commands/START_SESSION/never"] == {"result": "TIMEOUT"}

    offline.step(3600)  # back online an hour later: the timed-out command is not carried out
    assert not Session.objects.exists()


def test_a_command_for_an_unknown_location_is_refused(ocpi, peer, connection, emsp) -> None:
    answer = emsp_call(
        "POST",
        f"{ocpi}/commands/START_SESSION",
        {
            "response_url": peer.url("2.2.1", "commands/START_SESSION/nowhere"),
            "token": token_body(),
            "location_id": "NO-SUCH-LOCATION",
        },
    )
    assert answer["status_code"] == 2003
    assert answer["data"]["result"] == "REJECTED"
    assert not Command.objects.exists()


def test_stopping_another_partys_session_is_refused(ocpi, peer, connection, emsp, outsider):
    theirs = SessionFactory.create(token__owner=outsider, status="ACTIVE")
    answer = emsp_call(
        "POST",
        f"{ocpi}/commands/STOP_SESSION",
        {
            "response_url": peer.url("2.2.1", "commands/STOP_SESSION/theirs"),
            "session_id": theirs.ocpi_id,
        },
    )
    assert answer["status_code"] == 1000
    # Refused as a session it cannot know: REJECTED would tell it the id exists for another.
    assert answer["data"]["result"] == "UNKNOWN_SESSION"
    assert not Command.objects.exists()
    theirs.refresh_from_db()
    assert theirs.status == "ACTIVE"


def reserve_now(ocpi: str, peer: EmspPeer, evse, name: str) -> dict:
    return emsp_call(
        "POST",
        f"{ocpi}/commands/RESERVE_NOW",
        {
            "response_url": peer.url("2.2.1", f"commands/RESERVE_NOW/{name}"),
            "token": token_body(),
            "expiry_date": (timezone.now() + timedelta(minutes=30)).isoformat(),
            "reservation_id": f"RES-{name}",
            "location_id": evse.location.ocpi_id,
            "evse_uid": evse.uid,
            "authorization_reference": "RES-AUTH-1",
        },
    )


def test_a_reservation_is_a_session_that_becomes_the_charging_one(
    ocpi, peer, connection, emsp
) -> None:
    connector = ConnectorFactory.create()
    evse = connector.evse
    emsp_call("PUT", f"{ocpi}/tokens/DE/EMS/{UID}", token_body())
    simulator = charger(evse)

    assert reserve_now(ocpi, peer, evse, "r1")["data"]["result"] == "ACCEPTED"
    simulator.step(1)
    assert peer.objects["commands/RESERVE_NOW/r1"] == {"result": "ACCEPTED"}
    reserved = Session.objects.get()
    key = session_key(reserved)
    assert peer.objects[key]["status"] == "RESERVATION"
    assert peer.objects[key]["authorization_reference"] == "RES-AUTH-1"
    assert peer.objects[key]["evse_uid"] == evse.uid

    # The driver arrives; the eMSP starts the session on the reservation.
    start_session(ocpi, peer, connector, "on-reservation")
    simulator.step(1)
    simulator.step(60)
    session = Session.objects.get()
    assert session.pk == reserved.pk
    assert session.status == "ACTIVE"
    assert session.authorization_reference == "RES-AUTH-1"
    assert peer.objects[key]["status"] == "ACTIVE"
    assert Command.objects.get(command_type="START_SESSION").session == session
    assert session.reservation.status == "FULFILLED"


def test_a_canceled_reservation_ends_its_session_completed(ocpi, peer, connection, emsp) -> None:
    evse = ConnectorFactory.create().evse
    emsp_call("PUT", f"{ocpi}/tokens/DE/EMS/{UID}", token_body())
    simulator = charger(evse)
    reserve_now(ocpi, peer, evse, "r2")
    simulator.step(1)

    answer = emsp_call(
        "POST",
        f"{ocpi}/commands/CANCEL_RESERVATION",
        {
            "response_url": peer.url("2.2.1", "commands/CANCEL_RESERVATION/c2"),
            "reservation_id": "RES-r2",
        },
    )
    assert answer["data"]["result"] == "ACCEPTED"
    simulator.step(1)
    assert peer.objects["commands/CANCEL_RESERVATION/c2"] == {"result": "ACCEPTED"}

    session = Session.objects.get()
    final = peer.objects[session_key(session)]
    assert final["status"] == "COMPLETED"
    assert final["end_date_time"]
    assert peer.cdrs == {}
    evse.refresh_from_db()
    assert evse.status == "AVAILABLE"
