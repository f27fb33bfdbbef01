"""Delivering the outbox to a receiver eMSP on loopback: what it receives, in which order."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import time_machine
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from locations.choices import ConnectorType, Status
from locations.services import evse_set_status
from roaming.choices import OcpiVersion
from roaming.models import (
    DeliveredObject,
    ExchangeLog,
    OutboxRow,
    OutboxState,
    PushChannel,
    PushStats,
)
from roaming.push.delivery import deliver_partner, retry_delay
from roaming.push.services import (
    partner_resend_everything,
    push_cdr_created,
    push_location_changed,
    push_session_changed,
    push_tariff_changed,
    push_tariff_deleted,
)
from tests.billing.factories import CDRFactory, PriceComponentFactory
from tests.locations.admin_forms import changeform_data
from tests.locations.factories import ConnectorFactory, EVSEFactory, LocationFactory
from tests.roaming.push.conftest import connect, deliver
from tests.roaming.push.receiver import Answer, paths
from tests.sessions_app.factories import (
    SessionChargingPeriodFactory,
    SessionFactory,
    TokenFactory,
)


def tariff(ocpi_id: str = "T1"):
    """A tariff of ours with one element (OCPI requires at least one)."""
    return PriceComponentFactory.create(element__tariff__ocpi_id=ocpi_id).element.tariff


def states() -> list[str]:
    return list(OutboxRow.objects.order_by("id").values_list("state", flat=True))


def test_an_admin_edit_of_a_location_reaches_the_partner_as_a_put_of_the_location(
    admin_client, peer, receiver, django_capture_on_commit_callbacks
) -> None:
    connector = ConnectorFactory.create(evse__location__ocpi_id="LOC1", evse__uid="EVSE1")
    location = connector.evse.location
    url = reverse("admin:locations_location_change", args=[location.pk])
    data = changeform_data(admin_client, url, name="Harbour north")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, data)

    assert response.status_code == 302
    [put] = peer.received()
    assert (put.method, put.module_path) == ("PUT", "locations/NL/OPN/LOC1")
    assert put.body["name"] == "Harbour north"
    assert [evse["uid"] for evse in put.body["evses"]] == ["EVSE1"]
    assert put.headers["OCPI-from-country-code"] == "NL"
    assert put.headers["OCPI-to-party-id"] == "EMS"
    assert states() == [OutboxState.DELIVERED]


def test_an_admin_edit_of_one_inline_evse_puts_only_that_evse(
    admin_client, peer, receiver, django_capture_on_commit_callbacks
) -> None:
    connector = ConnectorFactory.create(evse__location__ocpi_id="LOC1", evse__uid="EVSE1")
    location = connector.evse.location
    url = reverse("admin:locations_location_change", args=[location.pk])
    data = changeform_data(admin_client, url, **{"evses-0-physical_reference": "Bay 7"})

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url, data)

    [put] = peer.received()
    assert (put.method, put.module_path) == ("PUT", "locations/NL/OPN/LOC1/EVSE1")
    assert put.body["physical_reference"] == "Bay 7"


def test_an_evse_status_change_reaches_the_partner_as_a_patch_of_the_evse(
    peer, receiver, django_capture_on_commit_callbacks
) -> None:
    evse = EVSEFactory.create(uid="EVSE1", location__ocpi_id="LOC1")
    ConnectorFactory.create(evse=evse)
    peer.objects["locations/NL/OPN/LOC1/EVSE1"] = {"uid": "EVSE1", "status": "AVAILABLE"}

    with django_capture_on_commit_callbacks(execute=True):
        evse_set_status(evses=[evse], status=Status.CHARGING)

    [patch] = peer.received()
    assert (patch.method, patch.module_path) == ("PATCH", "locations/NL/OPN/LOC1/EVSE1")
    assert set(patch.body) == {"status", "last_updated"}
    assert patch.body["status"] == "CHARGING"
    assert peer.objects["locations/NL/OPN/LOC1/EVSE1"]["status"] == "CHARGING"


def test_a_status_patch_of_an_evse_the_partner_lacks_is_followed_by_the_whole_evse(
    peer, receiver
) -> None:
    evse = EVSEFactory.create(uid="EVSE1", location__ocpi_id="LOC1")
    ConnectorFactory.create(evse=evse, ocpi_id="1")
    evse_set_status(evses=[evse], status=Status.CHARGING)

    deliver(receiver)

    patch, put = peer.received()
    assert (patch.method, put.method) == ("PATCH", "PUT")
    assert put.module_path == "locations/NL/OPN/LOC1/EVSE1"
    assert put.body["status"] == "CHARGING"
    assert [c["id"] for c in put.body["connectors"]] == ["1"]
    assert states() == [OutboxState.DELIVERED]


def test_ten_changes_before_the_worker_runs_make_one_request_with_the_latest_state(
    peer, receiver
) -> None:
    evse = EVSEFactory.create(uid="EVSE1", location__ocpi_id="LOC1")
    ConnectorFactory.create(evse=evse)
    peer.objects["locations/NL/OPN/LOC1/EVSE1"] = {"uid": "EVSE1", "status": "AVAILABLE"}
    statuses = [Status.CHARGING, Status.AVAILABLE] * 4 + [Status.BLOCKED, Status.OUTOFORDER]
    for status in statuses:
        evse_set_status(evses=[evse], status=status)

    deliver(receiver)

    [patch] = peer.received()
    assert patch.body["status"] == "OUTOFORDER"
    assert states() == [OutboxState.SUPERSEDED] * 9 + [OutboxState.DELIVERED]
    newest = OutboxRow.objects.order_by("id").last()
    assert newest is not None
    assert set(
        OutboxRow.objects.filter(state=OutboxState.SUPERSEDED).values_list(
            "superseded_by", flat=True
        )
    ) == {newest.pk}


def test_a_backlog_longer_than_a_batch_costs_one_request_per_object(
    peer, receiver, settings
) -> None:
    settings.OCPI_PUSH_BATCH_SIZE = 2
    first = EVSEFactory.create(uid="E1", location__ocpi_id="LOC1")
    second = EVSEFactory.create(uid="E2", location=first.location)
    for evse in (first, second):
        ConnectorFactory.create(evse=evse)
        peer.objects[f"locations/NL/OPN/LOC1/{evse.uid}"] = {"uid": evse.uid}
    for status in [Status.CHARGING, Status.AVAILABLE, Status.BLOCKED]:
        evse_set_status(evses=[first, second], status=status)  # six rows, batches of two

    deliver(receiver)

    sent = [
        (request.path.rsplit("/", 1)[-1], request.body["status"]) for request in peer.received()
    ]
    assert sent == [("E1", "BLOCKED"), ("E2", "BLOCKED")]
    assert states().count(OutboxState.SUPERSEDED) == 4


def test_a_location_put_carries_queued_changes_of_its_evses_and_connectors(peer, receiver) -> None:
    connector = ConnectorFactory.create(evse__location__ocpi_id="LOC1")
    evse, location = connector.evse, connector.evse.location
    with transaction.atomic():
        push_location_changed(location=location, evse=evse, connector=connector)
        push_location_changed(location=location, evse=evse, fields=["status"])
        push_location_changed(location=location)

    deliver(receiver)

    assert paths(peer.received()) == [("PUT", "locations/NL/OPN/LOC1")]
    assert states() == [OutboxState.SUPERSEDED, OutboxState.SUPERSEDED, OutboxState.DELIVERED]


def test_a_partner_that_fails_and_recovers_receives_everything_in_order(peer, receiver) -> None:
    for n in range(3):
        with transaction.atomic():
            push_tariff_changed(tariff=tariff(f"T{n}"))
    peer.fail_next(1, http_status=500)

    deliver(receiver)

    # The failure stops the batch: nothing after it is tried while the partner is failing.
    assert paths(peer.received()) == [("PUT", "tariffs/NL/OPN/T0")]
    assert states() == [OutboxState.RETRYING, OutboxState.PENDING, OutboxState.PENDING]
    channel = PushChannel.objects.get(partner=receiver)
    assert channel.failures == 1
    assert channel.retry_at is not None
    peer.forget()

    deliver(receiver)  # still in backoff
    assert peer.received() == []

    with time_machine.travel(timezone.now() + retry_delay(1) + timedelta(seconds=1)):
        deliver(receiver)

    assert paths(peer.received()) == [
        ("PUT", "tariffs/NL/OPN/T0"),
        ("PUT", "tariffs/NL/OPN/T1"),
        ("PUT", "tariffs/NL/OPN/T2"),
    ]
    assert states() == [OutboxState.DELIVERED] * 3
    assert PushChannel.objects.get(partner=receiver).failures == 0


def test_a_partner_that_is_down_is_retried_with_growing_backoff(peer, receiver) -> None:
    with transaction.atomic():
        push_tariff_changed(tariff=tariff())
    peer.down()
    deliver(receiver)
    first = PushChannel.objects.get(partner=receiver).retry_at
    assert first is not None
    with time_machine.travel(first + timedelta(seconds=1)):
        deliver(receiver)
        second = PushChannel.objects.get(partner=receiver).retry_at
    assert second is not None
    row = OutboxRow.objects.get()
    assert (row.state, row.attempts) == (OutboxState.RETRYING, 2)
    assert "Connection failed" in row.last_error
    assert second - first > retry_delay(1)


def test_a_refusal_is_dead_lettered_with_the_answer_and_the_batch_goes_on(peer, receiver) -> None:
    for ocpi_id in ("BAD", "GOOD"):
        with transaction.atomic():
            push_tariff_changed(tariff=tariff(ocpi_id))
    peer.answer_next(Answer(400, 2001, "elements: required"))

    deliver(receiver)

    dead, delivered = OutboxRow.objects.order_by("id")
    assert dead.state == OutboxState.DEAD
    assert (dead.http_status, dead.ocpi_status) == (400, 2001)
    assert "elements: required" in dead.partner_answer
    assert delivered.state == OutboxState.DELIVERED
    assert PushChannel.objects.get(partner=receiver).retry_at is None


def test_successful_calls_are_logged_as_a_sample_and_failed_ones_in_full(
    peer, receiver, settings
) -> None:
    settings.OCPI_PUSH_EXCHANGE_LOG_SAMPLE = 0
    for ocpi_id in ("BAD", "GOOD1", "GOOD2"):
        with transaction.atomic():
            push_tariff_changed(tariff=tariff(ocpi_id))
    peer.answer_next(Answer(400, 2001, "elements: required"))

    deliver(receiver)

    assert states() == [OutboxState.DEAD, OutboxState.DELIVERED, OutboxState.DELIVERED]
    [logged] = ExchangeLog.objects.all()
    assert (logged.method, logged.http_status, logged.ocpi_status) == ("PUT", 400, 2001)
    assert logged.url.endswith("/tariffs/NL/OPN/BAD")
    assert "elements: required" in logged.response_body
    stats = PushStats.objects.get(partner=receiver)
    assert (stats.delivered, stats.dead) == (2, 1)


def test_an_ocpi_client_error_in_a_200_answer_is_dead_lettered(peer, receiver) -> None:
    with transaction.atomic():
        push_tariff_changed(tariff=tariff())
    peer.answer_next(Answer(200, 2001, "Invalid or missing parameters"))

    deliver(receiver)

    row = OutboxRow.objects.get()
    assert (row.state, row.ocpi_status) == (OutboxState.DEAD, 2001)
    assert row.attempts == 1


def test_a_session_is_put_first_then_patched_with_what_changed(peer, receiver, emsp) -> None:
    session = SessionFactory.create(ocpi_id="S1", token=TokenFactory.create(owner=emsp))
    SessionChargingPeriodFactory.create(session=session)
    with transaction.atomic():
        push_session_changed(session=session)
    deliver(receiver)

    session.kwh = Decimal("20.5")
    session.save()
    SessionChargingPeriodFactory.create(
        session=session,
        start_date_time=session.start_date_time + timedelta(minutes=15),
        dimensions=[{"type": "ENERGY", "volume": 8}],
    )
    with transaction.atomic():
        push_session_changed(session=session)
    deliver(receiver)

    put, patch = peer.received()
    assert (put.method, put.module_path) == ("PUT", "sessions/NL/OPN/S1")
    assert len(put.body["charging_periods"]) == 1
    assert patch.method == "PATCH"
    assert set(patch.body) == {"kwh", "charging_periods", "last_updated"}
    assert patch.body["kwh"] == 20.5
    assert [p["dimensions"] for p in patch.body["charging_periods"]] == [
        [{"type": "ENERGY", "volume": 8}]
    ]
    # The partner's copy, PATCHes applied, is the session as it is here.
    held = peer.objects["sessions/NL/OPN/S1"]
    assert len(held["charging_periods"]) == 2


def test_a_session_is_never_patched_before_its_put_was_delivered(peer, receiver, emsp) -> None:
    session = SessionFactory.create(ocpi_id="S1", token=TokenFactory.create(owner=emsp))
    with transaction.atomic():
        push_session_changed(session=session)
    peer.answer_next(Answer(400, 2001, "refused"))
    deliver(receiver)
    session.kwh = Decimal(30)
    session.save()
    with transaction.atomic():
        push_session_changed(session=session)

    deliver(receiver)

    assert [r.method for r in peer.received()] == ["PUT", "PUT"]
    assert DeliveredObject.objects.filter(object_key="sessions/NL/OPN/S1").exists()


def test_a_cdr_is_posted_once_and_never_again(peer, receiver, emsp) -> None:
    cdr = CDRFactory.create(emsp=emsp, ocpi_id="CDR1")
    with transaction.atomic():
        push_cdr_created(cdr=cdr)
    deliver(receiver)
    with transaction.atomic():
        push_cdr_created(cdr=cdr)
    deliver(receiver)

    [post] = peer.received()
    assert (post.method, post.module_path) == ("POST", "cdrs")
    assert post.body["id"] == "CDR1"
    row = OutboxRow.objects.get()
    assert row.state == OutboxState.DELIVERED
    assert row.remote_url.endswith("/cdrs/CDR1")
    assert row.attempts == 1


def test_version_2_1_1_partners_get_no_routing_headers(peer, emsp) -> None:
    old = connect(peer, parties=[emsp], version=OcpiVersion.V2_1_1)
    with transaction.atomic():
        push_tariff_changed(tariff=tariff("T1"))
    deliver(old)
    [put] = peer.received()
    assert put.path == "/ocpi/2.1.1/tariffs/NL/OPN/T1"
    assert "OCPI-from-country-code" not in put.headers
    assert put.headers["Authorization"] == "Token token-we-use-to-call-them"


def test_an_object_the_version_cannot_express_is_skipped(peer, receiver) -> None:
    connector = ConnectorFactory.create(standard=ConnectorType.MCS)  # OCPI 2.3.0 only
    with transaction.atomic():
        push_location_changed(
            location=connector.evse.location, evse=connector.evse, connector=connector
        )
    deliver(receiver)
    assert peer.received() == []
    row = OutboxRow.objects.get()
    assert row.state == OutboxState.SKIPPED
    assert "no name for this connector's standard" in row.last_error


def test_delivery_is_left_to_the_worker_holding_the_partners_lease(peer, receiver) -> None:
    from roaming.push.delivery import channel_acquire

    with transaction.atomic():
        push_tariff_changed(tariff=tariff())
    assert channel_acquire(partner_id=receiver.pk, worker="another worker")

    report = deliver_partner(partner_id=receiver.pk)

    assert report.busy
    assert peer.received() == []
    assert states() == [OutboxState.PENDING]


def test_resend_everything_puts_every_visible_location_and_tariff(peer, receiver) -> None:
    LocationFactory.create(ocpi_id="LOC1")
    LocationFactory.create(ocpi_id="HIDDEN", publish=False)
    tariff("T1")
    tariff("GONE").delete()

    counts = partner_resend_everything(partner=receiver)
    deliver(receiver)

    assert (counts.locations, counts.tariffs) == (1, 1)
    assert sorted(paths(peer.received())) == [
        ("PUT", "locations/NL/OPN/LOC1"),
        ("PUT", "tariffs/NL/OPN/T1"),
    ]


def test_deliveries_are_counted_with_their_latency(peer, receiver) -> None:
    with transaction.atomic():
        push_tariff_changed(tariff=tariff())
    deliver(receiver)
    stats = PushStats.objects.get(partner=receiver)
    assert (stats.delivered, stats.failed, stats.dead) == (1, 0, 0)
    assert sum(stats.latency_histogram) == 1
    assert PushChannel.objects.get(partner=receiver).last_delivered_at is not None


def test_deleting_a_tariff_the_partner_never_had_is_not_an_error(peer, receiver) -> None:
    gone = tariff("T1")
    gone.delete()
    with transaction.atomic():
        push_tariff_deleted(tariff=gone)
    peer.answer_next(Answer(404, 2000, "Unknown tariff"))

    deliver(receiver)

    row = OutboxRow.objects.get()
    assert (row.state, row.http_status) == (OutboxState.DELIVERED, 404)
    assert row.last_error == "The partner did not have it."
