"""Nothing is lost and nothing is sent twice: dead workers, lost nudges, competing claimers."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone

from roaming.choices import ModuleID
from roaming.models import (
    OutboxKind,
    OutboxOperation,
    OutboxRow,
    OutboxState,
    PartnerState,
    PushChannel,
)
from roaming.push import delivery
from roaming.push.delivery import _Outcomes, channel_acquire, channel_release, claim_rows
from roaming.push.services import outbox_replay, outbox_retry, push_cdr_created, push_tariff_changed
from roaming.push.sweeper import outbox_purge, outbox_sweep
from roaming.push.tasks import nudge_partners
from tests.billing.factories import CDRFactory, PriceComponentFactory
from tests.roaming.push.conftest import connect, deliver
from tests.roaming.push.receiver import Answer, ReceiverPeer, paths


class WorkerKilledError(BaseException):
    """Stands for the worker process dying: nothing after it runs."""


def tariff(ocpi_id: str = "T1"):
    return PriceComponentFactory.create(element__tariff__ocpi_id=ocpi_id).element.tariff


def queue_tariffs(count: int) -> None:
    for n in range(count):
        with transaction.atomic():
            push_tariff_changed(tariff=tariff(f"T{n}"))


def kill_worker_after_sending(monkeypatch) -> None:
    def killed(self: _Outcomes) -> None:
        if self.rows:  # an answer is about to be recorded
            raise WorkerKilledError

    monkeypatch.setattr(_Outcomes, "flush", killed)


def test_a_worker_killed_between_posting_a_cdr_and_recording_it_causes_no_second_cdr(
    peer, receiver, emsp, monkeypatch
) -> None:
    with transaction.atomic():
        push_cdr_created(cdr=CDRFactory.create(emsp=emsp, ocpi_id="CDR1"))
    kill_worker_after_sending(monkeypatch)
    with pytest.raises(WorkerKilledError):
        deliver(receiver)
    monkeypatch.undo()
    row = OutboxRow.objects.get()
    # The attempt was committed before the POST; its answer never was.
    assert (row.state, row.outcome_unknown, row.attempts) == (OutboxState.IN_FLIGHT, True, 1)

    assert row.lease_until is not None
    with time_machine.travel(row.lease_until + timedelta(seconds=1)):
        report = outbox_sweep()  # takes the row back and queues delivery (run eagerly here)

    assert report.reclaimed == 1
    assert [r.method for r in peer.received()] == ["POST", "POST"]  # the same CDR id again
    assert list(peer.cdrs) == [("NL", "OPN", "CDR1")]  # and still one CDR at the partner
    row.refresh_from_db()
    assert row.state == OutboxState.DEAD
    assert "most likely holds the CDR already" in row.last_error
    assert row.attempts == 2


def test_a_repeated_cdr_the_partner_acknowledges_is_delivered_once(
    peer, receiver, emsp, monkeypatch
) -> None:
    peer.duplicate_cdr_answer = Answer(200, 1000, "Already have it")
    with transaction.atomic():
        push_cdr_created(cdr=CDRFactory.create(emsp=emsp, ocpi_id="CDR1"))
    kill_worker_after_sending(monkeypatch)
    with pytest.raises(WorkerKilledError):
        deliver(receiver)
    monkeypatch.undo()
    lease_until = OutboxRow.objects.get().lease_until
    assert lease_until is not None

    with time_machine.travel(lease_until + timedelta(seconds=1)):
        outbox_sweep()

    row = OutboxRow.objects.get()
    assert (row.state, row.outcome_unknown) == (OutboxState.DELIVERED, False)
    assert len(peer.cdrs) == 1


def test_a_cdr_timing_out_keeps_its_outcome_unknown(peer, receiver, emsp) -> None:
    with transaction.atomic():
        push_cdr_created(cdr=CDRFactory.create(emsp=emsp))
    peer.down()
    deliver(receiver)
    row = OutboxRow.objects.get()
    assert (row.state, row.outcome_unknown) == (OutboxState.RETRYING, True)


def test_a_lost_nudge_is_recovered_by_the_sweeper(peer, receiver) -> None:
    # The test's transaction never commits, so the on-commit nudge never runs: it is "lost".
    queue_tariffs(1)
    assert peer.received() == []

    report = outbox_sweep()

    assert report.nudged == [receiver.pk]
    assert paths(peer.received()) == [("PUT", "tariffs/NL/OPN/T0")]
    assert OutboxRow.objects.get().state == OutboxState.DELIVERED


def test_the_sweeper_leaves_a_partner_in_backoff_alone(peer, receiver) -> None:
    queue_tariffs(1)
    PushChannel.objects.create(partner=receiver, retry_at=timezone.now() + timedelta(minutes=1))
    assert outbox_sweep().nudged == []
    assert peer.received() == []


def test_two_claimers_never_get_the_same_row(receiver) -> None:
    queue_tariffs(5)

    first = claim_rows(partner_id=receiver.pk, worker="A", limit=3)
    second = claim_rows(partner_id=receiver.pk, worker="B", limit=10)
    third = claim_rows(partner_id=receiver.pk, worker="C", limit=10)

    assert len(first) == 3
    assert len(second) == 2
    assert third == []
    assert not {row.pk for row in first} & {row.pk for row in second}
    assert [row.pk for row in first] < [row.pk for row in second]  # oldest first


def test_a_claimer_whose_lease_ran_out_cannot_record_over_the_next_one(receiver) -> None:
    queue_tariffs(1)
    [mine] = claim_rows(partner_id=receiver.pk, worker="A", limit=1)
    assert mine.lease_until is not None
    with time_machine.travel(mine.lease_until + timedelta(seconds=1)):
        [theirs] = claim_rows(partner_id=receiver.pk, worker="B", limit=1)
    assert theirs.pk == mine.pk

    late = _Outcomes(receiver, "A")
    mine.state = OutboxState.DELIVERED
    late.add(mine)
    late.flush()

    row = OutboxRow.objects.get()
    assert (row.state, row.claimed_by) == (OutboxState.IN_FLIGHT, "B")


@pytest.mark.django_db(transaction=True)
def test_concurrent_claimers_share_the_rows_without_overlap(emsp) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED claims are PostgreSQL's; SQLite serializes writers")
    with ReceiverPeer() as peer:
        partner = connect(peer, parties=[emsp])
    OutboxRow.objects.bulk_create(
        OutboxRow(
            partner=partner,
            module=ModuleID.TARIFFS,
            kind=OutboxKind.TARIFF,
            object_id=n,
            object_key=f"tariffs/NL/OPN/T{n}",
            operation=OutboxOperation.PUT,
        )
        for n in range(400)
    )
    claimed: dict[str, list[int]] = {}
    start = threading.Barrier(4)

    def claimer(name: str) -> None:
        mine = claimed.setdefault(name, [])
        try:
            start.wait()
            while rows := claim_rows(partner_id=partner.pk, worker=name, limit=7):
                mine.extend(row.pk for row in rows)
        finally:
            connection.close()

    threads = [threading.Thread(target=claimer, args=(f"worker-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    every = [pk for pks in claimed.values() for pk in pks]
    assert len(every) == len(set(every)) == 400
    assert sum(1 for pks in claimed.values() if pks) > 1  # they really competed


def test_rows_waiting_past_the_horizon_are_given_up(receiver, settings) -> None:
    settings.OCPI_PUSH_RETRY_HORIZON_HOURS = 1
    queue_tariffs(1)
    PushChannel.objects.create(partner=receiver, retry_at=timezone.now() + timedelta(hours=5))
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        report = outbox_sweep()
    row = OutboxRow.objects.get()
    assert report.given_up == 1
    assert row.state == OutboxState.DEAD
    assert "Not delivered within 1 hours" in row.last_error


def test_rows_of_an_unregistered_partner_are_given_up(receiver) -> None:
    queue_tariffs(1)
    receiver.state = PartnerState.UNREGISTERED
    receiver.set_token(None)
    receiver.save()
    outbox_sweep()
    assert OutboxRow.objects.get().state == OutboxState.DEAD


def test_retrying_a_dead_row_sends_it_now(peer, receiver) -> None:
    queue_tariffs(1)
    peer.answer_next(Answer(400, 2001, "Not now"))
    deliver(receiver)
    assert OutboxRow.objects.get().state == OutboxState.DEAD

    assert outbox_retry(rows=OutboxRow.objects.all()) == 1
    deliver(receiver)

    assert OutboxRow.objects.get().state == OutboxState.DELIVERED
    assert [r.method for r in peer.received()] == ["PUT", "PUT"]


def test_replaying_a_delivered_cdr_checks_the_partner_before_posting(peer, receiver, emsp) -> None:
    with transaction.atomic():
        push_cdr_created(cdr=CDRFactory.create(emsp=emsp, ocpi_id="CDR1"))
    deliver(receiver)

    result = outbox_replay(rows=OutboxRow.objects.all())
    deliver(receiver)

    assert result.queued == 1
    assert [r.method for r in peer.received()] == ["POST", "GET"]
    assert OutboxRow.objects.get().state == OutboxState.DELIVERED
    assert len(peer.cdrs) == 1


def test_a_delivered_cdr_without_a_url_to_check_is_not_replayed(peer, receiver, emsp) -> None:
    with transaction.atomic():
        push_cdr_created(cdr=CDRFactory.create(emsp=emsp, ocpi_id="CDR1"))
    deliver(receiver)
    OutboxRow.objects.update(remote_url="")

    result = outbox_replay(rows=OutboxRow.objects.all())

    assert result.queued == 0
    assert "could make a second CDR" in result.refused[0]


def test_replaying_a_delivered_change_sends_the_current_state_again(peer, receiver) -> None:
    queue_tariffs(1)
    deliver(receiver)
    outbox_replay(rows=OutboxRow.objects.all())
    deliver(receiver)
    assert paths(peer.received()) == [("PUT", "tariffs/NL/OPN/T0")] * 2
    assert OutboxRow.objects.count() == 2


def test_purge_keeps_cdr_and_dead_rows(peer, receiver, emsp, settings) -> None:
    settings.OCPI_PUSH_KEEP_DAYS = 1
    queue_tariffs(2)
    with transaction.atomic():
        push_cdr_created(cdr=CDRFactory.create(emsp=emsp))
    peer.answer_next(Answer(400, 2001, "No"))
    deliver(receiver)
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        deleted = outbox_purge()
    assert deleted == 1
    assert sorted(OutboxRow.objects.values_list("kind", "state")) == [
        (OutboxKind.CDR, OutboxState.DELIVERED),
        (OutboxKind.TARIFF, OutboxState.DEAD),
    ]


def test_nudges_queue_no_second_task_until_the_worker_lets_go(receiver, monkeypatch) -> None:
    published: list[int] = []

    def publish(partner_id: int) -> bool:
        published.append(partner_id)
        return True

    monkeypatch.setattr("roaming.push.tasks.publish_delivery", publish)
    nudge_partners([receiver.pk])
    nudge_partners([receiver.pk])  # a task is queued (or a worker holds the lease): it will see
    assert published == [receiver.pk]

    assert channel_acquire(partner_id=receiver.pk, worker="H")
    channel_release(partner_id=receiver.pk, worker="H")
    nudge_partners([receiver.pk])
    assert published == [receiver.pk, receiver.pk]


def test_a_change_committed_as_the_worker_lets_go_is_still_delivered(
    peer, receiver, monkeypatch
) -> None:
    queue_tariffs(1)
    release = delivery.channel_release
    late: list[bool] = []

    def release_after_a_late_change(*, partner_id: int, worker: str) -> None:
        if not late:
            late.append(True)
            with transaction.atomic():
                push_tariff_changed(tariff=tariff("LATE"))
        release(partner_id=partner_id, worker=worker)

    monkeypatch.setattr(delivery, "channel_release", release_after_a_late_change)
    deliver(receiver)

    assert paths(peer.received()) == [("PUT", "tariffs/NL/OPN/T0"), ("PUT", "tariffs/NL/OPN/LATE")]


def test_rows_after_a_failed_cdr_wait_for_the_partner_unclaimed(peer, receiver, emsp) -> None:
    with transaction.atomic():
        push_cdr_created(cdr=CDRFactory.create(emsp=emsp))
    queue_tariffs(1)
    peer.down()

    deliver(receiver)

    assert list(OutboxRow.objects.order_by("id").values_list("kind", "state", "claimed_by")) == [
        (OutboxKind.CDR, OutboxState.RETRYING, ""),
        (OutboxKind.TARIFF, OutboxState.PENDING, ""),
    ]
