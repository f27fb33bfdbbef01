"""A partner that is down, slow, failing or talking nonsense: once it is well again it holds our
latest state of every location and session, every CDR exactly once, and no outbox row is stuck.

Each test makes changes before, during and after the fault; deliveries run as the worker runs
them, and ``recover`` lets the backoff pass and sweeps, as beat does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import transaction

from roaming.models import OutboxKind, OutboxRow, OutboxState, Partner
from roaming.push.services import outbox_retry, push_session_changed
from tests.faults.network import Network
from tests.faults.partner import GARBAGE, Fault, FaultyReceiver
from tests.faults.sync import assert_nothing_stuck, assert_partner_in_sync, recover
from tests.roaming.push.conftest import deliver
from tests.roaming.push.receiver import Answer
from tests.sessions_app.factories import SessionChargingPeriodFactory


def survive(
    peer: FaultyReceiver,
    receiver: Partner,
    network: Network,
    *,
    fault_starts: Callable[[], None],
    fault_ends: Callable[[], None],
) -> None:
    """In sync, then changes while the partner misbehaves, then changes once it is well."""
    deliver(receiver)
    assert_partner_in_sync(peer, receiver)
    fault_starts()
    for _ in range(3):
        network.change()
        deliver(receiver)
    fault_ends()
    network.change()
    recover(receiver)


@pytest.mark.parametrize(
    "fault",
    [
        Fault(late=1.0),
        Fault(answer=Answer(500, 3000, "Internal error")),
        Fault(answer=Answer(503, 3000, "Service unavailable")),
        Fault(garbage="html", http_status=502),
        Fault(answer=Answer(200, 3000, "Generic server error")),
        Fault(answer=Answer(200, 3001, "Unable to use the client's API")),
    ],
    ids=[
        "answers after the timeout",
        "HTTP 500",
        "HTTP 503",
        "HTTP 502 from a proxy",
        "OCPI 3000",
        "OCPI 3001",
    ],
)
@pytest.mark.parametrize("repeats_acknowledged", [True, False], ids=["idempotent", "strict"])
def test_a_partner_failing_for_a_while_gets_everything_once_it_recovers(
    peer, receiver, emsp, fault, repeats_acknowledged
) -> None:
    if repeats_acknowledged:
        peer.acknowledge_repeated_cdrs()
    network = Network.build(emsp)

    survive(
        peer,
        receiver,
        network,
        fault_starts=lambda: peer.misbehave(fault, times=4),
        fault_ends=peer.faults.clear,
    )

    assert_partner_in_sync(peer, receiver)
    assert len(peer.cdrs) == 5


def test_a_partner_refusing_connections_gets_everything_once_it_listens_again(
    peer, receiver, emsp
) -> None:
    network = Network.build(emsp)

    survive(
        peer,
        receiver,
        network,
        fault_starts=peer.stop_listening,
        fault_ends=peer.listen_again,
    )

    assert_partner_in_sync(peer, receiver)
    assert OutboxRow.objects.filter(state=OutboxState.DEAD).count() == 0


def test_a_partner_dropping_connections_unanswered_gets_everything_once_it_answers(
    peer, receiver, emsp
) -> None:
    peer.acknowledge_repeated_cdrs()  # a dropped connection may have carried a CDR
    network = Network.build(emsp)

    survive(peer, receiver, network, fault_starts=peer.down, fault_ends=peer.up)

    assert_partner_in_sync(peer, receiver)
    assert OutboxRow.objects.filter(state=OutboxState.DEAD).count() == 0


def test_a_cdr_whose_answer_came_too_late_is_at_the_partner_once(peer, receiver, emsp) -> None:
    network = Network.build(emsp)
    deliver(receiver)
    peer.misbehave(Fault(late=1.0))
    network.add_cdr()

    deliver(receiver)
    recover(receiver)

    assert len(peer.cdr_posts("CDR2")) == 2  # the first answer never reached us
    row = OutboxRow.objects.get(kind=OutboxKind.CDR, object_key__endswith="/CDR2")
    # The partner refuses the repeat (it holds that id): dead, saying it most likely has it.
    assert row.state == OutboxState.DEAD
    assert "most likely holds the CDR already" in row.last_error
    assert_partner_in_sync(peer, receiver)


def test_session_charging_periods_are_not_doubled_by_a_patch_whose_answer_was_lost(
    peer, receiver, emsp
) -> None:
    network = Network.build(emsp)
    deliver(receiver)
    session = network.session
    SessionChargingPeriodFactory.create(
        session=session, start_date_time=session.start_date_time + timedelta(minutes=15)
    )
    with transaction.atomic():
        push_session_changed(session=session)
    peer.misbehave(Fault(late=1.0))  # the partner appends the period; we hear nothing

    deliver(receiver)
    recover(receiver)

    held = peer.objects["sessions/NL/OPN/S1"]
    assert len(held["charging_periods"]) == 2
    assert_partner_in_sync(peer, receiver)


@pytest.mark.parametrize("garbage", sorted(GARBAGE))
def test_answers_that_are_not_ocpi_are_dead_lettered_and_retried_by_staff(
    peer, receiver, emsp, garbage
) -> None:
    network = Network.build(emsp)
    deliver(receiver)
    peer.misbehave(Fault(garbage=garbage), times=4)
    network.change()  # an EVSE PATCH, a location PUT, a session PATCH, a CDR POST

    deliver(receiver)

    assert peer.faults == type(peer.faults)()  # all four got nonsense back
    dead = OutboxRow.objects.filter(state=OutboxState.DEAD)
    assert dead.count() == 4
    assert {row.http_status for row in dead} == {200}
    assert all("OCPI" in row.last_error for row in dead)
    assert_nothing_stuck(receiver)

    assert outbox_retry(rows=dead) == 4
    recover(receiver)

    assert_partner_in_sync(peer, receiver)
