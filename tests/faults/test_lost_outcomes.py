"""Answers lost with a worker that dies after sending: repeating the request must not change what
the partner holds. A CDR is covered by its attempt mark (tests/roaming/push/test_recovery.py); a
session PATCH appends charging periods at the partner, so a session taken back is PUT whole."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import transaction

from roaming.models import OutboxRow
from roaming.push.delivery import _Outcomes
from roaming.push.services import push_session_changed
from roaming.push.sweeper import outbox_sweep
from tests.faults.network import Network
from tests.faults.sync import assert_partner_in_sync
from tests.roaming.push.conftest import deliver
from tests.sessions_app.factories import SessionChargingPeriodFactory


class WorkerKilledError(BaseException):
    """Stands for the worker process dying: nothing after it runs."""


def deliver_and_die_before_recording(partner, monkeypatch) -> None:
    def killed(self: _Outcomes) -> None:
        if self.rows:  # answers are about to be recorded
            raise WorkerKilledError

    with monkeypatch.context() as patched:
        patched.setattr(_Outcomes, "flush", killed)
        with pytest.raises(WorkerKilledError):
            deliver(partner)


def add_charging_period(network: Network) -> None:
    session = network.session
    SessionChargingPeriodFactory.create(
        session=session, start_date_time=session.start_date_time + timedelta(minutes=15)
    )
    with transaction.atomic():
        push_session_changed(session=session)


@pytest.mark.parametrize("taken_back_by", ["the sweeper", "the next claim"])
def test_a_session_patch_whose_answer_died_with_the_worker_is_followed_by_a_put(
    peer, receiver, emsp, monkeypatch, taken_back_by
) -> None:
    network = Network.build(emsp)
    deliver(receiver)
    add_charging_period(network)
    deliver_and_die_before_recording(receiver, monkeypatch)
    [patch] = peer.received("PATCH", "sessions")
    assert len(patch.body["charging_periods"]) == 1  # the partner appended it

    lease_until = OutboxRow.objects.get(state="IN_FLIGHT").lease_until
    assert lease_until is not None
    with time_machine.travel(lease_until + timedelta(seconds=1)):
        if taken_back_by == "the sweeper":
            outbox_sweep()
        else:
            deliver(receiver)

    methods = [r.method for r in peer.received(prefix="sessions")]
    assert methods == ["PUT", "PATCH", "PUT"]
    assert len(peer.objects["sessions/NL/OPN/S1"]["charging_periods"]) == 2
    assert_partner_in_sync(peer, receiver)
