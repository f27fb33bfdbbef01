"""Recording changes in the outbox: who hears of what, in the caller's transaction."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.db.transaction import TransactionManagementError

from locations.choices import Status
from locations.services import evse_set_status, location_set_published
from roaming.choices import ModuleID, OcpiVersion, Role
from roaming.models import (
    DeliveredObject,
    OutboxKind,
    OutboxOperation,
    OutboxRow,
    OutboxState,
    PartnerState,
    Party,
)
from roaming.push.services import (
    push_cdr_created,
    push_location_changed,
    push_session_changed,
    push_tariff_changed,
    push_tariff_deleted,
)
from sessions_app.services import evse_statuses_report
from tests.billing.factories import CDRFactory, TariffFactory
from tests.locations.factories import ConnectorFactory, EVSEFactory, LocationFactory
from tests.roaming.push.conftest import connect
from tests.sessions_app.factories import SessionFactory, TokenFactory


def rows(**filters):
    return list(OutboxRow.objects.filter(**filters).order_by("id"))


@pytest.mark.django_db(transaction=True)
def test_push_outside_a_transaction_is_refused() -> None:
    location = LocationFactory.create()
    with pytest.raises(TransactionManagementError):
        push_location_changed(location=location)


def test_a_location_change_is_queued_for_every_registered_receiver(peer, emsp, outsider) -> None:
    first = connect(peer, parties=[emsp], name="First")
    second = connect(peer, parties=[outsider], name="Second")
    connect(peer, parties=[outsider], name="Suspended", state=PartnerState.SUSPENDED)
    connect(peer, parties=[outsider], name="No locations", modules=[ModuleID.TARIFFS])
    location = LocationFactory.create(ocpi_id="LOC1")
    with transaction.atomic():
        push_location_changed(location=location)
    queued = rows()
    assert {row.partner_id for row in queued} == {first.pk, second.pk}
    assert {row.object_key for row in queued} == {"locations/NL/OPN/LOC1"}
    assert {row.operation for row in queued} == {OutboxOperation.PUT}
    assert {row.state for row in queued} == {OutboxState.PENDING}


def test_a_rolled_back_change_leaves_no_outbox_row(receiver) -> None:
    location = LocationFactory.create()

    def failing_change() -> None:
        with transaction.atomic():
            push_location_changed(location=location)
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    assert rows() == []


def test_an_unpublished_location_goes_only_to_partners_whose_tokens_it_lists(
    peer, emsp, outsider
) -> None:
    allowed = connect(peer, parties=[emsp], name="Allowed")
    connect(peer, parties=[outsider], name="Not allowed")
    token = TokenFactory.create(owner=emsp)
    location = LocationFactory.create(publish=False, publish_allowed_to=[{"uid": token.uid}])
    with transaction.atomic():
        push_location_changed(location=location)
    assert [row.partner_id for row in rows()] == [allowed.pk]


def test_unpublishing_tells_partners_that_had_the_location(peer, emsp, outsider) -> None:
    had_it = connect(peer, parties=[outsider], name="Had it")
    location = LocationFactory.create(ocpi_id="LOC9")
    DeliveredObject.objects.create(
        partner=had_it, object_key="locations/NL/OPN/LOC9", version=OcpiVersion.V2_2_1
    )
    location_set_published(locations=[location], publish=False)
    assert [(row.partner_id, row.kind) for row in rows()] == [(had_it.pk, OutboxKind.LOCATION)]


def test_an_evse_status_change_is_queued_as_a_patch_of_the_evse(receiver) -> None:
    evse = EVSEFactory.create(uid="EVSE1", location__ocpi_id="LOC1")
    evse_set_status(evses=[evse], status=Status.CHARGING)
    [row] = rows()
    assert (row.kind, row.operation, row.fields) == (OutboxKind.EVSE, "PATCH", ["status"])
    assert row.object_key == "locations/NL/OPN/LOC1/EVSE1"
    assert row.object_id == evse.pk


def test_a_recorded_row_holds_the_models_defaults_in_every_other_column(peer, emsp) -> None:
    """Rows are inserted in one statement for all partners, bypassing the model: same result."""
    partners = [connect(peer, parties=[emsp], name=f"Receiver {n}") for n in range(3)]
    evse = EVSEFactory.create(uid="EVSE1", location__ocpi_id="LOC1")
    evse_set_status(evses=[evse], status=Status.CHARGING)
    made_here = {"id", "partner", "created_at", "next_attempt_at"}
    made_here |= {"kind", "module", "object_id", "object_key", "operation", "fields"}
    defaults = OutboxRow()
    queued = rows()
    assert sorted(row.partner_id for row in queued) == sorted(p.pk for p in partners)
    for row in queued:
        for field in OutboxRow._meta.concrete_fields:
            if field.name not in made_here:
                assert getattr(row, field.attname) == getattr(defaults, field.attname), field.name
        assert row.created_at == row.next_attempt_at == queued[0].created_at


def test_a_connector_change_is_queued_at_connector_granularity(receiver) -> None:
    connector = ConnectorFactory.create(
        ocpi_id="2", evse__uid="E/1", evse__location__ocpi_id="LOC1"
    )
    with transaction.atomic():
        push_location_changed(location=connector.evse.location, connector=connector)
    [row] = rows()
    assert (row.kind, row.operation) == (OutboxKind.CONNECTOR, OutboxOperation.PUT)
    # Ids are percent-encoded: an id with "/" stays one segment.
    assert row.object_key == "locations/NL/OPN/LOC1/E%2F1/2"


def test_tariff_changes_and_deletions_go_to_every_tariff_receiver(receiver) -> None:
    tariff = TariffFactory.create(ocpi_id="T1")
    with transaction.atomic():
        push_tariff_changed(tariff=tariff)
        tariff.delete()
        push_tariff_deleted(tariff=tariff)
    assert [(row.operation, row.object_key) for row in rows()] == [
        ("PUT", "tariffs/NL/OPN/T1"),
        ("DELETE", "tariffs/NL/OPN/T1"),
    ]


def test_a_session_goes_only_to_connections_speaking_for_its_emsp(peer, emsp, outsider) -> None:
    hub_party = Party.objects.create(
        country_code="NL", party_id="HUB", name="Hub", roles=[Role.HUB.value]
    )
    direct = connect(peer, parties=[emsp], name="Direct")
    hub = connect(peer, parties=[hub_party, emsp], name="Hub")
    connect(peer, parties=[outsider], name="Outsider")
    session = SessionFactory.create(token=TokenFactory.create(owner=emsp))
    with transaction.atomic():
        push_session_changed(session=session)
    assert {row.partner_id for row in rows()} == {direct.pk, hub.pk}
    assert {row.operation for row in rows()} == {OutboxOperation.PUT}


def test_a_session_already_delivered_is_queued_as_a_patch(receiver) -> None:
    session = SessionFactory.create(
        ocpi_id="S1", token=TokenFactory.create(owner=receiver.parties.get())
    )
    DeliveredObject.objects.create(
        partner=receiver, object_key="sessions/NL/OPN/S1", version=OcpiVersion.V2_2_1
    )
    with transaction.atomic():
        push_session_changed(session=session)
    assert [row.operation for row in rows()] == [OutboxOperation.PATCH]


def test_a_cdr_is_queued_once_per_partner_however_often_it_is_pushed(receiver, emsp) -> None:
    cdr = CDRFactory.create(emsp=emsp)
    with transaction.atomic():
        push_cdr_created(cdr=cdr)
    with transaction.atomic():
        push_cdr_created(cdr=cdr)
    [row] = rows()
    assert (row.kind, row.operation) == (OutboxKind.CDR, OutboxOperation.POST)


def test_committing_a_change_nudges_the_partners_delivery(
    receiver, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    nudged: list[int] = []

    def publish(partner_id: int) -> bool:
        nudged.append(partner_id)
        return True

    monkeypatch.setattr("roaming.push.tasks.publish_delivery", publish)
    location = LocationFactory.create()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        push_location_changed(location=location)
        push_location_changed(location=location)
    assert nudged == [receiver.pk]  # one queued task, however many changes


def test_a_batch_of_status_reports_is_one_status_patch_per_changed_evse_and_one_nudge(
    peer, emsp, outsider, django_capture_on_commit_callbacks
) -> None:
    first = connect(peer, parties=[emsp], name="First")
    second = connect(peer, parties=[outsider], name="Second")
    charging = EVSEFactory.create(uid="E1", location__ocpi_id="LOC1")
    unchanged = EVSEFactory.create(uid="E2", status=Status.AVAILABLE)
    removed = EVSEFactory.create(uid="E3", status=Status.REMOVED)
    reports = [
        (charging, Status.AVAILABLE),
        (charging, Status.CHARGING),  # the last report of an EVSE wins
        (unchanged, Status.AVAILABLE),
        (removed, Status.AVAILABLE),
    ]

    with django_capture_on_commit_callbacks() as nudges:
        assert evse_statuses_report(reports=reports) == 1

    charging.refresh_from_db()
    assert charging.status == Status.CHARGING
    assert charging.location.last_updated == charging.last_updated
    queued = rows()
    assert {(row.partner_id, row.object_key) for row in queued} == {
        (first.pk, "locations/NL/OPN/LOC1/E1"),
        (second.pk, "locations/NL/OPN/LOC1/E1"),
    }
    assert {(row.operation, tuple(row.fields)) for row in queued} == {
        (OutboxOperation.PATCH, ("status",))
    }
    assert len(nudges) == 1


def test_a_batch_of_status_reports_that_changes_nothing_records_nothing(peer, emsp) -> None:
    connect(peer, parties=[emsp])
    evse = EVSEFactory.create(status=Status.AVAILABLE)

    assert evse_statuses_report(reports=[(evse, Status.AVAILABLE)]) == 0
    assert rows() == []


def test_a_batch_queues_each_partners_rows_in_the_order_of_the_changes(
    peer, emsp, outsider
) -> None:
    partners = [
        connect(peer, parties=[emsp], name="A"),
        connect(peer, parties=[outsider], name="B"),
    ]
    location = LocationFactory.create(ocpi_id="LOC1")
    evses = [EVSEFactory.create(uid=f"E{n}", location=location) for n in range(1, 4)]

    evse_statuses_report(reports=[(evse, Status.CHARGING) for evse in reversed(evses)])

    for partner in partners:
        keys = [row.object_key.rsplit("/", 1)[-1] for row in rows(partner=partner)]
        assert keys == ["E1", "E2", "E3"]
