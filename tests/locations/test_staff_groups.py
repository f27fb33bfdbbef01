"""Staff groups from the data migration: what Operations, Finance and Read-only may do."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from locations.models import Location
from roaming.models import Party
from tests.billing.factories import TariffFactory
from tests.locations.admin_forms import changeform_data
from tests.locations.factories import LocationFactory


def _codenames(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}


def _member_client(django_user_model: Any, group_name: str) -> Client:
    user = django_user_model.objects.create_user(
        username=group_name.lower(), password="not-used", is_staff=True
    )
    user.groups.add(Group.objects.get(name=group_name))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def finance(db: None, django_user_model: Any) -> Client:
    return _member_client(django_user_model, "Finance")


@pytest.fixture
def operations(db: None, django_user_model: Any) -> Client:
    return _member_client(django_user_model, "Operations")


@pytest.fixture
def read_only(db: None, django_user_model: Any) -> Client:
    return _member_client(django_user_model, "Read-only")


def test_operations_edits_the_network_and_tariffs_but_deletes_nothing(db: None) -> None:
    perms = _codenames("Operations")

    assert {
        "locations.add_location",
        "locations.change_evse",
        "locations.add_connector",
        "billing.change_tariff",
        "billing.add_tariffelement",
        "billing.change_pricecomponent",
        "sessions_app.view_session",
        "billing.view_cdr",
        "roaming.view_party",
    } <= perms
    assert not {p for p in perms if ".delete_" in p}
    assert "billing.change_cdr" not in perms


def test_finance_views_money_matters_only(db: None) -> None:
    perms = _codenames("Finance")

    assert {
        "sessions_app.view_session",
        "billing.view_cdr",
        "sessions_app.view_token",
        "billing.view_tariff",
        "locations.view_location",
        "roaming.view_party",
    } <= perms
    # Besides viewing, Finance issues credit CDRs (billing migration 0003).
    assert all(".view_" in p for p in perms - {"billing.issue_credit_cdr"})


def test_read_only_views_every_business_model(db: None) -> None:
    perms = _codenames("Read-only")

    assert {
        "locations.view_evse",
        "sessions_app.view_reservation",
        "billing.view_pricecomponent",
        "roaming.view_party",
        "django_celery_beat.view_periodictask",
    } <= perms
    assert all(".view_" in p for p in perms)
    assert not {p for p in perms if p.startswith("auth.")}


def test_finance_cannot_post_the_tariff_change_form(finance: Client) -> None:
    tariff = TariffFactory.create(currency="EUR")
    url = reverse("admin:billing_tariff_change", args=[tariff.pk])

    response = finance.post(url, {"currency": "USD"})

    assert response.status_code == 403
    tariff.refresh_from_db()
    assert tariff.currency == "EUR"


def test_finance_can_open_the_tariff_read_only(finance: Client) -> None:
    tariff = TariffFactory.create()

    response = finance.get(reverse("admin:billing_tariff_change", args=[tariff.pk]))

    assert response.status_code == 200
    assert response.context["has_change_permission"] is False


def test_operations_can_add_a_location(operations: Client, our_cpo: Party) -> None:
    url = reverse("admin:locations_location_add")
    data = changeform_data(
        operations,
        url,
        owner=str(our_cpo.pk),
        ocpi_id="OPS-1",
        address="Dorpsstraat 1",
        city="Utrecht",
        country="NLD",
        latitude="52.090700",
        longitude="5.121400",
        time_zone="Europe/Amsterdam",
    )

    response = operations.post(url, data)

    assert response.status_code == 302
    assert Location.objects.filter(ocpi_id="OPS-1", owner=our_cpo).exists()


def test_operations_cannot_delete_a_location(operations: Client) -> None:
    location = LocationFactory.create()

    response = operations.post(
        reverse("admin:locations_location_delete", args=[location.pk]), {"post": "yes"}
    )

    assert response.status_code == 403
    assert Location.objects.filter(pk=location.pk).exists()


def test_read_only_can_list_locations_but_not_add_them(read_only: Client) -> None:
    LocationFactory.create()

    assert read_only.get(reverse("admin:locations_location_changelist")).status_code == 200
    assert read_only.get(reverse("admin:locations_location_add")).status_code == 403
