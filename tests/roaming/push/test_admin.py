"""Every admin path that changes what partners see queues it; the outbox and partner admin."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from locations.choices import Status
from roaming.models import DeliveredObject, OutboxKind, OutboxRow, OutboxState, PartnerState
from roaming.push.services import partner_resend_everything
from tests.billing.factories import PriceComponentFactory
from tests.billing.test_admin import ENERGY, TIME, _element, _tariff_form
from tests.locations.admin_forms import changeform_data
from tests.locations.factories import ConnectorFactory, LocationFactory
from tests.roaming.push.conftest import connect, deliver
from tests.roaming.push.receiver import Answer, paths


def queued() -> list[tuple[str, str, str]]:
    return list(OutboxRow.objects.order_by("id").values_list("kind", "operation", "object_key"))


def action(client, model: str, name: str, pks: list[int], **extra: str):
    return client.post(
        reverse(f"admin:{model}_changelist"),
        {"action": name, ACTION_CHECKBOX_NAME: [str(pk) for pk in pks], **extra},
    )


# --- paths that change locations and tariffs ------------------------------------------------------


def test_a_new_location_added_in_the_admin_is_queued_whole(admin_client, receiver, our_cpo) -> None:
    url = reverse("admin:locations_location_add")
    data = changeform_data(
        admin_client,
        url,
        owner=str(our_cpo.pk),
        ocpi_id="LOC-NEW",
        address="Kade 5",
        city="Rotterdam",
        country="NLD",
        latitude="51.905200",
        longitude="4.466000",
        time_zone="Europe/Amsterdam",
    )
    assert admin_client.post(url, data).status_code == 302
    assert queued() == [(OutboxKind.LOCATION, "PUT", "locations/NL/OPN/LOC-NEW")]


def test_an_unchanged_location_form_queues_nothing(admin_client, receiver) -> None:
    location = ConnectorFactory.create().evse.location
    url = reverse("admin:locations_location_change", args=[location.pk])
    admin_client.post(url, changeform_data(admin_client, url))
    assert queued() == []


def test_a_status_edited_on_the_evse_page_is_queued_as_a_patch(admin_client, receiver) -> None:
    connector = ConnectorFactory.create(evse__uid="E1", evse__location__ocpi_id="L1")
    url = reverse("admin:locations_evse_change", args=[connector.evse.pk])
    admin_client.post(url, changeform_data(admin_client, url, status=Status.BLOCKED))
    assert queued() == [(OutboxKind.EVSE, "PATCH", "locations/NL/OPN/L1/E1")]


def test_a_connector_edited_inline_on_the_evse_page_queues_only_that_connector(
    admin_client, receiver
) -> None:
    connector = ConnectorFactory.create(ocpi_id="1", evse__uid="E1", evse__location__ocpi_id="L1")
    url = reverse("admin:locations_evse_change", args=[connector.evse.pk])
    admin_client.post(
        url, changeform_data(admin_client, url, **{"connectors-0-max_amperage": "16"})
    )
    assert queued() == [(OutboxKind.CONNECTOR, "PUT", "locations/NL/OPN/L1/E1/1")]


def test_a_connector_deleted_on_the_evse_page_queues_the_whole_evse(admin_client, receiver) -> None:
    connector = ConnectorFactory.create(ocpi_id="1", evse__uid="E1", evse__location__ocpi_id="L1")
    ConnectorFactory.create(ocpi_id="2", evse=connector.evse)
    url = reverse("admin:locations_evse_change", args=[connector.evse.pk])
    admin_client.post(url, changeform_data(admin_client, url, **{"connectors-0-DELETE": "on"}))
    assert queued() == [(OutboxKind.EVSE, "PUT", "locations/NL/OPN/L1/E1")]


def test_a_connector_saved_and_deleted_on_its_own_page_is_queued(admin_client, receiver) -> None:
    connector = ConnectorFactory.create(ocpi_id="1", evse__uid="E1", evse__location__ocpi_id="L1")
    ConnectorFactory.create(ocpi_id="2", evse=connector.evse)
    url = reverse("admin:locations_connector_change", args=[connector.pk])
    admin_client.post(url, changeform_data(admin_client, url, max_amperage="16"))
    admin_client.post(
        reverse("admin:locations_connector_delete", args=[connector.pk]), {"post": "yes"}
    )
    assert queued() == [
        (OutboxKind.CONNECTOR, "PUT", "locations/NL/OPN/L1/E1/1"),
        (OutboxKind.EVSE, "PUT", "locations/NL/OPN/L1/E1"),
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("unpublish", (OutboxKind.LOCATION, "PUT", "locations/NL/OPN/L1")),
        ("mark_evses_out_of_order", (OutboxKind.EVSE, "PATCH", "locations/NL/OPN/L1/E1")),
    ],
)
def test_location_actions_are_queued(admin_client, receiver, name, expected) -> None:
    connector = ConnectorFactory.create(evse__uid="E1", evse__location__ocpi_id="L1")
    # Unpublished, it still reaches the partner that holds a copy.
    DeliveredObject.objects.create(
        partner=receiver, object_key="locations/NL/OPN/L1", version=receiver.version
    )
    action(admin_client, "locations_location", name, [connector.evse.location.pk])
    assert queued() == [expected]


def test_a_tariff_saved_in_the_admin_reaches_the_partner(
    admin_client, peer, receiver, our_cpo, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:billing_tariff_add"),
            _tariff_form(our_cpo, _element(TIME, start_time="09:00"), _element(ENERGY)),
        )
    assert response.status_code == 302
    [put] = peer.received()
    assert (put.method, put.module_path) == ("PUT", "tariffs/NL/OPN/12")
    assert [e["price_components"][0]["type"] for e in put.body["elements"]] == ["TIME", "ENERGY"]


def test_a_tariff_deleted_in_the_admin_is_deleted_at_the_partner(
    admin_client, peer, receiver, django_capture_on_commit_callbacks
) -> None:
    tariff = PriceComponentFactory.create(element__tariff__ocpi_id="T1").element.tariff
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("admin:billing_tariff_delete", args=[tariff.pk]), {"post": "yes"})
    assert paths(peer.received()) == [("DELETE", "tariffs/NL/OPN/T1")]


def test_tariffs_deleted_and_restored_in_bulk_are_queued(admin_client, receiver) -> None:
    tariff = PriceComponentFactory.create(element__tariff__ocpi_id="T1").element.tariff
    action(admin_client, "billing_tariff", "delete_selected", [tariff.pk], post="yes")
    action(admin_client, "billing_tariff", "restore_tariffs", [tariff.pk])
    assert queued() == [
        (OutboxKind.TARIFF, "DELETE", "tariffs/NL/OPN/T1"),
        (OutboxKind.TARIFF, "PUT", "tariffs/NL/OPN/T1"),
    ]


# --- the outbox and partner admin -----------------------------------------------------------------


def dead_tariff_row(client, peer, receiver) -> OutboxRow:
    tariff = PriceComponentFactory.create(element__tariff__ocpi_id="T1").element.tariff
    action(client, "billing_tariff", "delete_selected", [tariff.pk], post="yes")
    peer.answer_next(Answer(400, 2001, "Unknown tariff T1"))
    deliver(receiver)
    return OutboxRow.objects.get()


@pytest.mark.parametrize(
    "query",
    [{}, {"state__exact": "DEAD"}, {"module__exact": "tariffs"}, {"q": "T1"}],
)
def test_the_outbox_list_renders_and_filters(admin_client, peer, receiver, query) -> None:
    dead_tariff_row(admin_client, peer, receiver)
    response = admin_client.get(reverse("admin:roaming_outboxrow_changelist"), query)
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 1


def test_an_outbox_row_shows_the_partners_answer(admin_client, peer, receiver) -> None:
    row = dead_tariff_row(admin_client, peer, receiver)
    response = admin_client.get(reverse("admin:roaming_outboxrow_change", args=[row.pk]))
    assert response.status_code == 200
    assert "Unknown tariff T1" in response.content.decode()


def test_the_retry_action_queues_dead_rows_again(admin_client, peer, receiver) -> None:
    row = dead_tariff_row(admin_client, peer, receiver)
    response = action(admin_client, "roaming_outboxrow", "retry_now", [row.pk])
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.state == OutboxState.PENDING


def test_the_partner_list_shows_open_outbox_rows(admin_client, receiver) -> None:
    LocationFactory.create()
    partner_resend_everything(partner=receiver)
    response = admin_client.get(reverse("admin:roaming_partner_changelist"))
    assert response.status_code == 200
    [shown] = response.context["cl"].result_list
    assert shown.open_outbox == 1


def test_resend_everything_from_the_partner_list(admin_client, peer, emsp) -> None:
    partner = connect(peer, parties=[emsp])
    suspended = connect(peer, parties=[emsp], state=PartnerState.SUSPENDED, name="Suspended")
    LocationFactory.create(ocpi_id="L1")
    response = action(
        admin_client, "roaming_partner", "resend_everything", [partner.pk, suspended.pk]
    )
    assert response.status_code == 302
    assert list(OutboxRow.objects.values_list("partner_id", "object_key")) == [
        (partner.pk, "locations/NL/OPN/L1")
    ]


def test_the_partner_page_lists_its_endpoints(admin_client, receiver) -> None:
    response = admin_client.get(reverse("admin:roaming_partner_change", args=[receiver.pk]))
    assert response.status_code == 200
    assert "/2.2.1/locations" in response.content.decode()


@pytest.mark.parametrize("model", ["partnerendpoint", "exchangelog", "pullrun"])
def test_traffic_lists_render(admin_client, receiver, model) -> None:
    assert admin_client.get(reverse(f"admin:roaming_{model}_changelist")).status_code == 200


def test_staff_who_may_only_look_cannot_resend(client, db) -> None:
    from django.contrib.auth.models import Permission, User

    viewer = User.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_outboxrow"))
    client.force_login(viewer)
    response = client.get(reverse("admin:roaming_outboxrow_changelist"))
    assert response.status_code == 200
    form = response.context["action_form"]
    offered = {name for name, _ in form.fields["action"].choices} if form is not None else set()
    assert not offered & {"retry_now", "replay"}


def test_a_delivered_row_links_to_the_calls_made_for_its_object(
    admin_client, peer, receiver, settings
) -> None:
    settings.OCPI_PUSH_EXCHANGE_LOG_SAMPLE = 1  # every successful call logged
    tariff = PriceComponentFactory.create(element__tariff__ocpi_id="T1").element.tariff
    action(admin_client, "billing_tariff", "delete_selected", [tariff.pk], post="yes")
    deliver(receiver)
    row = OutboxRow.objects.get()
    page = admin_client.get(reverse("admin:roaming_outboxrow_change", args=[row.pk]))
    assert "calls to /NL/OPN/T1" in page.content.decode()
    calls = admin_client.get(
        reverse("admin:roaming_exchangelog_changelist"),
        {"q": "/NL/OPN/T1", "partner__id__exact": receiver.pk},
    )
    assert [call.method for call in calls.context["cl"].result_list] == ["DELETE"]
