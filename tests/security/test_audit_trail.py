"""Audit trail (django-auditlog): who changed which location, tariff and partner, in the admin."""

from __future__ import annotations

from decimal import Decimal

import pytest
from auditlog.context import set_actor
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.test import Client
from django.urls import reverse

from locations.choices import Status
from locations.services import evse_set_status
from roaming.crypto import token_generate
from roaming.models import Partner, Party
from sessions_app.services import evse_status_report
from tests.billing.factories import PriceComponentFactory, TariffElementFactory, TariffFactory
from tests.locations.admin_forms import changeform_data
from tests.locations.factories import ConnectorFactory, EVSEFactory, LocationFactory


@pytest.fixture
def staff(db: None, django_user_model):
    return django_user_model.objects.create_user(
        username="operator", password="not-used", is_staff=True, is_superuser=True
    )


@pytest.fixture
def staff_client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def _entries(obj: Model, action: int = LogEntry.Action.UPDATE) -> list[LogEntry]:
    return list(
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(obj),
            object_pk=str(obj.pk),
            action=action,
        )
    )


def test_a_location_changed_in_the_admin_names_the_staff_user(staff_client, staff) -> None:
    location = LocationFactory.create(city="Amsterdam")
    url = reverse("admin:locations_location_change", args=[location.pk])

    response = staff_client.post(url, changeform_data(staff_client, url, city="Haarlem"))

    assert response.status_code == 302
    [entry] = _entries(location)
    assert entry.actor == staff
    assert entry.changes_dict["city"] == ["Amsterdam", "Haarlem"]


def test_a_connector_changed_in_the_admin_names_the_staff_user(staff_client, staff) -> None:
    connector = ConnectorFactory.create(max_amperage=32)
    url = reverse("admin:locations_connector_change", args=[connector.pk])

    response = staff_client.post(url, changeform_data(staff_client, url, max_amperage="16"))

    assert response.status_code == 302
    [entry] = _entries(connector)
    assert entry.actor == staff
    assert entry.changes_dict["max_amperage"] == ["32", "16"]


def test_a_new_evse_is_recorded_with_its_creator(staff) -> None:
    with set_actor(staff):
        evse = EVSEFactory.create()

    [entry] = _entries(evse, LogEntry.Action.CREATE)
    assert entry.actor == staff


def test_a_tariff_change_is_recorded(staff) -> None:
    tariff = TariffFactory.create(currency="EUR")
    tariff.currency = "CHF"

    with set_actor(staff):
        tariff.save()

    [entry] = _entries(tariff)
    assert entry.actor == staff
    assert entry.changes_dict["currency"] == ["EUR", "CHF"]


def test_a_price_component_change_is_recorded(staff) -> None:
    component = PriceComponentFactory.create(element=TariffElementFactory.create())
    component.price = component.price + Decimal("0.10")

    with set_actor(staff):
        component.save()

    [entry] = _entries(component)
    assert "price" in entry.changes_dict


def test_a_removed_tariff_element_is_recorded(staff) -> None:
    element = TariffElementFactory.create()
    element_pk = element.pk

    with set_actor(staff):
        element.delete()

    assert LogEntry.objects.filter(
        object_pk=str(element_pk), action=LogEntry.Action.DELETE, actor=staff
    ).exists()


def test_a_party_change_is_recorded(staff, emsp: Party) -> None:
    emsp.name = "Renamed eMSP"

    with set_actor(staff):
        emsp.save()

    [entry] = _entries(emsp)
    assert entry.changes_dict["name"] == ["Example eMSP", "Renamed eMSP"]


def test_a_partners_parties_are_recorded(staff, emsp: Party, outsider: Party) -> None:
    partner = Partner.objects.create(name="Roaming hub")

    with set_actor(staff):
        partner.parties.add(emsp, outsider)

    assert (
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Partner), object_pk=str(partner.pk)
        )
        .exclude(action=LogEntry.Action.CREATE)
        .exists()
    )


def test_partner_token_fields_stay_out_of_the_trail(db: None) -> None:
    partner = Partner.objects.create(name="Roaming hub")
    token = token_generate()
    partner.set_token(token)
    partner.set_their_token(token_generate())
    partner.state = "REGISTERED"

    partner.save()

    [entry] = _entries(partner)
    assert set(entry.changes_dict) == {"state"}
    assert token not in str(entry.changes)


def test_a_change_without_a_staff_user_has_no_actor(db: None) -> None:
    location = LocationFactory.create(name="Old name")
    location.name = "New name"

    location.save()

    [entry] = _entries(location)
    assert entry.actor is None


def test_a_save_that_only_bumps_last_updated_is_not_recorded(db: None) -> None:
    location = LocationFactory.create()

    location.save()

    assert _entries(location) == []


def test_staff_see_the_trail_in_the_admin(staff_client) -> None:
    location = LocationFactory.create(name="Audited site")
    [entry] = _entries(location, LogEntry.Action.CREATE)

    listing = staff_client.get(reverse("admin:auditlog_logentry_changelist"))
    detail = staff_client.get(reverse("admin:auditlog_logentry_change", args=[entry.pk]))

    assert listing.status_code == 200
    assert "Audited site" in listing.content.decode()
    assert detail.status_code == 200


def test_a_status_set_by_staff_is_recorded_and_one_reported_by_the_charger_is_not(
    staff,
) -> None:
    evse = EVSEFactory.create(status=Status.AVAILABLE)
    evse_status_report(evse=evse, status=Status.CHARGING)
    assert _entries(evse) == []

    with set_actor(staff):
        evse_set_status(evses=[evse], status=Status.OUTOFORDER)
    [entry] = _entries(evse)
    assert entry.actor == staff
    assert entry.changes_dict["status"] == [Status.CHARGING, Status.OUTOFORDER]
